package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/storage"
	"github.com/ferrybot/ferry/storage/pgtest"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// TestServeOnPostgres: with storage: postgres://…, ferry migrates the
// database and deploys, as on SQLite.
func TestServeOnPostgres(t *testing.T) {
	dsn := pgtest.Start(t)
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"README": "hi\n"}, "first")
	yaml := "storage: " + dsn + "\nsession_secret: " + strings.Repeat("k", 32) + `
workspace: workspace
users:
  alice: {tokens: ["alice-token-0123456789"]}
projects:
  demo:
    repo: ` + repo.Path() + `
    environments:
      dev:
        branches: ['^main$']
        default_ref: main
        target: {type: local, hosts: [a, b], root: hosts/demo}
`
	a, srv := startApp(t, yaml, nil)
	if code, body := command(t, srv.URL, aliceToken, "deploy demo to dev"); code != http.StatusOK {
		t.Fatalf("deploy: %d %s", code, body)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		d, err := a.store.Deploy(context.Background(), 1)
		if err == nil && d.State == pipeline.StateSucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deploy 1: %+v %v", d, err)
		}
	}
	if res, err := srv.Client().Get(srv.URL + "/readyz"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("readyz on PostgreSQL: %v %v", res, err)
	}
}

// TestMigrateToPostgres: ferry migrate --to copies a SQLite database with
// deploys, transitions, units, logs, approvals, locks, audit, deliveries
// and outbox rows into PostgreSQL, counts match, a second run copies
// nothing twice, and new deploys on PostgreSQL continue the IDs.
func TestMigrateToPostgres(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.yaml")
	yaml := "storage: ferry.db\nusers:\n  alice: {tokens: [\"alice-token-0123456789\"]}\nprojects:\n  demo:\n    repo: ./demo\n    environments: {dev: {target: {type: local}}}\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lite, err := storage.Open(ctx, filepath.Join(dir, "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	d := pipeline.Deploy{Project: "demo", Env: "dev", Kind: pipeline.KindDeploy, Ref: "main", Commit: "1111111", Version: "main@1111111", Requester: "alice", Reason: "发布 v1"}
	if err := lite.CreateDeploy(ctx, &d); err != nil {
		t.Fatal(err)
	}
	steps := []error{
		lite.PutUnit(ctx, pipeline.Unit{DeployID: d.ID, Name: "a", State: pipeline.UnitDone}),
		lite.AppendLog(ctx, pipeline.LogEntry{DeployID: d.ID, Unit: "a", Step: "build", Text: "ok"}),
		lite.AddApproval(ctx, pipeline.Approval{DeployID: d.ID, Approver: "bob", At: time.Now()}),
		lite.PutLock(ctx, pipeline.Lock{Project: "demo", Env: "dev", Owner: "bob", Reason: "incident"}),
		lite.Audit(ctx, pipeline.AuditEntry{At: time.Now(), Actor: "alice", Action: "deploy", Project: "demo", Env: "dev", DeployID: d.ID}),
		lite.AddNotices(ctx, []pipeline.Notice{{Platform: "slack", Dest: "card 1", Kind: "card", DeployID: d.ID, Payload: []byte{0, 1, 2}}}),
	}
	if _, err := lite.Receive(ctx, pipeline.Delivery{Platform: "github", ID: "d1", Event: "push", Body: []byte(`{"ref":"main"}`), Hash: []byte{9, 9}}, 0); err != nil {
		steps = append(steps, err)
	}
	if _, err := lite.Transition(ctx, pipeline.Transition{DeployID: d.ID, From: pipeline.StateRequested, To: pipeline.StateQueued, Event: pipeline.EventEnqueue, Actor: "alice"}, nil); err != nil {
		steps = append(steps, err)
	}
	for _, err := range steps {
		if err != nil {
			t.Fatal(err)
		}
	}
	lite.Close()

	dsn := pgtest.Start(t)
	for run := range 2 {
		out, errOut, err := runFerry(t, "migrate", "--config", path, "--to", dsn)
		if err != nil || !strings.Contains(out, "the counts match") || !strings.Contains(out, "deploys            1 rows") || !strings.Contains(out, "deliveries         1 rows") {
			t.Fatalf("run %d: %v\n%s%s", run+1, err, out, errOut)
		}
	}
	pg, err := storage.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	got, err := pg.Deploy(ctx, d.ID)
	if err != nil || got.Reason != "发布 v1" || got.State != pipeline.StateQueued || got.Version != d.Version {
		t.Fatalf("the copied deploy: %+v %v", got, err)
	}
	if b, err := pg.DeliveryOf(ctx, "github", "d1"); err != nil || string(b.Body) != `{"ref":"main"}` {
		t.Fatalf("the copied delivery: %+v %v", b, err)
	}
	next := pipeline.Deploy{Project: "demo", Env: "dev", Kind: pipeline.KindDeploy, Ref: "main", Commit: "2222222", Version: "main@2222222", Requester: "alice"}
	if err := pg.CreateDeploy(ctx, &next); err != nil || next.ID != d.ID+1 {
		t.Fatalf("a new deploy on PostgreSQL: id %d, %v; want %d", next.ID, err, d.ID+1)
	}
}
