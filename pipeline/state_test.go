package pipeline

import (
	"errors"
	"slices"
	"testing"
)

var allEvents = []Event{
	EventDeny, EventAwaitApproval, EventEnqueue, EventApprove, EventReject, EventExpire,
	EventStart, EventGate, EventBrake, EventPause, EventContinue, EventSucceed, EventFail,
	EventRollback, EventRolledBack, EventCancel, EventInterrupt, EventResume,
}

func TestNextFollowsTheDiagram(t *testing.T) {
	cases := []struct {
		from State
		ev   Event
		to   State
		eff  []Effect
	}{
		{StateRequested, EventAwaitApproval, StateAwaitingApproval, nil},
		{StateRequested, EventEnqueue, StateQueued, []Effect{EffectSchedule}},
		{StateRequested, EventDeny, StateDenied, []Effect{EffectFinished}},
		{StateAwaitingApproval, EventApprove, StateQueued, []Effect{EffectSchedule}},
		{StateAwaitingApproval, EventReject, StateRejected, []Effect{EffectFinished}},
		{StateAwaitingApproval, EventExpire, StateExpired, []Effect{EffectFinished}},
		{StateQueued, EventStart, StateRunning, []Effect{EffectWork}},
		{StateQueued, EventCancel, StateCancelled, []Effect{EffectStop, EffectFinished}},
		{StateRunning, EventGate, StatePaused, nil},
		{StateRunning, EventSucceed, StateSucceeded, []Effect{EffectSchedule, EffectFinished}},
		{StateRunning, EventFail, StateFailed, []Effect{EffectSchedule, EffectFinished}},
		{StateRunning, EventCancel, StateCancelled, []Effect{EffectStop, EffectSchedule, EffectFinished}},
		{StatePaused, EventContinue, StateRunning, []Effect{EffectWork}},
		{StatePaused, EventRollback, StateRollingBack, []Effect{EffectStop, EffectRollback}},
		{StateFailed, EventRollback, StateRollingBack, []Effect{EffectStop, EffectRollback}},
		{StateRollingBack, EventRolledBack, StateRolledBack, []Effect{EffectSchedule, EffectFinished}},
		{StateInterrupted, EventResume, StateRunning, []Effect{EffectWork}},
	}
	for _, c := range cases {
		to, eff, err := Next(c.from, c.ev)
		if err != nil || to != c.to || !slices.Equal(eff, c.eff) {
			t.Errorf("Next(%s, %s) = %s %v %v; want %s %v", c.from, c.ev, to, eff, err, c.to, c.eff)
		}
	}
}

func TestNextInvariants(t *testing.T) {
	for _, s := range States {
		for _, ev := range allEvents {
			to, _, err := Next(s, ev)
			if s.Final() && err == nil {
				t.Errorf("final state %s accepted %s", s, ev)
			}
			if err != nil {
				if !errors.Is(err, ErrConflict) || to != s {
					t.Errorf("Next(%s, %s) refused with %v, state %s", s, ev, err, to)
				}
				continue
			}
			if to == StateRunning && s != StateQueued && s != StatePaused && s != StateInterrupted {
				t.Errorf("%s reaches running by %s", s, ev)
			}
		}
		_, _, err := Next(s, EventCancel)
		if want := !s.Done() && s != StateRollingBack; (err == nil) != want {
			t.Errorf("cancel from %s: err %v, want allowed=%v", s, err, want)
		}
	}
}

func TestPlanBatches(t *testing.T) {
	units := []string{"a", "b", "c", "d"}
	cases := []struct {
		batches []BatchSize
		want    [][]string
	}{
		{nil, [][]string{{"a", "b", "c", "d"}}},
		{[]BatchSize{{Count: 1}, {Percent: 50}, {Percent: 100}}, [][]string{{"a"}, {"b"}, {"c", "d"}}},
		{[]BatchSize{{Count: 1}, {Percent: 10}, {Percent: 50}, {Percent: 100}}, [][]string{{"a"}, {"b"}, {"c", "d"}}},
		{[]BatchSize{{Count: 10}}, [][]string{{"a", "b", "c", "d"}}},
		{[]BatchSize{{Percent: 50}}, [][]string{{"a", "b"}, {"c", "d"}}},
	}
	for _, c := range cases {
		got := Strategy{Batches: c.batches}.Plan(units)
		if !slices.EqualFunc(got, c.want, slices.Equal) {
			t.Errorf("Plan(%v) = %v; want %v", c.batches, got, c.want)
		}
	}
}
