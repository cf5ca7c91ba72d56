package config

import (
	"errors"
	"os"
	"testing"

	"github.com/ferrybot/ferry/internal/golden"
)

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
	golden.CheckString(t, "testdata/broken.golden", err.Error()+"\n")
}
