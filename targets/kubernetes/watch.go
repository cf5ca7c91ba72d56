package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/ferrybot/ferry/pipeline"
)

// watcher follows the object, its pods and its revisions with informers:
// one list, then one watch from that list's resourceVersion, per kind of
// thing. Every change pokes changed.
type watcher struct {
	changed chan struct{}
	stop    context.CancelFunc
	key     string
	// written is the generation of ferry's last change to the object: a
	// cache that has not seen it yet says nothing about it.
	written int64
	obj     cache.Store
	pods    cache.Store
	rss     cache.Store // Deployment
	crs     cache.Store // DaemonSet
}

// watch starts watching what obj's rollout is made of and returns once
// every cache has its first list. Call stop when done.
func (d *Driver) watch(ctx context.Context, obj object) (*watcher, error) {
	sel, err := metav1.LabelSelectorAsSelector(selectorOf(obj))
	if err != nil {
		return nil, fmt.Errorf("kubernetes: the selector of %s: %w", d.what(), err)
	}
	wctx, cancel := context.WithCancel(ctx)
	ns := informers.WithNamespace(d.cfg.Namespace)
	byName := informers.NewSharedInformerFactoryWithOptions(d.client, 0, ns, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", d.cfg.Name).String()
	}))
	bySelector := informers.NewSharedInformerFactoryWithOptions(d.client, 0, ns, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = sel.String()
	}))
	w := &watcher{changed: make(chan struct{}, 1), stop: cancel, key: d.cfg.Namespace + "/" + d.cfg.Name}
	var infs []cache.SharedIndexInformer
	add := func(inf cache.SharedIndexInformer) cache.Store {
		inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { w.poke() },
			UpdateFunc: func(any, any) { w.poke() },
			DeleteFunc: func(any) { w.poke() },
		})
		infs = append(infs, inf)
		return inf.GetStore()
	}
	switch d.kind {
	case KindDeployment:
		w.obj = add(byName.Apps().V1().Deployments().Informer())
		w.rss = add(bySelector.Apps().V1().ReplicaSets().Informer())
	case KindStatefulSet:
		w.obj = add(byName.Apps().V1().StatefulSets().Informer())
	default:
		w.obj = add(byName.Apps().V1().DaemonSets().Informer())
		w.crs = add(bySelector.Apps().V1().ControllerRevisions().Informer())
	}
	w.pods = add(bySelector.Core().V1().Pods().Informer())
	byName.Start(wctx.Done())
	bySelector.Start(wctx.Done())
	synced := make([]cache.DoneChecker, len(infs))
	for i, inf := range infs {
		synced[i] = inf.HasSyncedChecker()
	}
	if !cache.WaitFor(wctx, "", synced...) { // WaitForCacheSync would poll every 100ms
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("kubernetes: watch %s: the caches did not fill", d.what())
	}
	return w, nil
}

func (w *watcher) poke() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// wrote records a change ferry made to the object.
func (w *watcher) wrote(obj object) {
	w.written = max(w.written, obj.GetGeneration())
}

// state evaluates what the caches hold now. It is stale while the cache
// has not seen ferry's last change.
func (w *watcher) state() *state {
	v, ok, _ := w.obj.GetByKey(w.key)
	if !ok {
		return &state{}
	}
	obj := v.(object)
	if obj.GetGeneration() < w.written {
		return &state{obj: obj, stale: true}
	}
	var rss []*appsv1.ReplicaSet
	var crs []*appsv1.ControllerRevision
	if w.rss != nil {
		rss = listOf[*appsv1.ReplicaSet](w.rss)
	}
	if w.crs != nil {
		crs = listOf[*appsv1.ControllerRevision](w.crs)
	}
	return evaluate(obj, listOf[*corev1.Pod](w.pods), rss, crs)
}

func listOf[T any](s cache.Store) []T {
	items := s.List()
	out := make([]T, 0, len(items))
	for _, it := range items {
		if t, ok := it.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// errNoProgress is a rollout that made no progress for its deadline.
type errNoProgress struct{ deadline time.Duration }

func (e errNoProgress) Error() string {
	return fmt.Sprintf("no progress for %s (the progress deadline)", e.deadline)
}

// progress is the deadline of one rollout: it starts over whenever the
// rollout progresses (a pod created, a pod ready), on ferry's clock.
type progress struct {
	deadline time.Duration
	last     string
	timer    <-chan time.Time
}

func (d *Driver) progress(obj object) *progress { return &progress{deadline: d.deadline(obj)} }

// see restarts the deadline if s shows progress since the last look.
func (p *progress) see(s *state, clock pipeline.Clock) {
	key := fmt.Sprint(s.newSize, len(s.updated), s.ready)
	if s.stale && p.timer != nil || key == p.last {
		return
	}
	if !s.stale {
		p.last = key
	}
	p.timer = clock.After(p.deadline)
}

// follow waits on the watch until done says the rollout reached what the
// step waits for, showing each unit's pod as it changes. It gives up when
// the controller reports the rollout stalled, or when nothing progressed
// for p's deadline: a paused Deployment has no progress deadline of its
// own.
func (d *Driver) follow(ctx context.Context, w *watcher, b pipeline.Batch, p *progress, done func(*state) bool) (*state, error) {
	shown := map[string]string{}
	for {
		s := w.state()
		if s.obj == nil {
			return s, errDeleted
		}
		p.see(s, d.clock) // before what people see changes, so its deadline is running
		if !s.stale {
			d.show(s, b, shown)
			if done(s) {
				return s, nil
			}
			if s.stalled != "" {
				return s, errors.New("ProgressDeadlineExceeded: " + strings.TrimSuffix(s.stalled, "."))
			}
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-w.changed:
		case <-p.timer:
			return s, errNoProgress{p.deadline}
		}
	}
}

// deadline is how long a rollout of obj may make no progress.
func (d *Driver) deadline(obj object) time.Duration {
	if d.cfg.ProgressDeadline > 0 {
		return d.cfg.ProgressDeadline
	}
	if dep, ok := obj.(*appsv1.Deployment); ok && dep.Spec.ProgressDeadlineSeconds != nil {
		return time.Duration(*dep.Spec.ProgressDeadlineSeconds) * time.Second
	}
	return 10 * time.Minute
}
