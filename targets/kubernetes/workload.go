package kubernetes

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// object is a Deployment, StatefulSet or DaemonSet as the API returns it.
type object interface {
	metav1.Object
	runtime.Object
}

// The annotations ferry writes on the object and its pod template.
const (
	annRollout   = "ferry.dev/rollout" // object: JSON of rollout, while a deploy is under way
	annRelease   = "ferry.dev/release"
	annDeploy    = "ferry.dev/deploy-id"
	annRequester = "ferry.dev/requester"
	annCommit    = "ferry.dev/commit"
	annVersion   = "ferry.dev/version"
)

// rollout is what a deploy changed on the object, saved in its annRollout
// annotation until the last batch, so that the next batch, a repeated
// step and a rollback know what the object was.
type rollout struct {
	Release  string `json:"release"`
	Previous string `json:"previous,omitempty"` // what ran before: a release, or a revision's name
	// The object's own rollout controls, restored by the last batch.
	MaxSurge       *intstr.IntOrString `json:"maxSurge,omitempty"`
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	Partition      *int32              `json:"partition,omitempty"`
}

// savedRollout reads the rollout a deploy saved on obj; nil for none.
func savedRollout(obj object) *rollout {
	v, ok := obj.GetAnnotations()[annRollout]
	if !ok {
		return nil
	}
	var ro rollout
	if json.Unmarshal([]byte(v), &ro) != nil {
		return nil
	}
	return &ro
}

// ownControls is a rollout of release that remembers obj's own controls.
func ownControls(obj object, release string) *rollout {
	ro := &rollout{Release: release}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		if ru := o.Spec.Strategy.RollingUpdate; ru != nil {
			ro.MaxSurge, ro.MaxUnavailable = ru.MaxSurge, ru.MaxUnavailable
		}
	case *appsv1.StatefulSet:
		if ru := o.Spec.UpdateStrategy.RollingUpdate; ru != nil {
			ro.Partition = ru.Partition
		}
	}
	return ro
}

func templateOf(obj object) *corev1.PodTemplateSpec {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template
	case *appsv1.StatefulSet:
		return &o.Spec.Template
	case *appsv1.DaemonSet:
		return &o.Spec.Template
	}
	return nil
}

func selectorOf(obj object) *metav1.LabelSelector {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Selector
	case *appsv1.StatefulSet:
		return o.Spec.Selector
	case *appsv1.DaemonSet:
		return o.Spec.Selector
	}
	return nil
}

// replicasOf is the number of pods the object wants.
func replicasOf(obj object) int {
	var r *int32
	switch o := obj.(type) {
	case *appsv1.Deployment:
		r = o.Spec.Replicas
	case *appsv1.StatefulSet:
		r = o.Spec.Replicas
	case *appsv1.DaemonSet:
		return int(o.Status.DesiredNumberScheduled)
	}
	if r == nil {
		return 1
	}
	return int(*r)
}

// basePartition is the partition a StatefulSet has outside of ferry's
// deploys: pods below it are never updated, so they are no units.
func basePartition(sts *appsv1.StatefulSet) int {
	if ro := savedRollout(sts); ro != nil {
		if ro.Partition != nil {
			return int(*ro.Partition)
		}
		return 0
	}
	if ru := sts.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		return int(*ru.Partition)
	}
	return 0
}

// unitsOf lists the units of obj; see Units.
func unitsOf(obj object) []string {
	name := obj.GetName()
	n := replicasOf(obj)
	switch o := obj.(type) {
	case *appsv1.Deployment:
		if n > 0 {
			units := make([]string, n)
			for i := range units {
				units[i] = name + "/" + strconv.Itoa(i+1)
			}
			return units
		}
	case *appsv1.StatefulSet:
		var units []string
		for i := n - 1; i >= basePartition(o); i-- {
			units = append(units, name+"-"+strconv.Itoa(i))
		}
		if len(units) > 0 {
			return units
		}
	}
	return []string{name}
}

// state is a rollout as one look at the object, its pods and its
// revisions shows it.
type state struct {
	obj          object
	observed     bool // the controller has acted on the object's latest spec
	desired      int
	updated      []*corev1.Pod // pods of the current template: ready first, then oldest first
	ready        int           // how many of updated are ready
	others       []*corev1.Pod // pods of earlier templates
	current      string        // the name of the current template's revision; "" before it exists
	newSize      int           // Deployment: replicas of the current ReplicaSet; -1 before it exists
	newAvailable int           // Deployment: its available pods
	complete     bool          // the whole rollout is done
	stalled      string        // why the controller gave up on the rollout; "" while it has not
	failure      string        // why the current ReplicaSet cannot create pods (a quota); "" for none
	paused       bool
	oldSize      int  // Deployment: replicas of the other ReplicaSets
	stale        bool // the watch has not seen ferry's last change yet: nothing else is set
}

// evaluate reads the state of obj from its pods and revisions (the
// ReplicaSets of a Deployment, the ControllerRevisions of a DaemonSet).
func evaluate(obj object, pods []*corev1.Pod, rss []*appsv1.ReplicaSet, crs []*appsv1.ControllerRevision) *state {
	s := &state{obj: obj, desired: replicasOf(obj), newSize: -1, observed: obj.GetGeneration() <= observedGeneration(obj)}
	var hashLabel, hash string // the label and value of the current template's pods
	switch o := obj.(type) {
	case *appsv1.Deployment:
		hashLabel, hash = s.deployment(o, rss)
	case *appsv1.StatefulSet:
		hashLabel, hash = s.statefulSet(o)
	case *appsv1.DaemonSet:
		hashLabel, hash = s.daemonSet(o, crs)
	}
	for _, p := range pods {
		if p.DeletionTimestamp != nil || !metav1.IsControlledBy(p, obj) && !ownedByRS(p, rss, obj) {
			continue
		}
		if hash != "" && p.Labels[hashLabel] == hash {
			s.updated = append(s.updated, p)
			if podReady(p) {
				s.ready++
			}
		} else {
			s.others = append(s.others, p)
		}
	}
	if _, ok := obj.(*appsv1.StatefulSet); !ok {
		// The status can be ahead of the pods in a cache: done is when
		// both say so, so what the card shows agrees.
		s.complete = s.complete && s.ready >= s.desired
	}
	slices.SortFunc(s.updated, func(a, b *corev1.Pod) int {
		if ra, rb := podReady(a), podReady(b); ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(a.Name, b.Name))
	})
	return s
}

func observedGeneration(obj object) int64 {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Status.ObservedGeneration
	case *appsv1.StatefulSet:
		return o.Status.ObservedGeneration
	case *appsv1.DaemonSet:
		return o.Status.ObservedGeneration
	}
	return 0
}

// deployment reads a Deployment's ReplicaSets: the current one is the one
// whose template is the Deployment's, as the controller decides it.
func (s *state) deployment(o *appsv1.Deployment, rss []*appsv1.ReplicaSet) (hashLabel, hash string) {
	s.paused = o.Spec.Paused
	for _, rs := range rss {
		if !metav1.IsControlledBy(rs, o) {
			continue
		}
		size := int(ptrOr(rs.Spec.Replicas, 1))
		if s.current != "" || !equalIgnoreHash(&rs.Spec.Template, &o.Spec.Template) {
			s.oldSize += size
			continue
		}
		s.current, s.newSize, s.newAvailable = rs.Name, size, int(rs.Status.AvailableReplicas)
		hashLabel, hash = appsv1.DefaultDeploymentUniqueLabelKey, rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
				s.failure = c.Message
			}
		}
	}
	st := o.Status
	for _, c := range st.Conditions {
		if s.observed && c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			s.stalled = c.Message
		}
	}
	// as kubectl rollout status decides it
	s.complete = s.observed && s.stalled == "" && int(st.UpdatedReplicas) >= s.desired &&
		st.Replicas <= st.UpdatedReplicas && st.AvailableReplicas >= st.UpdatedReplicas
	return hashLabel, hash
}

func (s *state) statefulSet(o *appsv1.StatefulSet) (hashLabel, hash string) {
	st := o.Status
	if s.observed {
		s.current, hashLabel, hash = st.UpdateRevision, appsv1.ControllerRevisionHashLabelKey, st.UpdateRevision
	}
	s.complete = s.observed && int(st.ReadyReplicas) >= s.desired
	if ru := o.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil && *ru.Partition > 0 {
		s.complete = s.complete && int(st.UpdatedReplicas) >= s.desired-int(*ru.Partition)
	} else {
		s.complete = s.complete && st.UpdateRevision == st.CurrentRevision
	}
	return hashLabel, hash
}

// daemonSet reads a DaemonSet's ControllerRevisions: once the controller
// has seen the latest spec, the newest is the current template's.
func (s *state) daemonSet(o *appsv1.DaemonSet, crs []*appsv1.ControllerRevision) (hashLabel, hash string) {
	var newest *appsv1.ControllerRevision
	for _, cr := range crs {
		if metav1.IsControlledBy(cr, o) && (newest == nil || cr.Revision > newest.Revision) {
			newest = cr
		}
	}
	if s.observed && newest != nil {
		s.current, hashLabel, hash = newest.Name, appsv1.ControllerRevisionHashLabelKey, newest.Labels[appsv1.ControllerRevisionHashLabelKey]
	}
	st := o.Status
	s.complete = s.observed && st.UpdatedNumberScheduled >= st.DesiredNumberScheduled && st.NumberAvailable >= st.DesiredNumberScheduled
	return hashLabel, hash
}

// ownedByRS reports whether a pod belongs to a ReplicaSet the Deployment
// obj controls.
func ownedByRS(p *corev1.Pod, rss []*appsv1.ReplicaSet, obj object) bool {
	for _, rs := range rss {
		if metav1.IsControlledBy(p, rs) && metav1.IsControlledBy(rs, obj) {
			return true
		}
	}
	return false
}

// equalIgnoreHash compares pod templates as the Deployment controller
// does: the ReplicaSet's pod-template-hash label does not count.
func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return apiequality.Semantic.DeepEqual(a, b)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// revisionTemplate finds the pod template of release among the revisions
// of obj: the ReplicaSet (Deployment) or ControllerRevision whose template
// carries the release's annotation, or whose name is release. The newest
// wins. It also returns the names of the revisions it looked at.
func revisionTemplate(obj object, release string, rss []*appsv1.ReplicaSet, crs []*appsv1.ControllerRevision) (*corev1.PodTemplateSpec, []string, error) {
	var best *corev1.PodTemplateSpec
	bestRev := int64(-1)
	var names []string
	consider := func(name string, rev int64, t *corev1.PodTemplateSpec) {
		names = append(names, name+describeRelease(t))
		if (name == release || t.Annotations[annRelease] == release) && rev > bestRev {
			best, bestRev = t, rev
		}
	}
	for _, rs := range rss {
		if !metav1.IsControlledBy(rs, obj) {
			continue
		}
		rev, _ := strconv.ParseInt(rs.Annotations["deployment.kubernetes.io/revision"], 10, 64)
		t := rs.Spec.Template.DeepCopy()
		delete(t.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		consider(rs.Name, rev, t)
	}
	for _, cr := range crs {
		if !metav1.IsControlledBy(cr, obj) {
			continue
		}
		var data struct {
			Spec struct {
				Template corev1.PodTemplateSpec `json:"template"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(cr.Data.Raw, &data); err != nil {
			return nil, nil, fmt.Errorf("revision %s: %w", cr.Name, err)
		}
		consider(cr.Name, cr.Revision, &data.Spec.Template)
	}
	slices.Sort(names)
	return best, names, nil
}

func describeRelease(t *corev1.PodTemplateSpec) string {
	if r := t.Annotations[annRelease]; r != "" {
		return " (release " + r + ")"
	}
	return ""
}

// revisionLists lists what revisionTemplate needs for obj's kind.
func (d *Driver) revisionLists(ctx context.Context, obj object) ([]*appsv1.ReplicaSet, []*appsv1.ControllerRevision, error) {
	opts, err := selectorOptions(obj)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := obj.(*appsv1.Deployment); ok {
		l, err := d.client.AppsV1().ReplicaSets(d.cfg.Namespace).List(ctx, opts)
		if err != nil {
			return nil, nil, d.apiError("list replicasets", err)
		}
		return pointers(l.Items), nil, nil
	}
	l, err := d.client.AppsV1().ControllerRevisions(d.cfg.Namespace).List(ctx, opts)
	if err != nil {
		return nil, nil, d.apiError("list controllerrevisions", err)
	}
	return nil, pointers(l.Items), nil
}

func selectorOptions(obj object) (metav1.ListOptions, error) {
	sel, err := metav1.LabelSelectorAsSelector(selectorOf(obj))
	if err != nil {
		return metav1.ListOptions{}, fmt.Errorf("kubernetes: the selector of %s: %w", obj.GetName(), err)
	}
	return metav1.ListOptions{LabelSelector: sel.String()}, nil
}

func pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
