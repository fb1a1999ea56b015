package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine/docker"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry/containers/image"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry/containers/volume"
	"github.com/rancher-sandbox/containers-apiserver/pkg/storage/memory"
)

// mirrorConfig is the docker.Config of a mirror writing into store with the
// registry's own keys, so API reads find its objects.
func mirrorConfig(nsCtx context.Context, extra *ExtraConfig, store *genericregistry.Store) docker.Config {
	return docker.Config{
		Host:      extra.DockerHost,
		Namespace: extra.Namespace,
		Storage:   store.Storage.Storage,
		KeyFunc: func(name string) string {
			// Mirror names are valid object names, so this cannot fail.
			key, _ := store.KeyFunc(nsCtx, name)
			return key
		},
		ListKey:        store.KeyRootFunc(nsCtx),
		ResyncInterval: extra.ResyncInterval,
	}
}

// newImagesAndVolumes builds the images and volumes resources and the mirrors
// that fill them; deletes go to Docker through the mirrors.
func newImagesAndVolumes(nsCtx context.Context, extra *ExtraConfig, getter *memory.RESTOptionsGetter) (
	*docker.Images, *docker.Volumes, *registry.Deletable, *registry.Deletable, error) {
	imagesREST, err := image.NewREST(Scheme, getter, nil)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("images storage: %w", err)
	}
	volumesREST, err := volume.NewREST(Scheme, getter, nil)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("volumes storage: %w", err)
	}
	images, err := docker.NewImages(mirrorConfig(nsCtx, extra, imagesREST.Store))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	volumes, err := docker.NewVolumes(mirrorConfig(nsCtx, extra, volumesREST.Store))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	imagesREST.Remove = images.Remove
	volumesREST.Remove = volumes.Remove
	return images, volumes, imagesREST, volumesREST, nil
}

// startImagesAndVolumes runs the image and volume mirrors like the container
// mirror: from the start of serving until shutdown begins, on ctx, which
// stop ends; the pre-shutdown hook waits until both have returned, so they
// never write to a store being torn down. Their readiness is on /readyz.
func startImagesAndVolumes(ctx context.Context, gs *genericapiserver.GenericAPIServer, stop context.CancelFunc,
	images *docker.Images, volumes *docker.Volumes) error {
	done := make(chan struct{})
	if err := gs.AddPostStartHook("docker-images-volumes", func(genericapiserver.PostStartHookContext) error {
		go func() {
			defer close(done)
			ended := make(chan struct{})
			go func() {
				defer close(ended)
				volumes.Run(ctx)
			}()
			images.Run(ctx)
			<-ended
		}()
		return nil
	}); err != nil {
		return err
	}
	if err := gs.AddPreShutdownHook("docker-images-volumes", func() error {
		stop()
		select {
		case <-done:
			return nil
		case <-time.After(mirrorStopTimeout):
			return errors.New("docker image and volume mirrors did not stop within " + mirrorStopTimeout.String())
		}
	}); err != nil {
		return err
	}
	return gs.AddReadyzChecks(
		healthz.NamedCheck("docker-images", func(*http.Request) error { return images.Ready() }),
		healthz.NamedCheck("docker-volumes", func(*http.Request) error { return volumes.Ready() }),
	)
}
