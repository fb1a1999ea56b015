package container

import (
	"context"
	"errors"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// REST serves containers: get, list and watch of the mirrors; update and
// patch, whose only effect is the action annotation (spec, status and the
// labels belong to Docker and are refused with 422); and delete, which
// removes the Docker container. Engine wires the writes to Docker.
type REST struct {
	*registry.Deletable
	// Ready is nil while the engine is connected, else a 503 saying why;
	// every write checks it first. Set before serving.
	Ready func() error
}

var (
	_ rest.Patcher         = &REST{}
	_ rest.GracefulDeleter = &REST{}
)

// Engine is what the containers resource needs of the engine for writes.
type Engine interface {
	// Ready is nil while the engine is connected, else a 503 saying why.
	Ready() error
	// ActionRequested makes the engine carry out the container's action
	// annotation; it must not block.
	ActionRequested(id string)
	// RemoveContainer removes the container and its mirror (503 while the
	// engine is not connected).
	RemoveContainer(ctx context.Context, id string) error
}

// NewREST builds the containers resource on the storage optsGetter provides.
// Only the Docker mirror writes Containers' status, through the returned Store.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*REST, error) {
	store, err := registry.NewMirrorStore(scheme, optsGetter, registry.MirrorStoreOptions{
		Resource: "containers", Singular: "container", Short: []string{"ctr"},
		NewFunc:     func() runtime.Object { return &containers.Container{} },
		NewListFunc: func() runtime.Object { return &containers.ContainerList{} },
		AttrFunc:    GetAttrs, Table: tableConvertor{},
		UpdateStrategy: updateStrategy{registry.NewMirrorStrategy(scheme)},
	})
	if err != nil {
		return nil, err
	}
	r := &REST{Deletable: &registry.Deletable{
		ReadOnly: &registry.ReadOnly{Store: store, Singular: "container", Short: []string{"ctr"}},
	}}
	r.Ready = func() error { return errors.New("the docker engine is not wired up yet") }
	r.Remove = func(context.Context, runtime.Object) error { return r.Ready() }
	return r, nil
}

// UseEngine routes the resource's writes to e. Call it before serving.
func (r *REST) UseEngine(e Engine) {
	r.Ready = e.Ready
	r.Remove = func(ctx context.Context, obj runtime.Object) error {
		c, ok := obj.(*containers.Container)
		if !ok {
			return errors.New("not a Container")
		}
		return e.RemoveContainer(ctx, c.Name)
	}
	r.Store.AfterUpdate = func(obj runtime.Object, opts *metav1.UpdateOptions) {
		c, ok := obj.(*containers.Container)
		if !ok || (opts != nil && len(opts.DryRun) > 0) {
			return
		}
		if _, ok := c.Annotations[containers.ActionAnnotation]; ok {
			e.ActionRequested(c.Name)
		}
	}
}

// Update applies a user's update or patch; see updateStrategy for what it may change.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, _ bool, opts *metav1.UpdateOptions) (runtime.Object, bool, error) {
	if err := r.Ready(); err != nil {
		return nil, false, err
	}
	// Containers are created by Docker, never by an update.
	return r.Store.Update(ctx, name, objInfo, createValidation, updateValidation, false, opts)
}
