// Package registry holds what the resources of this server share; each
// resource lives in its own package below containers/.
package registry

import (
	"context"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
)

// ReadOnly serves get, list and watch from a genericregistry.Store. The
// store's write verbs are deliberately not exposed: the server itself (the
// Docker mirror) writes these objects straight into Store.Storage.
type ReadOnly struct {
	Store    *genericregistry.Store
	Singular string
	Short    []string
}

var (
	_ rest.Storage              = &ReadOnly{}
	_ rest.Scoper               = &ReadOnly{}
	_ rest.SingularNameProvider = &ReadOnly{}
	_ rest.ShortNamesProvider   = &ReadOnly{}
	_ rest.Getter               = &ReadOnly{}
	_ rest.Lister               = &ReadOnly{}
	_ rest.Watcher              = &ReadOnly{}
)

func (r *ReadOnly) New() runtime.Object     { return r.Store.New() }
func (r *ReadOnly) Destroy()                { r.Store.Destroy() }
func (r *ReadOnly) NamespaceScoped() bool   { return r.Store.NamespaceScoped() }
func (r *ReadOnly) GetSingularName() string { return r.Singular }
func (r *ReadOnly) ShortNames() []string    { return r.Short }
func (r *ReadOnly) NewList() runtime.Object { return r.Store.NewList() }

func (r *ReadOnly) Get(ctx context.Context, name string, opts *metav1.GetOptions) (runtime.Object, error) {
	return r.Store.Get(ctx, name, opts)
}

func (r *ReadOnly) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	return r.Store.List(ctx, opts)
}

func (r *ReadOnly) Watch(ctx context.Context, opts *metainternalversion.ListOptions) (watch.Interface, error) {
	return r.Store.Watch(ctx, opts)
}

func (r *ReadOnly) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.Store.ConvertToTable(ctx, obj, tableOptions)
}
