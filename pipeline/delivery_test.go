package pipeline_test

import (
	"context"
	"sync"
	"testing"

	"github.com/ferrybot/ferry/pipeline"
)

// A delivery handled twice — after a crash, or by two workers at once —
// requests one deploy; another delivery asking the same requests another.
func TestDeliveryRequestsOnce(t *testing.T) {
	h := newHarness(t)
	ctx := pipeline.WithDelivery(context.Background(), "github/guid-1")
	req := pipeline.Request{Project: "demo", Env: "prod", Ref: "v1.0.0"}
	var wg sync.WaitGroup
	got := make([]pipeline.Deploy, 4)
	for i := range got {
		wg.Go(func() {
			d, err := h.engine.Request(ctx, alice, req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
			}
			got[i] = d
		})
	}
	wg.Wait()
	for _, d := range got {
		if d.ID != got[0].ID || d.State != pipeline.StateAwaitingApproval {
			t.Fatalf("the handlings got deploys %+v; want one, awaiting approval", got)
		}
	}
	other, err := h.engine.Request(pipeline.WithDelivery(context.Background(), "github/guid-2"), alice, req)
	if err != nil || other.ID == got[0].ID {
		t.Fatalf("another delivery: %+v, %v; want a deploy of its own", other, err)
	}
	ds, err := h.store.Deploys(context.Background(), pipeline.DeployFilter{Project: "demo", Env: "prod"})
	if err != nil || len(ds) != 2 {
		t.Fatalf("deploys %+v, %v; want two", ds, err)
	}
	// A refused request handled twice is refused twice, and stored once.
	denied := pipeline.WithDelivery(context.Background(), "github/guid-3")
	for range 2 {
		if _, err := h.engine.Request(denied, bob, pipeline.Request{Project: "demo", Env: "prod", Ref: "main"}); err == nil {
			t.Fatal("bob deployed main to prod")
		}
	}
	ds, _ = h.store.Deploys(context.Background(), pipeline.DeployFilter{States: []pipeline.State{pipeline.StateDenied}})
	if len(ds) != 1 {
		t.Errorf("denied deploys %+v; want one", ds)
	}
}
