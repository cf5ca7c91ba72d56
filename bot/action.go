package bot

import (
	"fmt"

	"github.com/ferrybot/ferry/pipeline"
)

// ActionID names what a button does.
type ActionID string

// The actions a card offers.
const (
	ActionApprove  ActionID = "approve"
	ActionReject   ActionID = "reject"
	ActionContinue ActionID = "continue"
	ActionPause    ActionID = "pause"
	ActionCancel   ActionID = "cancel"
	ActionResume   ActionID = "resume"
	ActionRollback ActionID = "rollback"
)

// Style is how a button looks.
type Style string

// Button styles.
const (
	StyleDefault Style = ""
	StylePrimary Style = "primary"
	StyleDanger  Style = "danger"
)

// Action is a button on a card. Pressing it is the same as typing Command,
// and goes through the same parser and policy.
type Action struct {
	ID      ActionID
	Label   string
	Style   Style
	Confirm string // a question to confirm before acting; "" for none
	Command string // the text command it stands for, like "approve 12"
}

// Actions returns the buttons a deploy offers in its state:
//
//	awaiting_approval  Approve, Reject, Cancel
//	queued             Cancel
//	running            Pause, Cancel, Rollback
//	paused             Continue, Rollback, Cancel
//	interrupted        Resume, Rollback, Cancel
//	failed             Rollback
//	succeeded          Rollback, when there is a previous release
//	anything else      none
//
// Rollback keeps to the one grammar. For a deploy in flight or failed it is
// "rollback <project> <env>": the engine rolls back the deploy in flight in
// the environment (or the last one, if it failed); if there is none by the
// time the button is pressed, it rolls the environment back to the release
// before the current one. For a succeeded deploy it is
// "rollback <project> <env> to <previous release>", so that a button pressed
// on an old card returns to the release the card names, not to whatever
// preceded a later deploy.
func Actions(d pipeline.Deploy) []Action {
	switch d.State {
	case pipeline.StateAwaitingApproval:
		return []Action{simple(d, ActionApprove, "Approve", StylePrimary), simple(d, ActionReject, "Reject", StyleDanger), cancel(d)}
	case pipeline.StateQueued:
		return []Action{cancel(d)}
	case pipeline.StateRunning:
		return []Action{simple(d, ActionPause, "Pause", StyleDefault), cancel(d), rollback(d)}
	case pipeline.StatePaused:
		return []Action{simple(d, ActionContinue, "Continue", StylePrimary), rollback(d), cancel(d)}
	case pipeline.StateInterrupted:
		return []Action{simple(d, ActionResume, "Resume", StylePrimary), rollback(d), cancel(d)}
	case pipeline.StateFailed:
		return []Action{rollback(d)}
	case pipeline.StateSucceeded:
		if d.PreviousRelease != "" {
			return []Action{rollback(d)}
		}
	}
	return nil
}

// simple is an action on one deploy by its number.
func simple(d pipeline.Deploy, id ActionID, label string, style Style) Action {
	cmd := Command{Verb: Verb(id), DeployID: d.ID}
	return Action{ID: id, Label: label, Style: style, Command: cmd.String()}
}

func cancel(d pipeline.Deploy) Action {
	a := simple(d, ActionCancel, "Cancel", StyleDanger)
	a.Confirm = fmt.Sprintf("Cancel #%d, %s? Units already updated stay as they are.", d.ID, describe(d))
	return a
}

func rollback(d pipeline.Deploy) Action {
	cmd := Command{Verb: VerbRollback, Project: d.Project, Env: d.Env}
	a := Action{ID: ActionRollback, Label: "Roll back", Style: StyleDanger}
	if d.State == pipeline.StateSucceeded {
		cmd.Release = d.PreviousRelease
		prev := d.PreviousVersion
		if prev == "" {
			prev = "release " + d.PreviousRelease
		}
		a.Label = "Roll back to " + prev
		a.Confirm = fmt.Sprintf("Roll %s %s back from %s to %s?", d.Project, d.Env, version(d), prev)
	} else {
		a.Confirm = fmt.Sprintf("Roll back #%d, %s? The units it updated return to their previous release.", d.ID, describe(d))
	}
	a.Command = cmd.String()
	return a
}

// describe names a deploy in a sentence: "demo v1.2.0 to prod".
func describe(d pipeline.Deploy) string {
	return fmt.Sprintf("%s %s to %s", d.Project, version(d), d.Env)
}
