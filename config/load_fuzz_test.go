package config

import (
	"bytes"
	"errors"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// fuzzSecret is what every ${VAR} of a fuzzed ferry.yaml expands to, but
// those named UNSET…: no problem may show it.
const fuzzSecret = "S3CR3T-7f3a9c1e5b2d4f60718293a4b5c6d7e8"

func fuzzLoader() Loader {
	return Loader{LookupEnv: func(name string) (string, bool) {
		if strings.HasPrefix(name, "UNSET") {
			return "", false
		}
		return fuzzSecret, true
	}}
}

// addFiles adds every file of dir whose name ends in ext as a seed.
func addFiles(f *testing.F, dir, ext string) {
	f.Helper()
	for _, data := range seeds(f, dir, ext) {
		f.Add(data)
	}
}

// checkProblems checks what every refusal of a file says: Problems of
// that file, in line order, and never a variable's value.
func checkProblems(t *testing.T, data []byte, file string, err error) {
	t.Helper()
	var ps Problems
	if !errors.As(err, &ps) || len(ps) == 0 {
		t.Fatalf("%v (%T) is not Problems", err, err)
	}
	if !sort.SliceIsSorted(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line }) {
		t.Fatalf("problems out of line order:\n%v", err)
	}
	// yaml.v3 breaks lines as YAML does, and puts the end of the input,
	// where a bracket left open is reported, on a line after the last.
	breaks := strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u0085", "\n", "\u2028", "\n", "\u2029", "\n")
	lines := strings.Count(breaks.Replace(string(data)), "\n") + 2
	for _, p := range ps {
		if p.File != file || p.Line < 0 || p.Line > lines || p.Msg == "" {
			t.Fatalf("problem %+v: want one of %s, at line 0 to %d, saying something", p, file, lines)
		}
	}
	if strings.Contains(err.Error(), fuzzSecret) && !bytes.Contains(data, []byte(fuzzSecret)) {
		t.Fatalf("a problem shows the value of a variable:\n%v", err)
	}
}

// quick fails a read of a file of n bytes begun at start that took far
// longer than any should: a few kilobytes are read in milliseconds.
func quick(t *testing.T, start time.Time, n int) {
	t.Helper()
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("a file of %d bytes took %v to read", n, d)
	}
}

// FuzzLoad: whatever ferry.yaml holds, loading it ends, soon, twice the same,
// with a configuration or with Problems of the file in line order, none
// of which shows what a ${VAR} expanded to.
func FuzzLoad(f *testing.F) {
	addFiles(f, "testdata", ".yaml")
	addFiles(f, filepath.Join("testdata", "problems"), ".yaml")
	addFiles(f, filepath.Join("..", "examples", "quickstart"), ".yaml")
	f.Add([]byte("x-a: &a {repo: r, environments: {e: {target: {local: {dir: d}}}}}\nprojects: {p: *a, q: {<<: *a}}\n"))
	f.Add([]byte("projects: &p {a: {<<: *p}}\n"))
	dir := f.TempDir()
	l := fuzzLoader()
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		cfg, err := l.Parse("ferry.yaml", data, dir)
		quick(t, start, len(data))
		again, err2 := l.Parse("ferry.yaml", data, dir)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("two loads differ:\n%v\n----\n%v", err, err2)
		}
		if err != nil {
			checkProblems(t, data, "ferry.yaml", err)
			return
		}
		if !reflect.DeepEqual(cfg, again) {
			t.Fatalf("two loads differ:\n%+v\n----\n%+v", cfg, again)
		}
	})
}
