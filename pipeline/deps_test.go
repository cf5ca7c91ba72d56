package pipeline_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreImportsNoSDK holds the architecture's line: the pipeline depends
// on the standard library only, and storage, targets and chats plug in
// through its interfaces.
func TestCoreImportsNoSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "github.com/ferrybot/ferry/pipeline" {
			t.Errorf("pipeline imports %s; the core must import no SDK or driver", dep)
		}
	}
}
