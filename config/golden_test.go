package config

import (
	"errors"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestGolden prints every problem of testdata/broken.yaml, as ferry check
// shows them, and compares the text with testdata/broken.golden.
func TestGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/broken.yaml")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"ALICE_TOKEN": "bob-token-0123456789abcdef"}
	_, err = loader(vars).Parse("testdata/broken.yaml", data, "/etc/ferry")
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse = %v; want Problems", err)
	}
	got := err.Error() + "\n"
	const golden = "testdata/broken.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./config -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("problems differ from %s (run go test ./config -update if the change is right)\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}
