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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

// Options configure the request resources.
type Options struct {
	// Namespace is the only Kubernetes namespace requests may be created in
	// (the server's --namespace, where every mirror lives).
	Namespace string
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
		if err := r.ready(); err != nil {
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("the Docker engine is not connected: %v", err))
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

// Storage holds the four request resources.
type Storage struct {
	ContainerCreates *REST
	ImagePulls       *REST
	ImagePushes      *REST
	VolumeCreates    *REST
}

// Map returns the resources by their API name, for the group's storage map.
func (s *Storage) Map() map[string]rest.Storage {
	return map[string]rest.Storage{
		ContainerCreateRequests: s.ContainerCreates,
		ImagePullRequests:       s.ImagePulls,
		ImagePushRequests:       s.ImagePushes,
		VolumeCreateRequests:    s.VolumeCreates,
	}
}

// NewStorage builds the request resources on the storage optsGetter provides.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, o Options) (*Storage, error) {
	var s Storage
	for _, k := range kinds {
		r, err := newREST(scheme, optsGetter, k, o)
		if err != nil {
			return nil, fmt.Errorf("%s storage: %w", k.resource, err)
		}
		switch k.resource {
		case ContainerCreateRequests:
			s.ContainerCreates = r
		case ImagePullRequests:
			s.ImagePulls = r
		case ImagePushRequests:
			s.ImagePushes = r
		case VolumeCreateRequests:
			s.VolumeCreates = r
		}
	}
	return &s, nil
}

func newREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, k *kind, o Options) (*REST, error) {
	s := strategy{ObjectTyper: scheme, NameGenerator: namesGenerator, kind: k, namespace: o.Namespace}
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
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter}); err != nil {
		return nil, err
	}
	return &REST{ReadOnly: &registry.ReadOnly{Store: store, Singular: k.singular, Short: k.short}, ready: o.Ready}, nil
}
