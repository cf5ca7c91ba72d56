package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// wideServer is testdata/repo/ferry.yaml with every key a repository may
// set allowed.
const wideServer = `
github:
  webhook_secret: s
  token: t
  repo_config:
    allow:
      - environments.*.branches
      - environments.*.tags
      - environments.*.default_ref
      - environments.*.auto
      - environments.*.strategy.*
      - environments.*.approvals.required
users:
  alice: {teams: [ops]}
  bob: {teams: [ops]}
  carol: {}
teams:
  ops: {}
projects:
  hello:
    repo: Codertocat/Hello-World
    environments:
      staging: {branches: ['^master$', '^release-'], auto: true, target: {type: local}}
      prod:
        tags: ['^v']
        target: {type: local}
        approvals: {required: 1, from: [ops]}
        deployers: [ops]
      preview: {branches: ['^patch-'], optional: true, target: {type: local}}
`

// FuzzRepoProject: whatever a repository's .ferry.yaml holds, reading it
// ends, soon, twice the same, with Problems of the file in line order or with
// the project narrowed: its environments those of ferry.yaml, none
// widened (pipeline.Narrows), none it needs left out, and no ${VAR}
// expanded. The repository's file is under ferry's policy (wide: every key
// allowed), or under testdata/repo/ferry.yaml's.
func FuzzRepoProject(f *testing.F) {
	f.Setenv("FERRY_TEST_SECRET", fuzzSecret)
	narrow, err := Load(filepath.Join("testdata", "repo", "ferry.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	wide, err := Parse("ferry.yaml", []byte(wideServer), f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	p, _ := wide.Project("hello")
	for _, seed := range seeds(f, filepath.Join("testdata", "repo"), ".ferry.yaml") {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, all bool) {
		cfg := narrow
		if all {
			cfg = wide
		}
		start := time.Now()
		got, err := cfg.RepoRules("github").RepoProject(p, RepoFile, data)
		quick(t, start, len(data))
		again, err2 := cfg.RepoRules("github").RepoProject(p, RepoFile, data)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() || !reflect.DeepEqual(got, again) {
			t.Fatalf("two reads differ:\n%v\n%v\n----\n%v\n%v", got, err, again, err2)
		}
		if err != nil {
			checkProblems(t, data, RepoFile, err)
			return
		}
		seen := map[string]bool{}
		for _, e := range got.Envs {
			configured, ok := p.Env(e.Name)
			switch {
			case !ok || seen[e.Name]:
				t.Fatalf("environment %s is not one of ferry.yaml's, or twice", e.Name)
			case pipeline.Narrows(e, configured) != nil:
				t.Fatalf("%s widens ferry.yaml: %v", e.Name, pipeline.Narrows(e, configured))
			}
			seen[e.Name] = true
			for _, re := range append(append([]*regexp.Regexp(nil), e.Branches...), e.Tags...) {
				if strings.Contains(re.String(), fuzzSecret) {
					t.Fatalf("rule %s of %s holds a variable's value", re, e.Name)
				}
			}
		}
		for _, e := range p.Envs {
			if !e.Optional && !seen[e.Name] {
				t.Fatalf("environment %s of ferry.yaml is left out: %v", e.Name, got.EnvNames())
			}
		}
	})
}

// seeds are the files of dir whose names end in ext.
func seeds(f *testing.F, dir, ext string) [][]byte {
	f.Helper()
	var out [][]byte
	names, _ := filepath.Glob(filepath.Join(dir, "*"+ext))
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, data)
	}
	if len(out) == 0 {
		f.Fatalf("no seeds in %s", dir)
	}
	return out
}

// TestRepoFileCost: a .ferry.yaml, which anyone who may open a pull
// request writes, costs ferry little to read whatever it holds. Each of
// these took from seconds to forever (an anchor that merges itself) and
// gigabytes before its fix.
func TestRepoFileCost(t *testing.T) {
	cfg, p := repoServer(t)
	laughs := "x-0: &a0 {k: v}\n"
	for i := 1; i <= 9; i++ {
		laughs += fmt.Sprintf("x-%d: &a%d {<<: [%s]}\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
	}
	laughs += "environments: {staging: {<<: *a9}}\n"
	rules := func(n int, rule string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "'%s%d', ", rule, i)
		}
		return b.String()
	}
	for _, c := range []struct {
		name, file, want string
	}{
		{"an anchor that merges itself", "environments: &e\n  <<: *e\n", "holds an alias of itself"},
		{"a merge in a list of itself", "environments: {staging: {<<: &l [*l]}}\n", "holds an alias of itself"},
		{"merges of merges", laughs, "anchors that use anchors multiply"},
		{"thousands of rules", "environments:\n  staging: {branches: [" + rules(2000, "a") + "]}\n  prod: {branches: [" + rules(2000, "b") + "]}\n",
			"a .ferry.yaml holds at most 32"},
		{"nested repetitions", "environments:\n  staging: {branches: ['(((a.){10}){10}){10}']}\n  prod: {branches: [" + rules(16, "(((b.){10}){10}){10}") + "]}\n", ""},
		{"long rules", "environments:\n  staging: {branches: ['^" + strings.Repeat("a.", 2000) + "$']}\n  prod: {branches: [" + rules(16, "^b"+strings.Repeat("[a-z]", 600)) + "]}\n", ""},
	} {
		start := time.Now()
		_, err := cfg.RepoRules("github").RepoProject(p, RepoFile, []byte(c.file))
		took := time.Since(start)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v; want a problem saying %q", c.name, err, c.want)
		case took > 5*time.Second: // each takes well under a second
			t.Errorf("%s (%d bytes): read in %v", c.name, len(c.file), took)
		}
	}
}
