package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ferrybot/ferry/pipeline"
)

// Check is the health check of one unit: its pod runs the object's current
// template and is ready. A DaemonSet's unit is healthy when its rollout is
// complete.
func (d *Driver) Check(ctx context.Context, unit string, log pipeline.StepLog) error {
	s, err := d.look(ctx)
	if err != nil {
		return err
	}
	var p *podRef
	switch d.kind {
	case KindDeployment:
		i := slot(unit)
		if i >= 1 && i <= s.ready {
			return nil
		}
		if i >= 1 && i <= len(s.updated) {
			p = &podRef{s.updated[i-1]}
		}
	case KindStatefulSet:
		p = s.pod(unit)
		if p != nil && p.updated(s) && podReady(p.Pod) {
			return nil
		}
	default:
		if s.complete {
			return nil
		}
		p = s.firstNotReady()
	}
	if p == nil {
		return fmt.Errorf("kubernetes: %s: %d of %d pod(s) run the current template and are ready", unit, s.ready, s.desired)
	}
	explained := 0
	return d.unitError(ctx, s, p, fmt.Errorf("kubernetes: %s", unit), log, &explained)
}

// look reads the object, its pods and its revisions once, without a watch.
func (d *Driver) look(ctx context.Context) (*state, error) {
	obj, err := d.get(ctx)
	if err != nil {
		return nil, err
	}
	opts, err := selectorOptions(obj)
	if err != nil {
		return nil, err
	}
	pods, err := d.client.CoreV1().Pods(d.cfg.Namespace).List(ctx, opts)
	if err != nil {
		return nil, d.apiError("list pods of", err)
	}
	var rss []*appsv1.ReplicaSet
	var crs []*appsv1.ControllerRevision
	if d.kind != KindStatefulSet {
		if rss, crs, err = d.revisionLists(ctx, obj); err != nil {
			return nil, err
		}
	}
	return evaluate(obj, pointers(pods.Items), rss, crs), nil
}

// Scale sets the replicas of a Deployment or StatefulSet.
func (d *Driver) Scale(ctx context.Context, units int) (string, error) {
	if d.kind == KindDaemonSet {
		return "", fmt.Errorf("kubernetes: %w: %s runs one pod per node; it cannot be scaled", pipeline.ErrInvalid, d.what())
	}
	obj, err := d.get(ctx)
	if err != nil {
		return "", err
	}
	before := replicasOf(obj)
	if _, err := d.patch(ctx, types.MergePatchType, fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, units)); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s scaled from %d to %d replica(s)", d.what(), before, units), nil
}

// Restart restarts every pod of the object the way `kubectl rollout
// restart` does: a new annotation on the pod template rolls it out.
func (d *Driver) Restart(ctx context.Context) (string, error) {
	if err := d.restart(ctx); err != nil {
		return "", err
	}
	return d.what() + " is restarting its pods", nil
}

func (d *Driver) restart(ctx context.Context) error {
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{"kubectl.kubernetes.io/restartedAt": d.clock.Now().UTC().Format(time.RFC3339)},
	}}}})
	obj, err := d.patch(ctx, types.StrategicMergePatchType, patch)
	if err != nil {
		return err
	}
	if dep, ok := obj.(*appsv1.Deployment); ok && dep.Spec.Paused {
		return fmt.Errorf("kubernetes: %w: %s is paused, so the restart waits until it is resumed", pipeline.ErrConflict, d.what())
	}
	return nil
}

// configKey is what a ConfigMap key may be.
var configKey = regexp.MustCompile(`^[-._a-zA-Z0-9]{1,253}$`)

// SetConfig sets key in the configured ConfigMap, then restarts the pods
// so they read it. The value is never logged.
func (d *Driver) SetConfig(ctx context.Context, key, value string) (string, error) {
	if d.cfg.ConfigMap == "" {
		return "", fmt.Errorf("kubernetes: %w: the target of %s %s names no configmap; add configmap: <name> to it", pipeline.ErrInvalid, d.project, d.environment)
	}
	if !configKey.MatchString(key) || key == "." || key == ".." {
		return "", fmt.Errorf("kubernetes: %w: %q is not a ConfigMap key: use letters, digits, '-', '_' and '.'", pipeline.ErrInvalid, key)
	}
	patch, _ := json.Marshal(map[string]any{"data": map[string]string{key: value}})
	_, err := d.client.CoreV1().ConfigMaps(d.cfg.Namespace).Patch(ctx, d.cfg.ConfigMap, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager})
	if err != nil {
		return "", d.apiError("patch configmap "+d.cfg.ConfigMap+" of", err)
	}
	if err := d.restart(ctx); err != nil {
		return "", fmt.Errorf("configmap %s: %s set, but: %w", d.cfg.ConfigMap, key, err)
	}
	return fmt.Sprintf("configmap %s: %s set; %s is restarting its pods", d.cfg.ConfigMap, key, d.what()), nil
}

// Report says what the object runs: its container's image, its ready and
// wanted pods, the restarts of the pods running now and when the last was.
func (d *Driver) Report(ctx context.Context) (pipeline.Runtime, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := d.look(ctx)
	if err != nil {
		return pipeline.Runtime{}, err
	}
	rt := pipeline.Runtime{Desired: s.desired}
	if c, err := d.container(s.obj); err == nil {
		for _, ct := range templateOf(s.obj).Spec.Containers {
			if ct.Name == c {
				rt.Image = ct.Image
			}
		}
	}
	var stuck []string
	for _, p := range append(s.updated, s.others...) {
		if podReady(p) {
			rt.Ready++
		} else if st := podStatus(p); st != "pending" {
			stuck = append(stuck, p.Name+" "+strings.SplitN(st, ":", 2)[0])
		}
		rt.Restarts += restarts(p)
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(rt.LastRestart) {
				rt.LastRestart = t.FinishedAt.Time
			}
		}
	}
	var notes []string
	if s.paused {
		notes = append(notes, "rollout paused")
	}
	if !s.complete && !s.paused {
		notes = append(notes, "rolling out")
	}
	if len(stuck) > 0 {
		notes = append(notes, strings.Join(stuck[:min(len(stuck), 3)], ", "))
	}
	rt.Note = strings.Join(notes, "; ")
	return rt, nil
}
