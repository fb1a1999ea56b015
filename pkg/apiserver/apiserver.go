// Package apiserver assembles the containers.rancherdesktop.io API server:
// the in-memory storage, the resources on it, and the Docker mirror that fills it.
package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine/docker"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry/containers/container"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry/containers/containernamespace"
	"github.com/rancher-sandbox/containers-apiserver/pkg/storage/memory"
	"github.com/rancher-sandbox/containers-apiserver/pkg/stream"
)

// mirrorStopTimeout bounds how long shutdown waits for the mirror.
const mirrorStopTimeout = 30 * time.Second

// ExtraConfig is what this server adds to the generic server's configuration.
type ExtraConfig struct {
	// DockerHost is the Docker endpoint the mirror follows.
	DockerHost string
	// Namespace is the Kubernetes namespace that holds every mirror.
	Namespace string
	// ResyncInterval is the mirror's full-sync period; zero means its default.
	ResyncInterval time.Duration
	// RequestTTL is how long an ended request object stays; zero means its default.
	RequestTTL time.Duration
	// ActionTimeout bounds one container action; zero means its default.
	ActionTimeout time.Duration
	// Storage tunes the in-memory stores; zero values mean their defaults.
	Storage memory.Options
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
	// Mirror is the Docker mirror; tests read its readiness.
	Mirror *docker.Mirror
	// Storage holds the per-resource stores, for /metrics and tests.
	Storage *memory.RESTOptionsGetter
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
		c.ExtraConfig.Namespace = docker.DefaultNamespace
	}
	return CompletedConfig{&c}
}

// New builds the server: storage, resources, the mirror and its health checks.
func (c completedConfig) New() (*Server, error) {
	gs, err := c.GenericConfig.New("containers-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}

	getter := memory.NewRESTOptionsGetter(
		Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion), v1alpha1.SchemeGroupVersion, c.ExtraConfig.Storage)

	containersREST, err := container.NewREST(Scheme, getter)
	if err != nil {
		return nil, fmt.Errorf("containers storage: %w", err)
	}
	namespacesREST, err := containernamespace.NewREST(Scheme, getter)
	if err != nil {
		return nil, fmt.Errorf("containernamespaces storage: %w", err)
	}

	ns := c.ExtraConfig.Namespace
	// The mirror writes with the registry's own keys, so API reads find its objects.
	nsCtx := genericapirequest.WithNamespace(context.Background(), ns)
	store := containersREST.Store
	mirror, err := docker.New(docker.Config{
		Host:      c.ExtraConfig.DockerHost,
		Namespace: ns,
		Storage:   store.Storage.Storage,
		KeyFunc: func(name string) string {
			// Container IDs are valid object names, so this cannot fail.
			key, _ := store.KeyFunc(nsCtx, name)
			return key
		},
		ListKey:        store.KeyRootFunc(nsCtx),
		ResyncInterval: c.ExtraConfig.ResyncInterval,
	})
	if err != nil {
		return nil, fmt.Errorf("docker mirror: %w", err)
	}

	// Users' writes to containers (actions, deletes) go to Docker through control.
	control, err := docker.NewControl(mirror, c.ExtraConfig.ActionTimeout)
	if err != nil {
		return nil, fmt.Errorf("docker control: %w", err)
	}
	containersREST.UseEngine(control)
	mirror.SetOnSynced(control.ResumeActions)

	images, volumes, imagesREST, volumesREST, err := newImagesAndVolumes(nsCtx, c.ExtraConfig, getter)
	if err != nil {
		return nil, err
	}

	logs, err := docker.NewLogs(c.ExtraConfig.DockerHost, mirror.Ready)
	if err != nil {
		return nil, fmt.Errorf("docker logs: %w", err)
	}
	logREST := &container.LogREST{Store: store, Source: dockerLogs{logs}, Stream: c.ExtraConfig.Stream}

	groupInfo := genericapiserver.NewDefaultAPIGroupInfo(containers.GroupName, Scheme, runtimeParameterCodec, Codecs)
	groupInfo.VersionedResourcesStorageMap[v1alpha1.SchemeGroupVersion.Version] = map[string]rest.Storage{
		"containers":     containersREST,
		"containers/log": logREST,
		// The predecessor's name; kube-apiserver treats only "log" as long-running.
		"containers/logs":     logREST,
		"containernamespaces": namespacesREST,
		"images":              imagesREST,
		"volumes":             volumesREST,
	}
	requestsStorage, err := installRequests(gs, getter, c.ExtraConfig, mirror.Ready)
	if err != nil {
		return nil, fmt.Errorf("request objects: %w", err)
	}
	for name, s := range requestsStorage {
		groupInfo.VersionedResourcesStorageMap[v1alpha1.SchemeGroupVersion.Version][name] = s
	}
	if err := gs.InstallAPIGroup(&groupInfo); err != nil {
		return nil, err
	}

	if err := containernamespace.EnsureMoby(context.Background(), namespacesREST, ns); err != nil {
		return nil, fmt.Errorf("storing the moby ContainerNamespace: %w", err)
	}

	// The mirror runs from the start of serving until shutdown begins. Its
	// own context is ended by the pre-shutdown hook, which then waits until
	// the mirror has returned, so it never writes to a store being torn down.
	// (The post-start hook's context would end only after pre-shutdown hooks.)
	mirrorCtx, stopMirror := context.WithCancel(context.Background())
	mirrorDone := make(chan struct{})
	if err := gs.AddPostStartHook("docker-mirror", func(genericapiserver.PostStartHookContext) error {
		go func() {
			defer close(mirrorDone)
			mirror.Run(mirrorCtx)
		}()
		return nil
	}); err != nil {
		stopMirror()
		return nil, err
	}
	collector.add(getter)
	if err := gs.AddPreShutdownHook("docker-mirror", func() error {
		collector.remove(getter)
		stopMirror()
		control.Stop()
		defer logs.Close()
		select {
		case <-mirrorDone:
			return nil
		case <-time.After(mirrorStopTimeout):
			return fmt.Errorf("docker mirror did not stop within %s", mirrorStopTimeout)
		}
	}); err != nil {
		stopMirror()
		return nil, err
	}
	if err := startImagesAndVolumes(mirrorCtx, gs, stopMirror, images, volumes); err != nil {
		stopMirror()
		return nil, err
	}
	if c.gate != nil {
		synced := func() bool { return mirror.Ready() == nil && images.Ready() == nil && volumes.Ready() == nil }
		c.gate.synced.Store(&synced)
	}
	if c.ExtraConfig.OnListening != nil {
		// Post-start hooks run once the listener is bound and serving.
		onListening := c.ExtraConfig.OnListening
		if err := gs.AddPostStartHook("write-kubeconfig", func(genericapiserver.PostStartHookContext) error {
			return onListening()
		}); err != nil {
			return nil, err
		}
	}
	if err := gs.AddReadyzChecks(healthz.NamedCheck("docker-mirror", func(*http.Request) error {
		return mirror.Ready()
	})); err != nil {
		return nil, err
	}

	return &Server{GenericAPIServer: gs, Mirror: mirror, Storage: getter}, nil
}

// dockerLogs adapts the engine's log opener to the registry's interface.
type dockerLogs struct{ *docker.Logs }

func (d dockerLogs) OpenLogs(ctx context.Context, id string, opts *containers.ContainerLogOptions) (container.LogStream, error) {
	s, err := d.Open(ctx, id, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}
