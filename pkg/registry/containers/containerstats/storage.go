// Package containerstats serves the containerstats resource: the latest
// resource use of each running container, written by the stats collector
// (pkg/controller/stats). Read-only: get, list and watch.
package containerstats

import (
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// HistoryRetention is how long the store keeps the events of containerstats
// for watches to resume from, instead of the 75 s of other resources: every
// running container's object changes every interval (25 events a second for
// 50 containers at 2 s), and each kept event holds an object. A watch that
// falls further behind relists, which for this resource is one object per
// running container.
const HistoryRetention = 15 * time.Second

// storeOptions describe the containerstats resource.
var storeOptions = registry.MirrorStoreOptions{
	Resource: "containerstats", Singular: "containerstats", Short: []string{"cstats"},
	NewFunc:     func() runtime.Object { return &containers.ContainerStats{} },
	NewListFunc: func() runtime.Object { return &containers.ContainerStatsList{} },
	AttrFunc:    GetAttrs, Table: tableConvertor{},
}

// GetAttrs returns the labels (the container's) and the selectable fields of
// a ContainerStats.
var GetAttrs = registry.AttrsFunc(registry.FieldsSet(containers.ContainerStatsFields))

// NewStore builds the containerstats store on the storage optsGetter
// provides. Only the collector writes to it, through its Storage.
func NewStore(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*genericregistry.Store, error) {
	return registry.NewMirrorStore(scheme, optsGetter, storeOptions)
}

// NewREST serves store read-only.
func NewREST(store *genericregistry.Store) *registry.ReadOnly {
	return &registry.ReadOnly{Store: store, Singular: storeOptions.Singular, Short: storeOptions.Short}
}
