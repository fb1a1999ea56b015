package memory

import (
	"fmt"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/client-go/tools/cache"
)

// RESTOptionsGetter is a generic.RESTOptionsGetter whose Decorator builds one
// memory Store per resource, for genericregistry.Store.CompleteWithOptions.
// The stores stay reachable through Store(resource) so that other writers
// (e.g. a mirror of an external system) can use the same storage.Interface,
// with keys built by the registry's KeyFunc or by Store.ObjectKey.
type RESTOptionsGetter struct {
	// Immutable after NewRESTOptionsGetter.
	codec           runtime.Codec
	encodeVersioner runtime.GroupVersioner
	options         Options

	// mu guards stores and tuned.
	mu     sync.Mutex
	stores map[schema.GroupResource]*Store
	tuned  map[schema.GroupResource]Options // replaces options for a resource
}

var _ generic.RESTOptionsGetter = (*RESTOptionsGetter)(nil)

// NewRESTOptionsGetter returns a getter whose stores encode with codec (the
// storage codec: the generic registry also uses it for dry-run) and are tuned
// by opts. encodeVersioner is optional; it becomes the registry's
// StorageVersioner (storage version hash in discovery).
func NewRESTOptionsGetter(codec runtime.Codec, encodeVersioner runtime.GroupVersioner, opts Options) *RESTOptionsGetter {
	return &RESTOptionsGetter{
		codec:           codec,
		encodeVersioner: encodeVersioner,
		options:         opts,
		stores:          map[schema.GroupResource]*Store{},
		tuned:           map[schema.GroupResource]Options{},
	}
}

// Tune gives resource's store opts instead of the getter's. It must come
// before the resource's registry is completed: a store, once made, keeps
// its options.
func (g *RESTOptionsGetter) Tune(resource schema.GroupResource, opts Options) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, made := g.stores[resource]; made {
		return fmt.Errorf("memory storage: %v already has a store", resource)
	}
	g.tuned[resource] = opts
	return nil
}

// ResourcePrefix is the key prefix of a resource's objects:
// "/<group>/<resource>", or "/<resource>" for the core group. Objects live at
// ResourcePrefix+"/<name>" (cluster-scoped) or
// ResourcePrefix+"/<namespace>/<name>" (namespaced), as built by the generic
// registry's default key functions.
func ResourcePrefix(resource schema.GroupResource) string {
	if resource.Group == "" {
		return "/" + resource.Resource
	}
	return "/" + resource.Group + "/" + resource.Resource
}

// GetRESTOptions implements generic.RESTOptionsGetter.
func (g *RESTOptionsGetter) GetRESTOptions(resource schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	if g.codec == nil {
		return generic.RESTOptions{}, fmt.Errorf("memory storage: no codec configured for %v", resource)
	}
	return generic.RESTOptions{
		StorageConfig: &storagebackend.ConfigForResource{
			Config: storagebackend.Config{
				Type:            "memory",
				Codec:           g.codec,
				EncodeVersioner: g.encodeVersioner,
			},
			GroupResource: resource,
		},
		Decorator:               g.decorate,
		EnableGarbageCollection: false,
		DeleteCollectionWorkers: 1,
		ResourcePrefix:          ResourcePrefix(resource),
	}, nil
}

// decorate is a generic.StorageDecorator. Asking twice for the same resource
// returns the same Store, so that registries sharing a resource (e.g. a
// status subresource completed separately) share one state.
func (g *RESTOptionsGetter) decorate(
	config *storagebackend.ConfigForResource,
	resourcePrefix string,
	keyFunc func(obj runtime.Object) (string, error),
	newFunc func() runtime.Object,
	newListFunc func() runtime.Object,
	_ storage.AttrFunc,
	_ storage.IndexerFuncs,
	_ *cache.Indexers) (storage.Interface, factory.DestroyFunc, error) {
	if config == nil {
		return nil, nil, fmt.Errorf("memory storage: nil storage config")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if s, ok := g.stores[config.GroupResource]; ok {
		if s.resourcePrefix != resourcePrefix {
			return nil, nil, fmt.Errorf("memory storage: %v already stored under %q, not %q", config.GroupResource, s.resourcePrefix, resourcePrefix)
		}
		return s, s.Close, nil
	}
	opts, ok := g.tuned[config.GroupResource]
	if !ok {
		opts = g.options
	}
	s, err := New(Config{
		Codec:          config.Codec,
		GroupResource:  config.GroupResource,
		ResourcePrefix: resourcePrefix,
		NewFunc:        newFunc,
		NewListFunc:    newListFunc,
		Options:        opts,
		keyFunc:        keyFunc,
	})
	if err != nil {
		return nil, nil, err
	}
	g.stores[config.GroupResource] = s
	return s, s.Close, nil
}

// Store returns the store of a resource once a registry has been completed
// with this getter.
func (g *RESTOptionsGetter) Store(resource schema.GroupResource) (*Store, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.stores[resource]
	return s, ok
}

// Resources lists the resources that have a store, sorted.
func (g *RESTOptionsGetter) Resources() []schema.GroupResource {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]schema.GroupResource, 0, len(g.stores))
	for gr := range g.stores {
		out = append(out, gr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Metrics returns every store's counters, keyed by resource.
func (g *RESTOptionsGetter) Metrics() map[schema.GroupResource]Metrics {
	g.mu.Lock()
	stores := make(map[schema.GroupResource]*Store, len(g.stores))
	for gr, s := range g.stores {
		stores[gr] = s
	}
	g.mu.Unlock()
	out := make(map[schema.GroupResource]Metrics, len(stores))
	for gr, s := range stores {
		out[gr] = s.Metrics()
	}
	return out
}
