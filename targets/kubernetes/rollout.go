package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ferrybot/ferry/pipeline"
)

// InstallBatch rolls r out until b.Upto of b.Total units run it, and
// reports which units of b are not ready on it, with why. See the package
// documentation for how a batch maps onto each kind of object.
func (d *Driver) InstallBatch(ctx context.Context, r pipeline.Release, b pipeline.Batch) (string, map[string]error, error) {
	obj, err := d.get(ctx)
	if isNotFound(err) && d.cfg.Manifests != "" {
		return d.create(ctx, r, b)
	}
	if err != nil {
		return "", nil, err
	}
	last := b.Upto >= b.Total
	w, err := d.watch(ctx, obj)
	if err != nil {
		return "", nil, err
	}
	defer w.stop()
	s := w.state()
	ro := savedRollout(obj)
	switch {
	case ro == nil:
		ro = ownControls(obj, r.ID)
		ro.Previous = d.previous(s)
	case ro.Release != r.ID:
		// A deploy that stopped half-way left its controls: keep the
		// object's own, saved then, and start from what it runs.
		ro.Release, ro.Previous = r.ID, d.previous(s)
	}
	log := b.Log("")
	controls, err := d.controls(s, ro, b)
	if err != nil {
		return ro.Previous, nil, err
	}
	changed, err := d.change(ctx, r, s, ro, controls, last, log)
	if err != nil {
		return ro.Previous, nil, err
	}
	w.wrote(changed)
	prog := d.progress(obj)
	if _, ok := obj.(*appsv1.Deployment); ok && !last {
		// Pause as soon as the new ReplicaSet has the batch's size, before
		// any of its pods is ready: only then would the controller go on.
		s, err = d.follow(ctx, w, b, prog, func(s *state) bool { return s.newSize >= b.Upto })
		if err == nil && !s.paused {
			var paused object
			if paused, err = d.patch(ctx, types.MergePatchType, []byte(`{"spec":{"paused":true}}`)); err == nil {
				w.wrote(paused)
				fmt.Fprintf(log, "paused %s at %d new pod(s) of %d\n", d.what(), s.newSize, s.desired)
			}
		}
		if err != nil {
			return ro.Previous, d.results(ctx, s, b, err), ctxErr(ctx, err)
		}
	}
	s, err = d.follow(ctx, w, b, prog, func(s *state) bool {
		if last {
			return s.complete
		}
		return s.ready >= b.Upto
	})
	if ctx.Err() != nil {
		return ro.Previous, nil, ctx.Err()
	}
	if err == nil {
		fmt.Fprintf(log, "%d of %d pod(s) ready on release %s\n", s.ready, s.desired, r.ID)
	}
	return ro.Previous, d.results(ctx, s, b, err), nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// previous names what the object runs before a deploy changes it: the
// release of its pod template, or else the name of its current revision.
func (d *Driver) previous(s *state) string {
	if rel := templateOf(s.obj).Annotations[annRelease]; rel != "" {
		return rel
	}
	return s.current
}

// controls are the rollout controls of batch b: the spec fields the patch
// of the batch sets besides the template.
func (d *Driver) controls(s *state, ro *rollout, b pipeline.Batch) (map[string]any, error) {
	last := b.Upto >= b.Total
	switch o := s.obj.(type) {
	case *appsv1.Deployment:
		if last {
			if ro.MaxSurge == nil && ro.MaxUnavailable == nil {
				return map[string]any{"paused": false}, nil
			}
			ru := map[string]any{"maxSurge": ro.MaxSurge, "maxUnavailable": ro.MaxUnavailable}
			return map[string]any{"paused": false, "strategy": map[string]any{"rollingUpdate": ru}}, nil
		}
		if o.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
			return nil, fmt.Errorf("kubernetes: %w: %s uses the Recreate strategy, which replaces every pod at once; canary batches need RollingUpdate, or use batches: [100%%]", pipeline.ErrInvalid, d.what())
		}
		changing := templateOf(o).Annotations[annRelease] != ro.Release
		if s.newSize >= b.Upto && !changing {
			return map[string]any{}, nil // the new ReplicaSet is big enough: only wait
		}
		// With maxUnavailable 0 the controller settles, until another new
		// pod becomes available, at available+maxSurge new pods: it scales
		// the old ReplicaSets down by what is available beyond the
		// replicas, and the new one up to replicas+maxSurge pods in all.
		// So maxSurge is what the batch adds to the available new pods,
		// and no more than the old pods leave room for.
		available, old := s.newAvailable, s.oldSize
		if changing { // the current ReplicaSet becomes an old one
			available, old = 0, old+max(s.newSize, 0)
		}
		surge := intstr.FromInt32(int32(max(1, min(b.Upto-available, b.Upto+old-s.desired))))
		zero := intstr.FromInt32(0)
		ru := map[string]any{"maxSurge": surge, "maxUnavailable": zero}
		return map[string]any{"paused": false, "strategy": map[string]any{"rollingUpdate": ru}}, nil
	case *appsv1.StatefulSet:
		if o.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
			return nil, fmt.Errorf("kubernetes: %w: %s uses the OnDelete update strategy, so nothing rolls out until pods are deleted; use RollingUpdate", pipeline.ErrInvalid, d.what())
		}
		partition := int32(max(0, s.desired-b.Upto))
		if last {
			partition = ptrOr(ro.Partition, 0)
		}
		return map[string]any{"updateStrategy": map[string]any{"rollingUpdate": map[string]any{"partition": partition}}}, nil
	}
	return map[string]any{}, nil // a DaemonSet rolls out at once
}

// change makes the release the object's pod template, with the batch's
// controls, in one patch (image) or around a server-side apply
// (manifests), and saves or clears ro on the object.
func (d *Driver) change(ctx context.Context, r pipeline.Release, s *state, ro *rollout, controls map[string]any, last bool, log pipeline.StepLog) (object, error) {
	var saved any // null removes the annotation
	if !last {
		b, _ := json.Marshal(ro)
		saved = string(b)
	}
	objAnn := annotations(r)
	objAnn[annRollout] = saved
	if d.cfg.Manifests != "" {
		return d.changeByManifests(ctx, r, s, objAnn, controls, log)
	}
	img, err := d.image(r)
	if err != nil {
		return nil, err
	}
	container, err := d.container(s.obj)
	if err != nil {
		return nil, err
	}
	spec := map[string]any{
		"template": map[string]any{
			"metadata": map[string]any{"annotations": annotations(r)},
			"spec":     map[string]any{"containers": []any{map[string]any{"name": container, "image": img}}},
		},
	}
	for k, v := range controls {
		spec[k] = v
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": objAnn}, "spec": spec})
	if err != nil {
		return nil, err
	}
	obj, err := d.patch(ctx, types.StrategicMergePatchType, patch)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "%s: container %s image %s%s\n", d.what(), container, img, describeControls(controls))
	return obj, nil
}

// annotations are what ferry writes on the object and its pod template.
func annotations(r pipeline.Release) map[string]any {
	return map[string]any{
		annRelease: r.ID, annDeploy: fmt.Sprint(r.DeployID), annRequester: r.Requester,
		annCommit: r.Commit, annVersion: r.Version,
	}
}

// describeControls writes a batch's controls in words: ", maxSurge 3,
// maxUnavailable 0, resumed".
func describeControls(c map[string]any) string {
	var words []string
	if ru, ok := dig(c, "strategy", "rollingUpdate"); ok {
		words = append(words, fmt.Sprintf("maxSurge %v, maxUnavailable %v", show(ru["maxSurge"]), show(ru["maxUnavailable"])))
	}
	if ru, ok := dig(c, "updateStrategy", "rollingUpdate"); ok {
		words = append(words, fmt.Sprintf("partition %v", ru["partition"]))
	}
	if p, ok := c["paused"].(bool); ok && !p {
		words = append(words, "resumed")
	}
	if len(words) == 0 {
		return ""
	}
	return ", " + strings.Join(words, ", ")
}

func dig(m map[string]any, keys ...string) (map[string]any, bool) {
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}

// show writes an intstr or its absence.
func show(v any) string {
	if s, ok := v.(*intstr.IntOrString); ok && s != nil {
		return s.String()
	}
	if s, ok := v.(intstr.IntOrString); ok {
		return s.String()
	}
	return "default"
}

// container is the container of obj whose image a deploy sets.
func (d *Driver) container(obj object) (string, error) {
	cs := templateOf(obj).Spec.Containers
	var names []string
	for _, c := range cs {
		if c.Name == d.cfg.Container {
			return c.Name, nil
		}
		names = append(names, c.Name)
	}
	switch {
	case d.cfg.Container == "" && len(cs) == 1:
		return cs[0].Name, nil
	case d.cfg.Container == "":
		return "", fmt.Errorf("kubernetes: %w: %s has containers %v; name one with container: in the target", pipeline.ErrInvalid, d.what(), names)
	}
	return "", fmt.Errorf("kubernetes: %w: %s has no container %q; it has %v", pipeline.ErrInvalid, d.what(), d.cfg.Container, names)
}

// ActivateBatch returns the object to the pod template of release (see
// revisionTemplate), restores the controls a deploy changed, resumes it
// and waits until the rollout is complete.
func (d *Driver) ActivateBatch(ctx context.Context, release string, b pipeline.Batch) error {
	if release == "" {
		return fmt.Errorf("kubernetes: %w: %s ran nothing before; ferry does not delete it: scale it to 0 instead", pipeline.ErrNotFound, d.what())
	}
	obj, err := d.get(ctx)
	if err != nil {
		return err
	}
	rss, crs, err := d.revisionLists(ctx, obj)
	if err != nil {
		return err
	}
	t, kept, err := revisionTemplate(obj, release, rss, crs)
	if err != nil {
		return fmt.Errorf("kubernetes: %s: %w", d.what(), err)
	}
	if t == nil {
		return fmt.Errorf("kubernetes: %w: %s keeps no revision of release %s (it keeps %v; revisionHistoryLimit sets how many)", pipeline.ErrNotFound, d.what(), release, kept)
	}
	w, err := d.watch(ctx, obj)
	if err != nil {
		return err
	}
	defer w.stop()
	tmpl, err := toMap(t)
	if err != nil {
		return err
	}
	tmpl["$patch"] = "replace"
	spec := map[string]any{"template": tmpl}
	ro := savedRollout(obj)
	if ro != nil {
		controls, err := d.controls(w.state(), ro, pipeline.Batch{})
		if err != nil {
			return err
		}
		for k, v := range controls {
			spec[k] = v
		}
	}
	if _, ok := obj.(*appsv1.Deployment); ok {
		spec["paused"] = false
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{annRollout: nil}}, "spec": spec})
	if err != nil {
		return err
	}
	restored, err := d.patch(ctx, types.StrategicMergePatchType, patch)
	if err != nil {
		return err
	}
	w.wrote(restored)
	log := b.Log("")
	fmt.Fprintf(log, "%s: pod template of release %s restored\n", d.what(), release)
	prog := d.progress(obj)
	if sts, ok := restored.(*appsv1.StatefulSet); ok && sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		if err := d.unblock(ctx, w, b, prog, log); err != nil {
			return err
		}
	}
	s, err := d.follow(ctx, w, b, prog, func(s *state) bool { return s.complete })
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return d.rolloutError(ctx, s, err, log)
	}
	fmt.Fprintf(log, "%d of %d pod(s) ready on release %s\n", s.ready, s.desired, release)
	return nil
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// results says which units of b are not ready at s, and why; cause is why
// waiting ended early, nil when it did not.
func (d *Driver) results(ctx context.Context, s *state, b pipeline.Batch, cause error) map[string]error {
	failed := map[string]error{}
	if cause == nil && (s.complete || s.ready >= b.Upto) {
		return failed
	}
	if cause == nil {
		cause = errors.New("the rollout stopped")
	}
	explained := 0
	for _, unit := range b.Units {
		var p *podRef
		switch d.kind {
		case KindDeployment:
			i := slot(unit)
			if i >= 1 && i <= s.ready {
				continue
			}
			if i >= 1 && i <= len(s.updated) {
				p = &podRef{s.updated[i-1]}
			}
		case KindStatefulSet:
			p = s.pod(unit)
			if p != nil && p.updated(s) && podReady(p.Pod) {
				continue
			}
		default:
			if s.complete {
				continue
			}
			p = s.firstNotReady()
		}
		failed[unit] = d.unitError(ctx, s, p, cause, b.Log(unit), &explained)
	}
	return failed
}

// rolloutError is the error of a whole-object rollout that did not finish.
func (d *Driver) rolloutError(ctx context.Context, s *state, cause error, log io.Writer) error {
	explained := 0
	return d.unitError(ctx, s, s.firstNotReady(), cause, log, &explained)
}

// unblock deletes the pods of a StatefulSet that are not ready on a
// revision other than the current one. With OrderedReady pod management
// the controller waits for a broken pod to become ready before it
// replaces it, which it never does: the manual step Kubernetes documents
// for a rollback, done for the pods the deploy broke.
func (d *Driver) unblock(ctx context.Context, w *watcher, b pipeline.Batch, prog *progress, log io.Writer) error {
	s, err := d.follow(ctx, w, b, prog, func(s *state) bool { return s.observed })
	if err != nil {
		return ctxErr(ctx, err)
	}
	for _, p := range s.others {
		if podReady(p) {
			continue
		}
		err := d.client.CoreV1().Pods(d.cfg.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if err != nil && !isNotFound(err) {
			return d.apiError("delete pod "+p.Name+" of", err)
		}
		fmt.Fprintf(log, "deleted pod %s (%s), which blocked the rollback\n", p.Name, podStatus(p))
	}
	return nil
}
