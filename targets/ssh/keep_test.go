package ssh_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferrybot/ferry/pipeline"
)

func TestKeepAndActivate(t *testing.T) {
	out := t.TempDir()
	f := newFixture(t, 2, map[string]any{
		"keep":         3,
		"post_release": `echo "$FERRY_RELEASE after $FERRY_PREVIOUS_RELEASE in $(basename "$(pwd)")" >> "$OUT/$FERRY_HOST"`,
		"vars":         map[string]any{"OUT": out},
	})
	rs := map[string]pipeline.Release{}
	for _, id := range []string{"8", "9", "10", "11"} { // 10 sorts before 8 as text
		rs[id] = f.release(t, id, map[string]string{"index.html": id})
		f.deploy(t, rs[id])
	}
	ctx := testContext(t)
	for _, h := range f.fleet.Hosts {
		if got := f.releases(t, h.Name); !slices.Equal(got, []string{"9", "10", "11"}) {
			t.Errorf("%s keeps %v, want [9 10 11]", h.Name, got)
		}
		for _, gone := range []string{dir(rs["8"]), dir(rs["8"]) + ".json"} {
			if exists(filepath.Join(h.Root, "releases", gone)) {
				t.Errorf("%s kept releases/%s", h.Name, gone)
			}
		}
	}

	err := f.d.Activate(ctx, "web1", "7", &stepLog{})
	if want := "ssh web1: release 7 is not kept (kept: 9, 10, 11)"; err == nil || err.Error() != want {
		t.Errorf("activate 7 = %v, want %s", err, want)
	}
	if !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("activate 7 = %v, want ErrNotFound", err)
	}

	log := &stepLog{}
	if err := f.d.Activate(ctx, "web1", "9", log); err != nil {
		t.Fatalf("activate 9: %v\n%s", err, log)
	}
	if want := []string{"switch", "post_release"}; !slices.Equal(log.Steps(), want) {
		t.Errorf("activate steps = %v, want %v", log.Steps(), want)
	}
	h := f.fleet.Host("web1")
	if got := link(t, h); got != "releases/"+dir(rs["9"]) {
		t.Errorf("web1 runs %q after activating 9", got)
	}
	assertFile(t, filepath.Join(h.Root, "current/index.html"), "9")
	assertFile(t, filepath.Join(out, "web1"), "8 after  in "+dir(rs["8"])+"\n"+
		"9 after 8 in "+dir(rs["9"])+"\n"+
		"10 after 9 in "+dir(rs["10"])+"\n"+
		"11 after 10 in "+dir(rs["11"])+"\n"+
		"9 after 11 in "+dir(rs["9"])+"\n")

	// Release 9 is the oldest, but it is what web1 ran before 12: it stays.
	r12 := f.release(t, "12", map[string]string{"index.html": "12"})
	if prev, err := f.d.Install(ctx, "web1", r12, &stepLog{}); err != nil || prev != "9" {
		t.Fatalf("install 12 = %q, %v; want previous 9", prev, err)
	}
	if got := f.releases(t, "web1"); !slices.Equal(got, []string{"9", "11", "12"}) {
		t.Errorf("web1 keeps %v, want [9 11 12]", got)
	}

	// Release "" leaves no release current, twice.
	for range 2 {
		if err := f.d.Activate(ctx, "web2", "", &stepLog{}); err != nil {
			t.Fatal(err)
		}
		if got := f.current(t, "web2"); got != "" {
			t.Errorf("web2 runs %q after activating no release", got)
		}
	}
	if err := f.d.Activate(ctx, "web2", "11", &stepLog{}); err != nil {
		t.Fatal(err)
	}
	if got := f.current(t, "web2"); got != "11" {
		t.Errorf("web2 runs %q after activating 11", got)
	}
}

// TestLeftovers cleans what crashes leave, and refuses a current that is
// not a link.
func TestLeftovers(t *testing.T) {
	f := newFixture(t, 1, map[string]any{})
	h := f.fleet.Host("web1")
	r1 := f.release(t, "1", map[string]string{"index.html": "one"})
	r2 := f.release(t, "2", map[string]string{"index.html": "two"})
	f.deploy(t, r1)
	// A half upload of 2, and a crashed upload of an abandoned 0.
	for _, d := range []string{dir(r2) + ".tmp/half", "0-abcdef0.tmp"} {
		os.MkdirAll(filepath.Join(h.Root, "releases", d), 0o755)
	}
	os.WriteFile(filepath.Join(h.Root, "releases", dir(r2)+".tmp/index.html"), []byte("tw"), 0o644)
	log := &stepLog{}
	f.deploy(t, r2)
	assertFile(t, filepath.Join(h.Root, "current/index.html"), "two")
	if exists(filepath.Join(h.Root, "current/half")) {
		t.Error("the half upload was taken for the release")
	}
	entries, _ := os.ReadDir(filepath.Join(h.Root, "releases"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{dir(r1), dir(r1) + ".json", dir(r2), dir(r2) + ".json"}; !slices.Equal(names, want) {
		t.Errorf("releases/ holds %v, want %v\n%s", names, want, log)
	}

	os.Remove(filepath.Join(h.Root, "current"))
	os.Mkdir(filepath.Join(h.Root, "current"), 0o755)
	_, err := f.d.Install(testContext(t), "web1", r1, &stepLog{})
	if err == nil || !strings.Contains(err.Error(), "current is not a symbolic link: move it away and ferry will manage it") {
		t.Errorf("install over a current directory = %v", err)
	}
	if _, err := f.d.Current(testContext(t), "web1"); err == nil {
		t.Error("Current reads a current directory as a release")
	}
}
