package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// Subscriber is what GitHub is owed when a deploy of a project whose
// repository is on this GitHub changes: the commit status ferry/<env> of
// its commit, its GitHub Deployment's status and, for a deploy asked for on
// a pull request, the pull request's sticky comment.
type Subscriber struct {
	repos map[string]string // project → owner/name on this GitHub
}

var (
	_ pipeline.Subscriber = Subscriber{}
	_ bot.Sink            = (*Adapter)(nil)
)

// NewSubscriber is the Subscriber of the projects whose repository is on
// the GitHub at apiURL ("" for github.com).
func NewSubscriber(projects []pipeline.Project, apiURL string) Subscriber {
	s := Subscriber{repos: map[string]string{}}
	host := apiHost(apiURL)
	for _, p := range projects {
		if name, ok := repoOn(p.Repo, host); ok {
			s.repos[p.Name] = name
		}
	}
	return s
}

// Notices implements pipeline.Subscriber.
func (s Subscriber) Notices(d pipeline.Deploy) []pipeline.Notice {
	var ns []pipeline.Notice
	if _, ok := s.repos[d.Project]; ok && d.Commit != "" {
		ns = append(ns,
			pipeline.Notice{Platform: platform, Dest: fmt.Sprint("status ", d.ID), Kind: "status", Latest: true, DeployID: d.ID, State: d.State},
			pipeline.Notice{Platform: platform, Dest: fmt.Sprint("deployment ", d.ID), Kind: "deployment", Latest: true, DeployID: d.ID, State: d.State})
	}
	// A denied request is answered with its refusal, which stays.
	if pr, ok := parseOrigin(d.Origin); ok && d.State != pipeline.StateDenied {
		ns = append(ns, pipeline.Notice{Platform: platform, Dest: pr.dest(), Kind: "sticky", Latest: true, DeployID: d.ID, State: d.State, Payload: []byte(d.Origin)})
	}
	return ns
}

// origin is how a deploy asked for on a pull request remembers it
// (pipeline.WithOrigin): "github:owner/name#3 login".
func (p prRef) origin() string { return fmt.Sprintf("github:%s#%d %s", p.repo, p.number, p.login) }

func parseOrigin(o string) (prRef, bool) {
	rest, ok := strings.CutPrefix(o, "github:")
	if !ok {
		return prRef{}, false
	}
	where, login, _ := strings.Cut(rest, " ")
	repo, num, ok := strings.Cut(where, "#")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || repo == "" {
		return prRef{}, false
	}
	return prRef{repo: repo, number: n, login: login}, true
}

// dest is the outbox destination of a pull request's sticky comment.
func (p prRef) dest() string { return "sticky " + p.key() }

// Deliver implements bot.Sink: it sets a deploy's commit status, adds a
// status to its GitHub Deployment (ref: the Deployment's ID, created the
// first time), or rewrites the sticky comment of the pull request it was
// asked for on with its card (ref: the comment's ID).
func (a *Adapter) Deliver(ctx context.Context, o bot.Outgoing, ref string) (string, error) {
	var err error
	switch o.Kind {
	case "status":
		err = a.postStatus(ctx, o.Deploy)
	case "deployment":
		ref, err = a.postDeployment(ctx, o.Deploy, ref)
	case "sticky":
		pr, ok := parseOrigin(string(o.Payload))
		if !ok {
			return ref, bot.Permanent(fmt.Errorf("a sticky comment for %q, which names no pull request", o.Payload))
		}
		err = a.progress(ctx, pr, o.Card)
		ref = "" // sticky keeps the comment's ID itself: answers write it too
	default:
		err = bot.Permanent(fmt.Errorf("github delivers no %q notices", o.Kind))
	}
	return ref, apiError(err)
}

// apiError says when a failed call may be tried again: after GitHub's
// Retry-After or rate limit reset, never for a request GitHub refuses
// (422) or a repository it does not show ferry (404).
func apiError(err error) error {
	var limited *gh.RateLimitError
	var abuse *gh.AbuseRateLimitError
	var refused *gh.ErrorResponse
	switch {
	case err == nil:
		return nil
	case errors.As(err, &abuse) && abuse.RetryAfter != nil:
		return bot.RetryAfter(*abuse.RetryAfter, err)
	case errors.As(err, &limited):
		return bot.RetryAfter(time.Until(limited.Rate.Reset.Time), err)
	case errors.As(err, &refused) && refused.Response != nil &&
		(refused.Response.StatusCode == http.StatusUnprocessableEntity || refused.Response.StatusCode == http.StatusNotFound):
		return bot.Permanent(err)
	}
	return err
}

// clientFor is the API client for calls about a repository that no
// delivery starts: the token's, or the App's installation on it.
func (a *Adapter) clientFor(ctx context.Context, fullName string) (*gh.Client, error) {
	id, err := a.installationOf(ctx, fullName)
	if err != nil {
		return nil, err
	}
	return a.client(id)
}
