package kubernetes

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace"
)

// podRef is a pod of the rollout.
type podRef struct{ *corev1.Pod }

func (p *podRef) updated(s *state) bool { return slices.Contains(s.updated, p.Pod) }

// pod finds a pod of the rollout by name.
func (s *state) pod(name string) *podRef {
	for _, p := range append(slices.Clip(s.updated), s.others...) {
		if p.Name == name {
			return &podRef{p}
		}
	}
	return nil
}

// firstNotReady is the pod most worth explaining when a rollout is stuck:
// an updated pod that is not ready, else an older one.
func (s *state) firstNotReady() *podRef {
	for _, ps := range [][]*corev1.Pod{s.updated, s.others} {
		for _, p := range ps {
			if !podReady(p) {
				return &podRef{p}
			}
		}
	}
	return nil
}

// show makes each unit's step its pod's line as the rollout changes it;
// a DaemonSet's unit counts nodes, and its log gets each pod's line.
func (d *Driver) show(s *state, b pipeline.Batch, shown map[string]string) {
	set := func(unit, line string) {
		if shown[unit] != line {
			shown[unit] = line
			b.Log(unit).Step(line)
		}
	}
	for _, unit := range b.Units {
		switch d.kind {
		case KindDeployment:
			if i := slot(unit); i >= 1 && i <= len(s.updated) {
				set(unit, podLine(s.updated[i-1], false))
			} else {
				set(unit, "waiting for a pod")
			}
		case KindStatefulSet:
			switch p := s.pod(unit); {
			case p == nil:
				set(unit, "waiting for pod "+unit)
			case p.updated(s):
				set(unit, podLine(p.Pod, false))
			default:
				set(unit, podLine(p.Pod, false)+" (previous revision)")
			}
		default:
			set(unit, fmt.Sprintf("%d of %d node(s) updated, %d ready", len(s.updated), s.desired, s.ready))
			for _, p := range s.updated {
				if line := podLine(p, false); shown["pod "+p.Name] != line {
					shown["pod "+p.Name] = line
					fmt.Fprintln(b.Log(unit), line)
				}
			}
		}
	}
}

// podLine is one pod as the card shows it:
// "pod api-5d8c-x2x4k on node-1: ready, 0 restart(s)". Only a full line
// has the message of its status.
func podLine(p *corev1.Pod, full bool) string {
	node := p.Spec.NodeName
	if node == "" {
		node = "no node yet"
	}
	status := podStatus(p)
	if !full {
		status, _, _ = strings.Cut(status, ": ")
	}
	return fmt.Sprintf("pod %s on %s: %s, %d restart(s)", p.Name, node, status, restarts(p))
}

// podStatus says in a few words why a pod is, or is not, ready.
func podStatus(p *corev1.Pod) string {
	switch {
	case p.DeletionTimestamp != nil:
		return "terminating"
	case podReady(p):
		return "ready"
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return "unschedulable: " + workspace.Clip(c.Message, 120)
		}
	}
	for _, cs := range append(slices.Clip(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
			s := w.Reason
			if t := cs.LastTerminationState.Terminated; t != nil {
				s += ", last " + exit(t)
			}
			if w.Message != "" {
				s += ": " + workspace.Clip(w.Message, 120)
			}
			return s
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return exit(t)
		}
	}
	if p.Status.Phase == corev1.PodRunning {
		return "running, not ready"
	}
	return strings.ToLower(string(cmp.Or(p.Status.Phase, corev1.PodPending)))
}

// exit describes a container's termination: "exit code 137 (OOMKilled)".
func exit(t *corev1.ContainerStateTerminated) string {
	s := fmt.Sprintf("exit code %d", t.ExitCode)
	if t.Reason != "" {
		s += " (" + t.Reason + ")"
	}
	return s
}

func restarts(p *corev1.Pod) int {
	n := 0
	for _, cs := range p.Status.ContainerStatuses {
		n += int(cs.RestartCount)
	}
	return n
}

// unitError is why a unit is not ready: cause, then its pod's status. The
// first few pods are explained in the unit's log with their events and the
// last lines of their containers' logs.
func (d *Driver) unitError(ctx context.Context, s *state, p *podRef, cause error, log io.Writer, explained *int) error {
	if p == nil {
		msg := fmt.Sprintf("%v: no pod was created for it", cause)
		if s.failure != "" {
			msg += ": " + s.failure
		}
		return errors.New(msg)
	}
	if *explained < 3 {
		*explained++
		d.explain(ctx, p.Pod, log)
	}
	return fmt.Errorf("%v: pod %s: %s", cause, p.Name, podStatus(p.Pod))
}

// explain writes what is known about a pod that is not ready: its status,
// its containers' states, its warning events and the end of the log of a
// container that ran and stopped. A log the cluster cannot give (no
// kubelet, no permission) is said to be unavailable.
func (d *Driver) explain(ctx context.Context, p *corev1.Pod, log io.Writer) {
	fmt.Fprintln(log, podLine(p, true))
	for _, cs := range append(slices.Clip(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		var parts []string
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			parts = append(parts, "waiting: "+w.Reason)
		}
		if t := cs.State.Terminated; t != nil {
			parts = append(parts, "terminated: "+exit(t))
		}
		if t := cs.LastTerminationState.Terminated; t != nil {
			parts = append(parts, "last run: "+exit(t))
		}
		if len(parts) > 0 {
			fmt.Fprintf(log, "container %s: %s; %d restart(s)\n", cs.Name, strings.Join(parts, "; "), cs.RestartCount)
		}
		ran := cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil
		if ran && d.cfg.LogLines > 0 {
			d.tail(ctx, p, cs, log)
		}
	}
	d.events(ctx, p, log)
}

// events writes the pod's last warning events.
func (d *Driver) events(ctx context.Context, p *corev1.Pod, log io.Writer) {
	sel := fields.AndSelectors(fields.OneTermEqualSelector("involvedObject.name", p.Name), fields.OneTermEqualSelector("involvedObject.kind", "Pod"))
	l, err := d.client.CoreV1().Events(p.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel.String()})
	if err != nil {
		fmt.Fprintf(log, "events of pod %s unavailable: %s\n", p.Name, firstLine(err.Error()))
		return
	}
	evs := slices.DeleteFunc(l.Items, func(e corev1.Event) bool { return e.Type != corev1.EventTypeWarning })
	slices.SortFunc(evs, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b).Time) })
	for _, e := range evs[max(0, len(evs)-3):] {
		count := ""
		if e.Count > 1 {
			count = fmt.Sprintf(" (x%d)", e.Count)
		}
		fmt.Fprintf(log, "event %s%s: %s\n", e.Reason, count, workspace.Clip(strings.TrimSpace(e.Message), 200))
	}
}

func eventTime(e corev1.Event) metav1.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp
	case !e.EventTime.IsZero():
		return metav1.NewTime(e.EventTime.Time)
	}
	return e.FirstTimestamp
}

// tail writes the last lines of a container's log: of its previous run
// when it is waiting to restart.
func (d *Driver) tail(ctx context.Context, p *corev1.Pod, cs corev1.ContainerStatus, log io.Writer) {
	lines := int64(d.cfg.LogLines)
	previous := cs.State.Terminated == nil && cs.LastTerminationState.Terminated != nil
	req := d.client.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: cs.Name, TailLines: &lines, Previous: previous, LimitBytes: ptr(int64(64 << 10))})
	r, err := req.Stream(ctx)
	if err != nil {
		fmt.Fprintf(log, "log of container %s unavailable: %s\n", cs.Name, firstLine(err.Error()))
		return
	}
	defer r.Close()
	fmt.Fprintf(log, "last lines of the log of container %s:\n", cs.Name)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fmt.Fprintf(log, "  %s\n", workspace.Clip(sc.Text(), 300))
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return workspace.Clip(s, 200)
}

func ptr[T any](v T) *T { return &v }
