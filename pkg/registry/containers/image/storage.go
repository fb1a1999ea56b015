package image

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// NewREST builds the images resource on the storage optsGetter provides. Only
// the Docker image mirror writes Images, through the returned Store; remove
// carries out deletes (it may be set on the result later, before serving).
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, remove registry.Remover) (*registry.Deletable, error) {
	return registry.NewDeletableMirror(scheme, optsGetter, registry.MirrorStoreOptions{
		Resource: "images", Singular: "image", Short: []string{"img"},
		NewFunc:     func() runtime.Object { return &containers.Image{} },
		NewListFunc: func() runtime.Object { return &containers.ImageList{} },
		AttrFunc:    GetAttrs, Table: tableConvertor{},
	}, remove)
}
