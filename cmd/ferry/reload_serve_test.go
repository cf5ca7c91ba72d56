package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ferrybot/ferry/bot/web"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

const carolPassword = "carol-reload-password"

// tokenWorks reports whether server takes token for GET /api/v1/board.
func tokenWorks(t *testing.T, server, token string) bool {
	t.Helper()
	return apiGet(t, server, token, "/api/v1/board", nil) == http.StatusOK
}

// readyz is what GET /readyz answers.
func readyz(t *testing.T, server string) string {
	t.Helper()
	res, err := http.Get(server + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(string(b), "ready\n") {
		t.Fatalf("/readyz: %s\n%s", res.Status, b)
	}
	return string(b)
}

// reloadAudit is the audit log's entries of one action, as alice (an
// admin) reads them, newest first.
func reloadAudit(t *testing.T, server, action string) []web.APIAuditEntry {
	t.Helper()
	var l web.APIAuditLog
	apiGet(t, server, aliceToken, "/api/v1/audit?action="+url.QueryEscape(action), &l)
	return l.Entries
}

// lineOf is the line of content where s is first.
func lineOf(content, s string) int {
	return strings.Count(content[:strings.Index(content, s)], "\n") + 1
}

// signIn posts the sign-in form and reports whether ferry gave a session.
func signIn(t *testing.T, server, name, password string) bool {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(server+"/login", url.Values{"name": {name}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, ck := range res.Cookies() {
		if ck.Name == "ferry_session" && ck.Value != "" {
			return res.StatusCode == http.StatusSeeOther
		}
	}
	return false
}

// withCarol is the configuration with carol, who signs in with a
// password and has a token, and a setting only a restart takes.
func withCarol(t *testing.T, repo string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(carolPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return "outbox: {give_up: 2h}\n" + reloadYAML(repo, `  bob: {tokens: ["bob-token-0123456789"]}
  carol: {password_hash: "`+string(hash)+`", tokens: ["carol-token-0123456789"]}
`)
}

// TestServeReloadsOnSIGHUP: ferry serve reloads its ferry.yaml on SIGHUP;
// carol, added, signs in and uses her token; the restart-only setting the
// file changes is warned about. ferry reload is for admins, says why it
// refuses a broken file, and reloads a good one. The file is a symbolic
// link into another directory, whose changes the watch does not see, so
// only the signal and the command reload it.
func TestServeReloadsOnSIGHUP(t *testing.T) {
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"README": "hi\n"}, "first")
	dir, real := t.TempDir(), filepath.Join(t.TempDir(), "ferry.yaml")
	path := filepath.Join(dir, "ferry.yaml")
	writeFile(t, real, reloadYAML(repo.Path(), "  bob: {tokens: [\"bob-token-0123456789\"]}\n"))
	if err := os.Symlink(real, path); err != nil {
		t.Fatal(err)
	}
	proc, server := startServer(t, path)
	if tokenWorks(t, server, "carol-token-0123456789") || signIn(t, server, "carol", carolPassword) {
		t.Fatal("carol is known before the reload")
	}
	next := withCarol(t, repo.Path())
	writeFile(t, real, next)
	if err := proc.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	until(t, "carol's token after SIGHUP", func() bool { return tokenWorks(t, server, "carol-token-0123456789") })
	if !signIn(t, server, "carol", carolPassword) {
		t.Error("carol cannot sign in after the reload")
	}
	if s := readyz(t, server); !strings.Contains(s, "\nconfig sha256:"+shortSum(next)+" loaded ") {
		t.Errorf("/readyz after the reload:\n%s", s)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "ferry.log"))
	if !logged(string(log), "level=WARN", "take effect at the next restart", `settings=outbox`) {
		t.Errorf("no warning of outbox.give_up in the log:\n%s", log)
	}
	if es := reloadAudit(t, server, "reload"); len(es) != 1 || es[0].Actor != "signal SIGHUP" || !strings.Contains(es[0].Detail, "users +carol;") || strings.Contains(es[0].Detail, "token-0123") {
		t.Errorf("audit: %+v", es)
	}

	if out, err := cli(t, server, "bob-token-0123456789", "reload"); err == nil || !strings.Contains(out, "reloading the configuration is for admins") {
		t.Errorf("ferry reload by bob: %v\n%s", err, out)
	}
	broken := strings.Replace(next, "root: hosts", "root: hosts, retries: many", 1)
	writeFile(t, real, broken)
	out, err := cli(t, server, aliceToken, "reload")
	if err == nil || !strings.Contains(out, "refused its configuration file") || !strings.Contains(out, fmt.Sprintf("%s:%d: project demo, environment staging: target: ", path, lineOf(broken, "staging:"))) {
		t.Errorf("ferry reload of a broken file: %v\n%s", err, out)
	}
	if !tokenWorks(t, server, "carol-token-0123456789") {
		t.Error("carol's token stopped working when a broken file was refused")
	}
	writeFile(t, real, strings.Replace(next, "  carol:", "  dave: {tokens: [\"dave-token-0123456789\"]}\n  carol:", 1))
	if out, err := cli(t, server, aliceToken, "reload"); err != nil || !strings.Contains(out, "changes: users +dave") {
		t.Errorf("ferry reload: %v\n%s", err, out)
	}
	if !tokenWorks(t, server, "dave-token-0123456789") {
		t.Error("dave's token does not work after ferry reload")
	}
}

// TestServeReloadsWhenTheFileChanges: a save that renames a new file over
// ferry.yaml reloads it without a signal; a broken file written in its
// place is refused, its problems logged at their lines, and the users
// loaded before keep working; /readyz and the audit log say so.
func TestServeReloadsWhenTheFileChanges(t *testing.T) {
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"README": "hi\n"}, "first")
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.yaml")
	writeFile(t, path, reloadYAML(repo.Path(), ""))
	_, server := startServer(t, path)
	next := reloadYAML(repo.Path(), "  dave: {tokens: [\"dave-token-0123456789\"]}\n")
	writeFile(t, path+".tmp", next)
	if err := os.Rename(path+".tmp", path); err != nil { // as editors save
		t.Fatal(err)
	}
	until(t, "dave's token after the file changed", func() bool { return tokenWorks(t, server, "dave-token-0123456789") })

	broken := strings.Replace(next, "  dave:", "  erin: {admn: true}\n  dave:", 1)
	writeFile(t, path, broken)
	until(t, "the refusal in /readyz", func() bool { return strings.Contains(readyz(t, server), "reload refused") })
	s := readyz(t, server)
	if !strings.Contains(s, "\nconfig sha256:"+shortSum(next)+" loaded ") || !strings.Contains(s, "sha256:"+shortSum(broken)+" has 1 problem(s)") {
		t.Errorf("/readyz after the refusal:\n%s", s)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "ferry.log"))
	if !logged(string(log), "level=ERROR", `msg="reload refused"`, `by="file change"`, fmt.Sprintf(`problem="%s:%d: unknown key \"admn\" in user erin`, path, lineOf(broken, "erin:"))) {
		t.Errorf("the problem is not in the log with its line:\n%s", log)
	}
	if !tokenWorks(t, server, "dave-token-0123456789") || !tokenWorks(t, server, aliceToken) {
		t.Error("the users loaded before lost their tokens")
	}
	if es := reloadAudit(t, server, "reload refused"); len(es) != 1 || es[0].Actor != "file change" || !strings.Contains(es[0].Detail, fmt.Sprintf("at lines %d;", lineOf(broken, "erin:"))) {
		t.Errorf("audit: %+v", es)
	}
}

// TestServeReloadsAConfigMapUpdate: Kubernetes updates a mounted
// ConfigMap by swapping the ..data link that ferry.yaml resolves through;
// ferry reloads the file it now resolves to.
func TestServeReloadsAConfigMapUpdate(t *testing.T) {
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"README": "hi\n"}, "first")
	dir := t.TempDir()
	mount := func(version, content string) {
		t.Helper()
		if err := os.Mkdir(filepath.Join(dir, version), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, version, "ferry.yaml"), content)
		if err := os.Symlink(version, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	mount("..v1", reloadYAML(repo.Path(), ""))
	path := filepath.Join(dir, "ferry.yaml")
	if err := os.Symlink(filepath.Join("..data", "ferry.yaml"), path); err != nil {
		t.Fatal(err)
	}
	_, server := startServer(t, path)
	mount("..v2", reloadYAML(repo.Path(), "  dave: {tokens: [\"dave-token-0123456789\"]}\n"))
	until(t, "dave's token after the ConfigMap's update", func() bool { return tokenWorks(t, server, "dave-token-0123456789") })
}
