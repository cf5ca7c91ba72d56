package kubernetes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/ferrybot/ferry/pipeline"
)

// manifest is one object of the repository's manifests.
type manifest struct {
	file string // relative to the repository
	obj  *unstructured.Unstructured
}

// placeholders are what a manifest may say to get the release: the names
// of the image template, written exactly so. Anything else in {{ }} is
// left alone, so manifests keep their own templates (alert rules,
// scripts in ConfigMaps).
func placeholders(r release) *strings.Replacer {
	return strings.NewReplacer(
		"{{.Version}}", r.Version, "{{.Tag}}", r.Tag, "{{.Commit}}", r.Commit, "{{.ShortCommit}}", r.ShortCommit,
		"{{.Ref}}", r.Ref, "{{.Release}}", r.Release, "{{.Project}}", r.Project, "{{.Env}}", r.Env,
	)
}

// build checks the release's commit out and reads its manifests, once.
func (d *Driver) build(ctx context.Context, r pipeline.Release, log io.Writer) ([]manifest, error) {
	d.mu.Lock()
	ms, ok := d.manifests[r.ID]
	d.mu.Unlock()
	if ok {
		return ms, nil
	}
	if r.Commit == "" {
		return nil, fmt.Errorf("kubernetes: build: %w: release %s has no commit", pipeline.ErrInvalid, r.ID)
	}
	dir, err := d.ws.Checkout(ctx, r.Repo, r.Commit, log)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	ms, err = d.readManifests(dir, placeholders(releaseOf(r)))
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.manifests[r.ID] = ms
	d.mu.Unlock()
	return ms, nil
}

// readManifests reads the YAML or JSON documents under the manifests path
// of the checkout dir.
func (d *Driver) readManifests(dir string, rep *strings.Replacer) ([]manifest, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("kubernetes: manifests: %w: %s", pipeline.ErrInvalid, fmt.Sprintf(format, args...))
	}
	root := filepath.Join(dir, d.cfg.Manifests)
	var files []string
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml", ".json":
			if e.Type().IsRegular() {
				files = append(files, path)
			}
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, bad("%s is not in the repository at this commit", d.cfg.Manifests)
	}
	if err != nil {
		return nil, bad("%v", err)
	}
	var ms []manifest
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, bad("%v", err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(rep.Replace(string(data)))), 4096)
		for i := 1; ; i++ {
			var m map[string]any
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, bad("%s: document %d: %v", rel, i, err)
			}
			if len(m) == 0 {
				continue
			}
			u := &unstructured.Unstructured{Object: m}
			switch {
			case u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "":
				return nil, bad("%s: document %d needs apiVersion, kind and metadata.name", rel, i)
			case u.GetNamespace() == "":
				u.SetNamespace(d.cfg.Namespace)
			case u.GetNamespace() != d.cfg.Namespace:
				return nil, bad("%s: %s %s is in namespace %s; ferry applies into %s only", rel, u.GetKind(), u.GetName(), u.GetNamespace(), d.cfg.Namespace)
			}
			ms = append(ms, manifest{file: rel, obj: u})
		}
	}
	if !slices.ContainsFunc(ms, d.isTarget) {
		return nil, bad("%s has no %s named %s, the object this target deploys", d.cfg.Manifests, d.kind, d.cfg.Name)
	}
	return ms, nil
}

func (d *Driver) isTarget(m manifest) bool {
	gvk := m.obj.GroupVersionKind()
	return gvk.Group == appsv1.GroupName && gvk.Kind == d.kind && m.obj.GetName() == d.cfg.Name
}

// changeByManifests applies the release's manifests. Before, it holds the
// object (pauses a Deployment, sets a StatefulSet's partition to its
// replicas) so the apply changes no pod; after, it patches the batch's
// controls and ferry's annotations. The object's own spec.paused and
// partition in the manifests are not applied: ferry drives them.
func (d *Driver) changeByManifests(ctx context.Context, r pipeline.Release, s *state, objAnn map[string]any, controls map[string]any, log io.Writer) (object, error) {
	ms, err := d.build(ctx, r, log)
	if err != nil {
		return nil, err
	}
	changing := templateOf(s.obj).Annotations[annRelease] != r.ID
	if hold := holdPatch(s); changing && hold != "" {
		if _, err := d.patch(ctx, types.MergePatchType, []byte(hold)); err != nil {
			return nil, err
		}
	}
	for _, m := range ms {
		u := m.obj
		if d.isTarget(m) {
			u = d.prepare(u, r)
		}
		applied, err := d.apply(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("kubernetes: apply %s (%s %s): %w", m.file, m.obj.GetKind(), m.obj.GetName(), err)
		}
		if d.isTarget(m) && changing {
			if ro := savedRollout(s.obj); ro == nil || ro.Release != r.ID {
				// The manifests may change the object's own strategy:
				// what the last batch restores is what they apply.
				d.reconcileControls(applied, objAnn)
			}
		}
	}
	fmt.Fprintf(log, "applied %d object(s) from %s\n", len(ms), d.cfg.Manifests)
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": objAnn}, "spec": controls})
	if err != nil {
		return nil, err
	}
	return d.patch(ctx, types.StrategicMergePatchType, patch)
}

// holdPatch is the merge patch that keeps a template change from rolling
// out; "" when the object needs none.
func holdPatch(s *state) string {
	switch o := s.obj.(type) {
	case *appsv1.Deployment:
		if !o.Spec.Paused {
			return `{"spec":{"paused":true}}`
		}
	case *appsv1.StatefulSet:
		return fmt.Sprintf(`{"spec":{"updateStrategy":{"rollingUpdate":{"partition":%d}}}}`, s.desired)
	}
	return ""
}

// reconcileControls saves the controls the manifests applied as the ones
// to restore, in the rollout annotation about to be written.
func (d *Driver) reconcileControls(applied *unstructured.Unstructured, objAnn map[string]any) {
	saved, ok := objAnn[annRollout].(string)
	if !ok {
		return // the last batch: nothing is saved
	}
	var ro rollout
	if json.Unmarshal([]byte(saved), &ro) != nil {
		return
	}
	var obj object
	switch d.kind {
	case KindDeployment:
		obj = &appsv1.Deployment{}
	case KindStatefulSet:
		obj = &appsv1.StatefulSet{}
	default:
		return
	}
	if runtime.DefaultUnstructuredConverter.FromUnstructured(applied.Object, obj) != nil {
		return
	}
	own := ownControls(obj, ro.Release)
	if d.kind == KindStatefulSet {
		own.Partition = ro.Partition // the hold set it; the manifests do not apply it
	}
	own.Previous = ro.Previous
	b, _ := json.Marshal(own)
	objAnn[annRollout] = string(b)
}

// prepare is the target object as ferry applies it: with ferry's
// annotations on it and its pod template, without the fields ferry drives.
func (d *Driver) prepare(u *unstructured.Unstructured, r pipeline.Release) *unstructured.Unstructured {
	u = u.DeepCopy()
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	tmpl, _, _ := unstructured.NestedStringMap(u.Object, "spec", "template", "metadata", "annotations")
	if tmpl == nil {
		tmpl = map[string]string{}
	}
	for k, v := range annotations(r) {
		ann[k], tmpl[k] = v.(string), v.(string)
	}
	u.SetAnnotations(ann)
	unstructured.SetNestedStringMap(u.Object, tmpl, "spec", "template", "metadata", "annotations")
	unstructured.RemoveNestedField(u.Object, "spec", "paused")
	unstructured.RemoveNestedField(u.Object, "spec", "updateStrategy", "rollingUpdate", "partition")
	return u
}

// apply server-side applies one object as ferry's field manager, taking
// over fields others set: the repository is what the object should be.
func (d *Driver) apply(ctx context.Context, u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	dyn, mapper, err := d.dynamic()
	if err != nil {
		return nil, err
	}
	gvk := u.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		mapper.Reset() // a CRD installed since ferry looked
		m, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the cluster does not serve %s: %v", pipeline.ErrInvalid, gvk, err)
	}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return nil, fmt.Errorf("%w: %s is cluster-scoped; ferry applies namespaced objects only", pipeline.ErrInvalid, gvk.Kind)
	}
	out, err := dyn.Resource(m.Resource).Namespace(d.cfg.Namespace).Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	if err != nil {
		return nil, d.apiError("apply "+strings.ToLower(gvk.Kind)+" "+u.GetName()+" for", err)
	}
	return out, nil
}

// dynamic returns the dynamic client and the REST mapper, made on first use.
func (d *Driver) dynamic() (dynamic.Interface, *restmapper.DeferredDiscoveryRESTMapper, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dyn == nil {
		dyn, err := dynamic.NewForConfig(d.rest)
		if err != nil {
			return nil, nil, fmt.Errorf("kubernetes: %w", err)
		}
		disc, err := discovery.NewDiscoveryClientForConfig(d.rest)
		if err != nil {
			return nil, nil, fmt.Errorf("kubernetes: %w", err)
		}
		d.dyn, d.mapper = dyn, restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	}
	return d.dyn, d.mapper, nil
}

// create applies the manifests of a first deploy, which creates the object,
// and waits until its rollout is complete.
func (d *Driver) create(ctx context.Context, r pipeline.Release, b pipeline.Batch) (string, map[string]error, error) {
	ms, err := d.build(ctx, r, b.Log(""))
	if err != nil {
		return "", nil, err
	}
	for _, m := range ms {
		u := m.obj
		if d.isTarget(m) {
			u = d.prepare(u, r)
		}
		if _, err := d.apply(ctx, u); err != nil {
			return "", nil, fmt.Errorf("kubernetes: apply %s (%s %s): %w", m.file, m.obj.GetKind(), m.obj.GetName(), err)
		}
	}
	fmt.Fprintf(b.Log(""), "created %s and %d other object(s) from %s\n", d.what(), len(ms)-1, d.cfg.Manifests)
	obj, err := d.get(ctx)
	if err != nil {
		return "", nil, err
	}
	w, err := d.watch(ctx, obj)
	if err != nil {
		return "", nil, err
	}
	defer w.stop()
	s, err := d.follow(ctx, w, b, d.progress(obj), func(s *state) bool { return s.complete })
	if ctx.Err() != nil {
		return "", nil, ctx.Err()
	}
	failed := map[string]error{}
	if err != nil {
		err = d.rolloutError(ctx, s, err, b.Log(""))
		for _, u := range b.Units {
			failed[u] = err
		}
	}
	return "", failed, nil
}
