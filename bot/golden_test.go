package bot

import (
	"path/filepath"
	"testing"

	goldenfile "github.com/ferrybot/ferry/internal/golden"
)

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.CheckString(t, filepath.Join("testdata", name), got)
}
