// Package kubernetes is the kubernetes target: it deploys a release to a
// Deployment, StatefulSet or DaemonSet through the Kubernetes API
// (k8s.io/client-go), the way TarsCloud's K8SFramework manages services:
// deploy, canary, rollback, scale, restart, config change and runtime
// status, with pod failure reasons shown in chat.
//
// A deploy sets the container image from a template over the release, or
// applies the repository's manifests with server-side apply, and annotates
// the object and its pod template with the deploy ID, requester, commit and
// release. It follows the rollout through informers (watches, not polls)
// until the controller reports it complete, or no pod becomes ready for
// the progress deadline.
//
// The units of the pipeline are replica slots, so the environment's
// batches map onto the object's own rollout controls:
//
//   - Deployment: units are "<name>/1" … "<name>/N". A batch that is not
//     the last resumes the rollout with maxSurge sized so that the new
//     ReplicaSet grows to the batch's cumulative size and maxUnavailable
//     0, then pauses the Deployment as soon as the new ReplicaSet has that
//     size, before any new pod is ready, so the controller cannot go
//     further. The old pods keep serving while the canary bakes. The last
//     batch restores the Deployment's own strategy and resumes it.
//   - StatefulSet: units are its pods, highest ordinal first, and a batch
//     sets the rolling update partition.
//   - DaemonSet: the DaemonSet is one unit: it rolls out to every node at
//     once, and the card shows each node's pod.
//
// What a batch changed is saved in the annotation ferry.dev/rollout on the
// object (the release, what ran before, the strategy to restore), so every
// step can be repeated after ferry restarts. A rollback returns the pod
// template of an earlier revision: the ReplicaSet or ControllerRevision
// whose template carries the release's annotation.
package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"k8s.io/client-go/dynamic"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace"
)

var (
	_ pipeline.Target      = (*Driver)(nil)
	_ pipeline.BatchTarget = (*Driver)(nil)
	_ pipeline.Resumable   = (*Driver)(nil)
	_ pipeline.Scaler      = (*Driver)(nil)
	_ pipeline.Restarter   = (*Driver)(nil)
	_ pipeline.Configurer  = (*Driver)(nil)
	_ pipeline.Reporter    = (*Driver)(nil)
)

// Options are what New takes besides the configuration; the zero value is
// fine.
type Options struct {
	// Clock times ferry's own deadlines; nil means the system clock.
	Clock pipeline.Clock
}

// Driver deploys releases to one object of one environment.
type Driver struct {
	cfg         Config
	kind        string
	project     string
	environment string
	ws          *workspace.Workspace
	client      k8s.Interface
	rest        *rest.Config
	clock       pipeline.Clock
	where       string // the credentials, for errors: "kubeconfig /etc/ferry/kubeconfig (context prod)"

	mu        sync.Mutex
	dyn       dynamic.Interface // manifests only, made on first use
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	manifests map[string][]manifest
}

// New checks cfg and returns a driver for the environment s names. It
// reads the kubeconfig but does not reach the cluster; Preflight does.
func New(cfg Config, s workspace.Setup, o Options) (*Driver, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if s.Project == "" || s.Env == "" {
		return nil, errors.New("kubernetes: Project and Env are required")
	}
	if cfg.Manifests != "" && s.Workspace == nil {
		return nil, errors.New("kubernetes: manifests need a Workspace")
	}
	rc, where, err := restConfig(cfg, s.BaseDir)
	if err != nil {
		return nil, err
	}
	client, err := k8s.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %s: %w", where, err)
	}
	d := &Driver{
		cfg: cfg, kind: cfg.kind(), project: s.Project, environment: s.Env, ws: s.Workspace,
		client: client, rest: rc, clock: o.Clock, where: where,
		manifests: map[string][]manifest{},
	}
	if d.clock == nil {
		d.clock = pipeline.SystemClock{}
	}
	if d.cfg.LogLines == 0 {
		d.cfg.LogLines = 10
	}
	return d, nil
}

// restConfig reads the credentials cfg names. Its errors name the file and
// context, never what is in them.
func restConfig(cfg Config, baseDir string) (*rest.Config, string, error) {
	var rc *rest.Config
	var where string
	var err error
	if cfg.InCluster {
		where = "in-cluster service account"
		rc, err = rest.InClusterConfig()
	} else {
		path := cfg.Kubeconfig
		if !filepath.IsAbs(path) {
			path = filepath.Join(baseDir, path)
		}
		where = "kubeconfig " + path
		if cfg.Context != "" {
			where += " (context " + cfg.Context + ")"
		}
		rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: path}
		overrides := &clientcmd.ConfigOverrides{CurrentContext: cfg.Context}
		rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	}
	if err != nil {
		return nil, where, fmt.Errorf("kubernetes: %s: %w", where, err)
	}
	rc.UserAgent = "ferry"
	// A rollout is a handful of requests; the default 5 per second only
	// delays the pause that has to win a race with the controller.
	rc.QPS, rc.Burst = 50, 100
	if cfg.WrapTransport != nil {
		rc.Wrap(cfg.WrapTransport)
	}
	return rc, where, nil
}

// Resumable reports that every step can be repeated after a crash: each
// is a patch to a state the object records.
func (d *Driver) Resumable() bool { return true }

// Units lists the replica slots of a Deployment ("api/1" … "api/N"), the
// pods of a StatefulSet from the highest ordinal down to its partition,
// or the DaemonSet itself. An object that does not exist yet, or has no
// replicas, is one unit named after it: its first deploy creates it.
func (d *Driver) Units(ctx context.Context) ([]string, error) {
	obj, err := d.get(ctx)
	if isNotFound(err) && d.cfg.Manifests != "" {
		return []string{d.cfg.Name}, nil
	}
	if err != nil {
		return nil, err
	}
	return unitsOf(obj), nil
}

// Build renders the release's image, or checks the commit out and renders
// its manifests, once.
func (d *Driver) Build(ctx context.Context, r pipeline.Release, log pipeline.StepLog) error {
	if d.cfg.Manifests != "" {
		ms, err := d.build(ctx, r, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(log, "%d object(s) from %s\n", len(ms), d.cfg.Manifests)
		return nil
	}
	img, err := d.image(r)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "image %s\n", img)
	return nil
}

// Install rolls r out to the whole object; the engine calls InstallBatch
// instead, and this is here for callers that go unit by unit.
func (d *Driver) Install(ctx context.Context, unit string, r pipeline.Release, log pipeline.StepLog) (string, error) {
	prev, failed, err := d.InstallBatch(ctx, r, wholeBatch(unit, log))
	if err == nil {
		err = failed[unit]
	}
	return prev, err
}

// Activate returns the whole object to release, as ActivateBatch does.
func (d *Driver) Activate(ctx context.Context, unit, release string, log pipeline.StepLog) error {
	return d.ActivateBatch(ctx, release, wholeBatch(unit, log))
}

func wholeBatch(unit string, log pipeline.StepLog) pipeline.Batch {
	return pipeline.Batch{Units: []string{unit}, Log: func(string) pipeline.StepLog { return log }}
}

// image is the image release r runs.
func (d *Driver) image(r pipeline.Release) (string, error) {
	img, err := render("image", d.cfg.Image, releaseOf(r))
	if err != nil {
		return "", fmt.Errorf("kubernetes: image: %w", err)
	}
	if !imageRef.MatchString(img) {
		return "", fmt.Errorf("kubernetes: %w: image %q of release %s (version %s) is not an image reference; an image tag takes letters, digits, '.', '_' and '-': use {{.Tag}} for branch versions like main@1a2b3c4",
			pipeline.ErrInvalid, img, r.ID, r.Version)
	}
	return img, nil
}

func releaseOf(r pipeline.Release) release {
	short := r.Commit
	if len(short) > 7 {
		short = short[:7]
	}
	return release{Version: r.Version, Tag: tagOf(r.Version), Commit: r.Commit, ShortCommit: short,
		Ref: r.Ref, Release: r.ID, Project: r.Project, Env: r.Env}
}

// slot is the number of a Deployment's unit "<name>/<n>"; 0 for others.
func slot(unit string) int {
	_, n, ok := strings.Cut(unit, "/")
	if !ok {
		return 0
	}
	i, _ := strconv.Atoi(n)
	return i
}
