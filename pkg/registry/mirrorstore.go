package registry

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// MirrorStoreOptions describe a resource whose objects only the server writes.
type MirrorStoreOptions struct {
	// Resource and Singular are the plural and singular resource names.
	Resource, Singular   string
	NewFunc, NewListFunc func() runtime.Object
	// AttrFunc gives an object's labels and selectable fields; the store
	// filters label and field selectors with it.
	AttrFunc storage.AttrFunc
	Table    rest.TableConvertor // default: name and age
	// Short are the short names kubectl accepts.
	Short []string
	// UpdateStrategy, if set, replaces the MirrorStrategy for updates (for
	// resources whose metadata users may change).
	UpdateStrategy rest.RESTUpdateStrategy
}

// NewDeletable serves a mirrored resource that users may delete: get, list
// and watch from store, deletes through remove.
func NewDeletable(store *genericregistry.Store, o MirrorStoreOptions, remove Remover) *Deletable {
	return &Deletable{ReadOnly: &ReadOnly{Store: store, Singular: o.Singular, Short: o.Short}, Remove: remove}
}

// NewMirrorStore builds the genericregistry.Store of a mirrored resource, with
// the MirrorStrategy, on the storage optsGetter provides.
func NewMirrorStore(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, o MirrorStoreOptions) (*genericregistry.Store, error) {
	s := NewMirrorStrategy(scheme)
	var update rest.RESTUpdateStrategy = s
	if o.UpdateStrategy != nil {
		update = o.UpdateStrategy
	}
	table := o.Table
	if table == nil {
		table = rest.NewDefaultTableConvertor(containers.Resource(o.Resource))
	}
	store := &genericregistry.Store{
		NewFunc:                   o.NewFunc,
		NewListFunc:               o.NewListFunc,
		DefaultQualifiedResource:  containers.Resource(o.Resource),
		SingularQualifiedResource: containers.Resource(o.Singular),
		CreateStrategy:            s,
		UpdateStrategy:            update,
		DeleteStrategy:            s,
		TableConvertor:            table,
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: o.AttrFunc}); err != nil {
		return nil, err
	}
	return store, nil
}

// NewTable renders obj (one object or a list) as a table with columns; cells
// gives the cells of one object.
func NewTable(obj, tableOptions runtime.Object, columns []metav1.TableColumnDefinition, cells func(runtime.Object) ([]any, error)) (*metav1.Table, error) {
	table := &metav1.Table{}
	if opts, ok := tableOptions.(*metav1.TableOptions); !ok || !opts.NoHeaders {
		table.ColumnDefinitions = columns
	}
	items := []runtime.Object{obj}
	if meta.IsListType(obj) {
		var err error
		if items, err = meta.ExtractList(obj); err != nil {
			return nil, err
		}
	}
	table.Rows = make([]metav1.TableRow, 0, len(items))
	for _, item := range items {
		c, err := cells(item)
		if err != nil {
			return nil, err
		}
		table.Rows = append(table.Rows, metav1.TableRow{Object: runtime.RawExtension{Object: item}, Cells: c})
	}
	if m, err := meta.ListAccessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
		table.Continue = m.GetContinue()
		table.RemainingItemCount = m.GetRemainingItemCount()
	} else if m, err := meta.CommonAccessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
	}
	return table, nil
}

// Age words the time since t as kubectl does ("5m", "3d"); "<unknown>" for no time.
func Age(t *metav1.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}
