package pipeline_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// newest is the last entry of the audit log, and how many there are.
func (h *harness) newest() (pipeline.AuditEntry, int) {
	h.t.Helper()
	all, err := h.store.AuditLog(context.Background(), 0)
	if err != nil {
		h.t.Fatal(err)
	}
	if len(all) == 0 {
		return pipeline.AuditEntry{}, 0
	}
	return all[0], len(all)
}

// TestRefusalsAreAudited: every command policy refuses leaves an entry
// "<action> denied" with the reason the person was given; an admin's
// override says whose lock it overrode or that it was forced.
func TestRefusalsAreAudited(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	e := h.engine
	waiting := h.request(alice, "prod", "v1.0.0") // awaiting bob's or another dev's approval
	id := waiting.ID
	lock := func(a pipeline.Actor, project, env, reason string) func() error {
		return func() error { _, err := e.Lock(ctx, a, project, env, 0, reason); return err }
	}
	unlock := func(a pipeline.Actor, project, env string) func() error {
		return func() error { return e.Unlock(ctx, a, project, env) }
	}
	request := func(a pipeline.Actor, env, ref string, force bool) func() error {
		return func() error {
			_, err := e.Request(ctx, a, pipeline.Request{Project: "demo", Env: env, Ref: ref, Force: force})
			return err
		}
	}
	for _, c := range []struct {
		name   string
		do     func() error
		refuse bool   // the command fails
		want   string // the newest entry: "actor|action|project|env"
		detail string // in its detail
	}{
		{"self-approval", func() error { _, err := e.Approve(ctx, alice, id); return err }, true,
			"alice|approve denied|demo|prod", "someone else must approve"},
		{"not an approver", func() error { _, err := e.Approve(ctx, eve, id); return err }, true,
			"eve|approve denied|demo|prod", "only ops, dev may approve"},
		{"rejection by an outsider", func() error { _, err := e.Reject(ctx, eve, id, "no"); return err }, true,
			"eve|reject denied|demo|prod", "only the requester or an approver may reject"},
		{"cancel by an outsider", func() error { _, err := e.Cancel(ctx, eve, id); return err }, true,
			"eve|cancel denied|demo|prod", "only dev, ops may deploy to prod"},
		{"force by a non-admin", request(alice, "prod", "v1.0.0", true), true,
			"alice|deploy denied|demo|prod", "force is for admins only"},
		{"a lock", lock(bob, "demo", "staging", "maintenance"), false,
			"bob|lock|demo|staging", "maintenance"},
		{"a lock over someone else's", lock(alice, "demo", "staging", "mine"), true,
			"alice|lock denied|demo|staging", "locked by bob: maintenance"},
		{"a lock by an outsider", lock(eve, "demo", "staging", ""), true,
			"eve|lock denied|demo|staging", "only dev, ops may deploy to staging"},
		{"a lock on every project by a non-admin", lock(alice, "*", "staging", ""), true,
			"alice|lock denied|*|staging", "locking every project is for admins"},
		{"unlocking someone else's lock", unlock(alice, "demo", "staging"), true,
			"alice|unlock denied|demo|staging", "only they or an admin may unlock it"},
		{"a deploy past a lock", request(alice, "staging", "main", false), true,
			"alice|deploy denied|demo|staging", "locked by bob"},
		{"a rollback past a lock", func() error { _, err := e.Rollback(ctx, alice, "demo", "staging", "", false); return err }, true,
			"alice|rollback denied|demo|staging", "locked by bob"},
		{"a rollback by an outsider", func() error { _, err := e.Rollback(ctx, eve, "demo", "prod", "", false); return err }, true,
			"eve|rollback denied|demo|prod", "only dev, ops may deploy to prod"},
		{"a forced rollback by a non-admin", func() error { _, err := e.Rollback(ctx, alice, "demo", "prod", "", true); return err }, true,
			"alice|rollback denied|demo|prod", "force is for admins only"},
		{"a promotion past a lock", func() error { _, err := e.Promote(ctx, alice, "demo", "prod", "staging", false); return err }, true,
			"alice|promote denied|demo|staging", "locked by bob"},
		{"a promotion by an outsider", func() error { _, err := e.Promote(ctx, eve, "demo", "staging", "prod", false); return err }, true,
			"eve|promote denied|demo|prod", "only dev, ops may deploy to prod"},
		{"a scale past a lock", func() error {
			_, err := e.Operate(ctx, alice, pipeline.Op{Verb: pipeline.OpScale, Project: "demo", Env: "staging", Replicas: 3})
			return err
		}, true, "alice|scale denied|demo|staging", "locked by bob"},
		{"a config change by an outsider", func() error {
			_, err := e.Operate(ctx, eve, pipeline.Op{Verb: pipeline.OpConfig, Project: "demo", Env: "prod", Key: "K", Value: "secret"})
			return err
		}, true, "eve|config denied|demo|prod", "only dev, ops may deploy to prod"},
		{"a request from someone ferry does not know", request(pipeline.Actor{}, "staging", "main", false), true,
			"|deploy denied|demo|staging", "link your account first"},
		{"an admin unlocks someone else's lock", unlock(carol, "demo", "staging"), false,
			"carol|unlock|demo|staging", "forced over bob's lock"},
		{"bob locks again", lock(bob, "demo", "staging", "maintenance"), false,
			"bob|lock|demo|staging", "maintenance"},
		{"an admin locks over someone else's lock", lock(carol, "demo", "staging", "hotfix"), false,
			"carol|lock|demo|staging", "hotfix (forced over bob's lock)"},
		{"an admin forces a deploy", request(carol, "prod", "main", true), false,
			"carol|deploy|demo|prod", "(forced)"},
	} {
		err := c.do()
		if (err != nil) != c.refuse {
			t.Errorf("%s: %v; want refused %v", c.name, err, c.refuse)
		}
		got, _ := h.newest()
		if s := strings.Join([]string{got.Actor, got.Action, got.Project, got.Env}, "|"); s != c.want || !strings.Contains(got.Detail, c.detail) {
			t.Errorf("%s: newest audit entry %s %q; want %s with %q", c.name, s, got.Detail, c.want, c.detail)
		}
		if c.refuse && err != nil && got.Detail != err.Error() {
			t.Errorf("%s: the entry says %q; the person was told %q", c.name, got.Detail, err)
		}
	}

	// What is not a refusal by policy leaves no entry: a deploy that does
	// not exist, an approval of a deploy not awaiting one.
	_, before := h.newest()
	if _, err := e.Approve(ctx, bob, 999); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("approve 999: %v", err)
	}
	if _, err := e.Approve(ctx, bob, id); err != nil {
		t.Fatalf("approve: %v", err)
	}
	_, n := h.newest()
	if _, err := e.Approve(ctx, bob, id); err == nil {
		t.Error("a second approval passed")
	}
	if _, after := h.newest(); before+1 != n || after != n {
		t.Errorf("audit entries %d → %d → %d; want one, for the approval", before, n, after)
	}
}

// TestAuditScopeOf: admins read everything; others read the projects they
// may deploy to some environment of, and their own entries.
func TestAuditScopeOf(t *testing.T) {
	projects := []pipeline.Project{
		{Name: "api", Envs: []pipeline.Environment{{Name: "staging"}, {Name: "prod", Deployers: []string{"ops"}}}}, // staging: anyone
		{Name: "web", Envs: []pipeline.Environment{{Name: "prod", Deployers: []string{"dev"}}}},
		{Name: "infra", Envs: []pipeline.Environment{{Name: "prod", Deployers: []string{"ops", "dave"}}}},
	}
	restricted := projects[1:]
	dave := pipeline.Actor{Name: "dave"}
	for _, c := range []struct {
		name     string
		a        pipeline.Actor
		projects []pipeline.Project
		want     *pipeline.AuditScope
	}{
		{"an admin", carol, projects, nil},
		{"a deployer by team", alice, projects, &pipeline.AuditScope{Projects: []string{"api", "web"}, Actor: "alice"}},
		{"a deployer of one environment", bob, projects, &pipeline.AuditScope{Projects: []string{"api", "infra"}, Actor: "bob"}},
		{"a deployer by name", dave, restricted, &pipeline.AuditScope{Projects: []string{"infra"}, Actor: "dave"}},
		{"anyone, where anyone may deploy", eve, projects, &pipeline.AuditScope{Projects: []string{"api"}, Actor: "eve"}},
		{"someone of no project", eve, restricted, &pipeline.AuditScope{Actor: "eve"}},
		{"someone ferry does not know", pipeline.Actor{}, projects, &pipeline.AuditScope{}},
		{"a nameless admin", pipeline.Actor{Admin: true}, projects, &pipeline.AuditScope{}},
	} {
		if got := pipeline.AuditScopeOf(c.a, c.projects); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v; want %+v", c.name, got, c.want)
		}
	}
}

// TestEngineAuditLog: the engine reads each person the part of the log
// AuditScopeOf gives them, whatever their filter asks for.
func TestEngineAuditLog(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for _, e := range []pipeline.AuditEntry{
		{Actor: "alice", Action: "deploy", Project: "demo", Env: "staging", DeployID: 1}, // 1
		{Actor: "bob", Action: "approve", Project: "demo", Env: "prod", DeployID: 2},     // 2
		{Actor: "carol", Action: "lock", Project: "*", Env: "prod"},                      // 3
		{Actor: "alice", Action: "link", Detail: "slack U1 T1"},                          // 4
		{Actor: "eve", Action: "link", Detail: "slack U2 T1"},                            // 5
		{Actor: "bob", Action: "deploy", Project: "gone", Env: "prod", DeployID: 3},      // 6: a project no longer configured
		{Actor: "eve", Action: "deploy denied", Project: "demo", Env: "prod"},            // 7
	} {
		if err := h.store.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		a    pipeline.Actor
		f    pipeline.AuditFilter
		want []int64
	}{
		{"an admin", carol, pipeline.AuditFilter{}, []int64{7, 6, 5, 4, 3, 2, 1}},
		{"a deployer of demo", alice, pipeline.AuditFilter{}, []int64{7, 4, 2, 1}},
		{"someone of no project", eve, pipeline.AuditFilter{}, []int64{7, 5}},
		{"someone ferry does not know", pipeline.Actor{}, pipeline.AuditFilter{}, []int64{}},
		{"a filter outside the scope", alice, pipeline.AuditFilter{Project: "*"}, []int64{}},
		{"a scope the caller set is replaced", eve, pipeline.AuditFilter{Scope: &pipeline.AuditScope{Projects: []string{"*", "gone"}}}, []int64{7, 5}},
		{"paged", alice, pipeline.AuditFilter{Limit: 2}, []int64{7, 4}},
	} {
		page, err := h.engine.AuditLog(ctx, c.a, c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := []int64{}
		for _, e := range page.Entries {
			got = append(got, e.ID)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: entries %v; want %v", c.name, got, c.want)
		}
	}
}

// TestRefusalsAreBounded: what anyone may type is capped before anything is
// stored, and one actor's refusals are stored one by one only up to ten a
// minute; the audit log keeps the count of the others, in one entry.
func TestRefusalsAreBounded(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	e := h.engine
	long := strings.Repeat("x", 60000)
	if _, err := e.Request(ctx, eve, pipeline.Request{Project: "demo", Env: "prod", Ref: long}); !errors.Is(err, pipeline.ErrInvalid) ||
		!strings.Contains(err.Error(), "the ref is 60000 bytes; ferry takes a ref of at most 255 bytes") {
		t.Errorf("a 60,000-byte ref: %v", err)
	}
	if _, err := e.Rollback(ctx, eve, "demo", "prod", long, false); !errors.Is(err, pipeline.ErrInvalid) {
		t.Errorf("a 60,000-byte release: %v", err)
	}
	waiting := h.request(alice, "prod", "v1.0.0")
	if _, err := e.Reject(ctx, bob, waiting.ID, strings.Repeat("no ", 200)); !errors.Is(err, pipeline.ErrInvalid) ||
		!strings.Contains(err.Error(), "the reason is 600 bytes; ferry takes a reason of at most 500 bytes") {
		t.Errorf("a 600-byte reason: %v", err)
	}
	if _, err := e.Lock(ctx, bob, "demo", "prod", 0, long); !errors.Is(err, pipeline.ErrInvalid) {
		t.Errorf("a 60,000-byte lock reason: %v", err)
	}
	if _, n := h.newest(); n != 1 { // alice's request
		t.Fatalf("capped requests left %d audit entries, want 1", n)
	}

	deny := func(n int) {
		t.Helper()
		for i := range n {
			var err error
			if i%3 == 2 {
				_, err = e.Rollback(ctx, eve, "demo", "prod", "", false)
			} else {
				_, err = e.Request(ctx, eve, pipeline.Request{Project: "demo", Env: "prod", Ref: "v1.0.0"})
			}
			if !errors.Is(err, pipeline.ErrForbidden) {
				t.Fatalf("refusal %d: %v, want it answered as refused", i, err)
			}
		}
	}
	count := func() (denied, audited int) {
		t.Helper()
		ds, err := h.store.Deploys(ctx, pipeline.DeployFilter{Requester: "eve"})
		if err != nil {
			t.Fatal(err)
		}
		es, err := h.store.AuditEntries(ctx, pipeline.AuditFilter{Actor: "eve", Limit: pipeline.MaxAuditLimit})
		if err != nil {
			t.Fatal(err)
		}
		return len(ds), len(es.Entries)
	}
	deny(30) // 20 requests and 10 rollbacks
	if denied, audited := count(); denied != 7 || audited != 10 {
		t.Errorf("after 30 refusals: %d denied deploys and %d audit entries; want 7 (the first 10 refusals: 7 requests, 3 rollbacks) and 10", denied, audited)
	}
	// The next minute stores again, and the audit log counts the last one's.
	h.clock.Advance(time.Minute)
	deny(1)
	if denied, audited := count(); denied != 8 || audited != 12 {
		t.Errorf("a minute later: %d denied deploys and %d audit entries; want 8 and 12", denied, audited)
	}
	es, _ := h.store.AuditEntries(ctx, pipeline.AuditFilter{Action: "refusals counted"})
	if len(es.Entries) != 1 || es.Entries[0].Actor != "eve" ||
		es.Entries[0].Detail != "20 more refusals of eve in the minute from 2026-11-02T10:00:00Z, beyond the 10 stored one by one" {
		t.Errorf("counted refusals: %+v", es.Entries)
	}
	// A minute whose refusals nobody follows is counted by the engine's sweep.
	deny(12)
	h.clock.Advance(time.Minute)
	h.engine.Kick()
	deadline := time.After(10 * time.Second)
	for len(es.Entries) < 2 {
		select {
		case <-deadline:
			t.Fatalf("the sweep did not count the refusals: %+v", es.Entries)
		case <-time.After(10 * time.Millisecond):
		}
		es, _ = h.store.AuditEntries(ctx, pipeline.AuditFilter{Action: "refusals counted"})
	}
	if !strings.HasPrefix(es.Entries[0].Detail, "3 more refusals of eve in the minute from 2026-11-02T10:01:00Z") {
		t.Errorf("counted by the sweep: %q", es.Entries[0].Detail)
	}
}
