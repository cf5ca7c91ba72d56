package kubernetes

import (
	"context"
	"fmt"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrybot/ferry/pipeline"
)

// permission is one thing ferry does to the cluster.
type permission struct {
	verb, group, resource, subresource, name string
	optional                                 string // why ferry can do without it; "" when it cannot
}

func (p permission) String() string {
	r := p.resource
	if p.group != "" {
		r += "." + p.group
	}
	if p.subresource != "" {
		r += "/" + p.subresource
	}
	if p.name != "" {
		r += fmt.Sprintf(" %q", p.name)
	}
	return p.verb + " " + r
}

// permissions are what the target needs: the least privilege the README's
// Role grants.
func (d *Driver) permissions() []permission {
	resource := map[string]string{KindDeployment: "deployments", KindStatefulSet: "statefulsets", KindDaemonSet: "daemonsets"}[d.kind]
	ps := []permission{
		{verb: "get", group: "apps", resource: resource, name: d.cfg.Name},
		{verb: "patch", group: "apps", resource: resource, name: d.cfg.Name},
		{verb: "list", group: "apps", resource: resource, name: d.cfg.Name},
		{verb: "watch", group: "apps", resource: resource, name: d.cfg.Name},
		{verb: "list", resource: "pods"},
		{verb: "watch", resource: "pods"},
		{verb: "list", resource: "events", optional: "failures are shown without their events"},
		{verb: "get", resource: "pods", subresource: "log", optional: "failures are shown without container logs"},
	}
	switch d.kind {
	case KindDeployment:
		ps = append(ps, permission{verb: "list", group: "apps", resource: "replicasets"}, permission{verb: "watch", group: "apps", resource: "replicasets"})
	default:
		ps = append(ps, permission{verb: "list", group: "apps", resource: "controllerrevisions"}, permission{verb: "watch", group: "apps", resource: "controllerrevisions"})
	}
	if d.kind == KindStatefulSet {
		ps = append(ps, permission{verb: "delete", resource: "pods", optional: "a rollback waits for broken pods to be deleted by hand"})
	}
	if d.cfg.Manifests != "" {
		ps = append(ps, permission{verb: "create", group: "apps", resource: resource, optional: "a first deploy cannot create the object"})
	}
	if d.cfg.ConfigMap != "" {
		ps = append(ps, permission{verb: "patch", resource: "configmaps", name: d.cfg.ConfigMap})
	}
	return ps
}

// Preflight asks the API server, with a SelfSubjectAccessReview each,
// whether ferry's credentials may do what the target needs. It fails
// naming every permission that is missing and the user that lacks it;
// permissions ferry can do without are returned as warnings.
func (d *Driver) Preflight(ctx context.Context) (warnings []string, err error) {
	var missing []string
	for _, p := range d.permissions() {
		r, err := d.client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: d.cfg.Namespace, Verb: p.verb, Group: p.group, Resource: p.resource, Subresource: p.subresource, Name: p.name,
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, d.apiError("check access to", err)
		}
		switch {
		case r.Status.Allowed:
		case p.optional != "":
			warnings = append(warnings, fmt.Sprintf("%s in namespace %s is not allowed, so %s", p, d.cfg.Namespace, p.optional))
		default:
			missing = append(missing, p.String())
		}
	}
	if len(missing) > 0 {
		return warnings, fmt.Errorf("kubernetes: %w: %s may not %s in namespace %s; grant them with the Role in ferry's README (Kubernetes)",
			pipeline.ErrForbidden, d.user(ctx), strings.Join(missing, ", "), d.cfg.Namespace)
	}
	return warnings, nil
}

// user names who ferry's credentials are, as the API server sees them.
func (d *Driver) user(ctx context.Context) string {
	r, err := d.client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil || r.Status.UserInfo.Username == "" {
		return "the user of " + d.where
	}
	return fmt.Sprintf("user %s (%s)", r.Status.UserInfo.Username, d.where)
}
