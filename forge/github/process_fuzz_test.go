package github

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/pipeline"
)

// granting is an Engine of testProject that grants every request and
// keeps them.
type granting struct {
	mu   sync.Mutex
	reqs []pipeline.Request
}

func (g *granting) Projects() []pipeline.Project { return []pipeline.Project{testProject()} }

func (g *granting) Request(_ context.Context, _ pipeline.Actor, r pipeline.Request) (pipeline.Deploy, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reqs = append(g.reqs, r)
	return pipeline.Deploy{ID: int64(len(g.reqs)), Project: r.Project, Env: r.Env, Ref: r.Ref, Commit: r.Commit, State: pipeline.StateQueued}, nil
}

func (g *granting) Deploys(context.Context, pipeline.DeployFilter) ([]pipeline.Deploy, error) {
	return nil, nil
}

func (g *granting) take() []pipeline.Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	reqs := g.reqs
	g.reqs = nil
	return reqs
}

// decodedRepo is the repository of an event decoded in full.
func decodedRepo(ev any) (forge.Repo, bool) {
	switch e := ev.(type) {
	case *gh.PushEvent:
		r := e.GetRepo()
		return forge.Repo{FullName: r.GetFullName(), CloneURL: r.GetCloneURL(), SSHURL: r.GetSSHURL(), HTMLURL: r.GetHTMLURL()}, true
	case interface{ GetRepo() *gh.Repository }:
		return repoOf(e.GetRepo()), true
	}
	return forge.Repo{}, false
}

// caseTwins reports whether an object of body has two keys equal but for
// case, which encoding/json reads as one and GitHub never sends:
// repositoryOf reads keys as GitHub writes them, under its signature.
func caseTwins(body []byte) bool {
	type frame struct {
		object, wantKey bool
		keys            map[string]string // folded → as written
	}
	var stack []*frame
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil && top.object && top.wantKey {
			key := tok.(string)
			folded := strings.ToLower(strings.ToUpper(key))
			if was, ok := top.keys[folded]; ok && was != key {
				return true
			}
			top.keys[folded], top.wantKey = key, false
			continue
		}
		if top != nil && top.object {
			top.wantKey = true
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, &frame{object: d == '{', wantKey: d == '{', keys: map[string]string{}})
		}
	}
}

// FuzzHandle hands stored deliveries to the function the inbox runs on
// each, with an engine that grants every request and no API to call.
// Whatever the event and body, handling ends, the same twice, as
// processed, unreadable (when the body does not decode) or ignored by its
// repository, which it is only when decoding the body in full names a
// repository no project deploys too (of a body as GitHub writes it:
// caseTwins). A push requests deploys of exactly
// the commit it pushed, to auto environments of the project, as the
// project's rules route its ref.
func FuzzHandle(f *testing.F) {
	eng := &granting{}
	a, err := New(Config{Engine: eng, Users: &config.Config{}, Store: nopStore{}, WebhookSecret: secret})
	if err != nil {
		f.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range names {
		body, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		event, _, _ := strings.Cut(filepath.Base(name), ".")
		f.Add(event, body)
	}
	f.Add("push", []byte(`{"ref": "refs/tags/v1.2.0", "after": "c0ffee", "repository": {"full_name": "Codertocat/Hello-World"}}`))
	f.Add("push", []byte(`{"ref": "refs/heads/master", "after": "c0ffee", "repository": {"full_name": "Codertocat/Hello-World"}, "repository": {"full_name": "a/b"}}`))
	f.Add("create", []byte(`{"ref": "v1", "ref_type": "tag", "repository": {"full_name": "Codertocat/Hello-World"}}`))
	f.Add("release", []byte(`{}`))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		d := pipeline.Delivery{Platform: platform, ID: "d-fuzz", Event: event, Body: body}
		out := a.handle(ctx, d)
		reqs := eng.take()
		if again := a.handle(ctx, d); again != out || !reflect.DeepEqual(eng.take(), reqs) {
			t.Fatalf("handled twice: %q, then %q, or other requests", out, again)
		}
		ev, err := gh.ParseWebHook(event, body)
		switch {
		case strings.HasPrefix(out, "ignored: no project deploys "):
			if r, ok := decodedRepo(ev); err == nil && ok && len(a.core.ProjectsOf(r)) > 0 && !caseTwins(body) {
				t.Fatalf("ignored as %q; decoded in full it is %+v, which project hello deploys", out, r)
			}
		case strings.HasPrefix(out, "unreadable: "):
			if err == nil {
				t.Fatalf("%q, but the body decodes", out)
			}
		case out != "processed "+event || err != nil:
			t.Fatalf("outcome %q (decode: %v)", out, err)
		}
		if len(reqs) == 0 {
			return
		}
		push, ok := ev.(*gh.PushEvent)
		if !ok {
			t.Fatalf("a %s event requested %+v; only pushes do without an API", event, reqs)
		}
		p := testProject()
		route, err := pipeline.RouteRef(p, push.GetRef())
		_, name := pipeline.RefName(push.GetRef())
		for _, r := range reqs {
			switch {
			case err != nil || !route.Env.Auto || r.Project != p.Name || r.Env != route.Env.Name:
				t.Fatalf("push of %q requested %s/%s; the project routes it to %+v (%v)", push.GetRef(), r.Project, r.Env, route.Env.Name, err)
			case r.Commit != push.GetAfter() || r.Ref != name:
				t.Fatalf("push of %s at %q requested %s at %q; want exactly the pushed commit", push.GetRef(), push.GetAfter(), r.Ref, r.Commit)
			}
		}
	})
}
