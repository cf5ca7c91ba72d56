package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ferrybot/ferry/pipeline"
)

// fieldManager names ferry in the managed fields of what it changes.
const fieldManager = "ferry"

// get reads the object.
func (d *Driver) get(ctx context.Context) (object, error) {
	apps := d.client.AppsV1()
	ns, name := d.cfg.Namespace, d.cfg.Name
	var obj object
	var err error
	switch d.kind {
	case KindDeployment:
		obj, err = apps.Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	case KindStatefulSet:
		obj, err = apps.StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
	default:
		obj, err = apps.DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return nil, d.apiError("get", err)
	}
	return obj, nil
}

// patch applies a patch to the object and returns it as it is now.
func (d *Driver) patch(ctx context.Context, pt types.PatchType, data []byte) (object, error) {
	apps := d.client.AppsV1()
	ns, name := d.cfg.Namespace, d.cfg.Name
	opts := metav1.PatchOptions{FieldManager: fieldManager}
	var obj object
	var err error
	switch d.kind {
	case KindDeployment:
		obj, err = apps.Deployments(ns).Patch(ctx, name, pt, data, opts)
	case KindStatefulSet:
		obj, err = apps.StatefulSets(ns).Patch(ctx, name, pt, data, opts)
	default:
		obj, err = apps.DaemonSets(ns).Patch(ctx, name, pt, data, opts)
	}
	if err != nil {
		return nil, d.apiError("patch", err)
	}
	return obj, nil
}

// what names the object in messages: "deployment prod/api".
func (d *Driver) what() string {
	return strings.ToLower(d.kind) + " " + d.cfg.Namespace + "/" + d.cfg.Name
}

// apiError wraps an error of the API server as "kubernetes: <op> <object>:
// ...", with the pipeline's sentinel for what people can act on: missing
// objects, missing permissions, conflicts and invalid values. The API
// server's messages carry no credentials.
func (d *Driver) apiError(op string, err error) error {
	var sentinel error
	switch {
	case apierrors.IsNotFound(err):
		sentinel = pipeline.ErrNotFound
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		sentinel = pipeline.ErrForbidden
	case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		sentinel = pipeline.ErrConflict
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		sentinel = pipeline.ErrInvalid
	}
	if apierrors.IsUnauthorized(err) {
		err = fmt.Errorf("%w (the credentials of %s were refused)", err, d.where)
	}
	if sentinel == nil {
		return fmt.Errorf("kubernetes: %s %s: %w", op, d.what(), err)
	}
	return &apiErr{msg: fmt.Sprintf("kubernetes: %s %s: %v", op, d.what(), err), sentinel: sentinel, err: err}
}

// apiErr is an error of the API server that people can act on.
type apiErr struct {
	msg      string
	sentinel error
	err      error
}

func (e *apiErr) Error() string   { return e.msg }
func (e *apiErr) Unwrap() []error { return []error{e.sentinel, e.err} }

func isNotFound(err error) bool { return err != nil && apierrors.IsNotFound(err) }

var errDeleted = errors.New("the object was deleted while ferry was rolling it out")
