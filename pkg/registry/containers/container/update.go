package container

import (
	"context"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// updateStrategy lets users change a Container's metadata (annotations, the
// action annotation among them) and nothing Docker owns. A change to those is
// refused rather than dropped, so a client learns at once that it has no
// effect.
type updateStrategy struct {
	registry.MirrorStrategy
}

func (u updateStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	c, prev := obj.(*containers.Container), old.(*containers.Container)
	errs := u.MirrorStrategy.ValidateUpdate(ctx, obj, old)
	if !equality.Semantic.DeepEqual(c.Status, prev.Status) {
		errs = append(errs, field.Forbidden(field.NewPath("status"),
			"status is written by the server from Docker; to start, stop, pause, unpause or restart the container set the annotation "+
				containers.ActionAnnotation))
	}
	if !equality.Semantic.DeepEqual(c.Spec, prev.Spec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), "spec is empty and cannot be set"))
	}
	if !equality.Semantic.DeepEqual(c.Labels, prev.Labels) {
		errs = append(errs, field.Forbidden(field.NewPath("metadata", "labels"),
			"labels are copied from the container's Docker labels, which cannot change; use annotations"))
	}
	if v, ok := c.Annotations[containers.ActionAnnotation]; ok {
		if !slices.Contains(containers.Actions, v) {
			errs = append(errs, field.NotSupported(field.NewPath("metadata", "annotations").Key(containers.ActionAnnotation), v, containers.Actions))
		}
	}
	return errs
}

// AllowUnconditionalUpdate lets `kubectl replace` and clients without a
// resourceVersion through; the mirror's own writes are conditional.
func (updateStrategy) AllowUnconditionalUpdate(context.Context) bool { return true }
