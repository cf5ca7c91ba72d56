package forge

// Repo names a repository as the forge showed it. Its URLs let ferry match
// it against the repo: of a configured project, however that was written.
type Repo struct {
	FullName string // owner/name
	CloneURL string // https://host/owner/name.git
	SSHURL   string // git@host:owner/name.git
	HTMLURL  string // https://host/owner/name
}

// Push is a ref that moved: a branch or tag created, updated or deleted.
type Push struct {
	Repo    Repo
	Ref     string // full: refs/heads/main, refs/tags/v1.2.0
	Before  string // the commit the ref pointed at; all zeros when created
	After   string // the commit it points at now; all zeros when deleted
	Deleted bool
	Pusher  string // the forge login of whoever pushed
}

// PullRequestAction is what happened to a pull request.
type PullRequestAction string

// The pull request actions ferry acts on.
const (
	PROpened    PullRequestAction = "opened"
	PRUpdated   PullRequestAction = "synchronize" // new commits on its head
	PRClosed    PullRequestAction = "closed"      // see Merged
	PRReopened  PullRequestAction = "reopened"
	PRLabeled   PullRequestAction = "labeled"
	PRUnlabeled PullRequestAction = "unlabeled"
)

// PullRequest is an event on a pull (merge) request.
type PullRequest struct {
	Repo     Repo
	Number   int
	Action   PullRequestAction
	Head     string // the head branch
	HeadRepo string // owner/name of the head branch's repository: another one for a fork
	HeadSHA  string
	Base     string // the branch it merges into
	Merged   bool   // with PRClosed: merged rather than abandoned
	Label    string // with PRLabeled and PRUnlabeled: the label
	Labels   []string
	Sender   User // who caused the event
	Open     bool // the pull request is open
}

// Comment is a new comment on a pull request.
type Comment struct {
	Repo   Repo
	Number int // of the pull request
	ID     int64
	Body   string
	Author User
	Open   bool // the pull request is open
}

// Review is a submitted review of a pull request.
type Review struct {
	Repo     Repo
	Number   int
	Head     string // the pull request's head branch
	HeadSHA  string // the commit reviewed
	State    string // ReviewApproved, changes_requested, commented
	Reviewer User
}

// ReviewApproved is the state of a review that approves: on GitLab, an
// approval of the merge request.
const ReviewApproved = "approved"
