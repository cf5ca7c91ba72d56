package pipeline_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// narrowed is prod as a repository might narrow it: tags v1.* only, two
// approvals, and a rollout of one unit, then all, continued by hand.
func narrowed(t *testing.T) pipeline.Environment {
	t.Helper()
	env, ok := demoProject().Env("prod")
	if !ok {
		t.Fatal("no prod")
	}
	env.Tags = []*regexp.Regexp{regexp.MustCompile(`^v1\.1\.`)}
	env.Approvals.Required = 2
	env.Strategy = pipeline.Strategy{Batches: []pipeline.BatchSize{{Count: 1}, {Percent: 100}}, Continue: pipeline.ContinueManual}
	return env
}

func TestNarrows(t *testing.T) {
	prod, _ := demoProject().Env("prod")
	if err := pipeline.Narrows(narrowed(t), prod); err != nil {
		t.Fatalf("Narrows(narrowed prod) = %v", err)
	}
	cases := map[string]func(*pipeline.Environment){
		"its name": func(e *pipeline.Environment) { e.Name = "prod2" },
		"its target": func(e *pipeline.Environment) {
			e.Target = pipeline.TargetSpec{Type: "local", Params: map[string]any{"root": "/tmp"}}
		},
		"who may deploy":                 func(e *pipeline.Environment) { e.Deployers = append(e.Deployers, "guests") },
		"who may approve":                func(e *pipeline.Environment) { e.Approvals.From = []string{"dev"} },
		"how long approvals are awaited": func(e *pipeline.Environment) { e.Approvals.Expire = 0 },
		"its lock TTL":                   func(e *pipeline.Environment) { e.LockTTL = time.Minute },
		"its URL":                        func(e *pipeline.Environment) { e.URL = "https://evil.example.com" },
		"whether it is optional":         func(e *pipeline.Environment) { e.Optional = true },
		"fewer than the 1 configured":    func(e *pipeline.Environment) { e.Approvals.Required = 0 },
	}
	for what, change := range cases {
		o := narrowed(t)
		change(&o)
		err := pipeline.Narrows(o, prod)
		if !errors.Is(err, pipeline.ErrInvalid) || !strings.Contains(err.Error(), what) {
			t.Errorf("Narrows with %s changed = %v; want ErrInvalid naming it", what, err)
		}
	}
}

func TestRequestOverride(t *testing.T) {
	h := newHarness(t)
	o := narrowed(t)
	req := func(ref string, o pipeline.Environment) (pipeline.Deploy, error) {
		return h.engine.Request(ctx, alice, pipeline.Request{Project: "demo", Env: "prod", Ref: ref, Override: &o})
	}

	// A tag the configured rules take but the narrowed ones do not.
	if _, err := req("v1.2.0", o); !errors.Is(err, pipeline.ErrForbidden) || !strings.Contains(err.Error(), `prod only takes tags matching ^v1\.1\.`) {
		t.Fatalf("request of v1.2.0 = %v; want refused by the narrowed rules", err)
	}
	// Rules wider than the configured ones do not widen them.
	wide := o
	wide.Tags, wide.Branches = []*regexp.Regexp{regexp.MustCompile(`.`)}, []*regexp.Regexp{regexp.MustCompile(`.`)}
	if _, err := req("main", wide); !errors.Is(err, pipeline.ErrForbidden) || !strings.Contains(err.Error(), `prod only takes tags matching ^v\d+\.\d+\.\d+$`) {
		t.Fatalf("request of main with wider rules = %v; want refused by the configured rules", err)
	}
	// An override that widens policy is not a request at all.
	lax := o
	lax.Approvals.Required = 0
	if _, err := req("v1.1.0", lax); !errors.Is(err, pipeline.ErrInvalid) {
		t.Fatalf("request with fewer approvals = %v; want ErrInvalid", err)
	}

	d, err := req("v1.1.0", o)
	if err != nil || d.State != pipeline.StateAwaitingApproval || d.ApprovalsRequired != 2 || d.Strategy == nil {
		t.Fatalf("request = %+v, %v; want awaiting 2 approvals with its own strategy", d, err)
	}
	h.approve(bob, d.ID)
	h.approve(carol, d.ID)
	// Its strategy survives a restart and runs it: one unit, then a
	// manual gate, then the rest, where prod itself would bake 5m between
	// three batches.
	h.restart()
	d = h.wait(d.ID, pipeline.StatePaused)
	done := 0
	for _, u := range h.units(d.ID) {
		if u.State == pipeline.UnitDone {
			done++
		}
	}
	if d.Batches != 2 || done != 1 {
		t.Fatalf("paused after %d units with %d batches; want 1 unit of 2 batches", done, d.Batches)
	}
	if _, err := h.engine.Continue(ctx, alice, d.ID); err != nil {
		t.Fatal(err)
	}
	h.wait(d.ID, pipeline.StateSucceeded)

	// Without an override the configured strategy runs, and none is kept.
	plain := h.request(alice, "staging", "main")
	if plain.Strategy != nil {
		t.Errorf("a request without an override keeps strategy %+v", plain.Strategy)
	}
}

func TestURLFor(t *testing.T) {
	d := pipeline.Deploy{ID: 7, Project: "demo", Env: "staging", Version: "main@1111111", Ref: "main", Commit: "1111111aaaa"}
	cases := []struct {
		url, want, err string
		perDeploy      bool
	}{
		{"", "", "", false},
		{"https://{{.Env}}.{{.Project}}.example.com", "https://staging.demo.example.com", "", false},
		{"https://{{.Ref}}.preview.example.com/?v={{.Version}}&c={{.Commit}}#{{.ID}}", "https://main.preview.example.com/?v=main@1111111&c=1111111aaaa#7", "", true},
		{"https://{{.Branch}}.example.com", "", "can't evaluate field Branch", false},
		{"https://{{.Env}.example.com", "", "bad character", false},
	}
	for _, c := range cases {
		env := pipeline.Environment{Name: "staging", URL: c.url}
		got, err := env.URLFor(d)
		if got != c.want || (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("URLFor(%q) = %q, %v; want %q, an error with %q", c.url, got, err, c.want, c.err)
		}
		if env.URLPerDeploy() != c.perDeploy {
			t.Errorf("URLPerDeploy(%q) = %v", c.url, !c.perDeploy)
		}
	}
}

func TestWithoutOptional(t *testing.T) {
	p := demoProject()
	p.Envs[0].Optional = true
	got := p.WithoutOptional()
	if names := strings.Join(got.EnvNames(), " "); names != "prod" || len(p.Envs) != 2 {
		t.Errorf("WithoutOptional = %s (the project keeps %d); want prod only", names, len(p.Envs))
	}
}
