// Package deploy_test checks ferry's own Kubernetes manifests: the
// kustomize base and the example overlay render with kubectl, their
// objects are what a production install needs (replicas, non-root and
// read-only, probes, resources, secrets only by reference), their
// ferry.yaml passes ferry's own validation, and the API server of the
// throw-away test cluster (targets/kubernetes/kubetest) accepts every
// object, runs the Deployment's two replicas, and grants the
// ServiceAccount what the kubernetes target's preflight asks for, and not
// more.
package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/kubernetes"
	"github.com/ferrybot/ferry/targets/kubernetes/kubetest"
	"github.com/ferrybot/ferry/targets/workspace"
)

// layout is a kustomization of this directory and what it renders to.
type layout struct {
	name, dir string
	namespace string // its namespace:
	tag       string // the image tag its images: sets
}

var layouts = []layout{
	{name: "base", dir: "base", namespace: "ferry", tag: "latest"},
	{name: "shop", dir: "examples/shop", namespace: "shop", tag: "v1.4.0"},
}

const image = "ghcr.io/ferrybot/ferry"

// TestRender renders each kustomization as it is and checks its objects.
func TestRender(t *testing.T) {
	k := kubectl(t)
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			r := render(t, k, l.dir)
			checkObjects(t, r, l.namespace, l.tag)
			checkFerryYAML(t, r, l.namespace)
		})
	}
}

// TestApply applies each kustomization, moved to a namespace of the test
// by an overlay of its own, to the test cluster with server-side apply,
// waits for the Deployment's two replicas under the restricted Pod
// Security Standard, and checks the ServiceAccount's
// permissions with ferry's preflight and kubectl auth can-i.
func TestApply(t *testing.T) {
	k := kubectl(t)
	env := kubetest.Cluster(t)
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			ns := env.Namespace(t)
			ctx := context.Background()
			// The pods must pass the restricted Pod Security Standard: its
			// admission refuses them otherwise, and no replica comes up.
			patch := []byte(`{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"restricted","pod-security.kubernetes.io/warn":"restricted"}}}`)
			if _, err := env.Client.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
				t.Fatalf("label namespace %s restricted: %v", ns, err)
			}
			dir := overlay(t, l.dir, ns)
			r := render(t, k, dir)
			checkObjects(t, r, ns, l.tag)
			f := checkFerryYAML(t, r, ns)

			// The Secret the Deployment and ferry.yaml refer to, with the
			// keys ferry.yaml needs, as an operator creates it.
			secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ferry"}, StringData: f.secret}
			if _, err := env.Client.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create the Secret ferry: %v", err)
			}

			manifests := filepath.Join(t.TempDir(), "rendered.yaml")
			if err := os.WriteFile(manifests, r.raw, 0o600); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			out := run(t, k, "--kubeconfig", env.Kubeconfig, "apply", "--server-side", "--field-manager=ferry-test", "-f", manifests)
			t.Logf("applied in %s:\n%s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(out))

			waitAvailable(t, env, ns, r.deployment.Name, *r.deployment.Spec.Replicas)
			cm, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, r.configMap.Name, metav1.GetOptions{})
			if err != nil || cm.Data["ferry.yaml"] != r.configMap.Data["ferry.yaml"] {
				t.Errorf("ConfigMap %s in the cluster: %v", r.configMap.Name, err)
			}

			preflight(t, env, ns, f.targets)
			canI(t, k, env, ns, f.targets)
		})
	}
}

// rendered are the objects of a kustomization.
type rendered struct {
	raw        []byte
	kinds      []string
	deployment *appsv1.Deployment
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
	account    *corev1.ServiceAccount
	role       *rbacv1.Role
	binding    *rbacv1.RoleBinding
	configMap  *corev1.ConfigMap
}

// render runs kubectl kustomize on dir and decodes what it prints.
func render(t *testing.T, kubectl, dir string) *rendered {
	t.Helper()
	out := run(t, kubectl, "kustomize", dir)
	r := &rendered{raw: []byte(out)}
	docs := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	decode := scheme.Codecs.UniversalDeserializer()
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("kubectl kustomize %s: %v", dir, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, gvk, err := decode.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("kubectl kustomize %s: an object that is not a built-in kind: %v\n%s", dir, err, doc)
		}
		r.kinds = append(r.kinds, gvk.Kind)
		switch o := obj.(type) {
		case *appsv1.Deployment:
			once(t, dir, &r.deployment, o)
		case *corev1.Service:
			once(t, dir, &r.service, o)
		case *policyv1.PodDisruptionBudget:
			once(t, dir, &r.pdb, o)
		case *corev1.ServiceAccount:
			once(t, dir, &r.account, o)
		case *rbacv1.Role:
			once(t, dir, &r.role, o)
		case *rbacv1.RoleBinding:
			once(t, dir, &r.binding, o)
		case *corev1.ConfigMap:
			once(t, dir, &r.configMap, o)
		default:
			// A Secret in particular: the manifests ship none.
			t.Errorf("%s renders a %s %s, which the manifests should not hold", dir, gvk.Kind, o.(metav1.Object).GetName())
		}
	}
	sort.Strings(r.kinds)
	want := []string{"ConfigMap", "Deployment", "PodDisruptionBudget", "Role", "RoleBinding", "Service", "ServiceAccount"}
	if !slices.Equal(r.kinds, want) {
		t.Fatalf("%s renders %v; want one each of %v", dir, r.kinds, want)
	}
	return r
}

var (
	selector = map[string]string{"app.kubernetes.io/name": "ferry", "app.kubernetes.io/instance": "ferry"}
	// secretish are names of variables that hold secrets.
	secretish = regexp.MustCompile(`(?i)secret|token|password|passwd|database_url|dsn|private|credential|_key$`)
)

// checkObjects checks what a production install of ferry needs.
func checkObjects(t *testing.T, r *rendered, namespace, tag string) {
	t.Helper()
	for _, o := range []metav1.Object{r.deployment, r.service, r.pdb, r.account, r.role, r.binding, r.configMap} {
		if o.GetNamespace() != namespace {
			t.Errorf("%s is in namespace %q, not %q", o.GetName(), o.GetNamespace(), namespace)
		}
		if o.GetLabels()["app.kubernetes.io/name"] != "ferry" {
			t.Errorf("%s has no label app.kubernetes.io/name: ferry: %v", o.GetName(), o.GetLabels())
		}
	}
	if bytes.Contains(r.raw, []byte("postgres://")) || bytes.Contains(r.raw, []byte("PRIVATE KEY")) {
		t.Errorf("the manifests hold a literal database URL or private key")
	}

	d := r.deployment
	spec := d.Spec.Template.Spec
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("Deployment replicas %v; ferry runs as 2 or more", d.Spec.Replicas)
	}
	if !equalMaps(d.Spec.Selector.MatchLabels, selector) || !contains(d.Spec.Template.Labels, selector) {
		t.Errorf("Deployment selector %v, pod labels %v; want %v on both", d.Spec.Selector.MatchLabels, d.Spec.Template.Labels, selector)
	}
	if ru := d.Spec.Strategy.RollingUpdate; d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil ||
		ru.MaxUnavailable == nil || ru.MaxUnavailable.String() != "0" || ru.MaxSurge == nil || ru.MaxSurge.String() != "1" {
		t.Errorf("Deployment strategy %+v; want RollingUpdate, maxUnavailable 0, maxSurge 1", d.Spec.Strategy)
	}
	if a := spec.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 ||
		a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" ||
		len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0 {
		t.Errorf("pod anti-affinity %+v; want preferred (not required) on kubernetes.io/hostname", spec.Affinity)
	}
	for _, c := range spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable != corev1.ScheduleAnyway {
			t.Errorf("topology spread on %s is %s: it must never keep a replica from being scheduled", c.TopologyKey, c.WhenUnsatisfiable)
		}
	}
	if spec.ServiceAccountName != r.account.Name || spec.AutomountServiceAccountToken == nil || !*spec.AutomountServiceAccountToken {
		t.Errorf("pods run as %q, automount %v; want ServiceAccount %s with its token (in_cluster)", spec.ServiceAccountName, spec.AutomountServiceAccountToken, r.account.Name)
	}
	psc := spec.SecurityContext
	if psc == nil || !isTrue(psc.RunAsNonRoot) || psc.RunAsUser == nil || *psc.RunAsUser != 10001 || psc.RunAsGroup == nil || *psc.RunAsGroup == 0 ||
		psc.FSGroup == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v; want runAsNonRoot, runAsUser 10001, runAsGroup, fsGroup, seccomp RuntimeDefault", psc)
	}

	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers; want ferry's one", len(spec.Containers))
	}
	c := spec.Containers[0]
	if c.Image != image+":"+tag {
		t.Errorf("image %s; want %s:%s", c.Image, image, tag)
	}
	if !slices.Equal(c.Args, []string{"serve", "--config", "/etc/ferry/ferry.yaml"}) {
		t.Errorf("args %q; want serve --config /etc/ferry/ferry.yaml", c.Args)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("ports %+v; want 8080 named http", c.Ports)
	}
	if v := envValue(c, "FERRY_LISTEN"); v != "0.0.0.0:8080" {
		t.Errorf("FERRY_LISTEN=%q; want 0.0.0.0:8080", v)
	}
	for _, e := range c.Env {
		if e.Value != "" && secretish.MatchString(e.Name) {
			t.Errorf("env %s has a literal value; secrets come from the Secret ferry", e.Name)
		}
		if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil && ref.SecretKeyRef.Name != "ferry" {
			t.Errorf("env %s comes from Secret %s, not ferry", e.Name, ref.SecretKeyRef.Name)
		}
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "ferry" {
		t.Errorf("envFrom %+v; want the Secret ferry", c.EnvFrom)
	}
	csc := c.SecurityContext
	if csc == nil || !isTrue(csc.ReadOnlyRootFilesystem) || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
		csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(csc.Capabilities.Add) > 0 ||
		csc.Privileged != nil && *csc.Privileged {
		t.Errorf("container securityContext %+v; want readOnlyRootFilesystem, no privilege escalation, capabilities drop ALL", csc)
	}
	probe := func(what string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s %+v; want httpGet %s on port http", what, p, path)
		}
	}
	probe("livenessProbe", c.LivenessProbe, "/livez")
	probe("readinessProbe", c.ReadinessProbe, "/readyz")
	probe("startupProbe", c.StartupProbe, "/livez")
	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Memory().IsZero() || req.Cpu().IsZero() || lim.Memory().IsZero() || lim.Memory().Cmp(*req.Memory()) < 0 {
		t.Errorf("resources %+v; want memory and cpu requests, and a memory limit above the request", c.Resources)
	}

	// Writable: the workspace and /tmp, as emptyDirs; the configuration
	// from the generated ConfigMap, read-only.
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	for _, path := range []string{"/var/lib/ferry", "/tmp"} {
		if m, ok := mounts[path]; !ok || m.ReadOnly || volumes[m.Name].EmptyDir == nil {
			t.Errorf("%s is not a writable emptyDir: %+v", path, m)
		}
	}
	if m, ok := mounts["/etc/ferry"]; !ok || !m.ReadOnly || volumes[m.Name].ConfigMap == nil || volumes[m.Name].ConfigMap.Name != r.configMap.Name {
		t.Errorf("/etc/ferry is not the ConfigMap %s, read-only: %+v", r.configMap.Name, m)
	}
	if !strings.HasPrefix(r.configMap.Name, "ferry-config-") {
		t.Errorf("ConfigMap %s has no hash suffix: a change of ferry.yaml would not roll the pods", r.configMap.Name)
	}

	s := r.service
	if s.Spec.Type != corev1.ServiceTypeClusterIP || !equalMaps(s.Spec.Selector, selector) || len(s.Spec.Ports) != 1 ||
		s.Spec.Ports[0].Port != 80 || s.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service %+v; want ClusterIP, port 80 to http, selecting %v", s.Spec, selector)
	}
	if p := r.pdb.Spec; p.MinAvailable == nil || p.MinAvailable.String() != "1" || p.Selector == nil || !equalMaps(p.Selector.MatchLabels, selector) {
		t.Errorf("PodDisruptionBudget %+v; want minAvailable 1 of %v", p, selector)
	}
	b := r.binding
	if b.RoleRef.Kind != "Role" || b.RoleRef.Name != r.role.Name || len(b.Subjects) != 1 ||
		b.Subjects[0].Kind != rbacv1.ServiceAccountKind || b.Subjects[0].Name != r.account.Name || b.Subjects[0].Namespace != namespace {
		t.Errorf("RoleBinding %+v %+v; want Role %s to ServiceAccount %s/%s", b.RoleRef, b.Subjects, r.role.Name, namespace, r.account.Name)
	}
	for _, rule := range r.role.Rules {
		if slices.Contains(rule.Verbs, "*") || slices.Contains(rule.Resources, "*") || slices.Contains(rule.Resources, "secrets") {
			t.Errorf("Role rule %+v is broader than ferry's target needs", rule)
		}
	}
}

// ferryYAML is what checkFerryYAML learned from a ConfigMap's ferry.yaml.
type ferryYAML struct {
	secret  map[string]string // the keys the Secret ferry needs, with test values
	targets []target
}

type target struct {
	project, env string
	cfg          kubernetes.Config
}

// checkFerryYAML checks the generated ConfigMap's ferry.yaml: secrets only
// as ${VARIABLES}, PostgreSQL storage, and what `ferry check` checks, with
// the variables set as the pod sets them; the kubernetes targets in ferry's
// namespace name Deployments the Role covers.
func checkFerryYAML(t *testing.T, r *rendered, namespace string) ferryYAML {
	t.Helper()
	data, ok := r.configMap.Data["ferry.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no ferry.yaml: %v", r.configMap.Name, r.configMap.Data)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(data), &doc); err != nil {
		t.Fatalf("ferry.yaml: %v", err)
	}
	top := map[string]string{}
	if root := doc.Content[0]; root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			top[root.Content[i].Value] = root.Content[i+1].Value
		}
	}
	if top["storage"] != "${DATABASE_URL}" || top["session_secret"] != "${FERRY_SESSION_SECRET}" {
		t.Errorf("ferry.yaml: storage %q, session_secret %q; want ${DATABASE_URL} and ${FERRY_SESSION_SECRET}", top["storage"], top["session_secret"])
	}
	// Every value of a key that holds a secret is a variable.
	secretKeys := regexp.MustCompile(`^(storage|session_secret|tokens|token|bot_token|app_token|signing_secret|webhook_secret|signing_token|client_secret|secret|webhook|private_key|password_hash)$`)
	variable := regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*(:-)?\}$`)
	walk(&doc, "", func(key string, n *yaml.Node) {
		if secretKeys.MatchString(key) && n.Value != "" && !variable.MatchString(n.Value) {
			t.Errorf("ferry.yaml:%d: %s is %q; a secret must be a ${VARIABLE} (with no default)", n.Line, key, n.Value)
		}
	})

	// The variables ferry.yaml needs: those without a default must come from
	// the container's env, or else from the Secret ferry.
	c := r.deployment.Spec.Template.Spec.Containers[0]
	podEnv := map[string]string{}
	fromSecret := map[string]bool{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			podEnv[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			podEnv[e.Name] = namespace
		case e.ValueFrom.SecretKeyRef != nil:
			fromSecret[e.ValueFrom.SecretKeyRef.Key] = true
		}
	}
	ref := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}`)
	secret := map[string]string{}
	used := map[string]bool{}
	walk(&doc, "", func(_ string, n *yaml.Node) {
		for _, m := range ref.FindAllStringSubmatch(n.Value, -1) {
			used[m[1]] = true
			if _, ok := podEnv[m[1]]; !ok && m[2] == "" {
				secret[m[1]] = testValue(m[1])
			}
		}
	})
	for key := range fromSecret {
		if !used[key] {
			t.Errorf("the container takes %s from the Secret, but ferry.yaml does not use it", key)
		}
		if _, ok := secret[key]; !ok {
			secret[key] = testValue(key)
		}
	}
	for _, key := range []string{"DATABASE_URL", "FERRY_SESSION_SECRET"} {
		if !fromSecret[key] {
			t.Errorf("the container does not name %s of the Secret ferry (secretKeyRef), so a Secret without it would start ferry", key)
		}
	}

	// As `ferry check` does: config's rules, then each target's.
	for name := range used {
		// Unset, as in the pod, unless set below; t.Setenv restores it.
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	for name, v := range podEnv {
		t.Setenv(name, v)
	}
	for name, v := range secret {
		t.Setenv(name, v)
	}
	cfg, err := config.Parse("ferry.yaml", []byte(data), t.TempDir())
	if err != nil {
		t.Fatalf("ferry.yaml of ConfigMap %s does not pass ferry check:\n%v", r.configMap.Name, err)
	}
	if !strings.HasPrefix(cfg.Storage, "postgres://") && !strings.HasPrefix(cfg.Storage, "postgresql://") {
		t.Errorf("storage is not PostgreSQL; %d replicas cannot share SQLite", *r.deployment.Spec.Replicas)
	}
	var f ferryYAML
	f.secret = secret
	var own []string
	for _, p := range cfg.Projects {
		for _, e := range p.Envs {
			if e.Target.Type != "kubernetes" {
				t.Errorf("project %s environment %s: target type %s; the manifests run ferry for kubernetes targets", p.Name, e.Name, e.Target.Type)
				continue
			}
			kc, err := kubernetes.ParseConfig(e.Target.Params)
			if err != nil {
				t.Errorf("project %s environment %s: target: %v", p.Name, e.Name, err)
				continue
			}
			if !kc.InCluster {
				t.Errorf("project %s environment %s: the target does not use in_cluster: the pod has no kubeconfig", p.Name, e.Name)
			}
			if kc.Namespace == namespace {
				own = append(own, kc.Name)
				f.targets = append(f.targets, target{project: p.Name, env: e.Name, cfg: kc})
			}
		}
	}
	if len(f.targets) == 0 {
		t.Errorf("no kubernetes target of ferry.yaml is in ferry's namespace %s", namespace)
	}
	var names []string
	for _, rule := range r.role.Rules {
		if slices.Contains(rule.APIGroups, "apps") && slices.Contains(rule.Resources, "deployments") {
			names = append(names, rule.ResourceNames...)
		}
	}
	for _, n := range own {
		if !slices.Contains(names, n) {
			t.Errorf("ferry.yaml deploys Deployment %s, which the Role's resourceNames %v leave out", n, names)
		}
	}
	return f
}

// walk calls fn with every scalar of n and the key it is the value of (or
// an item of).
func walk(n *yaml.Node, key string, fn func(key string, n *yaml.Node)) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			walk(c, key, fn)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			walk(n.Content[i+1], n.Content[i].Value, fn)
		}
	case yaml.ScalarNode:
		fn(key, n)
	}
}

// testValue is a made-up value of a secret that passes ferry's checks.
func testValue(name string) string {
	b := make([]byte, 20)
	rand.Read(b)
	v := hex.EncodeToString(b)
	switch name {
	case "DATABASE_URL":
		return "postgres://ferry:" + v[:12] + "@db.invalid:5432/ferry"
	case "SLACK_BOT_TOKEN":
		return "xoxb-" + v
	case "SLACK_APP_TOKEN":
		return "xapp-" + v
	}
	return v
}

// overlay writes a kustomization that moves dir's objects to namespace ns.
func overlay(t *testing.T, dir, ns string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	o := t.TempDir()
	rel, err := filepath.Rel(o, abs)
	if err != nil {
		t.Fatal(err)
	}
	k := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: %s\nresources:\n  - %s\n", ns, rel)
	if err := os.WriteFile(filepath.Join(o, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return o
}

// waitAvailable polls the Deployment until replicas pods of its current
// template are available (kwok marks scheduled pods Running and Ready), for
// a minute at most.
func waitAvailable(t *testing.T, env *kubetest.Env, ns, name string, replicas int32) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	var last string
	for {
		d, err := env.Client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get deployment %s: %v", name, err)
		}
		s := d.Status
		last = fmt.Sprintf("generation %d observed %d, replicas %d updated %d ready %d available %d, conditions %+v",
			d.Generation, s.ObservedGeneration, s.Replicas, s.UpdatedReplicas, s.ReadyReplicas, s.AvailableReplicas, s.Conditions)
		if s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == replicas && s.ReadyReplicas == replicas && s.AvailableReplicas == replicas {
			t.Logf("deployment %s: %d of %d replicas available after %s", name, s.AvailableReplicas, replicas, time.Since(start).Round(time.Millisecond))
			return
		}
		// A ReplicaSet that may not create its pods (Pod Security
		// admission, quota) says so at once.
		if rss, err := env.Client.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{}); err == nil {
			for _, rs := range rss.Items {
				for _, c := range rs.Status.Conditions {
					if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
						t.Fatalf("deployment %s: replicaset %s cannot create its pods: %s: %s", name, rs.Name, c.Reason, c.Message)
					}
				}
			}
		}
		if time.Now().After(deadline) {
			pods, _ := env.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
			var ps []string
			for _, p := range pods.Items {
				ps = append(ps, fmt.Sprintf("%s on %q: %s %+v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.Conditions))
			}
			t.Fatalf("deployment %s not available after 60s: %s\npods:\n%s", name, last, strings.Join(ps, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// preflight runs the kubernetes target's own permission check as the
// ServiceAccount: every permission it asks for, optional ones too, is
// granted for the targets in ferry's namespace, and none for ferry's own
// Deployment, which ferry must not change.
func preflight(t *testing.T, env *kubetest.Env, ns string, targets []target) {
	t.Helper()
	kubeconfig := env.TokenKubeconfig(t, ns, "ferry")
	driver := func(tg target, name string) *kubernetes.Driver {
		cfg := tg.cfg
		cfg.InCluster, cfg.Kubeconfig, cfg.Name = false, kubeconfig, name
		d, err := kubernetes.New(cfg, workspace.Setup{Project: tg.project, Env: tg.env}, kubernetes.Options{})
		if err != nil {
			t.Fatalf("kubernetes.New for %s %s: %v", tg.project, tg.env, err)
		}
		return d
	}
	ctx := context.Background()
	for _, tg := range targets {
		warnings, err := driver(tg, tg.cfg.Name).Preflight(ctx)
		if err != nil || len(warnings) > 0 {
			t.Errorf("preflight of %s %s (deployment %s/%s) as the ServiceAccount ferry: %v, warnings %q", tg.project, tg.env, ns, tg.cfg.Name, err, warnings)
		}
	}
	if _, err := driver(targets[0], "ferry").Preflight(ctx); !errors.Is(err, pipeline.ErrForbidden) {
		t.Errorf("preflight for ferry's own Deployment: %v; want it not allowed", err)
	}
}

// canI asks the API server, impersonating the ServiceAccount, what it may
// do: what the target needs, yes; anything else, no.
func canI(t *testing.T, kubectl string, env *kubetest.Env, ns string, targets []target) {
	t.Helper()
	as := "system:serviceaccount:" + ns + ":ferry"
	name := targets[0].cfg.Name
	yes := [][]string{
		{"get", "deployments.apps/" + name}, {"patch", "deployments.apps/" + name},
		{"list", "deployments.apps/" + name}, {"watch", "deployments.apps/" + name},
		{"list", "replicasets.apps"}, {"watch", "replicasets.apps"},
		{"list", "pods"}, {"watch", "pods"}, {"get", "pods", "--subresource=log"}, {"list", "events"},
		{"create", "selfsubjectaccessreviews.authorization.k8s.io"},
	}
	no := [][]string{
		{"get", "secrets"}, {"list", "secrets"}, {"watch", "secrets"}, {"get", "secrets/ferry"},
		{"delete", "namespaces"}, {"create", "namespaces"},
		{"list", "deployments.apps"}, {"create", "deployments.apps"}, {"delete", "deployments.apps/" + name},
		{"update", "deployments.apps/" + name}, {"patch", "deployments.apps/ferry"},
		{"patch", "statefulsets.apps/" + name}, {"patch", "replicasets.apps"}, {"delete", "replicasets.apps"},
		{"create", "pods"}, {"delete", "pods"}, {"create", "pods", "--subresource=exec"},
		{"patch", "configmaps"}, {"update", "roles.rbac.authorization.k8s.io"}, {"create", "rolebindings.rbac.authorization.k8s.io"},
		{"create", "serviceaccounts/ferry", "--subresource=token"},
		{"patch", "deployments.apps/" + name, "--namespace=default"},
	}
	ask := func(args []string) string {
		full := append([]string{"--kubeconfig", env.Kubeconfig, "auth", "can-i", "--as", as, "--namespace", ns}, args...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, kubectl, full...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr // stderr: warnings for cluster-scoped resources
		err := cmd.Run()
		answer := strings.TrimSpace(stdout.String())
		var exit *exec.ExitError
		if err != nil && !(errors.As(err, &exit) && answer == "no") {
			t.Fatalf("kubectl auth can-i %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return answer
	}
	for _, a := range yes {
		if got := ask(a); got != "yes" {
			t.Errorf("ServiceAccount ferry can-i %s: %s; the target needs it", strings.Join(a, " "), got)
		}
	}
	for _, a := range no {
		if got := ask(a); got != "no" {
			t.Errorf("ServiceAccount ferry can-i %s: %s; want no", strings.Join(a, " "), got)
		}
	}
}

// kubectl finds the kubectl of the test cluster: $KUBECTL; the PATH of the
// env file start-test-cluster.sh writes next to K8S_TEST_KUBECONFIG (which
// with-test-cluster.sh, and so make test, also puts first on PATH); PATH;
// the cluster's build cache. It fails, never skips, without one.
func kubectl(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("KUBECTL"); p != "" {
		if !executable(p) {
			t.Fatalf("KUBECTL=%s is not an executable file", p)
		}
		return p
	}
	if kc := os.Getenv("K8S_TEST_KUBECONFIG"); kc != "" {
		if b, err := os.ReadFile(filepath.Join(filepath.Dir(kc), "env")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				rest, ok := strings.CutPrefix(line, "export PATH=")
				if !ok {
					continue
				}
				dir, _, _ := strings.Cut(rest, `:"$PATH"`)
				dir = strings.Trim(strings.ReplaceAll(dir, `\`, ""), `'"`)
				if p := filepath.Join(dir, "kubectl"); executable(p) {
					return p
				}
			}
		}
	}
	if p, err := exec.LookPath("kubectl"); err == nil {
		return p
	}
	cache := os.Getenv("K8S_TEST_CACHE")
	if cache == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(d, "k8s-test-cluster")
		}
	}
	if found, _ := filepath.Glob(filepath.Join(cache, "bin", "*", "kubectl")); len(found) > 0 {
		sort.Strings(found)
		return found[len(found)-1]
	}
	t.Fatalf("no kubectl: set KUBECTL, or run with the test cluster (make test, or "+
		"targets/kubernetes/kubetest/cluster/with-test-cluster.sh go test ./deploy/), which builds it into %s/bin/<version>/ "+
		"and puts it on PATH", cache)
	return ""
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// run runs kubectl and returns its output; it fails the test on an error.
func run(t *testing.T, kubectl string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, kubectl, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func isTrue(b *bool) bool { return b != nil && *b }

func equalMaps(a, b map[string]string) bool {
	return len(a) == len(b) && contains(a, b)
}

func contains(a, sub map[string]string) bool {
	for k, v := range sub {
		if a[k] != v {
			return false
		}
	}
	return true
}

// once puts the rendered object o in its slot, and fails the test if the
// render had one of its kind already.
func once[T any](t *testing.T, dir string, slot **T, o *T) {
	t.Helper()
	if *slot != nil {
		t.Errorf("%s renders a second %T", dir, o)
	}
	*slot = o
}
