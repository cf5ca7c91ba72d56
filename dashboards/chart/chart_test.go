package chart

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/pipeline"
)

type store []dashboards.Fact

func (s store) Facts(context.Context, dashboards.Query) ([]dashboards.Fact, error) { return s, nil }

var week = dashboards.Period{From: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC)}

// facts are a week of deploys: every day some succeed, Tuesday one fails
// and Thursday one is rolled back.
func facts() store {
	var s store
	id := int64(0)
	add := func(day, hour int, st pipeline.State, lead time.Duration) {
		id++
		start := time.Date(2026, 11, 2+day, hour, 0, 0, 0, time.UTC)
		s = append(s, dashboards.Fact{ID: id, Project: "api", Env: "prod", Kind: pipeline.KindDeploy, State: st, Requester: "alice",
			StartedAt: start, FinishedAt: start.Add(10 * time.Minute), CommittedAt: start.Add(-lead)})
	}
	for day := 0; day < 7; day++ {
		for n := 0; n <= day%4; n++ {
			add(day, 9+n, pipeline.StateSucceeded, time.Duration(2+day)*time.Hour)
		}
	}
	add(1, 15, pipeline.StateFailed, 0)
	add(3, 16, pipeline.StateRolledBack, 0)
	return s
}

func digest(t *testing.T) (*dashboards.Dashboards, dashboards.Digest) {
	t.Helper()
	now := week.To.Add(time.Hour)
	d, err := dashboards.New(dashboards.Config{Store: facts(), Directory: dashboards.Directory{Projects: []string{"api"}}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	g, err := d.Digest(context.Background(), dashboards.All, week)
	if err != nil {
		t.Fatal(err)
	}
	return d, g
}

// TestPNG draws the chart and checks that it is an 800×500 PNG with the
// colours of its series; it leaves a copy in /tmp/ferry-digest-chart.png
// for people to look at.
func TestPNG(t *testing.T) {
	_, g := digest(t)
	b, err := PNG(g)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if sz := img.Bounds().Size(); sz != (image.Point{800, 500}) {
		t.Errorf("size = %v; want 800×500", sz)
	}
	seen := map[[3]uint8]bool{}
	for y := 0; y < 500; y++ {
		for x := 0; x < 800; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			seen[[3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}] = true
		}
	}
	for name, c := range map[string][3]uint8{"green": {0x2e, 0x9e, 0x5b}, "red": {0xd6, 0x3b, 0x3b}, "orange": {0xe8, 0x8b, 0x1a}, "blue": {0x2f, 0x6f, 0xd1}} {
		if !seen[c] {
			t.Errorf("no %s in the chart", name)
		}
	}
	_ = os.WriteFile("/tmp/ferry-digest-chart.png", b, 0o644)
	if _, err := PNG(dashboards.Digest{}); err == nil {
		t.Error("a digest without days drew a chart")
	}
}

func TestHandler(t *testing.T) {
	d, _ := digest(t)
	signer := dashboards.Signer{Key: []byte(strings.Repeat("s", 32)), BaseURL: "http://ferry.test"}
	srv := httptest.NewServer(Handler(d, signer, nil))
	defer srv.Close()
	get := func(u string) *http.Response {
		t.Helper()
		res, err := http.Get(srv.URL + strings.TrimPrefix(u, "http://ferry.test"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	good := signer.URL(dashboards.All, week, d.Now().Add(time.Hour))
	if res := get(good); res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/png" {
		t.Errorf("a signed address: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
	expired := signer.URL(dashboards.All, week, d.Now().Add(-time.Second))
	forged := strings.Replace(good, "scope=all", "scope=project%3Aapi", 1)
	other := dashboards.Signer{Key: []byte(strings.Repeat("x", 32)), BaseURL: "http://ferry.test"}.URL(dashboards.All, week, d.Now().Add(time.Hour))
	for name, u := range map[string]string{"expired": expired, "forged": forged, "signed by another key": other, "unsigned": "http://ferry.test/charts/digest.png?scope=all"} {
		if res := get(u); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s address: %s; want 403", name, res.Status)
		}
	}
}
