// Package containernamespace serves containernamespaces: the engine
// namespaces, of which a Docker engine has exactly one, "moby".
package containernamespace

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// NewREST builds the containernamespaces resource on the storage optsGetter provides.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*registry.ReadOnly, error) {
	store, err := registry.NewMirrorStore(scheme, optsGetter, registry.MirrorStoreOptions{
		Resource: "containernamespaces", Singular: "containernamespace",
		NewFunc:     func() runtime.Object { return &containers.ContainerNamespace{} },
		NewListFunc: func() runtime.Object { return &containers.ContainerNamespaceList{} },
	})
	if err != nil {
		return nil, err
	}
	return &registry.ReadOnly{Store: store, Singular: "containernamespace"}, nil
}

// EnsureMoby stores the single "moby" ContainerNamespace in namespace ns.
func EnsureMoby(ctx context.Context, r *registry.ReadOnly, ns string) error {
	obj := &containers.ContainerNamespace{ObjectMeta: metav1.ObjectMeta{
		Name: containers.MobyNamespace, Namespace: ns, CreationTimestamp: metav1.Now(),
	}}
	key, err := r.Store.KeyFunc(genericapirequest.WithNamespace(ctx, ns), obj.Name)
	if err != nil {
		return err
	}
	out := &containers.ContainerNamespace{}
	err = r.Store.Storage.Create(ctx, key, obj, out, 0, false)
	if storage.IsExist(err) {
		return nil
	}
	return err
}
