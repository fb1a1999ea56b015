package registry

import (
	"context"

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
func (MirrorStrategy) ValidateUpdate(context.Context, runtime.Object, runtime.Object) field.ErrorList {
	return nil
}
func (MirrorStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}
