package container

import (
	"context"
	"errors"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// REST serves containers: get, list and watch of the mirrors; update and
// patch, whose only effect is the action annotation (spec, status and the
// labels belong to the engine and are refused with 422); and delete, which
// removes the engine's container.
type REST struct {
	*registry.Deletable
	ready func() error
}

var (
	_ rest.Patcher         = &REST{}
	_ rest.GracefulDeleter = &REST{}
)

// Writes is what the containers resource needs of the engine side for users'
// writes.
type Writes struct {
	// Ready is nil while the engine is connected, else why not; every write
	// checks it first (503).
	Ready func() error
	// Remove removes the container from the engine and its mirror (engine
	// errors).
	Remove func(ctx context.Context, id string) error
	// ActionRequested makes the container's action annotation be carried
	// out; it must not block.
	ActionRequested func(id string)
}

// NewStore builds the containers' store on the storage optsGetter provides.
// Only the mirror writes Containers' status, through its Storage.
func NewStore(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*genericregistry.Store, error) {
	return registry.NewMirrorStore(scheme, optsGetter, storeOptions(scheme))
}

func storeOptions(scheme *runtime.Scheme) registry.MirrorStoreOptions {
	return registry.MirrorStoreOptions{
		Resource: "containers", Singular: "container", Short: []string{"ctr"},
		NewFunc:     func() runtime.Object { return &containers.Container{} },
		NewListFunc: func() runtime.Object { return &containers.ContainerList{} },
		AttrFunc:    GetAttrs, Table: tableConvertor{},
		UpdateStrategy: updateStrategy{registry.NewMirrorStrategy(scheme)},
	}
}

// NewREST serves the containers in store, writes going through w. It sets
// the store's AfterUpdate hook, so call it before serving.
func NewREST(scheme *runtime.Scheme, store *genericregistry.Store, w Writes) *REST {
	r := &REST{ready: w.Ready}
	r.Deletable = registry.NewDeletable(store, storeOptions(scheme), func(ctx context.Context, obj runtime.Object) error {
		c, ok := obj.(*containers.Container)
		if !ok {
			return errors.New("not a Container")
		}
		return w.Remove(ctx, c.Name)
	})
	store.AfterUpdate = func(obj runtime.Object, opts *metav1.UpdateOptions) {
		c, ok := obj.(*containers.Container)
		if !ok || (opts != nil && len(opts.DryRun) > 0) {
			return
		}
		if _, ok := c.Annotations[containers.ActionAnnotation]; ok {
			w.ActionRequested(c.Name)
		}
	}
	return r
}

// Update applies a user's update or patch; see updateStrategy for what it may change.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, _ bool, opts *metav1.UpdateOptions) (runtime.Object, bool, error) {
	if err := registry.NotConnected(r.ready); err != nil {
		return nil, false, err
	}
	// Containers are created by the engine, never by an update.
	return r.Store.Update(ctx, name, objInfo, createValidation, updateValidation, false, opts)
}
