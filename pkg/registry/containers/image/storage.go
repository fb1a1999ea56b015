package image

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// storeOptions describe the images resource.
var storeOptions = registry.MirrorStoreOptions{
	Resource: "images", Singular: "image", Short: []string{"img"},
	NewFunc:     func() runtime.Object { return &containers.Image{} },
	NewListFunc: func() runtime.Object { return &containers.ImageList{} },
	AttrFunc:    GetAttrs, Table: tableConvertor{},
}

// NewStore builds the images' store on the storage optsGetter provides. Only
// the mirror writes Images, through its Storage.
func NewStore(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*genericregistry.Store, error) {
	return registry.NewMirrorStore(scheme, optsGetter, storeOptions)
}

// NewREST serves the images in store; remove carries out deletes.
func NewREST(store *genericregistry.Store, remove registry.Remover) *registry.Deletable {
	return registry.NewDeletable(store, storeOptions, remove)
}
