package storage

import (
	"context"
	"testing"
	"time"

	"github.com/ferrybot/ferry/dashboards"
)

func TestDigestLedger(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	mon := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	if _, ok, err := s.LastDigest(ctx, "slack:#deploys"); err != nil || ok {
		t.Fatalf("LastDigest of a new database = %v, %v", ok, err)
	}
	d := dashboards.Sending{Name: "slack:#deploys", Scheduled: mon, Period: dashboards.Period{From: mon.AddDate(0, 0, -7), To: mon}, Late: true}
	if ok, err := s.ClaimDigest(ctx, d, mon.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("first claim = %v, %v", ok, err)
	}
	if ok, err := s.ClaimDigest(ctx, d, mon.Add(2*time.Minute)); err != nil || ok {
		t.Fatalf("second claim = %v, %v; want refused", ok, err)
	}
	last, ok, err := s.LastDigest(ctx, "slack:#deploys")
	if err != nil || !ok || last.Sent || !last.Late || !last.ClaimedAt.Equal(mon.Add(time.Minute)) || !last.Period.From.Equal(d.Period.From) {
		t.Fatalf("LastDigest = %+v, %v, %v", last, ok, err)
	}
	must(t, s.DigestSent(ctx, "slack:#deploys", mon, mon.Add(3*time.Minute)))
	if last, _, _ := s.LastDigest(ctx, "slack:#deploys"); !last.Sent {
		t.Errorf("after DigestSent: %+v", last)
	}
	next := d
	next.Scheduled = mon.AddDate(0, 0, 7)
	must2 := func(ok bool, err error) { must(t, err) }
	must2(s.ClaimDigest(ctx, next, next.Scheduled))
	if last, _, _ := s.LastDigest(ctx, "slack:#deploys"); !last.Scheduled.Equal(next.Scheduled) || last.Sent {
		t.Errorf("the last digest is not the latest claimed: %+v", last)
	}
}
