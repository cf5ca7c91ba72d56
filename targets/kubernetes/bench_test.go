package kubernetes_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/kubernetes"
	"github.com/ferrybot/ferry/targets/kubernetes/kubetest"
)

// counter counts the driver's requests to the API server and notes when
// its first PATCH of a deploy returned.
type counter struct {
	next       http.RoundTripper
	requests   atomic.Int64
	mu         sync.Mutex
	firstPatch time.Time
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	resp, err := c.next.RoundTrip(r)
	if r.Method == http.MethodPatch {
		c.mu.Lock()
		if c.firstPatch.IsZero() {
			c.firstPatch = time.Now()
		}
		c.mu.Unlock()
	}
	return resp, err
}

func (c *counter) reset() {
	c.requests.Store(0)
	c.mu.Lock()
	c.firstPatch = time.Time{}
	c.mu.Unlock()
}

// observer watches the pods and the Deployment as a bystander does: when
// the last pod of an image became ready, and when the Deployment's status
// first said its rollout to that image was complete.
type observer struct {
	mu        sync.Mutex
	image     string
	ready     map[string]bool
	lastReady time.Time
	complete  time.Time
}

func (o *observer) expect(image string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.image, o.ready, o.lastReady, o.complete = image, map[string]bool{}, time.Time{}, time.Time{}
}

func (o *observer) run(ctx context.Context, k *kubetest.Env, ns string) error {
	pods, err := k.Client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	deps, err := k.Client.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	go func() {
		for {
			var ev watch.Event
			select {
			case ev = <-pods.ResultChan():
			case ev = <-deps.ResultChan():
			case <-ctx.Done():
				pods.Stop()
				deps.Stop()
				return
			}
			now := time.Now()
			o.mu.Lock()
			switch obj := ev.Object.(type) {
			case *corev1.Pod:
				if obj.Spec.Containers[0].Image == o.image && isReady(obj) && !o.ready[obj.Name] {
					o.ready[obj.Name], o.lastReady = true, now
				}
			case *appsv1.Deployment:
				st := obj.Status
				if obj.Spec.Template.Spec.Containers[0].Image == o.image && o.complete.IsZero() && st.ObservedGeneration >= obj.Generation &&
					st.UpdatedReplicas == *obj.Spec.Replicas && st.Replicas == st.UpdatedReplicas && st.AvailableReplicas == st.UpdatedReplicas {
					o.complete = now
				}
			}
			o.mu.Unlock()
		}
	}()
	return nil
}

// succeeded notes when the engine stored a deploy as succeeded.
type succeeded struct {
	mu sync.Mutex
	at map[int64]time.Time
}

// Notices records when a deploy succeeded, in the commit of its
// transition; it owes nothing.
func (s *succeeded) Notices(d pipeline.Deploy) []pipeline.Notice {
	if d.State == pipeline.StateSucceeded {
		s.mu.Lock()
		s.at[d.ID] = time.Now()
		s.mu.Unlock()
	}
	return nil
}

// BenchmarkDeploy10Replicas3Batches deploys a 10-replica Deployment in
// batches [1, 50%, 100%] (1, 5, 10 pods), bake 0, continue auto, on the
// local cluster, and reports per deploy: the time from the approval to the
// return of ferry's first PATCH, from the last new pod's Ready (as a
// watcher of the pods sees it) and from the Deployment's status saying
// complete to ferry's succeeded, and the API requests the driver made.
func BenchmarkDeploy10Replicas3Batches(b *testing.B) {
	k := kubetest.Cluster(b)
	ns := k.Namespace(b)
	c := &counter{}
	h := newHarness(b, k, ns, setup{
		cfg: kubernetes.Config{Name: "api", Image: image, WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			c.next = rt
			return c
		}},
		strategy: pipeline.Strategy{Batches: []pipeline.BatchSize{{Count: 1}, {Percent: 50}, {Percent: 100}}},
		approval: true,
	})
	done := &succeeded{at: map[int64]time.Time{}}
	h.notify = done
	h.deployment(10, "registry.example/api:v0.9.0")
	h.rolledOut()
	var o observer
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := o.run(ctx, k, ns); err != nil {
		b.Fatal(err)
	}
	var toPatch, readyToDone, completeToDone time.Duration
	var requests int64
	versions := []string{"v1.0.0", "v1.1.0", "v1.2.0"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v := versions[i%len(versions)]
		d := h.deploy(v)
		o.expect("registry.example/api:" + v)
		c.reset()
		start := time.Now()
		if _, err := h.engine.Approve(ctx, bob, d.ID); err != nil {
			b.Fatal(err)
		}
		h.wait(d.ID, pipeline.StateSucceeded)
		done.mu.Lock()
		end := done.at[d.ID]
		done.mu.Unlock()
		c.mu.Lock()
		toPatch += c.firstPatch.Sub(start)
		c.mu.Unlock()
		// The bystander's watch is another connection: it may hear of the
		// end after ferry did.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			o.mu.Lock()
			seen := !o.complete.IsZero() && len(o.ready) == 10
			if seen || time.Now().After(deadline) {
				break
			}
			o.mu.Unlock()
		}
		if o.complete.IsZero() || len(o.ready) < 10 {
			b.Fatalf("the watcher saw %d new pods ready, complete at %v", len(o.ready), o.complete)
		}
		readyToDone += end.Sub(o.lastReady)
		completeToDone += end.Sub(o.complete)
		o.mu.Unlock()
		requests += c.requests.Load()
		if u := h.units(d.ID); len(u) != 10 {
			b.Fatalf("units %v", u)
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(toPatch.Microseconds())/1000/n, "ms-approval-to-patch")
	b.ReportMetric(float64(readyToDone.Microseconds())/1000/n, "ms-lastready-to-succeeded")
	b.ReportMetric(float64(completeToDone.Microseconds())/1000/n, "ms-complete-to-succeeded")
	b.ReportMetric(float64(requests)/n, "requests/deploy")
}
