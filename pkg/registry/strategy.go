package registry

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"
)

// MirrorStrategy holds the rules genericregistry.Store asks for, for objects
// that only the server writes (mirrors): the API never routes a user write to
// them, so the write hooks do nothing.
type MirrorStrategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

// NewMirrorStrategy returns the strategy for objects only the server writes.
func NewMirrorStrategy(typer runtime.ObjectTyper) MirrorStrategy {
	return MirrorStrategy{typer, names.SimpleNameGenerator}
}

func (MirrorStrategy) NamespaceScoped() bool { return true }

func (MirrorStrategy) PrepareForCreate(context.Context, runtime.Object)                 {}
func (MirrorStrategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}

func (MirrorStrategy) Validate(context.Context, runtime.Object) field.ErrorList { return nil }
func (MirrorStrategy) WarningsOnCreate(context.Context, runtime.Object) []string {
	return nil
}
func (MirrorStrategy) AllowCreateOnUpdate(context.Context) bool      { return false }
func (MirrorStrategy) AllowUnconditionalUpdate(context.Context) bool { return false }
func (MirrorStrategy) Canonicalize(runtime.Object)                   {}

// ValidateUpdate refuses ownership metadata on a mirror. An owner reference
// would let Kubernetes' garbage collector delete the mirror when the owner
// goes, and deleting a mirror removes the Docker object (a Container's delete
// is docker rm -f), so a typo could destroy a user's container. A finalizer
// could never be removed by anyone who understands it, and a mirror that
// Docker removed would stay in the API. Both are refused, not dropped, so the
// client learns at once.
func (MirrorStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	m, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	prev, err := meta.Accessor(old)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	var errs field.ErrorList
	if !equality.Semantic.DeepEqual(m.GetOwnerReferences(), prev.GetOwnerReferences()) {
		errs = append(errs, field.Forbidden(field.NewPath("metadata", "ownerReferences"),
			"this object mirrors a Docker object and cannot have an owner: the garbage collector would delete it, "+
				"and deleting it removes the Docker object"))
	}
	if !equality.Semantic.DeepEqual(m.GetFinalizers(), prev.GetFinalizers()) {
		errs = append(errs, field.Forbidden(field.NewPath("metadata", "finalizers"),
			"this object mirrors a Docker object and cannot have finalizers: it goes when Docker removes the object, "+
				"and nothing would remove a finalizer"))
	}
	return errs
}
func (MirrorStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}
