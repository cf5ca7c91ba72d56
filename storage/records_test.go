package storage

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// newDeploy stores a requested deploy of api to prod and returns its ID.
func newDeploy(t *testing.T, s *Store) int64 {
	t.Helper()
	d := pipeline.Deploy{Project: "api", Env: "prod", Kind: pipeline.KindDeploy}
	must(t, s.CreateDeploy(context.Background(), &d))
	return d.ID
}

func TestUnits(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	id := newDeploy(t, s)
	web10 := pipeline.Unit{DeployID: id, Name: "web10", Batch: 0, State: pipeline.UnitRunning, Step: "upload", Started: t0}
	web2 := pipeline.Unit{DeployID: id, Name: "web2", Batch: 1, State: pipeline.UnitPending} // zero times
	must(t, s.PutUnit(ctx, web10))
	must(t, s.PutUnit(ctx, web2))
	web10.State, web10.Step, web10.Previous, web10.Finished = pipeline.UnitFailed, "switch", "40", t0.Add(time.Minute)
	web10.Error = "exit status 1"
	must(t, s.PutUnit(ctx, web10)) // replaces, keeps its place

	got, err := s.Units(ctx, id)
	if want := []pipeline.Unit{web10, web2}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Units = %+v, %v\nwant %+v", got, err, want)
	}
	if got, err := s.Units(ctx, id+1); err != nil || len(got) != 0 {
		t.Errorf("Units of another deploy = %v, %v", got, err)
	}
	err = s.PutUnit(ctx, pipeline.Unit{DeployID: 99, Name: "web1"})
	if !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("PutUnit for a missing deploy = %v; want an error wrapping ErrNotFound", err)
	}
}

func TestLogs(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a, b := newDeploy(t, s), newDeploy(t, s)
	var want []pipeline.LogEntry
	for i := range 10 {
		e := pipeline.LogEntry{DeployID: a, Unit: "web1", Step: "build", Text: fmt.Sprintf("line %d", i), At: t0.Add(time.Duration(i) * time.Second)}
		if i == 0 {
			e.Unit, e.At = "", time.Time{} // the deploy as a whole, no time
		}
		must(t, s.AppendLog(ctx, e))
		must(t, s.AppendLog(ctx, pipeline.LogEntry{DeployID: b, Text: "other", Seq: 1000}))
		e.Seq = int64(i + 1)
		want = append(want, e)
	}
	all, err := s.Logs(ctx, a, 0)
	if err != nil || !reflect.DeepEqual(all, want) {
		t.Fatalf("Logs(0) = %+v, %v\nwant %+v", all, err, want)
	}
	tail, err := s.Logs(ctx, a, 3)
	if err != nil || !reflect.DeepEqual(tail, want[7:]) {
		t.Fatalf("Logs(3) = %+v, %v\nwant %+v", tail, err, want[7:])
	}
	if got, err := s.Logs(ctx, a, 50); err != nil || len(got) != 10 {
		t.Errorf("Logs(50) = %d entries, %v; want 10", len(got), err)
	}
	other, err := s.Logs(ctx, b, 1)
	if err != nil || len(other) != 1 || other[0].Seq != 10 {
		t.Errorf("Logs of deploy %d = %+v, %v; want seq 10, numbered by the store", b, other, err)
	}
	if _, err := s.Logs(ctx, a, -1); !errors.Is(err, pipeline.ErrInvalid) {
		t.Errorf("Logs(-1) = %v; want an error wrapping ErrInvalid", err)
	}
	if err := s.AppendLog(ctx, pipeline.LogEntry{DeployID: 99}); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("AppendLog for a missing deploy = %v; want an error wrapping ErrNotFound", err)
	}
}

func TestLogsConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	id := newDeploy(t, s)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range 5 {
				if err := s.AppendLog(ctx, pipeline.LogEntry{DeployID: id, Text: "x"}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	es, err := s.Logs(ctx, id, 0)
	must(t, err)
	for i, e := range es {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
	}
	if len(es) != 100 {
		t.Fatalf("%d entries, want 100", len(es))
	}
}

func TestApprovals(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	id := newDeploy(t, s)
	bob := pipeline.Approval{DeployID: id, Approver: "bob", At: t0}
	carol := pipeline.Approval{DeployID: id, Approver: "carol"} // zero time
	must(t, s.AddApproval(ctx, bob))
	must(t, s.AddApproval(ctx, carol))

	err := s.AddApproval(ctx, pipeline.Approval{DeployID: id, Approver: "bob", At: t0.Add(time.Hour)})
	if !errors.Is(err, pipeline.ErrDuplicate) {
		t.Fatalf("a second approval by bob = %v; want an error wrapping ErrDuplicate", err)
	}
	got, err := s.Approvals(ctx, id)
	if want := []pipeline.Approval{bob, carol}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Approvals = %+v, %v\nwant %+v", got, err, want)
	}
	err = s.AddApproval(ctx, pipeline.Approval{DeployID: 99, Approver: "bob"})
	if !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("an approval of a missing deploy = %v; want an error wrapping ErrNotFound", err)
	}
}

func TestLocks(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	all := pipeline.Lock{Project: "*", Env: "prod", Owner: "carol", Reason: "freeze", Created: t0, Expires: t0.Add(time.Hour)}
	api := pipeline.Lock{Project: "api", Env: "staging", Owner: "bob"} // zero times: until unlocked
	must(t, s.PutLock(ctx, api))
	must(t, s.PutLock(ctx, pipeline.Lock{Project: "*", Env: "prod", Owner: "dave"}))
	must(t, s.PutLock(ctx, all)) // replaces dave's

	got, err := s.Locks(ctx)
	if want := []pipeline.Lock{all, api}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Locks = %+v, %v\nwant %+v", got, err, want)
	}
	must(t, s.DeleteLock(ctx, "*", "prod"))
	err = s.DeleteLock(ctx, "*", "prod")
	if !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("deleting a missing lock = %v; want an error wrapping ErrNotFound", err)
	}
	if got, err := s.Locks(ctx); err != nil || !reflect.DeepEqual(got, []pipeline.Lock{api}) {
		t.Errorf("Locks after unlock = %+v, %v", got, err)
	}
}

func TestAuditLog(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	var want []pipeline.AuditEntry
	for i, action := range []string{"deploy", "approve", "lock"} {
		e := pipeline.AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), Actor: "alice", Action: action,
			Project: "api", Env: "prod", DeployID: 1, Detail: "forced"}
		if action == "lock" {
			e.At, e.DeployID, e.Detail = time.Time{}, 0, "" // zero values round trip
		}
		must(t, s.Audit(ctx, e))
		e.ID = int64(i + 1)
		want = append([]pipeline.AuditEntry{e}, want...)
	}
	got, err := s.AuditLog(ctx, 0)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("AuditLog(0) = %+v, %v\nwant %+v", got, err, want)
	}
	got, err = s.AuditLog(ctx, 2)
	if err != nil || !reflect.DeepEqual(got, want[:2]) {
		t.Fatalf("AuditLog(2) = %+v, %v\nwant %+v", got, err, want[:2])
	}
}

func TestKnownDeliveries(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	var asked []string
	for i := range 1203 { // more than one batch
		id := fmt.Sprintf("guid-%d", i)
		asked = append(asked, id)
		if i%100 == 7 {
			_, err := s.Receive(ctx, pipeline.Delivery{Platform: "github", ID: id, Event: "push"}, 0)
			must(t, err)
		}
	}
	_, err := s.Receive(ctx, pipeline.Delivery{Platform: "gitlab", ID: "guid-8", Event: "push"}, 0)
	must(t, err)
	known, err := s.KnownDeliveries(ctx, "github", asked)
	must(t, err)
	if len(known) != 12 || !known["guid-7"] || !known["guid-1107"] || known["guid-8"] {
		t.Errorf("known = %v; want the 12 github deliveries stored", known)
	}
	if known, err := s.KnownDeliveries(ctx, "github", nil); err != nil || len(known) != 0 {
		t.Errorf("KnownDeliveries(none) = %v, %v", known, err)
	}
	// The lookup is one search of the unique index, not a scan of the table.
	sqliteOnly(t, "the rest reads SQLite's query plan")
	var plan string
	rows, err := s.r.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT delivery_id FROM deliveries WHERE platform = ? AND delivery_id IN (?, ?)`, "github", "a", "b")
	must(t, err)
	defer rows.Close()
	for rows.Next() {
		var id, parent, unused int
		var detail string
		must(t, rows.Scan(&id, &parent, &unused, &detail))
		plan += detail + "; "
	}
	if !strings.Contains(plan, "USING COVERING INDEX") || strings.Contains(plan, "SCAN deliveries") {
		t.Errorf("query plan %q; want a search of the (platform, delivery_id) index", plan)
	}
}
