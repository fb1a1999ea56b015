package container

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// NewREST builds the containers resource on the storage optsGetter provides.
// Only the Docker mirror writes Containers, through the returned Store.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*registry.ReadOnly, error) {
	s := registry.NewMirrorStrategy(scheme)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &containers.Container{} },
		NewListFunc:               func() runtime.Object { return &containers.ContainerList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  containers.Resource("containers"),
		SingularQualifiedResource: containers.Resource("container"),
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		TableConvertor:            tableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return nil, err
	}
	return &registry.ReadOnly{Store: store, Singular: "container", Short: []string{"ctr"}}, nil
}
