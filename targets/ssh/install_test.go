package ssh_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferrybot/ferry/pipeline"
)

func TestInstall(t *testing.T) {
	f := newFixture(t, 2, map[string]any{
		"build":   []any{"echo built > BUILD", "ln -s index.html home.html"},
		"exclude": []any{"*.log", "/docs"},
	})
	ctx := testContext(t)
	r1 := f.release(t, "1", map[string]string{"index.html": "one", "debug.log": "x", "docs/guide.md": "g", "bin/start.sh": "echo start", "it's odd.txt": "quoted"})
	log := &stepLog{}
	if err := f.d.Build(ctx, r1, log); err != nil {
		t.Fatalf("build: %v\n%s", err, log)
	}
	if want := []string{"checkout", "build", "pack"}; !slices.Equal(log.Steps(), want) {
		t.Errorf("build steps = %v, want %v", log.Steps(), want)
	}
	for _, h := range f.fleet.Hosts {
		log := &stepLog{}
		prev, err := f.d.Install(ctx, h.Name, r1, log)
		if err != nil || prev != "" {
			t.Fatalf("install on %s = %q, %v; want no previous release\n%s", h.Name, prev, err, log)
		}
		if want := []string{"connect", "upload", "switch", "cleanup"}; !slices.Equal(log.Steps(), want) {
			t.Errorf("steps = %v, want %v", log.Steps(), want)
		}
		if got := link(t, h); got != "releases/"+dir(r1) {
			t.Errorf("%s/current -> %q, want releases/%s", h.Name, got, dir(r1))
		}
		cur := filepath.Join(h.Root, "current")
		assertFile(t, filepath.Join(cur, "index.html"), "one")
		assertFile(t, filepath.Join(cur, "BUILD"), "built\n")
		assertFile(t, filepath.Join(cur, "it's odd.txt"), "quoted")
		if l, err := os.Readlink(filepath.Join(cur, "home.html")); err != nil || l != "index.html" {
			t.Errorf("home.html -> %q, %v; want the symbolic link kept", l, err)
		}
		for _, gone := range []string{"debug.log", "docs"} {
			if exists(filepath.Join(cur, gone)) {
				t.Errorf("%s was shipped despite exclude", gone)
			}
		}
		if info, err := os.Stat(filepath.Join(cur, "bin/start.sh")); err != nil || info.Mode().Perm()&0o100 == 0 {
			t.Errorf("bin/start.sh is not executable: %v", err)
		}
		var m map[string]any
		b, err := os.ReadFile(filepath.Join(h.Root, "releases", dir(r1)+".json"))
		if err != nil || json.Unmarshal(b, &m) != nil || m["release"] != "1" || m["commit"] != r1.Commit || m["previous"] != "" {
			t.Errorf("record of the release = %s, %v", b, err)
		}
		if !strings.Contains(log.String(), "connected to "+f.fleet.User+"@"+h.Addr) {
			t.Errorf("log does not say where it connected:\n%s", log)
		}
	}

	r2 := f.release(t, "2", map[string]string{"index.html": "two"})
	for _, h := range f.fleet.Hosts {
		log := &stepLog{}
		prev, err := f.d.Install(ctx, h.Name, r2, log) // builds on demand
		if err != nil || prev != "1" {
			t.Fatalf("install 2 on %s = %q, %v; want previous release 1\n%s", h.Name, prev, err, log)
		}
		if !strings.Contains(log.String(), "using the connection to") {
			t.Errorf("the second install dialed again:\n%s", log)
		}
		if got := f.current(t, h.Name); got != "2" {
			t.Errorf("%s runs %q, want 2", h.Name, got)
		}
		assertFile(t, filepath.Join(h.Root, "current/index.html"), "two")
		if got := f.releases(t, h.Name); !slices.Equal(got, []string{"1", "2"}) {
			t.Errorf("%s keeps %v, want [1 2]", h.Name, got)
		}
	}

	// Installed again, as after a restart: the same previous release.
	if prev, err := f.d.Install(ctx, "web1", r2, &stepLog{}); err != nil || prev != "1" {
		t.Errorf("repeated install = %q, %v; want previous 1", prev, err)
	}
	if _, err := f.d.Install(ctx, "db1", r2, &stepLog{}); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("install on an unknown host = %v, want ErrNotFound", err)
	}
	if units, _ := f.d.Units(ctx); !slices.Equal(units, []string{"web1", "web2"}) {
		t.Errorf("units = %v", units)
	}
	if !f.d.Resumable() {
		t.Error("the ssh target is not resumable")
	}
}
