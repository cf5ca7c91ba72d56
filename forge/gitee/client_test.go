package gitee

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/forge/gitee/fakegitee"
	"github.com/ferrybot/ferry/pipeline"
)

var kit = forge.Repo{FullName: repoName}

// memStore is a forge.Store in memory.
type memStore map[string]string

func (m memStore) NoticeRef(_ context.Context, p, dest string) (string, error) {
	return m[p+" "+dest], nil
}
func (m memStore) PutNoticeRef(_ context.Context, p, dest, ref string) error {
	m[p+" "+dest] = ref
	return nil
}

// testClient is a client of apiURL with the test token.
func testClient(t *testing.T, apiURL string) *client {
	t.Helper()
	c, err := newClient(Config{Token: apiToken, APIURL: apiURL, Store: nil}, clockwork.NewFakeClockAt(t0))
	if err != nil {
		t.Fatal(err)
	}
	c.store = memStore{}
	return c
}

func TestAccess(t *testing.T) {
	fg := fakegitee.New(t, apiToken)
	fg.Permissions["w"], fg.Permissions["p"], fg.Permissions["a"], fg.Permissions["r"] = "write", "push", "admin", "read"
	c := testClient(t, fg.APIURL())
	for who, want := range map[string]forge.Access{
		"w":       {MayAsk: true, Has: "write", Needs: needs},
		"p":       {MayAsk: true, Has: "push", Needs: needs},
		"a":       {MayAsk: true, Has: "admin", Needs: needs},
		"r":       {Has: "read", Needs: needs},
		"nobody":  {Has: "none", Needs: needs},
		"a b/../": {Has: "none", Needs: needs},
	} {
		got, err := c.Access(context.Background(), kit, forge.User{Login: who})
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", who, got, err, want)
		}
	}
}

func TestFile(t *testing.T) {
	fg := fakegitee.New(t, apiToken)
	fg.SetFile(repoName, pushed, ".ferry.yaml", "environments:\n  staging: {}\n")
	fg.SetFile(repoName, pushed, "empty", "")
	c := testClient(t, fg.APIURL())
	ctx := context.Background()
	if got, err := c.File(ctx, kit, ".ferry.yaml", pushed); err != nil || string(got) != "environments:\n  staging: {}\n" {
		t.Errorf("a file: %q, %v", got, err)
	}
	if got, err := c.File(ctx, kit, ".ferry.yaml", tagged); err != nil || got != nil {
		t.Errorf("no file (an empty list): %q, %v; want nil", got, err)
	}
	fg.Fail("GET /api/v5/repos/kit101/drone-yml-test/contents/.ferry.yaml", fakegitee.Failure{Status: http.StatusNotFound, Message: "404 Not Found"})
	if got, err := c.File(ctx, kit, ".ferry.yaml", pushed); err != nil || got != nil {
		t.Errorf("no file (404): %q, %v; want nil", got, err)
	}
	if got, err := c.File(ctx, kit, "empty", pushed); err != nil || got == nil || len(got) != 0 {
		t.Errorf("an empty file: %q, %v; want empty, not nil", got, err)
	}
}

func TestPullRequestRead(t *testing.T) {
	fg := fakegitee.New(t, apiToken)
	fg.PRs[7] = fakegitee.PR{State: "open", HeadRef: "feat-2", HeadSHA: updated, Labels: []string{"deploy/staging"}}
	fg.PRs[8] = fakegitee.PR{State: "open", HeadRef: "feat-x", HeadSHA: updated, HeadRepo: "someone/drone-yml-test"}
	c := testClient(t, fg.APIURL())
	pr, err := c.PullRequest(context.Background(), kit, 7)
	if err != nil || pr.Number != 7 || pr.Head != "feat-2" || pr.HeadSHA != updated || pr.HeadRepo != repoName || !pr.Open ||
		len(pr.Labels) != 1 || pr.Labels[0] != "deploy/staging" || pr.Base != "master" {
		t.Errorf("pull request = %+v, %v", pr, err)
	}
	if pr, err := c.PullRequest(context.Background(), kit, 8); err != nil || pr.HeadRepo != "someone/drone-yml-test" {
		t.Errorf("a fork's pull request = %+v, %v", pr, err)
	}
	if _, err := c.PullRequest(context.Background(), kit, 9); statusOf(err) != http.StatusNotFound {
		t.Errorf("a pull request Gitee does not have: %v, want a 404", err)
	}
}

// TestTokenNeverInErrorsOrLogs: the token goes in the query of a GET,
// which url.Error would write out; no error ferry returns, and so no log
// line, holds it, nor does one of Gitee's messages that quoted it.
func TestTokenNeverInErrorsOrLogs(t *testing.T) {
	fg := fakegitee.New(t, apiToken)
	fg.Fail("GET /api/v5/repos/kit101/drone-yml-test/pulls/7", fakegitee.Failure{Status: http.StatusUnauthorized, Message: "token " + apiToken + " does not exist"})
	c := testClient(t, fg.APIURL())
	_, err := c.PullRequest(context.Background(), kit, 7)
	if err == nil || strings.Contains(err.Error(), apiToken) {
		t.Errorf("Gitee's message: %v", err)
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // nothing listens there now
	c = testClient(t, down.URL+"/api/v5")
	for name, call := range map[string]func() error{
		"GET":   func() error { _, err := c.PullRequest(context.Background(), kit, 7); return err },
		"POST":  func() error { _, err := c.CreateComment(context.Background(), kit, 7, "hi"); return err },
		"PATCH": func() error { return c.EditComment(context.Background(), kit, 7, 1, "hi") },
	} {
		err := call()
		if err == nil || strings.Contains(err.Error(), apiToken) || strings.Contains(err.Error(), "access_token") {
			t.Errorf("%s to nothing: %v; want an error without the token", name, err)
		}
	}
	// The whole adapter, logging at debug, with the API down.
	var logs bytes.Buffer
	f := newFixture(t, linked(), nil, func(cfg *Config) {
		cfg.Token, cfg.APIURL = apiToken, down.URL+"/api/v5"
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	f.deliver(note, prComment(t, "/ferry deploy staging", "open"))
	f.until("the comment handled", f.handled)
	f.cancel() // the status notices would wait for the API forever
	<-f.done
	if !strings.Contains(logs.String(), "permission") || strings.Contains(logs.String(), apiToken) {
		t.Errorf("logs hold the token, or not the failed call:\n%s", logs.String())
	}
}

// TestRedirectsNotFollowed: an answer that redirects elsewhere is an
// error; the token, in the body of a POST, goes nowhere else.
func TestRedirectsNotFollowed(t *testing.T) {
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("followed a redirect: %s %s", r.Method, r.URL.Path)
	}))
	defer elsewhere.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer api.Close()
	c := testClient(t, api.URL+"/api/v5")
	if _, err := c.CreateComment(context.Background(), kit, 7, "hi"); statusOf(err) != http.StatusTemporaryRedirect {
		t.Errorf("err = %v, want the 307 itself", err)
	}
}

// TestOutboxRetries: what Gitee answers decides what the outbox does with
// the last update of a check run: a 5xx and a 429 are tried again (after
// Retry-After), another 4xx is given up at once.
func TestOutboxRetries(t *testing.T) {
	cases := []struct {
		name    string
		failure fakegitee.Failure
		retried bool
	}{
		{"a server error", fakegitee.Failure{Status: http.StatusBadGateway, Message: "502 Bad Gateway"}, true},
		{"rate limited", fakegitee.Failure{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "30"}, Message: "Too Many Requests"}, true},
		{"refused", fakegitee.Failure{Status: http.StatusUnprocessableEntity, Message: "conclusion is invalid"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fg := fakegitee.New(t, apiToken)
			fg.Completions = []fakegitee.Failure{c.failure}
			f := newFixture(t, linked(), fg)
			f.deliver("Tag Push Hook", payload(t, "tag_push_hooks.create.json"))
			if c.retried {
				// The clock moves only once the failure is recorded: moved
				// while the update is under way, it would end the update's
				// claim and hand the notice out twice.
				f.until("the failure recorded", func() bool { return f.failures() == 1 })
				// Each turn lets a minute pass, for backoffs and Retry-After.
				f.until("the update, tried again", func() bool {
					f.clock.Advance(time.Minute)
					cs := fg.CheckRuns()
					return len(cs) == 1 && cs[0].Conclusion == "success"
				})
			} else {
				f.until("the notice given up", func() bool { return f.dead() == 1 })
				if cs := fg.CheckRuns(); len(cs) != 1 || cs[0].Status == "completed" {
					t.Errorf("check runs = %+v, want one, not completed", cs)
				}
			}
			if len(fg.Completions) != 0 {
				t.Errorf("the failure was not answered")
			}
			f.drain()
			f.succeeded("prod", tagged)
		})
	}
}

// failures counts the failed attempts at the notices still owed.
func (f *fixture) failures() int {
	f.t.Helper()
	ns, err := f.store.Notices(context.Background(), pipeline.NoticeFilter{})
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, o := range ns {
		n += o.Attempts
	}
	return n
}

// dead counts the notices given up.
func (f *fixture) dead() int {
	f.t.Helper()
	owed, err := f.store.OutboxBacklogs(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, o := range owed {
		n += o.Dead
	}
	return n
}

func TestRetryAfter(t *testing.T) {
	now := t0
	for h, want := range map[string]time.Duration{
		"30": 30 * time.Second, "0": 0, now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
	} {
		if got, ok := retryAfter(h, now); !ok || got != want {
			t.Errorf("Retry-After %q = %v, %v; want %v", h, got, ok, want)
		}
	}
	for _, h := range []string{"", "soon", "-3"} {
		if _, ok := retryAfter(h, now); ok {
			t.Errorf("Retry-After %q read as a wait", h)
		}
	}
}

func TestNotSupported(t *testing.T) {
	c := testClient(t, "https://gitee.example.com/api/v5")
	if err := c.React(context.Background(), kit, 7, 1, forge.ReactionSeen); !errors.Is(err, forge.ErrNotSupported) {
		t.Errorf("React = %v", err)
	}
	if ref, err := c.Deployment(context.Background(), kit, "x", forge.Deployment{Deploy: pipeline.Deploy{ID: 1}}); ref != "x" || !errors.Is(err, forge.ErrNotSupported) {
		t.Errorf("Deployment = %q, %v", ref, err)
	}
}

func TestNewChecksTheAPIURL(t *testing.T) {
	for _, u := range []string{"gitee.example.com/api/v5", "ftp://gitee.example.com/api/v5", "https:///api/v5"} {
		if _, err := New(Config{Engine: projects{}, Users: nopUsers{}, Store: nopStore{}, WebhookSecret: "s", Token: "t", APIURL: u}); err == nil {
			t.Errorf("APIURL %q taken", u)
		}
	}
	if _, err := New(Config{Engine: projects{}, Users: nopUsers{}, Store: nopStore{}}); err == nil {
		t.Error("no WebhookSecret taken")
	}
}

func TestRepoOn(t *testing.T) {
	ps := []pipeline.Project{
		{Name: "https", Repo: "https://gitee.com/Kit/Demo.git"}, {Name: "ssh", Repo: "git@gitee.com:Kit/Demo.git"},
		{Name: "short", Repo: "Kit/Demo"}, {Name: "self-hosted", Repo: "https://gitee.example.com/Kit/Demo.git"},
		{Name: "github", Repo: "git@github.com:Kit/Demo.git"}, {Name: "local", Repo: "/srv/git/demo.git"},
	}
	for api, want := range map[string][]string{
		"":                                 {"https", "ssh", "short"},
		"https://gitee.example.com/api/v5": {"short", "self-hosted"},
	} {
		var got []string
		for _, p := range ps {
			if r, ok := repoOn(p.Repo, apiHost(api)); ok {
				if r != "Kit/Demo" {
					t.Errorf("api %q: %s is %q", api, p.Name, r)
				}
				got = append(got, p.Name)
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("api %q: on Gitee %v, want %v", api, got, want)
		}
	}
}

// projects, nopUsers and nopStore stand in where New only checks its
// arguments.
type (
	projects struct{ forge.Engine }
	nopUsers struct{ forge.Users }
	nopStore struct{ Store }
)
