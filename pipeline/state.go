package pipeline

import "fmt"

// State is where a deploy is in its life.
type State string

// The states of a deploy; see the package documentation for the diagram.
const (
	StateRequested        State = "requested"
	StateAwaitingApproval State = "awaiting_approval"
	StateQueued           State = "queued"
	StateRunning          State = "running"
	StatePaused           State = "paused"
	StateSucceeded        State = "succeeded"
	StateFailed           State = "failed"
	StateRollingBack      State = "rolling_back"
	StateRolledBack       State = "rolled_back"
	StateDenied           State = "denied"
	StateRejected         State = "rejected"
	StateExpired          State = "expired"
	StateCancelled        State = "cancelled"
	StateInterrupted      State = "interrupted"
)

// States lists every state, in the order of the diagram.
var States = []State{
	StateRequested, StateAwaitingApproval, StateQueued, StateRunning, StatePaused,
	StateSucceeded, StateFailed, StateRollingBack, StateRolledBack, StateDenied,
	StateRejected, StateExpired, StateCancelled, StateInterrupted,
}

// Final reports whether no event can move the deploy any more.
// A failed deploy is not final: it can still be rolled back.
func (s State) Final() bool {
	switch s {
	case StateSucceeded, StateRolledBack, StateDenied, StateRejected, StateExpired, StateCancelled:
		return true
	}
	return false
}

// Done reports whether the deploy has stopped for good or failed: nothing
// happens to it unless a person asks.
func (s State) Done() bool { return s.Final() || s == StateFailed }

// Holds reports whether a deploy in this state holds its environment, so that
// no other deploy of the same project and environment may start.
func (s State) Holds() bool {
	switch s {
	case StateRunning, StatePaused, StateRollingBack, StateInterrupted:
		return true
	}
	return false
}

// Event is what happens to a deploy.
type Event string

// The events of the state machine.
const (
	EventDeny          Event = "deny"           // policy refused the request
	EventAwaitApproval Event = "await_approval" // the environment needs approvals
	EventEnqueue       Event = "enqueue"        // no approvals needed
	EventApprove       Event = "approve"        // the last required approval arrived
	EventReject        Event = "reject"
	EventExpire        Event = "expire"
	EventStart         Event = "start"       // the environment is free
	EventGate          Event = "gate"        // a batch finished and the strategy continues manually
	EventBrake         Event = "brake"       // too many units failed
	EventPause         Event = "pause"       // a person paused
	EventContinue      Event = "continue"    // a person continued
	EventSucceed       Event = "succeed"     // the last batch finished
	EventFail          Event = "fail"        // the deploy cannot go on
	EventRollback      Event = "rollback"    // a person, or auto_rollback, rolls back
	EventRolledBack    Event = "rolled_back" // every updated unit is back on its previous release
	EventCancel        Event = "cancel"      // a person cancelled, or a newer deploy superseded it
	EventInterrupt     Event = "interrupt"   // ferry restarted and cannot resume safely
	EventResume        Event = "resume"      // a person resumed an interrupted deploy
)

// Effect is work the engine does after a transition has been stored.
type Effect string

// The effects of transitions.
const (
	EffectWork     Effect = "work"     // run (or resume) the deploy's batches
	EffectRollback Effect = "rollback" // return updated units to their previous release
	EffectStop     Effect = "stop"     // stop the deploy's worker now, killing what it runs
	EffectSchedule Effect = "schedule" // the environment may be free: start the next queued deploy
	EffectFinished Effect = "finished" // tell the requester how it ended
)

type edge struct {
	from State
	ev   Event
}

var transitions = map[edge]State{
	{StateRequested, EventDeny}:           StateDenied,
	{StateRequested, EventAwaitApproval}:  StateAwaitingApproval,
	{StateRequested, EventEnqueue}:        StateQueued,
	{StateAwaitingApproval, EventApprove}: StateQueued,
	{StateAwaitingApproval, EventReject}:  StateRejected,
	{StateAwaitingApproval, EventExpire}:  StateExpired,
	{StateQueued, EventStart}:             StateRunning,
	{StateRunning, EventGate}:             StatePaused,
	{StateRunning, EventBrake}:            StatePaused,
	{StateRunning, EventPause}:            StatePaused,
	{StateRunning, EventSucceed}:          StateSucceeded,
	{StateRunning, EventFail}:             StateFailed,
	{StateRunning, EventRollback}:         StateRollingBack,
	{StateRunning, EventInterrupt}:        StateInterrupted,
	{StatePaused, EventContinue}:          StateRunning,
	{StatePaused, EventRollback}:          StateRollingBack,
	{StateFailed, EventRollback}:          StateRollingBack,
	{StateInterrupted, EventResume}:       StateRunning,
	{StateInterrupted, EventRollback}:     StateRollingBack,
	{StateRollingBack, EventRolledBack}:   StateRolledBack,
	{StateRollingBack, EventFail}:         StateFailed,
}

// Next is the deploy state machine: the state an event leads to, and the
// effects the engine performs once the transition is stored. It does no I/O.
func Next(s State, ev Event) (State, []Effect, error) {
	to, ok := transitions[edge{s, ev}]
	if !ok && ev == EventCancel && !s.Done() && s != StateRollingBack {
		to, ok = StateCancelled, true
	}
	if !ok {
		return s, nil, fmt.Errorf("%w: a deploy that is %s cannot %s", ErrConflict, s, ev)
	}
	var effects []Effect
	switch to {
	case StateRunning:
		effects = append(effects, EffectWork)
	case StateRollingBack:
		effects = append(effects, EffectStop, EffectRollback)
	case StateCancelled:
		effects = append(effects, EffectStop)
	}
	if s.Holds() && !to.Holds() || to == StateQueued {
		effects = append(effects, EffectSchedule)
	}
	if to.Done() {
		effects = append(effects, EffectFinished)
	}
	return to, effects, nil
}
