// Package apiserver assembles the containers.rancherdesktop.io API server:
// the in-memory storage, the engine (built once, passed to whatever uses it),
// the reconcilers that fill the storage from it, the controllers that carry
// out users' writes, and the REST storages on top.
package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/controller/actions"
	requestsctl "github.com/rancher-sandbox/containers-apiserver/pkg/controller/requests"
	"github.com/rancher-sandbox/containers-apiserver/pkg/controller/stats"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine/docker"
	"github.com/rancher-sandbox/containers-apiserver/pkg/mirror"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry/containers/container"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry/containers/containernamespace"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry/containers/containerstats"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry/containers/image"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry/containers/requests"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry/containers/volume"
	"github.com/rancher-sandbox/containers-apiserver/pkg/storage/memory"
	"github.com/rancher-sandbox/containers-apiserver/pkg/stream"
)

// DefaultNamespace is the Kubernetes namespace of every mirror by default.
const DefaultNamespace = "rancher-desktop"

// stopTimeout bounds how long shutdown waits for one background part (a
// reconciler, a controller) to return.
const stopTimeout = 30 * time.Second

// ExtraConfig is what this server adds to the generic server's configuration.
type ExtraConfig struct {
	// DockerHost is the Docker endpoint, already resolved (the options
	// default it); used when Engine is nil.
	DockerHost string
	// Engine, if set, is the engine to serve (tests pass a fake); New then
	// does not build a Docker engine, and does not close this one.
	Engine *engine.Engine
	// Namespace is the Kubernetes namespace that holds every mirror;
	// default DefaultNamespace.
	Namespace string
	// ResyncInterval is the reconcilers' full-sync period; zero means theirs.
	ResyncInterval time.Duration
	// RequestTTL is how long an ended request object stays; zero means its default.
	RequestTTL time.Duration
	// ActionTimeout bounds one container action; zero means its default.
	ActionTimeout time.Duration
	// StatsInterval is the stats collector's sampling period; zero turns
	// the collector off (containerstats stays empty, containers/stats 404s).
	StatsInterval time.Duration
	// StatsHistory is how much of each container's samples is kept; zero
	// means the collector's default.
	StatsHistory time.Duration
	// Stream tunes the log (and exec) transports: WebSocket keep-alive and limits.
	Stream stream.Options
	// OnListening, if set, runs once the server listens (e.g. to write a kubeconfig).
	OnListening func() error
}

// Config is the whole configuration of the server.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	ExtraConfig   ExtraConfig
}

type completedConfig struct {
	GenericConfig genericapiserver.CompletedConfig
	ExtraConfig   *ExtraConfig
	// gate holds the API group back until the first sync (set by Complete).
	gate *firstSyncGate
}

// CompletedConfig can only be made by Complete, so New always sees defaults filled in.
type CompletedConfig struct {
	*completedConfig
}

// Server is the assembled API server.
type Server struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
}

// Complete fills in the defaults.
func (cfg *Config) Complete() CompletedConfig {
	gate := &firstSyncGate{}
	if build := cfg.GenericConfig.BuildHandlerChainFunc; build != nil {
		cfg.GenericConfig.BuildHandlerChainFunc = func(h http.Handler, gc *genericapiserver.Config) http.Handler {
			return build(gate.wrap(h), gc)
		}
	}
	c := completedConfig{cfg.GenericConfig.Complete(), &cfg.ExtraConfig, gate}
	if c.ExtraConfig.Namespace == "" {
		c.ExtraConfig.Namespace = DefaultNamespace
	}
	return CompletedConfig{&c}
}

// mirrorStore is where a reconciler writes the objects of store's resource:
// the registry's own keys, so API reads find them.
func mirrorStore(store *genericregistry.Store, ns string) mirror.Store {
	nsCtx := genericapirequest.WithNamespace(context.Background(), ns)
	return mirror.Store{
		Storage:   store.Storage.Storage,
		Namespace: ns,
		KeyFunc: func(name string) string {
			// Mirror names are valid object names, so this cannot fail.
			key, _ := store.KeyFunc(nsCtx, name)
			return key
		},
		ListKey: store.KeyRootFunc(nsCtx),
	}
}

// New builds the server: the engine, storage, reconcilers, controllers,
// resources, and their lifecycle and health checks.
func (c completedConfig) New() (*Server, error) {
	gs, err := c.GenericConfig.New("containers-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	ec := c.ExtraConfig
	ns := ec.Namespace

	eng := ec.Engine
	closeEngine := func() error { return nil } // an engine passed in is the caller's to close
	if eng == nil {
		if eng, err = docker.New(ec.DockerHost); err != nil {
			return nil, fmt.Errorf("docker engine: %w", err)
		}
		closeEngine = eng.Close
	}

	getter := memory.NewRESTOptionsGetter(
		Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion), v1alpha1.SchemeGroupVersion, memory.Options{})
	if err := getter.Tune(containers.Resource("containerstats"), memory.Options{HistoryRetention: containerstats.HistoryRetention}); err != nil {
		return nil, err
	}

	// Stores first: the reconcilers and controllers write into them.
	ctrStore, err := container.NewStore(Scheme, getter)
	if err != nil {
		return nil, fmt.Errorf("containers storage: %w", err)
	}
	imgStore, err := image.NewStore(Scheme, getter)
	if err != nil {
		return nil, fmt.Errorf("images storage: %w", err)
	}
	volStore, err := volume.NewStore(Scheme, getter)
	if err != nil {
		return nil, fmt.Errorf("volumes storage: %w", err)
	}
	reqStores, err := requests.NewStores(Scheme, getter, ns)
	if err != nil {
		return nil, fmt.Errorf("request storage: %w", err)
	}
	statsStore, err := containerstats.NewStore(Scheme, getter)
	if err != nil {
		return nil, fmt.Errorf("containerstats storage: %w", err)
	}
	namespacesREST, err := containernamespace.NewREST(Scheme, getter)
	if err != nil {
		return nil, fmt.Errorf("containernamespaces storage: %w", err)
	}

	// The controllers and reconcilers, on the engine.
	ctrTarget := mirrorStore(ctrStore, ns)
	actionRunner := actions.New(eng.Control, ctrTarget, ec.ActionTimeout)
	ctrMirror, err := mirror.New(mirror.Options[*containers.Container]{
		Source: eng.Containers, Store: ctrTarget, Mode: mirror.Keyed, EngineName: eng.Name,
		NewObject:      func() *containers.Container { return &containers.Container{} },
		NewList:        func() runtime.Object { return &containers.ContainerList{} },
		ResyncInterval: ec.ResyncInterval,
		// After every (re)connect, an action whose outcome was not recorded runs again.
		OnSynced: actionRunner.Resume,
	})
	if err != nil {
		return nil, err
	}
	imgMirror, err := mirror.New(mirror.Options[*containers.Image]{
		Source: eng.Images, Store: mirrorStore(imgStore, ns), Mode: mirror.Listed, EngineName: eng.Name,
		NewObject:      func() *containers.Image { return &containers.Image{} },
		NewList:        func() runtime.Object { return &containers.ImageList{} },
		ResyncInterval: ec.ResyncInterval,
	})
	if err != nil {
		return nil, err
	}
	volMirror, err := mirror.New(mirror.Options[*containers.Volume]{
		Source: eng.Volumes, Store: mirrorStore(volStore, ns), Mode: mirror.Listed, EngineName: eng.Name,
		NewObject:      func() *containers.Volume { return &containers.Volume{} },
		NewList:        func() runtime.Object { return &containers.VolumeList{} },
		ResyncInterval: ec.ResyncInterval,
	})
	if err != nil {
		return nil, err
	}
	var statsCollector *stats.Collector // nil: collection is off
	if ec.StatsInterval > 0 {
		statsCollector, err = stats.New(stats.Options{
			Source: eng.Stats, Containers: ctrTarget, Target: mirrorStore(statsStore, ns),
			Interval: ec.StatsInterval, History: ec.StatsHistory,
		})
		if err != nil {
			return nil, err
		}
	}
	reqStore := func(s *genericregistry.Store) requestsctl.Store {
		return requestsctl.Store{Storage: s.Storage.Storage, KeyFunc: func(ns, name string) (string, error) {
			return s.KeyFunc(genericapirequest.WithNamespace(context.Background(), ns), name)
		}}
	}
	requestCtl := requestsctl.New(eng.Requests, requestsctl.Options{
		TTL:              ec.RequestTTL,
		ContainerCreates: reqStore(reqStores.ContainerCreates),
		ImagePulls:       reqStore(reqStores.ImagePulls),
		ImagePushes:      reqStore(reqStores.ImagePushes),
		VolumeCreates:    reqStore(reqStores.VolumeCreates),
	})

	// The REST storages, with the engine side passed in.
	containersREST := container.NewREST(Scheme, ctrStore, container.Writes{
		Ready: ctrMirror.Ready,
		Remove: func(ctx context.Context, id string) error {
			return ctrMirror.Remove(ctx, id, func(ctx context.Context) error { return eng.Control.RemoveContainer(ctx, id) })
		},
		ActionRequested: actionRunner.ActionRequested,
	})
	imagesREST := image.NewREST(imgStore, func(ctx context.Context, obj runtime.Object) error {
		img, ok := obj.(*containers.Image)
		if !ok {
			return fmt.Errorf("not an Image: %T", obj)
		}
		return imgMirror.Remove(ctx, img.Name, func(ctx context.Context) error {
			return eng.Control.RemoveImage(ctx, img.Status.ID, img.Status.RepoTag)
		})
	})
	volumesREST := volume.NewREST(volStore, func(ctx context.Context, obj runtime.Object) error {
		v, ok := obj.(*containers.Volume)
		if !ok {
			return fmt.Errorf("not a Volume: %T", obj)
		}
		return volMirror.Remove(ctx, v.Name, func(ctx context.Context) error { return eng.Control.RemoveVolume(ctx, v.Status.Name) })
	})
	logREST := &container.LogREST{Store: ctrStore, Ready: ctrMirror.Ready, Source: eng.Logs, Stream: ec.Stream}
	execREST := &container.ExecREST{
		Store: ctrStore, Ready: ctrMirror.Ready, Source: eng.Exec, Stream: ec.Stream,
		Authorizer: c.GenericConfig.Authorization.Authorizer,
	}
	storage := map[string]rest.Storage{
		"containers":      containersREST,
		"containers/exec": execREST,
		"containers/log":  logREST,
		// The predecessor's name; kube-apiserver treats only "log" as long-running.
		"containers/logs":     logREST,
		"containers/stats":    &container.StatsREST{Store: ctrStore, Collector: statsCollector, Stream: ec.Stream},
		"containerstats":      containerstats.NewREST(statsStore),
		"containernamespaces": namespacesREST,
		"containernamespaces/log": &containernamespace.LogREST{
			Namespaces: namespacesREST.Store, Containers: ctrStore, Ready: ctrMirror.Ready, Source: eng.Logs, Stream: ec.Stream,
			ConvertField: func(label, value string) (string, string, error) {
				return Scheme.ConvertFieldLabel(v1alpha1.SchemeGroupVersion.WithKind("Container"), label, value)
			},
		},
		"images":  imagesREST,
		"volumes": volumesREST,
	}
	for name, s := range requests.NewStorage(reqStores, requests.Options{Ready: ctrMirror.Ready, OnCreate: requestCtl.Submit}) {
		storage[name] = s
	}
	groupInfo := genericapiserver.NewDefaultAPIGroupInfo(containers.GroupName, Scheme, runtimeParameterCodec, Codecs)
	groupInfo.VersionedResourcesStorageMap[v1alpha1.SchemeGroupVersion.Version] = storage
	if err := gs.InstallAPIGroup(&groupInfo); err != nil {
		return nil, err
	}
	if err := containernamespace.EnsureMoby(context.Background(), namespacesREST, ns); err != nil {
		return nil, fmt.Errorf("storing the moby ContainerNamespace: %w", err)
	}

	// Lifecycle: every part runs from the start of serving until shutdown
	// begins and is waited for, so nothing writes to a store being torn down;
	// then the engine's connections are closed.
	parts := map[string]func(context.Context){
		"mirror-containers": ctrMirror.Run, "mirror-images": imgMirror.Run, "mirror-volumes": volMirror.Run,
		"container-actions": actionRunner.Run, "request-objects": requestCtl.Run,
	}
	if statsCollector != nil {
		parts["container-stats"] = statsCollector.Run
	}
	if err := runWhileServing(gs, "engine", parts, closeEngine); err != nil {
		return nil, err
	}
	collector.add(getter)
	if err := gs.AddPreShutdownHook("storage-metrics", func() error { collector.remove(getter); return nil }); err != nil {
		return nil, err
	}

	// Health: ready once every reconciler has synced (and while connected);
	// alive while every reconciler's loop moves on.
	type checked interface {
		Resource() string
		Ready() error
		Alive(stale time.Duration) error
		ResyncInterval() time.Duration
	}
	mirrors := []checked{ctrMirror, imgMirror, volMirror}
	if c.gate != nil {
		synced := func() bool {
			for _, m := range mirrors {
				if m.Ready() != nil {
					return false
				}
			}
			return true
		}
		c.gate.synced.Store(&synced)
	}
	// The check names the README and the predecessor's users know:
	// docker-mirror (containers), docker-images, docker-volumes.
	checkName := map[string]string{"containers": eng.Kind + "-mirror", "images": eng.Kind + "-images", "volumes": eng.Kind + "-volumes"}
	for _, m := range mirrors {
		if err := gs.AddReadyzChecks(healthz.NamedCheck(checkName[m.Resource()], func(*http.Request) error {
			return m.Ready()
		})); err != nil {
			return nil, err
		}
		// Several resync periods (and reconnect backoffs) without a move is
		// a wedged loop: restart the server.
		stale := 3*m.ResyncInterval() + mirror.DefaultBackoffCap
		if err := gs.AddLivezChecks(0, healthz.NamedCheck(checkName[m.Resource()]+"-progress", func(*http.Request) error {
			return m.Alive(stale)
		})); err != nil {
			return nil, err
		}
	}
	if ec.OnListening != nil {
		// Post-start hooks run once the listener is bound and serving.
		onListening := ec.OnListening
		if err := gs.AddPostStartHook("write-kubeconfig", func(genericapiserver.PostStartHookContext) error {
			return onListening()
		}); err != nil {
			return nil, err
		}
	}
	return &Server{GenericAPIServer: gs}, nil
}

// runWhileServing runs every part from the start of serving until shutdown
// begins: a post-start hook starts them with one context, which a
// pre-shutdown hook ends before waiting (bounded) for all of them to return,
// then calls after. (The post-start hook's own context ends only after the
// pre-shutdown hooks.) A server that shuts down before its post-start hooks
// ran waits for nothing.
func runWhileServing(gs *genericapiserver.GenericAPIServer, name string, parts map[string]func(context.Context), after func() error) error {
	ctx, stop := context.WithCancel(context.Background())
	var (
		wg      sync.WaitGroup
		once    sync.Once // the start and the "never started" mark are exclusive
		started bool      // guarded by once
	)
	if err := gs.AddPostStartHook(name, func(genericapiserver.PostStartHookContext) error {
		once.Do(func() {
			started = true
			for _, run := range parts {
				wg.Go(func() { run(ctx) })
			}
		})
		return nil
	}); err != nil {
		stop()
		return err
	}
	return gs.AddPreShutdownHook(name, func() error {
		stop()
		once.Do(func() {})
		done := make(chan struct{})
		go func() {
			if started {
				wg.Wait()
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(stopTimeout):
			return fmt.Errorf("%s: its parts did not stop within %s", name, stopTimeout)
		}
		return after()
	})
}
