package pipeline_test

import (
	"testing"

	"github.com/ferrybot/ferry/pipeline"
)

func TestShowRepo(t *testing.T) {
	for _, c := range []struct {
		repo, shown string
		local       bool
	}{
		{"https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/acme/demo.git", "https://github.com/acme/demo.git", false},
		{"https://x-access-token:ghs_abc@github.com/acme/demo.git", "https://github.com/acme/demo.git", false},
		{"https://ferry:s3cret@git.example.com:8443/acme/demo.git?private_token=t0ken#x", "https://git.example.com:8443/acme/demo.git", false},
		{"ssh://git@github.com/acme/demo.git", "ssh://github.com/acme/demo.git", false},
		{"git@github.com:acme/demo.git", "github.com:acme/demo.git", false},
		{"deploy:pw@git.example.com:acme/demo.git", "git.example.com:acme/demo.git", false},
		{"github.com:acme/demo.git", "github.com:acme/demo.git", false},
		{"/srv/git/demo.git", "demo.git", true},
		{"/srv/git/demo/", "demo", true},
		{"repos/demo", "demo", true},
		{"./a:b", "a:b", true},
		{"file:///srv/git/demo.git", "demo.git", true},
		{"", "", true},
	} {
		if got := pipeline.ShowRepo(c.repo); got != c.shown {
			t.Errorf("ShowRepo(%q) = %q, want %q", c.repo, got, c.shown)
		}
		if got := pipeline.RepoIsLocal(c.repo); got != c.local {
			t.Errorf("RepoIsLocal(%q) = %v, want %v", c.repo, got, c.local)
		}
	}
}

func TestScrubRepo(t *testing.T) {
	for _, c := range []struct{ text, repo, want string }{
		{"fatal: unable to access 'https://ghp_abc@github.com/acme/demo.git/': 403", "https://ghp_abc@github.com/acme/demo.git",
			"fatal: unable to access 'https://github.com/acme/demo.git/': 403"},
		{"remote: Repository not found. fatal: repository 'https://u:p@h/x.git/' not found", "https://other@h/y.git",
			"remote: Repository not found. fatal: repository 'https://h/x.git/' not found"},
		{"fatal: '/srv/git/demo.git' does not appear to be a git repository", "/srv/git/demo.git",
			"fatal: 'demo.git' does not appear to be a git repository"},
		{"Permission denied (publickey).", "git@github.com:acme/demo.git", "Permission denied (publickey)."},
	} {
		if got := pipeline.ScrubRepo(c.text, c.repo); got != c.want {
			t.Errorf("ScrubRepo(%q, %q) = %q, want %q", c.text, c.repo, got, c.want)
		}
	}
}
