package registry

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Remover removes the engine object behind a mirror, synchronously, and then
// the mirror itself (the engine side is the only writer of mirrors, so that a
// watcher sees exactly one DELETED). Its errors are API status errors: 409
// when the engine refuses because the object is in use, 503 while the engine
// is not connected; a mirror whose object the engine no longer has is simply
// removed.
type Remover func(ctx context.Context, obj runtime.Object) error

// Deletable is a mirrored resource that users may delete: the delete removes
// the engine object (as `docker rm -f`, `docker rmi`, `docker volume rm`) and
// returns once it and its mirror are gone. Nothing is ever left terminating.
type Deletable struct {
	*ReadOnly
	Remove Remover
}

var _ rest.GracefulDeleter = &Deletable{}

// Delete checks the object (admission, preconditions), then removes it.
func (d *Deletable) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, opts *metav1.DeleteOptions) (runtime.Object, bool, error) {
	obj, err := d.Store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, false, err
	}
	if err := checkPreconditions(d.Store.DefaultQualifiedResource, name, obj, opts); err != nil {
		return nil, false, err
	}
	if deleteValidation != nil {
		if err := deleteValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, false, err
		}
	}
	if opts != nil && len(opts.DryRun) > 0 {
		return obj, true, nil
	}
	if err := d.Remove(ctx, obj); err != nil {
		return nil, false, err
	}
	return obj, true, nil
}

// checkPreconditions applies DeleteOptions.Preconditions (uid, resourceVersion).
func checkPreconditions(resource schema.GroupResource, name string, obj runtime.Object, opts *metav1.DeleteOptions) error {
	if opts == nil || opts.Preconditions == nil {
		return nil
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	p := opts.Preconditions
	if p.UID != nil && *p.UID != m.GetUID() {
		return apierrors.NewConflict(resource, name,
			fmt.Errorf("the UID in the precondition (%s) does not match the UID in the object (%s); the object may have been re-created", *p.UID, m.GetUID()))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
		return apierrors.NewConflict(resource, name,
			fmt.Errorf("the resourceVersion in the precondition (%s) does not match the object's (%s)", *p.ResourceVersion, m.GetResourceVersion()))
	}
	return nil
}
