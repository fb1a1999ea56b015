package registry

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Remover removes the engine object behind a mirror, synchronously, and then
// the mirror itself (the engine side is the only writer of mirrors, so that a
// watcher sees exactly one DELETED). Its errors are engine errors (or API
// status errors), turned into API statuses by StatusError: Conflict when the
// engine refuses because the object is in use, Unavailable while it is not
// connected; a mirror whose object the engine no longer has is simply removed.
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
	if opts == nil {
		opts = &metav1.DeleteOptions{}
	}
	// Validates the options and applies the preconditions (uid,
	// resourceVersion). Nothing is ever left terminating: mirrors have no
	// graceful deletion.
	if _, _, err := rest.BeforeDelete(d.Store.DeleteStrategy, ctx, obj, opts); err != nil {
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
		return nil, false, StatusError(err, d.Store.DefaultQualifiedResource, name)
	}
	return obj, true, nil
}
