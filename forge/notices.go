package forge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// The kinds of notice a forge is owed.
const (
	KindStatus     = "status"     // the commit status ferry/<env> of the deploy's commit
	KindDeployment = "deployment" // the forge's record of the deploy
	KindSticky     = "sticky"     // the sticky comment of the pull request it was asked for on
)

// maxDescription is the longest description of a commit status GitHub
// takes, and the longest ferry writes on any forge.
const maxDescription = 140

// Subscriber is what a forge is owed when a deploy of a project whose
// repository is on it changes: the commit status ferry/<env> of its
// commit, the forge's deployment of it (where the forge has them) and, for
// a deploy asked for on a pull request, the pull request's sticky comment.
type Subscriber struct {
	platform    string
	projects    *projectsSeen
	repoOn      func(string) (string, bool)
	deployments bool
}

// Projects are ferry's projects, read at each change of a deploy so that
// the forge is owed what a reload of the configuration says;
// *config.Live has them.
type Projects interface {
	Projects() []pipeline.Project
}

// projectsSeen reads the projects loaded now and keeps the last of each it
// saw: a deploy of a project a reload removed runs to its end with what it
// started with, and is still owed its statuses to the end.
type projectsSeen struct {
	src  Projects
	mu   sync.Mutex
	last map[string]pipeline.Project
}

func newProjectsSeen(src Projects) *projectsSeen {
	return &projectsSeen{src: src, last: map[string]pipeline.Project{}}
}

// project is the named project as loaded now, else as it was last seen.
func (p *projectsSeen) project(name string) (pipeline.Project, bool) {
	now := p.src.Projects()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range now {
		p.last[pr.Name] = pr
	}
	for _, pr := range now {
		if pr.Name == name {
			return pr, true
		}
	}
	pr, ok := p.last[name]
	return pr, ok
}

var _ pipeline.Subscriber = Subscriber{}

// NewSubscriber is the Subscriber of platform for the projects whose
// repository repoOn says is on it; deployments says whether the forge
// keeps deployments.
func NewSubscriber(platform string, projects Projects, repoOn func(string) (string, bool), deployments bool) Subscriber {
	return Subscriber{platform: platform, projects: newProjectsSeen(projects), repoOn: repoOn, deployments: deployments}
}

// onForge reports whether the repository of the named project is on the
// forge.
func (s Subscriber) onForge(project string) bool {
	p, ok := s.projects.project(project)
	if ok {
		_, ok = s.repoOn(p.Repo)
	}
	return ok
}

// Notices implements pipeline.Subscriber.
func (s Subscriber) Notices(d pipeline.Deploy) []pipeline.Notice {
	var ns []pipeline.Notice
	if d.Commit != "" && s.onForge(d.Project) {
		ns = append(ns, pipeline.Notice{Platform: s.platform, Dest: fmt.Sprint("status ", d.ID), Kind: KindStatus, Latest: true, DeployID: d.ID, State: d.State})
		if s.deployments {
			ns = append(ns, pipeline.Notice{Platform: s.platform, Dest: fmt.Sprint("deployment ", d.ID), Kind: KindDeployment, Latest: true, DeployID: d.ID, State: d.State})
		}
	}
	// A denied request is answered with its refusal, which stays.
	if pr, ok := parseOrigin(s.platform, d.Origin); ok && d.State != pipeline.StateDenied {
		ns = append(ns, pipeline.Notice{Platform: s.platform, Dest: pr.dest(), Kind: KindSticky, Latest: true, DeployID: d.ID, State: d.State, Payload: []byte(d.Origin)})
	}
	return ns
}

// Deliver implements bot.Sink for the forge's notices: it sets a deploy's
// commit status, keeps its deployment (ref: what the Client returned for
// it before), or rewrites the sticky comment of the pull request it was
// asked for on with its card. What the forge cannot do is not owed.
func (c *Core) Deliver(ctx context.Context, o bot.Outgoing, ref string) (string, error) {
	if c.client == nil {
		return ref, bot.Permanent(fmt.Errorf("ferry has no %s API token: set %s.token", c.name, c.platform))
	}
	var err error
	switch o.Kind {
	case KindStatus:
		ref, err = c.postStatus(ctx, o.Deploy, ref)
	case KindDeployment:
		ref, err = c.postDeployment(ctx, o.Deploy, ref)
	case KindSticky:
		pr, ok := parseOrigin(c.platform, string(o.Payload))
		if !ok {
			return ref, bot.Permanent(fmt.Errorf("a sticky comment for %q, which names no pull request", o.Payload))
		}
		err = c.progress(ctx, pr, o.Card)
		ref = "" // sticky keeps the comment's ID itself: answers write it too
	default:
		err = bot.Permanent(fmt.Errorf("%s delivers no %q notices", c.platform, o.Kind))
	}
	if errors.Is(err, ErrNotSupported) {
		return ref, nil
	}
	return ref, err
}

// postStatus sets ferry/<env> on the deploy's commit, saying its state
// now, unless it says so already: ref (the outbox keeps it per deploy) is
// a digest of what the status said when it was last set, and a deploy's
// notices come at each unit's progress too, in one state.
func (c *Core) postStatus(ctx context.Context, d pipeline.Deploy, ref string) (string, error) {
	repo, ok := c.repoOfProject(d.Project)
	if !ok {
		return ref, nil // its repository moved off this forge since
	}
	st := Status{Context: "ferry/" + d.Env, State: StatusOf(d.State), Description: StatusDescription(d), TargetURL: bot.DeployURL(c.baseURL, d.ID)}
	sum := sha256.Sum256([]byte(strings.Join([]string{st.Context, string(st.State), st.Description, st.TargetURL}, "\x00")))
	said := "said " + hex.EncodeToString(sum[:8])
	if ref == said {
		return ref, nil
	}
	if err := c.client.SetStatus(ctx, repo, d.Commit, st); err != nil {
		return ref, err
	}
	return said, nil
}

// postDeployment keeps the forge's deployment of the deploy's commit in
// its environment, saying the deploy's state: its log URL is the deploy's
// page, its environment URL the environment's url: with the deploy's
// version filled in.
func (c *Core) postDeployment(ctx context.Context, d pipeline.Deploy, ref string) (string, error) {
	repo, ok := c.repoOfProject(d.Project)
	if !ok {
		return ref, nil
	}
	env := c.envOf(d)
	dep := Deployment{Deploy: d, Description: StatusDescription(d), LogURL: bot.DeployURL(c.baseURL, d.ID),
		Production: Production(d.Env), Transient: env.URLPerDeploy()}
	if u, err := env.URLFor(d); err != nil {
		c.log.ErrorContext(ctx, c.platform+": environment url", "platform", c.platform, "deploy_id", d.ID, "err", err)
	} else {
		dep.EnvURL = u
	}
	return c.client.Deployment(ctx, repo, ref, dep)
}

// StatusOf is the commit status of a deploy in state s.
func StatusOf(s pipeline.State) StatusState {
	switch s {
	case pipeline.StateSucceeded:
		return StatusSuccess
	case pipeline.StateFailed, pipeline.StateRollingBack, pipeline.StateRolledBack:
		return StatusFailure
	case pipeline.StateDenied, pipeline.StateRejected, pipeline.StateExpired, pipeline.StateCancelled:
		return StatusError
	case pipeline.StateRunning, pipeline.StatePaused:
		return StatusRunning
	}
	return StatusPending
}

// StatusDescription says where a deploy is in at most 140 characters,
// GitHub's limit.
func StatusDescription(d pipeline.Deploy) string {
	s := fmt.Sprintf("#%d %s: %s", d.ID, d.Version, strings.ReplaceAll(string(d.State), "_", " "))
	if d.State == pipeline.StateAwaitingApproval {
		s += fmt.Sprintf(" (%d needed)", d.ApprovalsRequired)
	}
	if st := StatusOf(d.State); d.Reason != "" && (st == StatusFailure || st == StatusError) {
		s += ": " + d.Reason
	}
	return clip(s, maxDescription)
}

// configDescription says why a .ferry.yaml is refused in at most 140
// characters: its first problem, and how many more there are.
func configDescription(r *refusedConfig) string {
	lines := strings.Split(r.problems.Error(), "\n")
	s := "refused: " + lines[0]
	if len(lines) > 1 {
		s = fmt.Sprintf("refused (%d problems): %s", len(lines), lines[0])
	}
	return clip(s, maxDescription)
}

// clip cuts s to n characters, the last an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) > n {
		return string([]rune(s)[:n-1]) + "…"
	}
	return s
}

// Production reports whether an environment is one people use: one named
// prod or production, alone or first (prod-eu).
func Production(env string) bool {
	first := strings.FieldsFunc(strings.ToLower(env), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	return len(first) > 0 && (first[0] == "prod" || first[0] == "production")
}
