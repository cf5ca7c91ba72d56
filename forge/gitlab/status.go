package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/pipeline"
)

// statusState is GitLab's state of a commit status in forge's state:
// a failure is failed, and an error (a deploy denied, rejected, expired or
// cancelled, a .ferry.yaml refused) canceled.
func statusState(s forge.StatusState) gitlab.BuildStateValue {
	switch s {
	case forge.StatusRunning:
		return gitlab.Running
	case forge.StatusSuccess:
		return gitlab.Success
	case forge.StatusFailure:
		return gitlab.Failed
	case forge.StatusError:
		return gitlab.Canceled
	}
	return gitlab.Pending
}

// SetStatus implements forge.Client with an external commit status of
// the commit, named by st.Context (ferry/staging). GitLab moves a pending
// or running status of that name to the new state, and refuses to move it
// to the state it has (400 "Cannot transition status via :enqueue from
// :pending"): that status is set already, which a notice delivered again
// after a restart meets.
func (c *client) SetStatus(ctx context.Context, r forge.Repo, sha string, st forge.Status) error {
	state := statusState(st.State)
	opt := &gitlab.SetCommitStatusOptions{State: state, Name: &st.Context, Description: &st.Description}
	if st.TargetURL != "" {
		opt.TargetURL = &st.TargetURL
	}
	_, _, err := c.api.Commits.SetCommitStatus(r.FullName, sha, opt, gitlab.WithContext(ctx))
	var er *gitlab.ErrorResponse
	if errors.As(err, &er) && er.StatusCode == http.StatusBadRequest && strings.Contains(er.Message, "Cannot transition status") {
		err = nil
	}
	return c.apiError("set commit status", err)
}

// deploymentStatus is the status of a GitLab deployment for a deploy in
// state s; "" while nothing has run (GitLab's API creates and moves
// deployments to running, success, failed and canceled only, not to
// created). An interrupted deploy is still running: it resumes.
func deploymentStatus(s pipeline.State) gitlab.DeploymentStatusValue {
	switch s {
	case pipeline.StateRunning, pipeline.StatePaused, pipeline.StateRollingBack, pipeline.StateInterrupted:
		return gitlab.DeploymentStatusRunning
	case pipeline.StateSucceeded:
		return gitlab.DeploymentStatusSuccess
	case pipeline.StateFailed, pipeline.StateRolledBack:
		return gitlab.DeploymentStatusFailed
	case pipeline.StateRejected, pipeline.StateExpired, pipeline.StateCancelled, pipeline.StateDenied:
		return gitlab.DeploymentStatusCanceled
	}
	return ""
}

// deploymentRef is what ferry keeps of a GitLab deployment between the
// notices of its deploy (the outbox's ref): "<deployment> <environment>
// <status> <external_url>".
type deploymentRef struct {
	id, env int64
	status  gitlab.DeploymentStatusValue
	url     string // the environment's external_url, as GitLab said it or ferry set it
}

func (d deploymentRef) String() string {
	return fmt.Sprintf("%d %d %s %s", d.id, d.env, d.status, d.url)
}

// parseDeploymentRef reads a deploymentRef; ok is false for "" and for
// what ferry did not write.
func parseDeploymentRef(s string) (deploymentRef, bool) {
	f := strings.SplitN(s, " ", 4)
	if len(f) < 3 {
		return deploymentRef{}, false
	}
	var d deploymentRef
	var err1, err2 error
	d.id, err1 = strconv.ParseInt(f[0], 10, 64)
	d.env, err2 = strconv.ParseInt(f[1], 10, 64)
	d.status = gitlab.DeploymentStatusValue(f[2])
	if len(f) == 4 {
		d.url = f[3]
	}
	return d, err1 == nil && err2 == nil && d.id != 0
}

// maxPending bounds the deployments kept in memory whose notice failed
// after they were created.
const maxPending = 1024

// Deployment implements forge.Client with a GitLab deployment of the
// deploy's commit in its environment (which GitLab creates with the
// first deployment of its name): created when the deploy starts running
// (or ends, if it never ran: not for one that was denied, rejected or
// cancelled before), then moved to each new status; a status it has
// already is not sent again, and a move GitLab's state machine refuses
// (success to running, when a rollback starts) is done. The environment's
// external_url is set to the deploy's environment URL when it differs
// from what GitLab has. A notice that fails after the deployment was
// created keeps it in memory, so that trying it again does not create
// another.
func (c *client) Deployment(ctx context.Context, r forge.Repo, ref string, dep forge.Deployment) (string, error) {
	d := dep.Deploy
	want := deploymentStatus(d.State)
	c.depMu.Lock()
	rec, ok := c.pending[d.ID] // newer than ref, which the outbox keeps only on success
	c.depMu.Unlock()
	if !ok {
		rec, ok = parseDeploymentRef(ref)
	}
	if !ok && (want == "" || want == gitlab.DeploymentStatusCanceled) {
		return ref, nil // nothing ran: GitLab has nothing to show
	}
	var err error
	if !ok {
		if rec, err = c.createDeployment(ctx, r, d, want); err != nil {
			return ref, err
		}
	}
	if err == nil && want != "" && want != rec.status {
		if err = c.updateDeployment(ctx, r, rec.id, want); err == nil {
			rec.status = want
		}
	}
	if err == nil && dep.EnvURL != "" && rec.env != 0 && dep.EnvURL != rec.url {
		_, _, err = c.api.Environments.EditEnvironment(r.FullName, rec.env, &gitlab.EditEnvironmentOptions{ExternalURL: &dep.EnvURL}, gitlab.WithContext(ctx))
		if err = c.apiError("edit environment", err); err == nil {
			rec.url = dep.EnvURL
		}
	}
	c.depMu.Lock()
	defer c.depMu.Unlock()
	if err != nil {
		if _, kept := c.pending[d.ID]; kept || len(c.pending) < maxPending {
			c.pending[d.ID] = rec
		}
		return ref, err
	}
	delete(c.pending, d.ID)
	return rec.String(), nil
}

// createDeployment creates the deployment of a deploy with status want.
func (c *client) createDeployment(ctx context.Context, r forge.Repo, d pipeline.Deploy, want gitlab.DeploymentStatusValue) (deploymentRef, error) {
	name, tag := refOf(d)
	dp, _, err := c.api.Deployments.CreateProjectDeployment(r.FullName, &gitlab.CreateProjectDeploymentOptions{
		Environment: &d.Env, Ref: &name, SHA: &d.Commit, Tag: &tag, Status: &want,
	}, gitlab.WithContext(ctx))
	if err != nil {
		return deploymentRef{}, c.apiError("create deployment", err)
	}
	rec := deploymentRef{id: dp.ID, status: want}
	if dp.Environment != nil {
		rec.env, rec.url = dp.Environment.ID, dp.Environment.ExternalURL
	}
	return rec, nil
}

// updateDeployment moves a deployment to status want; a move GitLab's
// state machine refuses (400, with no more said) is taken as done.
func (c *client) updateDeployment(ctx context.Context, r forge.Repo, id int64, want gitlab.DeploymentStatusValue) error {
	_, _, err := c.api.Deployments.UpdateProjectDeployment(r.FullName, id, &gitlab.UpdateProjectDeploymentOptions{Status: &want}, gitlab.WithContext(ctx))
	var er *gitlab.ErrorResponse
	if errors.As(err, &er) && er.StatusCode == http.StatusBadRequest {
		c.log.InfoContext(ctx, "gitlab: a deployment's status was not moved: GitLab refuses the transition", "platform", platform, "deployment", id, "status", string(want), "err", err)
		return nil
	}
	return c.apiError("update deployment", err)
}

// refOf is the branch or tag a deploy deployed, as GitLab's deployment
// names it (GitLab checks the project has it): the tag of a deploy whose
// version is a tag, the branch of one whose version is branch@commit,
// and otherwise the commit, which GitLab takes as a ref too.
func refOf(d pipeline.Deploy) (string, bool) {
	v := d.Version
	if i := strings.LastIndex(v, "@"); i > 0 {
		return v[:i], false
	}
	if v == "" || strings.HasPrefix(d.Commit, v) {
		return d.Commit, false
	}
	return v, true
}
