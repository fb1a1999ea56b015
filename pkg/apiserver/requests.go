package apiserver

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine/docker"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry/containers/requests"
)

// installRequests builds the request resources (containercreaterequests,
// imagepullrequests, imagepushrequests, volumecreaterequests) and the
// controller that carries them out. The controller runs from the start of
// serving until shutdown begins, like the mirror. ready is the engine's
// connection state: creates answer 503 while it is an error.
func installRequests(gs *genericapiserver.GenericAPIServer, getter generic.RESTOptionsGetter, ec *ExtraConfig,
	ready func() error) (map[string]rest.Storage, error) {
	// Set below, before the server serves, so no create can see it nil.
	var ctl *docker.Requests
	st, err := requests.NewStorage(Scheme, getter, requests.Options{
		Namespace: ec.Namespace,
		Ready:     ready,
		OnCreate:  func(obj runtime.Object) { ctl.Submit(obj) },
	})
	if err != nil {
		return nil, err
	}
	storeOf := func(r *requests.REST) docker.RequestStore {
		s := r.Store
		return docker.RequestStore{Storage: s.Storage.Storage, KeyFunc: func(ns, name string) (string, error) {
			return s.KeyFunc(genericapirequest.WithNamespace(context.Background(), ns), name)
		}}
	}
	ctl, err = docker.NewRequests(docker.RequestsConfig{
		Host:             ec.DockerHost,
		TTL:              ec.RequestTTL,
		ContainerCreates: storeOf(st.ContainerCreates),
		ImagePulls:       storeOf(st.ImagePulls),
		ImagePushes:      storeOf(st.ImagePushes),
		VolumeCreates:    storeOf(st.VolumeCreates),
	})
	if err != nil {
		return nil, fmt.Errorf("docker requests: %w", err)
	}

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	// once makes the start and the "never started" close of done exclusive:
	// a server that shuts down before its post-start hooks ran must not wait.
	var once sync.Once
	if err := gs.AddPostStartHook("docker-requests", func(genericapiserver.PostStartHookContext) error {
		once.Do(func() {
			go func() {
				defer close(done)
				ctl.Run(ctx)
			}()
		})
		return nil
	}); err != nil {
		stop()
		return nil, err
	}
	// The controller writes into the request stores: it must have returned
	// before they are torn down.
	if err := gs.AddPreShutdownHook("docker-requests", func() error {
		stop()
		once.Do(func() { close(done) })
		select {
		case <-done:
			return nil
		case <-time.After(mirrorStopTimeout):
			return fmt.Errorf("docker requests did not stop within %s", mirrorStopTimeout)
		}
	}); err != nil {
		stop()
		return nil, err
	}
	return st.Map(), nil
}
