package docker

import (
	"context"
	"slices"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// control carries out users' writes against Docker.
type control struct{ d *dockerEngine }

var _ engine.Control = (*control)(nil)

// Act runs one container action. pause and unpause first look at the
// container, so that a replayed action that already took effect succeeds
// (Docker's own start of a running container succeeds too).
func (c *control) Act(ctx context.Context, id, action string) error {
	cli := c.d.cli
	var err error
	switch action {
	case containers.ActionStart:
		err = cli.ContainerStart(ctx, id, container.StartOptions{})
	case containers.ActionStop:
		err = cli.ContainerStop(ctx, id, container.StopOptions{})
	case containers.ActionRestart:
		err = cli.ContainerRestart(ctx, id, container.StopOptions{})
	case containers.ActionPause, containers.ActionUnpause:
		var in container.InspectResponse
		in, err = cli.ContainerInspect(ctx, id)
		if err != nil {
			break
		}
		paused := in.State != nil && in.State.Paused
		running := in.State != nil && in.State.Running
		switch {
		case action == containers.ActionPause && paused, action == containers.ActionUnpause && running && !paused:
			return nil // already so
		case action == containers.ActionPause:
			err = cli.ContainerPause(ctx, id)
		default:
			err = cli.ContainerUnpause(ctx, id)
		}
	default:
		return engine.Errorf(engine.InvalidArgument, "unknown action %q; valid actions: %v", action, containers.Actions)
	}
	return c.d.errorOf(err)
}

// RemoveContainer removes the container as `docker rm -f` does.
func (c *control) RemoveContainer(ctx context.Context, id string) error {
	return c.d.errorOf(c.d.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}))
}

// RemoveImage removes a tag (`docker rmi TAG`, which deletes the image with
// its last tag, children pruned), or the untagged image by ID. Not forced: an
// image in use gives Docker's 409 rather than being untagged from under its
// containers.
func (c *control) RemoveImage(ctx context.Context, id, repoTag string) error {
	ref := repoTag
	if ref == "" {
		ref = id
	}
	// A mirror a little behind Docker (the tag moved to another image, or the
	// untagged image got a tag) must not remove what it does not show: then
	// there is nothing to remove, and the reconcile fixes the mirror.
	in, err := c.d.cli.ImageInspect(ctx, ref)
	if err != nil {
		return c.d.errorOf(err)
	}
	if in.ID != id || (repoTag == "" && hasTag(in.RepoTags)) {
		return nil
	}
	_, err = c.d.cli.ImageRemove(ctx, ref, image.RemoveOptions{Force: false, PruneChildren: true})
	return c.d.errorOf(err)
}

// hasTag tells whether repoTags holds a real tag (not Docker's placeholder).
func hasTag(repoTags []string) bool {
	return slices.ContainsFunc(repoTags, func(t string) bool { return t != "" && t != noneTag })
}

// RemoveVolume removes a volume, not forced: Docker refuses (409) while a
// container, even a stopped one, uses it.
func (c *control) RemoveVolume(ctx context.Context, name string) error {
	return c.d.errorOf(c.d.cli.VolumeRemove(ctx, name, false))
}
