package storage

import (
	"bytes"
	"compress/flate"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// setClock makes the store's clock one the test moves.
func setClock(s *Store, at time.Time) *time.Time {
	now := at
	var mu sync.Mutex
	s.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	return &now
}

func delivery(platform, id, body string) pipeline.Delivery {
	return pipeline.Delivery{Platform: platform, ID: id, Event: "push", Body: []byte(body)}
}

func TestReceive(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	receive := func(d pipeline.Delivery) pipeline.Receipt {
		t.Helper()
		r, err := s.Receive(ctx, d, 0)
		must(t, err)
		return r
	}
	if r := receive(delivery("github", "guid-1", `{"a":1}`)); r != pipeline.Received {
		t.Errorf("the first delivery is %v", r)
	}
	if r := receive(delivery("github", "guid-1", `{"a":2}`)); r != pipeline.Duplicate {
		t.Errorf("a redelivery is %v; want a duplicate", r)
	}
	if r := receive(delivery("gitlab", "guid-1", `{}`)); r != pipeline.Received {
		t.Errorf("the same id from another platform is %v", r)
	}
	got, err := s.DeliveryOf(ctx, "github", "guid-1")
	must(t, err)
	if string(got.Body) != `{"a":1}` || !got.Processed.IsZero() || got.Attempts != 0 {
		t.Errorf("stored %+v; want the first delivery's body, owed, never begun", got)
	}
	if _, err := s.Receive(ctx, delivery("github", "", ""), 0); !errors.Is(err, pipeline.ErrInvalid) {
		t.Errorf("a delivery without an id = %v; want an error wrapping ErrInvalid", err)
	}
	if _, err := s.DeliveryOf(ctx, "github", "guid-404"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("DeliveryOf(unknown) = %v; want ErrNotFound", err)
	}
}

func TestReceiveReplay(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := setClock(s, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	signed := func(id string) pipeline.Delivery {
		d := delivery("github", id, `{"same":"body"}`)
		d.Hash = []byte("sha256=the-signature")
		return d
	}
	receive := func(d pipeline.Delivery) pipeline.Receipt {
		t.Helper()
		r, err := s.Receive(ctx, d, time.Minute)
		must(t, err)
		return r
	}
	if r := receive(signed("first")); r != pipeline.Received {
		t.Fatalf("first = %v", r)
	}
	if r := receive(signed("first")); r != pipeline.Duplicate {
		t.Errorf("a redelivery under its own ID = %v; want duplicate", r)
	}
	*now = now.Add(23 * time.Hour)
	if r := receive(signed("captured")); r != pipeline.Replayed {
		t.Errorf("the body under a new ID within a day = %v; want replayed", r)
	}
	rec, err := s.DeliveryOf(ctx, "github", "captured")
	must(t, err)
	if rec.Processed.IsZero() || rec.Outcome != "replay of delivery first" || rec.Body != nil {
		t.Errorf("the replay is stored as %+v; want processed, naming the first, without its body", rec)
	}
	if r := receive(signed("captured")); r != pipeline.Duplicate {
		t.Errorf("the replay again = %v; want duplicate", r)
	}
	other := delivery("github", "other", `{}`)
	other.Hash = []byte("sha256=another")
	if r := receive(other); r != pipeline.Received {
		t.Errorf("another body = %v", r)
	}
	*now = now.Add(2 * time.Hour) // the first is 25 h old
	if r := receive(signed("much-later")); r != pipeline.Replayed {
		t.Errorf("the body a day after the replay = %v; want replayed (the replay is 2 h old)", r)
	}
	*now = now.Add(25 * time.Hour)
	if r := receive(signed("next-day")); r != pipeline.Received {
		t.Errorf("the body after every copy is a day old = %v; want received", r)
	}
}

func TestClaimDeliveries(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := setClock(s, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	for i, lease := range []time.Duration{0, time.Minute, 0} {
		_, err := s.Receive(ctx, delivery("github", fmt.Sprintf("d%d", i), "{}"), lease)
		must(t, err)
	}
	_, err := s.Receive(ctx, delivery("slack", "s0", "{}"), 0)
	must(t, err)
	ids := func(ds []pipeline.Delivery) (out []string) {
		for _, d := range ds {
			out = append(out, fmt.Sprintf("%s:%d", d.ID, d.Attempts))
		}
		return out
	}
	got, err := s.ClaimDeliveries(ctx, "github", 10, time.Minute)
	must(t, err)
	if fmt.Sprint(ids(got)) != "[d0:1 d2:1]" {
		t.Fatalf("claimed %v; want the unclaimed github deliveries, oldest first, begun once", ids(got))
	}
	if string(got[0].Body) != "{}" || got[0].Event != "push" || got[0].Received.IsZero() {
		t.Errorf("claimed %+v; want its body, event and arrival", got[0])
	}
	if again, err := s.ClaimDeliveries(ctx, "github", 10, time.Minute); err != nil || len(again) != 0 {
		t.Errorf("claimed again at once: %v, %v; want none, all are held", ids(again), err)
	}
	must(t, s.FinishDelivery(ctx, "github", "d0", "deploy #1 requested"))
	*now = now.Add(61 * time.Second)
	got, err = s.ClaimDeliveries(ctx, "github", 10, time.Minute)
	must(t, err)
	if fmt.Sprint(ids(got)) != "[d1:2 d2:2]" {
		t.Errorf("after the leases ended claimed %v; want d1 and d2 again, not the finished d0", ids(got))
	}
	must(t, s.ReleaseClaims(ctx))
	got, err = s.ClaimDeliveries(ctx, "github", 1, time.Minute)
	must(t, err)
	if fmt.Sprint(ids(got)) != "[d1:3]" {
		t.Errorf("after ReleaseClaims claimed %v; want d1 at once, limited to 1", ids(got))
	}
	rec, err := s.DeliveryOf(ctx, "github", "d0")
	must(t, err)
	if rec.Outcome != "deploy #1 requested" || rec.Processed.IsZero() {
		t.Errorf("finished delivery %+v", rec)
	}
	backlog, err := s.InboxBacklog(ctx)
	must(t, err)
	if len(backlog) != 2 || backlog[0].Pending != 2 || backlog[1].Pending != 1 || backlog[0].Oldest.IsZero() {
		t.Errorf("backlog %+v; want github 2, slack 1", backlog)
	}
	if _, err := s.ClaimDeliveries(ctx, "github", 0, time.Minute); !errors.Is(err, pipeline.ErrInvalid) {
		t.Errorf("a claim of none = %v; want ErrInvalid", err)
	}
}

// Two workers claiming at once are never handed the same delivery.
func TestClaimDeliveriesConcurrent(t *testing.T) {
	ctx := context.Background()
	a, b := openReplicas(t)
	for i := range 200 {
		_, err := a.Receive(ctx, delivery("github", fmt.Sprint(i), "{}"), 0)
		must(t, err)
	}
	seen := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range []*Store{a, b, a, b} {
		wg.Go(func() {
			for {
				ds, err := s.ClaimDeliveries(ctx, "github", 7, time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s handed out %d times", id, n)
		}
	}
	if len(seen) != 200 {
		t.Errorf("%d deliveries handed out; want 200", len(seen))
	}
}

func TestPruneDeliveries(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	now := setClock(s, start)
	n := 2*pruneBatch + 17 // more than one batch
	for i := range n {
		_, err := s.Receive(ctx, delivery("github", fmt.Sprint(i), "body"), time.Minute)
		must(t, err)
		if i != 5 { // 5 stays owed
			must(t, s.FinishDelivery(ctx, "github", fmt.Sprint(i), "done"))
		}
	}
	*now = start.Add(2 * time.Hour) // after the cut of the second pruning
	_, err := s.Receive(ctx, delivery("github", "late", "late body"), time.Minute)
	must(t, err)
	must(t, s.FinishDelivery(ctx, "github", "late", "done"))
	r := Retention{Bodies: 24 * time.Hour, Deliveries: 7 * 24 * time.Hour}
	*now = start.Add(23 * time.Hour)
	bodies, dropped, err := s.PruneDeliveries(ctx, r)
	if err != nil || bodies != 0 || dropped != 0 {
		t.Errorf("after 23 h pruned %d bodies, %d deliveries, %v; want none", bodies, dropped, err)
	}
	*now = start.Add(25 * time.Hour)
	bodies, dropped, err = s.PruneDeliveries(ctx, r)
	if err != nil || bodies != n-1 || dropped != 0 {
		t.Errorf("after 25 h pruned %d bodies, %d deliveries, %v; want %d bodies", bodies, dropped, err, n-1)
	}
	if got, _ := s.DeliveryOf(ctx, "github", "5"); string(got.Body) != "body" {
		t.Errorf("the owed delivery lost its body: %+v", got)
	}
	if got, _ := s.DeliveryOf(ctx, "github", "late"); string(got.Body) != "late body" {
		t.Errorf("a delivery processed 23 h ago lost its body: %+v", got)
	}
	if r, err := s.Receive(ctx, delivery("github", "9", "again"), 0); err != nil || r != pipeline.Duplicate {
		t.Errorf("a redelivery after its body went = %v, %v; want duplicate", r, err)
	}
	*now = start.Add(7*24*time.Hour + time.Minute)
	_, dropped, err = s.PruneDeliveries(ctx, r)
	if err != nil || dropped != n-1 {
		t.Errorf("after 7 days pruned %d deliveries, %v; want %d", dropped, err, n-1)
	}
	if _, err := s.DeliveryOf(ctx, "github", "5"); err != nil {
		t.Errorf("the owed delivery was pruned: %v", err)
	}
	if r, err := s.Receive(ctx, delivery("github", "9", "again"), 0); err != nil || r != pipeline.Received {
		t.Errorf("a delivery ID after its retention = %v, %v; want received", r, err)
	}
	if _, _, err := s.PruneDeliveries(ctx, Retention{}); !errors.Is(err, pipeline.ErrInvalid) {
		t.Errorf("prune without retentions = %v; want ErrInvalid", err)
	}
}

// Concurrent writes share commits, and one that fails fails alone.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	errs := make(chan error, 64)
	var all sync.WaitGroup
	for i := range 64 {
		all.Go(func() {
			if i == 13 {
				errs <- s.grouped(ctx, func(tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO no_such_table VALUES (1)`)
					return err
				})
				return
			}
			_, err := s.Receive(ctx, delivery("github", fmt.Sprint(i), "{}"), 0)
			errs <- err
		})
	}
	all.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d writes failed; want only the bad one", failed)
	}
	backlog, err := s.InboxBacklog(ctx)
	must(t, err)
	if len(backlog) != 1 || backlog[0].Pending != 63 {
		t.Errorf("backlog %+v; want the 63 good deliveries stored", backlog)
	}
	must(t, s.Close())
	if _, err := s.Receive(ctx, delivery("github", "late", "{}"), 0); !errors.Is(err, errClosed) {
		t.Errorf("a write after Close = %v; want errClosed", err)
	}
}

// TestBodiesStoredCompressed: a delivery's body is kept compressed, in a
// row of its own, and read back as it came, by a claim and by DeliveryOf;
// a body stored before bodies were compressed reads back too.
func TestBodiesStoredCompressed(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	body := []byte(`{"action":"opened","payload":"` + strings.Repeat("abcdefgh", 4000) + `"}`)
	if _, err := s.Receive(ctx, pipeline.Delivery{Platform: "github", ID: "d1", Event: "pull_request", Body: body}, 0); err != nil {
		t.Fatal(err)
	}
	var stored int
	var encoding string
	if err := s.r.QueryRowContext(ctx, `SELECT length(b.body), b.encoding FROM delivery_bodies b
		JOIN deliveries d ON d.id = b.delivery WHERE d.delivery_id = 'd1'`).Scan(&stored, &encoding); err != nil {
		t.Fatal(err)
	}
	if stored*4 > len(body) || encoding != zstandard {
		t.Errorf("a %d-byte body takes %d bytes stored as %q; want it compressed with zstd", len(body), stored, encoding)
	}
	ds, err := s.ClaimDeliveries(ctx, "github", 10, time.Minute)
	if err != nil || len(ds) != 1 || !bytes.Equal(ds[0].Body, body) {
		t.Fatalf("claimed %d deliveries, %v; want d1 with its body as it came", len(ds), err)
	}
	must(t, s.FinishDelivery(ctx, "github", "d1", "done"))
	if r, err := s.DeliveryOf(ctx, "github", "d1"); err != nil || !bytes.Equal(r.Body, body) {
		t.Fatalf("DeliveryOf = %v; want the body as it came", err)
	}
	if _, err := s.codec.unpack([]byte("x"), "brotli"); err == nil || !strings.Contains(err.Error(), "brotli") {
		t.Errorf("an unknown encoding = %v; want an error naming it", err)
	}
	if _, err := s.codec.unpack([]byte("not zstd"), zstandard); err == nil {
		t.Error("a corrupt zstd body read back without an error")
	}
}

// TestBodiesMigrate: bodies an older ferry stored in the deliveries table,
// raw or deflated, move to delivery_bodies and read back as they came.
func TestBodiesMigrate(t *testing.T) {
	ctx := context.Background()
	s, err := OpenUnmigrated(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	before := slices.IndexFunc(all, func(m migration) bool { return m.version == 10 })
	if _, err := s.migrate(ctx, all[:before]); err != nil {
		t.Fatal(err)
	}
	long := `{"payload":"` + strings.Repeat("abcdefgh", 100) + `"}`
	var deflatedBody bytes.Buffer
	w, _ := flate.NewWriter(&deflatedBody, flate.BestSpeed)
	w.Write([]byte(long))
	w.Close()
	for _, r := range []struct {
		id, encoding string
		body         []byte
	}{{"raw", "", []byte(`{"raw":1}`)}, {"deflated", deflated, deflatedBody.Bytes()}} {
		_, err := s.w.ExecContext(ctx, `INSERT INTO deliveries (platform, delivery_id, received_at, event, body, body_encoding, processed_at)
			VALUES ('github', ?, 1, 'push', ?, ?, 2)`, r.id, r.body, r.encoding)
		must(t, err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO deliveries (platform, delivery_id, received_at, event, processed_at)
		VALUES ('github', 'pruned', 1, 'push', 2)`)
	must(t, err)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"raw": `{"raw":1}`, "deflated": long, "pruned": ""} {
		if r, err := s.DeliveryOf(ctx, "github", id); err != nil || string(r.Body) != want {
			t.Errorf("delivery %s after the migration reads back %.40q, %v; want %.40q", id, r.Body, err, want)
		}
	}
}

// BenchmarkReceiveAndFinish: the inbox's two writes of one delivery (its
// arrival, with the real 28 KB pull_request body, and its outcome), from
// 32 goroutines at once as under a burst of webhooks, in group commits.
func BenchmarkReceiveAndFinish(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("..", "forge", "github", "testdata", "pull_request.opened.json"))
	if err != nil {
		b.Fatal(err)
	}
	s := openTest(b)
	s.Now = time.Now
	var seq atomic.Int64
	b.SetParallelism(16) // 32 goroutines on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			id := fmt.Sprint(seq.Add(1))
			_, err := s.Receive(ctx, pipeline.Delivery{Platform: "github", ID: id, Event: "pull_request", Body: body, Hash: []byte("sha256=" + id)}, time.Minute)
			if err == nil {
				err = s.FinishDelivery(ctx, "github", id, "done")
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}
