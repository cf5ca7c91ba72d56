package kubernetes_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
	"github.com/ferrybot/ferry/storage"
	"github.com/ferrybot/ferry/targets/kubernetes"
	"github.com/ferrybot/ferry/targets/kubernetes/kubetest"
	"github.com/ferrybot/ferry/targets/workspace"
)

var ctx = context.Background()

var (
	alice = pipeline.Actor{Name: "alice", Teams: []string{"dev"}}
	bob   = pipeline.Actor{Name: "bob", Teams: []string{"dev"}}
)

var refs = pipelinetest.Resolver{
	"v1.0.0":      {Hash: "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Tag: "v1.0.0"},
	"v1.1.0":      {Hash: "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Tag: "v1.1.0"},
	"v1.2.0":      {Hash: "3333333ccccccccccccccccccccccccccccccccc", Tag: "v1.2.0"},
	"kwok-fail":   {Hash: "4444444ddddddddddddddddddddddddddddddddd", Tag: "kwok-fail"},
	"main":        {Hash: "5555555eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", Branch: "main"},
	"kwok-fail-2": {Hash: "6666666fffffffffffffffffffffffffffffffff", Tag: "kwok-fail-2"},
}

// harness runs ferry's engine, on SQLite and a fake clock, with one
// project "api" whose environment "prod" is a kubernetes target on the
// test cluster, in a namespace of its own.
type harness struct {
	t       testing.TB
	k       *kubetest.Env
	ns      string
	clock   *clockwork.FakeClock
	store   *storage.Store
	engine  *pipeline.Engine
	driver  *kubernetes.Driver
	changed chan struct{}
	notify  pipeline.Subscriber // also asked at every change, if set before the first deploy
	setup   setup
	ws      *workspace.Workspace
	stopRun func()
}

// Notices implements pipeline.Subscriber: it owes nothing, and says that
// a deploy changed.
func (h *harness) Notices(d pipeline.Deploy) []pipeline.Notice {
	select {
	case h.changed <- struct{}{}:
	default:
	}
	if h.notify != nil {
		return h.notify.Notices(d)
	}
	return nil
}

// setup is a harness's environment: its target and its strategy.
type setup struct {
	cfg      kubernetes.Config // Namespace and Kubeconfig are filled in
	strategy pipeline.Strategy
	approval bool // prod needs one approval
	repo     string
}

func newHarness(t testing.TB, k *kubetest.Env, ns string, s setup) *harness {
	t.Helper()
	h := &harness{t: t, k: k, ns: ns, clock: clockwork.NewFakeClock(), changed: make(chan struct{}, 1), setup: s}
	if h.setup.cfg.Kubeconfig == "" {
		h.setup.cfg.Kubeconfig = k.Kubeconfig
	}
	h.setup.cfg.Namespace = ns
	st, err := storage.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.store = st
	if h.ws, err = workspace.New(workspace.Config{Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	h.start()
	t.Cleanup(h.stop)
	return h
}

// start makes a new driver and runs a new engine on the store, as a
// fresh ferry would.
func (h *harness) start() {
	t, s := h.t, h.setup
	var err error
	h.driver, err = kubernetes.New(s.cfg, workspace.Setup{Project: "api", Env: "prod", Workspace: h.ws}, kubernetes.Options{Clock: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	env := pipeline.Environment{Name: "prod", Strategy: s.strategy, Target: pipeline.TargetSpec{Type: "kubernetes"}, Deployers: []string{"dev"}}
	if s.approval {
		env.Approvals = pipeline.ApprovalPolicy{Required: 1}
	}
	if env.Strategy.Continue == "" {
		env.Strategy.Continue = pipeline.ContinueAuto
	}
	repo := s.repo
	if repo == "" {
		repo = "/srv/api.git"
	}
	var resolver pipeline.Resolver = refs
	if s.repo != "" {
		resolver, err = workspace.NewResolver(h.ws.Dir())
		if err != nil {
			t.Fatal(err)
		}
	}
	driver := h.driver
	e, err := pipeline.New(pipeline.Config{
		Store:       h.store,
		Projects:    []pipeline.Project{{Name: "api", Repo: repo, Envs: []pipeline.Environment{env}}},
		Target:      func(pipeline.Project, pipeline.Environment) (pipeline.Target, error) { return driver, nil },
		Resolver:    resolver,
		Subscribers: pipeline.Subscribers{h},
		Clock:       h.clock,
		Tick:        time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.engine = e
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.Run(runCtx); close(done) }()
	h.stopRun = func() { cancel(); <-done }
}

// stop ends the engine's Run, as a kill of ferry would.
func (h *harness) stop() {
	if h.stopRun != nil {
		h.stopRun()
		h.stopRun = nil
	}
}

// deploy requests ref as alice.
func (h *harness) deploy(ref string) pipeline.Deploy {
	h.t.Helper()
	d, err := h.engine.Request(ctx, alice, pipeline.Request{Project: "api", Env: "prod", Ref: ref})
	if err != nil {
		h.t.Fatalf("deploy %s: %v", ref, err)
	}
	return d
}

// wait blocks until deploy id is in state want, failing after a minute.
func (h *harness) wait(id int64, want pipeline.State) pipeline.Deploy {
	h.t.Helper()
	deadline := time.After(time.Minute)
	for {
		d, err := h.store.Deploy(ctx, id)
		if err != nil {
			h.t.Fatal(err)
		}
		if d.State == want {
			return d
		}
		if d.State.Final() && d.State != want || d.State == pipeline.StatePaused && want != pipeline.StatePaused {
			h.t.Fatalf("deploy %d is %s (%s), want %s\n%s", id, d.State, d.Reason, want, h.logs(id))
		}
		select {
		case <-h.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			h.t.Fatalf("deploy %d is %s (%s), want %s\n%s", id, d.State, d.Reason, want, h.logs(id))
		}
	}
}

// until waits, watching the store, until cond holds of deploy id's units.
func (h *harness) until(id int64, what string, cond func(map[string]pipeline.Unit) bool) {
	h.t.Helper()
	deadline := time.After(time.Minute)
	for {
		if cond(h.units(id)) {
			return
		}
		select {
		case <-h.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			h.t.Fatalf("deploy %d: %s never happened; units %+v\n%s", id, what, h.units(id), h.logs(id))
		}
	}
}

// bake waits until deploy id bakes after batch b (the fake clock's
// waiters do not say: ferry's progress deadlines wait on it too).
func (h *harness) bake(id int64, b int) {
	h.t.Helper()
	deadline := time.After(time.Minute)
	for {
		d, err := h.store.Deploy(ctx, id)
		if err != nil {
			h.t.Fatal(err)
		}
		if d.Batch == b && !d.BakeUntil.IsZero() {
			return
		}
		select {
		case <-h.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			h.t.Fatalf("deploy %d never baked after batch %d: %s batch %d\n%s", id, b+1, d.State, d.Batch, h.logs(id))
		}
	}
}

func (h *harness) units(id int64) map[string]pipeline.Unit {
	h.t.Helper()
	us, err := h.store.Units(ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	m := map[string]pipeline.Unit{}
	for _, u := range us {
		m[u.Name] = u
	}
	return m
}

func (h *harness) logs(id int64) string {
	ls, _ := h.store.Logs(ctx, id, 0)
	var b strings.Builder
	for _, l := range ls {
		b.WriteString("  " + l.Unit + " [" + l.Step + "] " + l.Text + "\n")
	}
	return b.String()
}

// deployment creates a Deployment "api" with one container "app".
func (h *harness) deployment(replicas int32, image string, edit ...func(*appsv1.Deployment)) *appsv1.Deployment {
	h.t.Helper()
	labels := map[string]string{"app": "api"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: podTemplate(labels, image),
		},
	}
	for _, f := range edit {
		f(d)
	}
	d, err := h.k.Client.AppsV1().Deployments(h.ns).Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

func podTemplate(labels map[string]string, image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: image}},
			// kwok's fake nodes carry no taints, but say so for real clusters
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
	}
}

// rolledOut waits until the Deployment "api" has every replica ready on its
// current template.
func (h *harness) rolledOut() *appsv1.Deployment {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := h.k.Client.AppsV1().Deployments(h.ns).Get(ctx, "api", metav1.GetOptions{})
		if err != nil {
			h.t.Fatal(err)
		}
		st := d.Status
		if st.ObservedGeneration >= d.Generation && st.UpdatedReplicas == *d.Spec.Replicas && st.Replicas == st.UpdatedReplicas && st.AvailableReplicas == st.UpdatedReplicas {
			return d
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("deployment api never rolled out: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) getDeployment() *appsv1.Deployment {
	h.t.Helper()
	d, err := h.k.Client.AppsV1().Deployments(h.ns).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

// replicaSets maps the image of each ReplicaSet of "api" to its replicas
// and how many of its pods are ready (as the pods say: a ReplicaSet's
// status lags behind them).
func (h *harness) replicaSets() map[string][2]int32 {
	h.t.Helper()
	l, err := h.k.Client.AppsV1().ReplicaSets(h.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=api"})
	if err != nil {
		h.t.Fatal(err)
	}
	pods, err := h.k.Client.CoreV1().Pods(h.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=api"})
	if err != nil {
		h.t.Fatal(err)
	}
	m := map[string][2]int32{}
	for _, rs := range l.Items {
		var ready int32
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && metav1.IsControlledBy(&p, &rs) && isReady(&p) {
				ready++
			}
		}
		m[rs.Spec.Template.Spec.Containers[0].Image] = [2]int32{*rs.Spec.Replicas, ready}
	}
	return m
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

var pct25 = intstr.FromString("25%")

const image = "registry.example/api:{{.Version}}"
