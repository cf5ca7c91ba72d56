package web

import (
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// The JSON of the API. Names are snake_case; times are RFC 3339 in UTC and
// left out when unknown (the zero time). cmd/ferry decodes these types.

// CommandRequest is the body of POST /api/v1/commands.
type CommandRequest struct {
	Text string `json:"text"` // a command of the grammar, as typed in chat
}

// CommandResponse is the answer to a command. A command that fails has
// OK false, Kind saying why (bot.ErrorKind: invalid, forbidden, not_found,
// conflict, locked, internal) and the matching HTTP status.
type CommandResponse struct {
	OK       bool      `json:"ok"`
	Kind     string    `json:"kind,omitempty"`
	Text     string    `json:"text"`
	Cards    []APICard `json:"cards"` // never null
	Table    *APITable `json:"table"`
	Rendered string    `json:"rendered"` // the whole reply as plain text (bot.RenderReply)
}

// APIError is the body of every other failed API request.
type APIError struct {
	Error string `json:"error"`
	// Param names the query parameter that was refused, for a 400 about
	// one; "" otherwise.
	Param string `json:"param,omitempty"`
}

// APICard is a bot.Card: everything ferry shows about one deploy.
type APICard struct {
	DeployID        int64        `json:"deploy_id"`
	Title           string       `json:"title"`
	Project         string       `json:"project"`
	Env             string       `json:"env"`
	Kind            string       `json:"kind"`
	Requester       string       `json:"requester"`
	Version         string       `json:"version"`
	PreviousVersion string       `json:"previous_version,omitempty"`
	Commit          string       `json:"commit,omitempty"`
	State           string       `json:"state"`
	Reason          string       `json:"reason,omitempty"`
	Stage           string       `json:"stage,omitempty"`
	Progress        APIProgress  `json:"progress"`
	Batches         []APIBatch   `json:"batches"`
	Approvals       APIApprovals `json:"approvals"`
	LogTail         []string     `json:"log_tail"`
	Actions         []APIAction  `json:"actions"`
	Updated         time.Time    `json:"updated,omitzero"`
	URL             string       `json:"url,omitempty"`
}

// APIProgress counts the units of a deploy.
type APIProgress struct {
	Done    int `json:"done"`
	Total   int `json:"total"`
	Percent int `json:"percent"`
}

// APIBatch is one batch of a rollout.
type APIBatch struct {
	Index int       `json:"index"` // from 0
	State string    `json:"state"`
	Units []APIUnit `json:"units"`
}

// APIUnit is one unit of a deploy: in a card's batch, or in a deploy's
// details, where the journal's fields are set too.
type APIUnit struct {
	Name       string    `json:"name"`
	Batch      int       `json:"batch"`
	State      string    `json:"state"`
	Step       string    `json:"step,omitempty"`
	Previous   string    `json:"previous,omitempty"` // the release it ran before
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms,omitempty"`
	Started    time.Time `json:"started,omitzero"`
	Finished   time.Time `json:"finished,omitzero"`
}

// APIApprovals says who approved a deploy and how many it needs.
type APIApprovals struct {
	Got      int       `json:"got"`
	Required int       `json:"required"`
	By       []string  `json:"by"`
	Deadline time.Time `json:"deadline,omitzero"`
}

// APIAction is a button of a card; posting its Command to
// /api/v1/commands does what pressing it does.
type APIAction struct {
	ID      string `json:"id"`
	Label   string `json:"label"`
	Style   string `json:"style,omitempty"`
	Confirm string `json:"confirm,omitempty"`
	Command string `json:"command"`
}

// APITable is a table of a reply: status, history.
type APITable struct {
	Title   string     `json:"title,omitempty"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// APIDeploy is a deploy, every field of pipeline.Deploy.
type APIDeploy struct {
	ID                int64     `json:"id"`
	Project           string    `json:"project"`
	Env               string    `json:"env"`
	Kind              string    `json:"kind"`
	Ref               string    `json:"ref"`
	Commit            string    `json:"commit"`
	Version           string    `json:"version"`
	Release           string    `json:"release"`
	PreviousVersion   string    `json:"previous_version"`
	PreviousRelease   string    `json:"previous_release"`
	State             string    `json:"state"`
	Requester         string    `json:"requester"`
	Reason            string    `json:"reason"`
	Force             bool      `json:"force"`
	Batch             int       `json:"batch"`
	Batches           int       `json:"batches"`
	ApprovalsRequired int       `json:"approvals_required"`
	ApprovalDeadline  time.Time `json:"approval_deadline,omitzero"`
	BakeUntil         time.Time `json:"bake_until,omitzero"`
	CreatedAt         time.Time `json:"created_at,omitzero"`
	UpdatedAt         time.Time `json:"updated_at,omitzero"`
	StartedAt         time.Time `json:"started_at,omitzero"`
	FinishedAt        time.Time `json:"finished_at,omitzero"`
}

// APITransition is one move of a deploy from one state to another.
type APITransition struct {
	From   string    `json:"from"`
	To     string    `json:"to"`
	Event  string    `json:"event"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at,omitzero"`
}

// APIApproval is one person's approval.
type APIApproval struct {
	Approver string    `json:"approver"`
	At       time.Time `json:"at,omitzero"`
}

// APILogEntry is a piece of a deploy's output.
type APILogEntry struct {
	Seq  int64     `json:"seq"`
	Unit string    `json:"unit,omitempty"`
	Step string    `json:"step,omitempty"`
	Text string    `json:"text"`
	At   time.Time `json:"at,omitzero"`
}

// APIDetails is GET /api/v1/deploys/{id}: a deploy, its card and its rows.
// Logs are the last 200 entries, oldest first.
type APIDetails struct {
	Deploy      APIDeploy       `json:"deploy"`
	Card        APICard         `json:"card"`
	Rendered    string          `json:"rendered"` // the card as plain text (bot.RenderText)
	Transitions []APITransition `json:"transitions"`
	Units       []APIUnit       `json:"units"`
	Approvals   []APIApproval   `json:"approvals"`
	Logs        []APILogEntry   `json:"logs"`
}

// APIDeployList is GET /api/v1/deploys, newest first.
type APIDeployList struct {
	Deploys []APIDeploy `json:"deploys"`
}

// APIBoard is GET /api/v1/board: one entry per environment of each project.
type APIBoard struct {
	Environments []APIEnvStatus `json:"environments"`
}

// APIEnvStatus is what an environment of a project runs and what is
// happening to it.
type APIEnvStatus struct {
	Project string      `json:"project"`
	Env     string      `json:"env"`
	Current *APIDeploy  `json:"current"` // the last succeeded deploy; null for none
	Active  *APIDeploy  `json:"active"`  // the deploy holding the environment; null for none
	Queued  []APIDeploy `json:"queued"`
	Waiting []APIDeploy `json:"waiting"` // awaiting approval
	Lock    *APILock    `json:"lock"`
	// Freeze is the freeze window open now; absent when none is.
	Freeze *APIFreeze `json:"freeze,omitempty"`
	// Units is what each unit (host, pod) runs, by name; during a canary
	// some run the new version and the others the old one.
	Units []APIUnitRelease `json:"units"`
}

// APIUnitRelease is what one unit of an environment runs.
type APIUnitRelease struct {
	Unit     string    `json:"unit"`
	Release  string    `json:"release"` // "" when none is current
	Version  string    `json:"version"`
	DeployID int64     `json:"deploy_id"`
	Updated  time.Time `json:"updated,omitzero"`
}

// APILock keeps deploys away from an environment.
type APILock struct {
	Project string    `json:"project"` // "*" for every project
	Env     string    `json:"env"`
	Owner   string    `json:"owner"`
	Reason  string    `json:"reason,omitempty"`
	Created time.Time `json:"created,omitzero"`
	Expires time.Time `json:"expires,omitzero"`
}

// APIFreeze is a freeze window that holds an environment.
type APIFreeze struct {
	Name   string    `json:"name"`
	Reason string    `json:"reason,omitempty"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

// APIAuditLog is GET /api/v1/audit: a page of the audit log, newest first.
type APIAuditLog struct {
	Entries []APIAuditEntry `json:"entries"` // never null
	// NextBefore is the before= of the next, older page; absent on the
	// last page.
	NextBefore int64         `json:"next_before,omitempty"`
	Scope      APIAuditScope `json:"scope"`
}

// APIAuditEntry is one entry of the audit log: who did what, or was
// refused it ("deploy denied", with the reason in Detail).
type APIAuditEntry struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at,omitzero"`
	Actor    string    `json:"actor"`   // "" for someone ferry does not know
	Action   string    `json:"action"`  // deploy, deploy denied, approve, lock, scale failed, link, …
	Project  string    `json:"project"` // "*" for every project; "" for none (a chat link)
	Env      string    `json:"env"`
	DeployID int64     `json:"deploy_id"` // 0 for none
	Detail   string    `json:"detail"`
}

// APIAuditScope is what the token's owner may read of the audit log:
// everything (admins), or the entries of Projects and their own.
type APIAuditScope struct {
	All      bool     `json:"all"`
	Projects []string `json:"projects"` // never null
	Actor    string   `json:"actor,omitempty"`
}

// APIOutbox is GET /api/v1/outbox: what ferry owes the platforms and has
// not delivered, oldest first. Only admins may read it.
type APIOutbox struct {
	Notices []APINotice `json:"notices"` // never null
	// More says there are more rows than the limit (200 unless the query
	// names one); narrow by platform or dead, or raise limit (at most 1000).
	More bool `json:"more,omitempty"`
}

// APINotice is one row of the outbox: a pipeline.Notice without its
// payload. DeadAt is absent while ferry still tries it.
type APINotice struct {
	ID        int64     `json:"id"`
	Platform  string    `json:"platform"` // the sink that delivers it: slack, github, web, …
	Dest      string    `json:"dest"`     // where on the platform: "card 42", "status 42"
	Kind      string    `json:"kind"`
	Latest    bool      `json:"latest"`    // an edit in place: it says what is true when delivered
	DeployID  int64     `json:"deploy_id"` // 0 for none
	State     string    `json:"state"`     // the deploy's state when it was owed
	CreatedAt time.Time `json:"created_at,omitzero"`
	Attempts  int       `json:"attempts"`
	NotBefore time.Time `json:"not_before,omitzero"` // not tried again before
	LastError string    `json:"last_error,omitempty"`
	DeadAt    time.Time `json:"dead_at,omitzero"` // when ferry gave up on it
}

// APIOutboxRetry is the answer to POST /api/v1/outbox/{id}/retry: what was
// done, and the notice as it was, dead.
type APIOutboxRetry struct {
	Text   string    `json:"text"`
	Notice APINotice `json:"notice"`
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func newCommandResponse(r bot.Reply) CommandResponse {
	resp := CommandResponse{OK: !r.Error, Kind: string(r.Kind), Text: r.Text, Cards: []APICard{}, Rendered: bot.RenderReply(r)}
	for _, c := range r.Cards {
		resp.Cards = append(resp.Cards, newAPICard(c))
	}
	if t := r.Table; t != nil {
		resp.Table = &APITable{Title: t.Title, Columns: t.Columns, Rows: t.Rows}
		if resp.Table.Rows == nil {
			resp.Table.Rows = [][]string{}
		}
	}
	return resp
}

func newAPICard(c bot.Card) APICard {
	a := APICard{
		DeployID: c.DeployID, Title: c.Title, Project: c.Project, Env: c.Env, Kind: string(c.Kind),
		Requester: c.Requester, Version: c.Version, PreviousVersion: c.PreviousVersion, Commit: c.Commit,
		State: string(c.State), Reason: c.Reason, Stage: c.Stage,
		Progress:  APIProgress{Done: c.Progress.Done, Total: c.Progress.Total, Percent: c.Progress.Percent()},
		Batches:   []APIBatch{},
		Approvals: APIApprovals{Got: c.Approvals.Got, Required: c.Approvals.Required, By: c.Approvals.By, Deadline: utc(c.Approvals.Deadline)},
		LogTail:   c.LogTail,
		Actions:   []APIAction{},
		Updated:   utc(c.Updated),
		URL:       c.URL,
	}
	if a.Approvals.By == nil {
		a.Approvals.By = []string{}
	}
	if a.LogTail == nil {
		a.LogTail = []string{}
	}
	for _, b := range c.Batches {
		ab := APIBatch{Index: b.Index, State: b.State, Units: []APIUnit{}}
		for _, u := range b.Units {
			ab.Units = append(ab.Units, APIUnit{Name: u.Name, Batch: b.Index, State: string(u.State), Step: u.Step, Error: u.Error, DurationMS: u.Duration.Milliseconds()})
		}
		a.Batches = append(a.Batches, ab)
	}
	for _, x := range c.Actions {
		a.Actions = append(a.Actions, APIAction{ID: string(x.ID), Label: x.Label, Style: string(x.Style), Confirm: x.Confirm, Command: x.Command})
	}
	return a
}

func newAPIDeploy(d pipeline.Deploy) APIDeploy {
	return APIDeploy{
		ID: d.ID, Project: d.Project, Env: d.Env, Kind: string(d.Kind),
		Ref: d.Ref, Commit: d.Commit, Version: d.Version, Release: d.Release,
		PreviousVersion: d.PreviousVersion, PreviousRelease: d.PreviousRelease,
		State: string(d.State), Requester: d.Requester, Reason: d.Reason, Force: d.Force,
		Batch: d.Batch, Batches: d.Batches, ApprovalsRequired: d.ApprovalsRequired,
		ApprovalDeadline: utc(d.ApprovalDeadline), BakeUntil: utc(d.BakeUntil),
		CreatedAt: utc(d.CreatedAt), UpdatedAt: utc(d.UpdatedAt),
		StartedAt: utc(d.StartedAt), FinishedAt: utc(d.FinishedAt),
	}
}

func newAPIDeploys(ds []pipeline.Deploy) []APIDeploy {
	out := make([]APIDeploy, 0, len(ds))
	for _, d := range ds {
		out = append(out, newAPIDeploy(d))
	}
	return out
}

func newAPIDetails(x pipeline.Details) APIDetails {
	card := bot.NewCard(bot.CardInput{Deploy: x.Deploy, Units: x.Units, Approvals: x.Approvals, Logs: x.Logs, Now: x.Now})
	out := APIDetails{
		Deploy: newAPIDeploy(x.Deploy), Card: newAPICard(card), Rendered: bot.RenderText(card),
		Transitions: []APITransition{}, Units: []APIUnit{}, Approvals: []APIApproval{}, Logs: []APILogEntry{},
	}
	for _, t := range x.Transitions {
		out.Transitions = append(out.Transitions, APITransition{From: string(t.From), To: string(t.To), Event: string(t.Event), Actor: t.Actor, Reason: t.Reason, At: utc(t.At)})
	}
	for _, u := range x.Units {
		au := APIUnit{Name: u.Name, Batch: u.Batch, State: string(u.State), Step: u.Step, Previous: u.Previous, Error: u.Error, Started: utc(u.Started), Finished: utc(u.Finished)}
		if !u.Started.IsZero() && !u.Finished.IsZero() {
			au.DurationMS = u.Finished.Sub(u.Started).Milliseconds()
		}
		out.Units = append(out.Units, au)
	}
	for _, a := range x.Approvals {
		out.Approvals = append(out.Approvals, APIApproval{Approver: a.Approver, At: utc(a.At)})
	}
	for _, l := range x.Logs {
		out.Logs = append(out.Logs, APILogEntry{Seq: l.Seq, Unit: l.Unit, Step: l.Step, Text: l.Text, At: utc(l.At)})
	}
	return out
}

func newAPIBoard(cells []pipeline.EnvStatus) APIBoard {
	b := APIBoard{Environments: []APIEnvStatus{}}
	opt := func(d *pipeline.Deploy) *APIDeploy {
		if d == nil {
			return nil
		}
		a := newAPIDeploy(*d)
		return &a
	}
	for _, c := range cells {
		e := APIEnvStatus{Project: c.Project, Env: c.Env, Current: opt(c.Current), Active: opt(c.Active), Queued: newAPIDeploys(c.Queued), Waiting: newAPIDeploys(c.Waiting)}
		e.Units = []APIUnitRelease{}
		for _, u := range c.Units {
			e.Units = append(e.Units, APIUnitRelease{Unit: u.Unit, Release: u.Release, Version: u.Version, DeployID: u.DeployID, Updated: utc(u.Updated)})
		}
		if l := c.Lock; l != nil {
			e.Lock = &APILock{Project: l.Project, Env: l.Env, Owner: l.Owner, Reason: l.Reason, Created: utc(l.Created), Expires: utc(l.Expires)}
		}
		if f := c.Frozen; f != nil {
			e.Freeze = &APIFreeze{Name: f.Freeze.Name, Reason: f.Freeze.Reason, Start: utc(f.Start), End: utc(f.End)}
		}
		b.Environments = append(b.Environments, e)
	}
	return b
}

func newAPIAuditLog(p pipeline.AuditPage) APIAuditLog {
	out := APIAuditLog{Entries: []APIAuditEntry{}, NextBefore: p.Next, Scope: APIAuditScope{All: p.Scope == nil, Projects: []string{}}}
	if sc := p.Scope; sc != nil {
		out.Scope.Projects = append(out.Scope.Projects, sc.Projects...)
		out.Scope.Actor = sc.Actor
	}
	for _, e := range p.Entries {
		out.Entries = append(out.Entries, APIAuditEntry{ID: e.ID, At: utc(e.At), Actor: e.Actor, Action: e.Action,
			Project: e.Project, Env: e.Env, DeployID: e.DeployID, Detail: e.Detail})
	}
	return out
}

func newAPINotice(n pipeline.Notice) APINotice {
	return APINotice{ID: n.ID, Platform: n.Platform, Dest: n.Dest, Kind: n.Kind, Latest: n.Latest,
		DeployID: n.DeployID, State: string(n.State), CreatedAt: utc(n.Created), Attempts: n.Attempts,
		NotBefore: utc(n.NotBefore), LastError: n.LastError, DeadAt: utc(n.Dead)}
}

func newAPIOutbox(ns []pipeline.Notice, more bool) APIOutbox {
	out := APIOutbox{Notices: []APINotice{}, More: more}
	for _, n := range ns {
		out.Notices = append(out.Notices, newAPINotice(n))
	}
	return out
}
