// Package requests serves the request kinds (containercreaterequests,
// imagepullrequests, imagepushrequests, volumecreaterequests): objects a user
// creates to have the engine do something, and that report the outcome in
// their status. The engine side (pkg/engine/docker) carries them out and
// writes their status straight into Store.Storage; users may only create,
// read, watch and delete them.
package requests

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// Resource names of the request kinds.
const (
	ContainerCreateRequests = "containercreaterequests"
	ImagePullRequests       = "imagepullrequests"
	ImagePushRequests       = "imagepushrequests"
	VolumeCreateRequests    = "volumecreaterequests"
)

// Options configure the request resources' writes.
type Options struct {
	// Ready returns nil while the engine is connected; otherwise creates
	// answer 503 with its error.
	Ready func() error
	// OnCreate, if set, is handed every request once it is stored (never for
	// a dry run). It must not block.
	OnCreate func(obj runtime.Object)
}

// REST is one request resource: create, get, list, watch and delete. There
// is no update: the spec is fixed at creation and only the server writes the
// status, so PUT and PATCH answer 405.
type REST struct {
	*registry.ReadOnly
	ready func() error
}

var (
	_ rest.Creater         = &REST{}
	_ rest.GracefulDeleter = &REST{}
)

// Create stores a new request, unless the engine is not connected: a request
// created then could only fail.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, opts *metav1.CreateOptions) (runtime.Object, error) {
	if r.ready != nil {
		if err := registry.NotConnected(r.ready); err != nil {
			return nil, err
		}
	}
	return r.Store.Create(ctx, obj, createValidation, opts)
}

// Delete removes a request. A request that is still running is carried out
// to its end; its outcome is dropped. No engine object is touched, so this
// works while the engine is not connected.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, opts *metav1.DeleteOptions) (runtime.Object, bool, error) {
	return r.Store.Delete(ctx, name, deleteValidation, opts)
}

// Stores are the four request kinds' stores, built before anything that
// writes into them (the controller carrying requests out).
type Stores struct {
	ContainerCreates, ImagePulls, ImagePushes, VolumeCreates *genericregistry.Store
}

// byResource returns the store of a resource name.
func (st *Stores) byResource(resource string) *genericregistry.Store {
	switch resource {
	case ContainerCreateRequests:
		return st.ContainerCreates
	case ImagePullRequests:
		return st.ImagePulls
	case ImagePushRequests:
		return st.ImagePushes
	}
	return st.VolumeCreates
}

// NewStores builds the request stores on the storage optsGetter provides;
// requests may be created in namespace only (empty: any).
func NewStores(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, namespace string) (*Stores, error) {
	var st Stores
	for _, k := range kinds {
		s := strategy{ObjectTyper: scheme, NameGenerator: namesGenerator, kind: k, namespace: namespace}
		store := &genericregistry.Store{
			NewFunc:                   k.newFunc,
			NewListFunc:               k.newListFunc,
			DefaultQualifiedResource:  containers.Resource(k.resource),
			SingularQualifiedResource: containers.Resource(k.singular),
			CreateStrategy:            s,
			UpdateStrategy:            s,
			DeleteStrategy:            s,
			TableConvertor:            tableConvertor{kind: k},
		}
		if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter}); err != nil {
			return nil, fmt.Errorf("%s storage: %w", k.resource, err)
		}
		switch k.resource {
		case ContainerCreateRequests:
			st.ContainerCreates = store
		case ImagePullRequests:
			st.ImagePulls = store
		case ImagePushRequests:
			st.ImagePushes = store
		case VolumeCreateRequests:
			st.VolumeCreates = store
		}
	}
	return &st, nil
}

// NewStorage serves the request resources on st. It sets the stores'
// AfterCreate hooks, so call it before serving.
func NewStorage(st *Stores, o Options) map[string]rest.Storage {
	out := map[string]rest.Storage{}
	for _, k := range kinds {
		store := st.byResource(k.resource)
		if o.OnCreate != nil {
			onCreate := o.OnCreate
			store.AfterCreate = func(obj runtime.Object, opts *metav1.CreateOptions) {
				// A dry run stores nothing, so there is nothing to carry out.
				if opts != nil && len(opts.DryRun) > 0 {
					return
				}
				onCreate(obj)
			}
		}
		out[k.resource] = &REST{ReadOnly: &registry.ReadOnly{Store: store, Singular: k.singular, Short: k.short}, ready: o.Ready}
	}
	return out
}
