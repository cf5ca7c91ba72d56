package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runFerry runs ferry's run with args and returns its output and error.
func runFerry(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestCheckQuickstart(t *testing.T) {
	out, errOut, err := runFerry(t, "check", "--config", "../../examples/quickstart/ferry.yaml")
	if err != nil || !strings.Contains(out, "ok (1 project(s), 3 environment(s), 2 user(s))") {
		t.Fatalf("check: %v\n%s%s", err, out, errOut)
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.yaml")
	os.WriteFile(path, []byte(`users:
  alice: {teams: [nobody]}
projects:
  demo:
    repo: ./demo
    environments:
      staging:
        brnches: ['^main$']
        target: {type: local, hosts: [a], root: hosts}
      prod:
        branches: ['^(main']
        target: {type: local, hosts: [a], root: hosts}
`), 0o644)
	_, errOut, err := runFerry(t, "check", "--config", path)
	if err != exitError(1) {
		t.Fatalf("check of a broken file: %v", err)
	}
	for _, want := range []string{
		path + `:2: `, `team "nobody"`,
		path + `:8: unknown key "brnches"`, `did you mean "branches"?`,
		path + `:11: `, "missing closing )",
		"3 problem(s)",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check output lacks %q:\n%s", want, errOut)
		}
	}
}

func TestCheckTargetParams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.yaml")
	os.WriteFile(path, []byte(`projects:
  demo:
    repo: ./demo
    environments:
      staging:
        target: {type: local, hots: [a], root: hosts}
`), 0o644)
	_, errOut, err := runFerry(t, "check", "--config", path)
	if err != exitError(1) || !strings.Contains(errOut, "environment staging: target: ") || !strings.Contains(errOut, "unknown key hots") {
		t.Fatalf("check: %v\n%s", err, errOut)
	}
}

// TestCheckGitHubRepoConfig: the GitHub keys of a repository's .ferry.yaml,
// redelivery and environment URLs pass check, and bad ones do not.
func TestCheckGitHubRepoConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.yaml")
	good := `github:
  webhook_secret: s
  token: t
  repo_config: {allow: [environments.*.branches, environments.staging.strategy.*]}
projects:
  demo:
    repo: https://github.com/acme/demo.git
    environments:
      staging:
        branches: ['^main$']
        url: https://{{.Env}}.demo.example.com
        target: {type: local, hosts: [a], root: hosts}
      preview:
        branches: ['^feature-']
        optional: true
        url: https://{{.Ref}}.preview.example.com
        target: {type: local, hosts: [a], root: preview}
`
	os.WriteFile(path, []byte(good), 0o644)
	if out, errOut, err := runFerry(t, "check", "--config", path); err != nil {
		t.Fatalf("check: %v\n%s%s", err, out, errOut)
	}
	bad := strings.Replace(good, "environments.staging.strategy.*", "environments.*.target", 1)
	bad = strings.Replace(bad, "https://{{.Env}}.demo", "https://{{.Environment}}.demo", 1)
	os.WriteFile(path, []byte(bad), 0o644)
	_, errOut, err := runFerry(t, "check", "--config", path)
	if err != exitError(1) || !strings.Contains(errOut, `:4: github.repo_config.allow: "environments.*.target" can never be allowed`) ||
		!strings.Contains(errOut, `:11: url "https://{{.Environment}}.demo.example.com" of environment staging: it uses {{.Environment}}`) {
		t.Fatalf("check: %v\n%s", err, errOut)
	}
}

func TestRoute(t *testing.T) {
	cfg := "../../examples/quickstart/ferry.yaml"
	cases := []struct {
		ref, want string
		err       error
	}{
		{"refs/heads/main", "refs/heads/main → dev\n  why: branch \"main\" matches branch rule ^main$ of environment dev\n  auto: yes, a push deploys it to dev\n", nil},
		{"refs/tags/v1.2.3", "refs/tags/v1.2.3 → dev\n  why: tag \"v1.2.3\" matches tag rule ^v\\d+\\.\\d+\\.\\d+$ of environment dev\n  auto: yes, a push deploys it to dev\n", nil},
		{"refs/heads/feature-x", "refs/heads/feature-x deploys nowhere: branch \"feature-x\" matches no branch rule of project demo (tried dev: ^main$)\n", exitError(1)},
	}
	for _, c := range cases {
		out, errOut, err := runFerry(t, "route", "--config", cfg, "--project", "demo", "--ref", c.ref)
		if err != c.err || out != c.want {
			t.Errorf("route %s: %v\n%q\nwant\n%q\n%s", c.ref, err, out, c.want, errOut)
		}
	}
	if _, errOut, err := runFerry(t, "route", "--config", cfg, "--project", "nope", "--ref", "refs/heads/main"); err != exitError(1) || !strings.Contains(errOut, `project "nope" is not in`) {
		t.Errorf("route of an unknown project: %v %s", err, errOut)
	}
}

func TestMigrate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(path, []byte("storage: ferry.db\nprojects:\n  demo:\n    repo: ./demo\n    environments:\n      staging:\n        target: {type: local, hosts: [a], root: hosts}\n"), 0o644)
	out, errOut, err := runFerry(t, "migrate", "--config", path)
	m := regexp.MustCompile(`applied migration\(s\) 1(, \d+)*; schema version (\d+)`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("migrate: %v %s %s", err, out, errOut)
	}
	out, _, err = runFerry(t, "migrate", "--config", path)
	if want := "is up to date (schema version " + m[2] + ")"; err != nil || !strings.Contains(out, want) {
		t.Fatalf("migrate again: %v %s", err, out)
	}
}

func TestUsageAndClientErrors(t *testing.T) {
	if _, errOut, err := runFerry(t); err != exitError(2) || !strings.Contains(errOut, "ferry serve") {
		t.Errorf("no arguments: %v %s", err, errOut)
	}
	if _, errOut, err := runFerry(t, "deplyo", "demo", "to", "staging"); err != exitError(2) || !strings.Contains(errOut, `did you mean "deploy"?`) {
		t.Errorf("typo: %v %s", err, errOut)
	}
	if _, errOut, err := runFerry(t, "status", "--token", ""); err != exitError(1) || !strings.Contains(errOut, "no API token") {
		t.Errorf("no token: %v %s", err, errOut)
	}
	if _, errOut, err := runFerry(t, "status", "--bogus"); err != exitError(2) || !strings.Contains(errOut, "unknown flag --bogus") {
		t.Errorf("bad flag: %v %s", err, errOut)
	}
	if out, _, err := runFerry(t, "help", "deploy"); err != nil || !strings.Contains(out, "usage: deploy <project> [<ref>] to <env>") {
		t.Errorf("help deploy: %v %s", err, out)
	}
}
