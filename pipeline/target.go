package pipeline

import (
	"context"
	"io"
	"time"
)

// Release is what a target installs: one version of one project, built once.
type Release struct {
	ID       string // the release directory name (the deploy ID that built it)
	DeployID int64
	Project  string
	Env      string
	Repo     string // git URL or local path
	Ref      string
	Commit   string
	Version  string
}

// StepLog receives a unit's output and the name of each step it starts.
type StepLog interface {
	io.Writer
	Step(name string)
}

// Target applies releases to the units (hosts, pods, directories) of one
// environment. targets/local, targets/ssh and targets/kubernetes implement it.
// Every method must be safe to call again after a crash: the engine resumes
// a deploy by repeating the step it was on.
type Target interface {
	// Units lists the units of the environment, in a stable order.
	Units(ctx context.Context) ([]string, error)
	// Build prepares the release once for every unit (checkout, build).
	Build(ctx context.Context, r Release, log StepLog) error
	// Install puts the built release on one unit and makes it current,
	// returning the release the unit ran before ("" for none).
	Install(ctx context.Context, unit string, r Release, log StepLog) (previous string, err error)
	// Activate makes a release the unit already has current again;
	// release "" means no release is current.
	Activate(ctx context.Context, unit, release string, log StepLog) error
	// Check runs the health check of one unit.
	Check(ctx context.Context, unit string, log StepLog) error
}

// Resumable is implemented by targets whose steps can be repeated after ferry
// was killed in the middle of one. A running deploy on any other target is
// marked interrupted at restart, with Resume and Rollback offered.
type Resumable interface {
	Resumable() bool
}

// Resolver turns a ref a person typed into a commit.
type Resolver interface {
	Resolve(ctx context.Context, repo, ref string) (Commit, error)
}

// Commit is a resolved ref.
type Commit struct {
	Hash   string
	Tag    string // set when the ref is a tag
	Branch string // set when the ref is a branch
	// Time is the commit's committer time; zero when the resolver could
	// not tell.
	Time time.Time
}
