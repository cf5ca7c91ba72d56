package dashboards_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/dashboards/dashboardstest"
)

// TestDigestsIsDigestOfEachScope builds the digests of every scope from one
// read and checks each is the digest of its scope built alone.
func TestDigestsIsDigestOfEachScope(t *testing.T) {
	d := dashboardstest.Dashboards(t)
	scopes := d.Directory().Scopes()
	if len(scopes) < 5 || scopes[0] != dashboards.All {
		t.Fatalf("scopes: %v", scopes)
	}
	ctx := context.Background()
	gs, err := d.Digests(ctx, scopes, dashboardstest.Week)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range scopes {
		alone, err := d.Digest(ctx, s, dashboardstest.Week)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gs[i], alone) {
			t.Errorf("%s: the digest built with the others differs from the one built alone:\n%+v\n%+v", s, gs[i], alone)
		}
	}
}
