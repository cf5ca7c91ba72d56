package kubernetes

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrybot/ferry/targets/kubernetes/kubetest"
	"github.com/ferrybot/ferry/targets/workspace"
)

// TestExplainCrashLoop explains a pod whose container was OOMKilled and
// restarts: its reasons, exit code and warning events, and that its log is
// unavailable, as on the test cluster, which has no kubelet to ask.
func TestExplainCrashLoop(t *testing.T) {
	k := kubetest.Cluster(t)
	ns := k.Namespace(t)
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "api-1"},
		// a node nobody runs: the pod's status is what this test writes
		Spec: corev1.PodSpec{NodeName: "ghost-node", Containers: []corev1.Container{{Name: "app", Image: "registry.example/api:v1"}}},
	}
	pod, err := k.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning,
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", Image: "registry.example/api:v1", RestartCount: 4,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 1m20s restarting failed container"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 137, Reason: "OOMKilled", FinishedAt: metav1.NewTime(time.Now().Truncate(time.Second)),
			}},
		}},
	}
	if pod, err = k.Client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "api-1.backoff"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "api-1", UID: pod.UID},
		Type:           corev1.EventTypeWarning, Reason: "BackOff", Message: "Back-off restarting failed container app", Count: 7,
		LastTimestamp: metav1.Now(),
	}
	if _, err := k.Client.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Kubeconfig: k.Kubeconfig, Namespace: ns, Name: "api", Image: "x/api:{{.Version}}"}, workspace.Setup{Project: "api", Env: "prod"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := podStatus(pod); got != "CrashLoopBackOff, last exit code 137 (OOMKilled): back-off 1m20s restarting failed container" {
		t.Errorf("status %q", got)
	}
	var log strings.Builder
	d.explain(ctx, pod, &log)
	for _, want := range []string{
		"pod api-1 on ghost-node: CrashLoopBackOff, last exit code 137 (OOMKilled): back-off 1m20s restarting failed container, 4 restart(s)",
		"container app: waiting: CrashLoopBackOff; last run: exit code 137 (OOMKilled); 4 restart(s)",
		"log of container app unavailable: ",
		"event BackOff (x7): Back-off restarting failed container app",
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("explanation lacks %q:\n%s", want, log.String())
		}
	}
}
