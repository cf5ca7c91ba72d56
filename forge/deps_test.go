package forge_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoSDK holds the line: forge's events depend on the standard
// library only; forge/github and the other adapters import their SDKs.
func TestImportsNoSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "github.com/ferrybot/ferry/forge" {
			t.Errorf("forge imports %s; it must import no SDK", dep)
		}
	}
}
