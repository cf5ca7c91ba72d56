package pipeline

import (
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
)

// A project's repository is written as git takes it: a URL
// (https://host/owner/name.git, ssh://git@host/owner/name.git), an
// scp-like address (git@host:owner/name.git) or a path on the ferry host.
// A URL may carry a password or a token (https://ghp_…@host/…), which is
// the user part of the URL, and a path says how the ferry host's disks are
// laid out. Neither is anyone's business but ferry's: ShowRepo is the one
// way a repository is shown, in logs, deploy logs, replies and errors.

// RepoIsLocal reports whether repo is a path on the ferry host rather than
// a URL or an scp-like address, telling them apart as git does: an address
// with "://" is a URL (file:// ones are paths), and one with a colon before
// any slash is scp-like ([user@]host:path).
func RepoIsLocal(repo string) bool {
	repo = strings.TrimSpace(repo)
	if i := strings.Index(repo, "://"); i >= 0 {
		return strings.EqualFold(repo[:i], "file")
	}
	colon := strings.Index(repo, ":")
	return colon <= 0 || strings.Contains(repo[:colon], "/")
}

// ShowRepo is repo as ferry shows it to anyone: a URL without its user
// part (a token or user:password), query or fragment; an scp-like address
// without its user; a local path as its last element only, with no
// directory of the ferry host.
func ShowRepo(repo string) string {
	repo = strings.TrimSpace(repo)
	switch {
	case repo == "":
		return ""
	case RepoIsLocal(repo):
		p := repo
		if i := strings.Index(p, "://"); i >= 0 {
			p = p[i+3:]
		}
		return filepath.Base(filepath.Clean(p))
	case strings.Contains(repo, "://"):
		u, err := url.Parse(repo)
		if err != nil {
			return userInURL.ReplaceAllString(repo, "$1")
		}
		u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
		return u.String()
	}
	host, _, _ := strings.Cut(repo, "/")
	if at := strings.LastIndex(host, "@"); at >= 0 {
		return repo[at+1:] // git@host:path
	}
	return repo
}

// userInURL is the user part of a URL in text: scheme://user[:password]@.
var userInURL = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s'"]*@`)

// ScrubRepo replaces repo, wherever text writes it, with ShowRepo(repo),
// and drops the user part of any other URL in text; for what git says,
// which echoes the address it was given.
func ScrubRepo(text, repo string) string {
	if repo = strings.TrimSpace(repo); repo != "" {
		text = strings.ReplaceAll(text, repo, ShowRepo(repo))
	}
	return userInURL.ReplaceAllString(text, "$1")
}
