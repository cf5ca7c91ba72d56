package pipeline

import (
	"context"
	"io"
	"strings"
	"time"
)

// Release is what a target installs: one version of one project, built once.
type Release struct {
	ID       string // the deploy ID that built it; its directory is Dir
	DeployID int64
	Project  string
	Env      string
	Repo     string // git URL or local path
	Ref      string
	Commit   string
	Version  string
	// Requester is who asked for the deploy, for targets that annotate
	// what they change with it.
	Requester string
}

// Dir names release r's directory on a host: the deploy that built it and
// its short commit, so that deploy 1 of a new database never lands in the
// directory deploy 1 of an older one left.
func (r Release) Dir() string {
	return r.ID + "-" + strings.ToLower(r.Commit[:min(7, len(r.Commit))])
}

// ReleaseOfDir is the release a directory named by Release.Dir holds: the
// part before the first dash (all of it for a directory named by the
// release alone, as ferry named them before).
func ReleaseOfDir(dir string) string {
	id, _, _ := strings.Cut(dir, "-")
	return id
}

// ReleasesOfDirs is ReleaseOfDir of each directory.
func ReleasesOfDirs(dirs []string) []string {
	out := make([]string, len(dirs))
	for i, dir := range dirs {
		out[i] = ReleaseOfDir(dir)
	}
	return out
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

// BatchTarget is a Target whose units move together rather than one by
// one: a Kubernetes rollout moves a number of replicas, not named hosts.
// When a target implements it, the engine moves each batch of the plan
// with one InstallBatch instead of an Install and a Check per unit, and
// returns the units of a rollback with one ActivateBatch instead of an
// Activate per unit. Check is still called per unit after a bake. Like
// every Target method, both must be safe to call again after a crash.
type BatchTarget interface {
	Target
	// InstallBatch makes r current on b.Units, and keeps it on the units
	// of earlier batches. It returns the release the environment ran
	// before the deploy ("" for none) and the units that failed, with
	// why; a unit not in failed is healthy on r. An error fails every
	// unit of b.
	InstallBatch(ctx context.Context, r Release, b Batch) (previous string, failed map[string]error, err error)
	// ActivateBatch makes release current again on b.Units and waits
	// until they are healthy on it.
	ActivateBatch(ctx context.Context, release string, b Batch) error
}

// Batch is the part of a rollout one call of a BatchTarget moves.
type Batch struct {
	// Units are the units to move, in plan order; units an earlier try
	// finished are left out.
	Units []string
	// Upto is how many units of the plan run the release once the batch
	// is done, counting earlier batches; Total is every unit of the plan.
	Upto, Total int
	// Log is the output of one of Units; "" names the batch's own log.
	// A unit's Step is shown as its progress.
	Log func(unit string) StepLog
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
	// ResolveAt is the commit of ref that an event saw, whatever ref
	// points at now: commit (a whole hash; for a tag, the tag object or
	// its commit), fetched and checked to belong to ref, that is,
	// reachable from the branch or pointed at by the tag. One that cannot
	// be fetched is an error wrapping ErrNotFound; one that does not
	// belong to ref, ErrConflict.
	ResolveAt(ctx context.Context, repo, ref, commit string) (Commit, error)
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
