package forge_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoSDK holds the line: the decisions are written once, over
// forge.Client, so package forge imports no forge's or chat's SDK, no
// adapter and no store; forge/github and the other adapters import their
// SDKs.
func TestImportsNoSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	denied := []string{
		"github.com/google/go-github", "github.com/bradleyfalzon/ghinstallation", "gitlab.com/gitlab-org/api/client-go",
		"github.com/xanzy/go-gitlab", "github.com/slack-go/slack", "github.com/open-dingtalk/",
		"github.com/ferrybot/ferry/forge/", "github.com/ferrybot/ferry/bot/", "github.com/ferrybot/ferry/storage",
		"modernc.org/sqlite", "github.com/jackc/pgx",
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list named no package")
	}
	for _, dep := range deps {
		for _, d := range denied {
			if strings.HasPrefix(dep, d) {
				t.Errorf("forge imports %s; it must import no SDK, adapter or store", dep)
			}
		}
	}
}
