package config

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ferrybot/ferry/internal/golden"
	"github.com/ferrybot/ferry/pipeline"
)

// repoServer is testdata/repo/ferry.yaml and its project hello.
func repoServer(t *testing.T) (*Config, pipeline.Project) {
	t.Helper()
	cfg, err := Load(filepath.Join("testdata", "repo", "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := cfg.Project("hello")
	return cfg, p
}

func readRepoFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "repo", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRepoProject(t *testing.T) {
	t.Setenv("FERRY_TEST_SECRET", "not-for-repositories")
	cfg, p := repoServer(t)

	none, err := cfg.RepoRules("github").RepoProject(p, RepoFile, nil)
	if err != nil || strings.Join(none.EnvNames(), " ") != "staging prod" {
		t.Fatalf("without a file: %v, %v; want staging and prod, not the optional preview", none.EnvNames(), err)
	}

	got, err := cfg.RepoRules("github").RepoProject(p, RepoFile, readRepoFile(t, "good.ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if names := strings.Join(got.EnvNames(), " "); names != "staging prod preview" {
		t.Fatalf("environments %s; want staging prod preview", names)
	}
	staging, _ := got.Env("staging")
	if rules := joinRegex(staging.Branches); rules != `^master$, ${FERRY_TEST_SECRET}` {
		t.Errorf("staging branches %s; want the file's, with ${VAR} as written", rules)
	}
	if s := staging.Strategy; len(s.Batches) != 2 || s.Continue != pipeline.ContinueManual || !staging.Auto {
		t.Errorf("staging = %+v; want its strategy narrowed and auto kept", staging)
	}
	for _, e := range got.Envs {
		configured, _ := p.Env(e.Name)
		if err := pipeline.Narrows(e, configured); err != nil {
			t.Errorf("%s: %v", e.Name, err)
		}
	}
	if prod, _ := got.Env("prod"); prod.Approvals.Required != 2 {
		t.Errorf("prod needs %d approvals, want 2", prod.Approvals.Required)
	}

	// Without repo_config the file is not read.
	off := *cfg
	off.GitHub.RepoConfig = nil
	if got, err := off.RepoRules("github").RepoProject(p, RepoFile, readRepoFile(t, "bad.ferry.yaml")); err != nil || len(got.Envs) != 2 {
		t.Errorf("without repo_config: %v, %v; want the configured environments", got.EnvNames(), err)
	}
}

// TestRepoProblems writes the problems of each refused .ferry.yaml of
// testdata/repo to its .golden file.
func TestRepoProblems(t *testing.T) {
	cfg, p := repoServer(t)
	for _, name := range []string{"bad", "toomany", "overlap", "refs", "syntax"} {
		t.Run(name, func(t *testing.T) {
			_, err := cfg.RepoRules("github").RepoProject(p, RepoFile, readRepoFile(t, name+".ferry.yaml"))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("RepoProject = %v; want Problems", err)
			}
			golden.CheckString(t, filepath.Join("testdata", "repo", name+".golden"), err.Error()+"\n")
		})
	}
	big := []byte("environments: {}\n" + strings.Repeat("# padding\n", 7000))
	if _, err := cfg.RepoRules("github").RepoProject(p, RepoFile, big); err == nil || !strings.Contains(err.Error(), "ferry reads a .ferry.yaml of at most 65536") {
		t.Errorf("a 70 KB file: %v", err)
	}
}

func joinRegex(rs []*regexp.Regexp) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.String())
	}
	return strings.Join(s, ", ")
}
