package storage

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// TestListen: on PostgreSQL, a replica's dispatcher wakes when another
// replica commits notices, and its live pages hear of the deploys the
// other changed, not of its own. On SQLite, one process alone, there is
// nobody to hear from.
func TestListen(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a, b := openReplicas(t)
	done := make(chan error, 1)
	go func() { done <- b.Listen(ctx, slog.New(slog.DiscardHandler)) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if pgServer == nil {
		must(t, a.PublishChange(ctx, 7))
		select {
		case id := <-b.Changes():
			t.Fatalf("SQLite delivered a change of deploy %d", id)
		case <-time.After(50 * time.Millisecond):
		}
		return
	}
	within := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s within 10 s", what)
		}
	}
	within(b.Noticed(), "wake when the LISTEN connection is up")
	must(t, a.AddNotices(ctx, []pipeline.Notice{{Platform: "slack", Dest: "C1", Kind: "card", DeployID: 1}}))
	within(b.Noticed(), "wake after another replica's notices")
	must(t, b.PublishChange(ctx, 8)) // its own: not delivered to itself
	must(t, a.PublishChange(ctx, 7))
	select {
	case id := <-b.Changes():
		if id != 7 {
			t.Fatalf("b heard of deploy %d, want 7 (not its own 8)", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no change heard within 10 s")
	}
}
