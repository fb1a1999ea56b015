package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// ignoredActions are container events that do not change what a mirror shows
// (the part of the action before ":"). Everything else, including actions a
// newer Docker may add, leads to an inspection.
var ignoredActions = map[string]bool{
	"exec_create": true, "exec_start": true, "exec_die": true, "exec_detach": true,
	"attach": true, "detach": true, "resize": true, "top": true, "copy": true,
	"archive-path": true, "extract-to-dir": true, "export": true, "commit": true,
}

// containerSource is the container mirror source: keyed by container ID,
// each change an inspection.
type containerSource struct{ d *dockerEngine }

var _ engine.Source[*containers.Container] = (*containerSource)(nil)

func (*containerSource) Resource() string { return "containers" }

func (s *containerSource) Checkpoint(ctx context.Context) (time.Time, error) {
	return s.d.checkpoint(ctx)
}

func (s *containerSource) Ping(ctx context.Context) error { return s.d.ping(ctx) }

// Watch turns Docker's container events into changes of one container.
func (s *containerSource) Watch(ctx context.Context, since time.Time) (<-chan engine.Change, <-chan error) {
	return s.d.watch(ctx, since, filters.NewArgs(filters.Arg("type", string(events.ContainerEventType))),
		func(msg events.Message) (engine.Change, bool) {
			if msg.Type != events.ContainerEventType {
				return engine.Change{}, false
			}
			action, _, _ := strings.Cut(string(msg.Action), ":")
			id := msg.Actor.ID
			if id == "" {
				id = msg.ID //nolint:staticcheck // pre-1.22 daemons set only the legacy field
			}
			if ignoredActions[action] || !engine.IsContainerID(id) {
				return engine.Change{}, false
			}
			return engine.Change{Key: id, Action: string(msg.Action)}, true
		})
}

// List lists every container's ID (`docker ps -a`); each is inspected by Get.
func (s *containerSource) List(ctx context.Context) (engine.Listing[*containers.Container], error) {
	list, err := s.d.cli.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return engine.Listing[*containers.Container]{}, s.d.errorOf(err)
	}
	keys := make([]string, 0, len(list))
	for _, c := range list {
		keys = append(keys, c.ID)
	}
	return engine.Listing[*containers.Container]{Keys: keys, Get: s.Get}, nil
}

// Get inspects the container.
func (s *containerSource) Get(ctx context.Context, id string) (engine.Desired[*containers.Container], bool, error) {
	in, err := s.d.cli.ContainerInspect(ctx, id)
	if err = s.d.errorOf(err); engine.IsNotFound(err) {
		return nil, false, nil
	}
	switch {
	case err != nil:
		return nil, false, fmt.Errorf("inspecting container %s: %w", id, err)
	case in.ContainerJSONBase == nil || in.ID != id:
		// Docker resolved a stored name that is not a container ID as the name
		// or ID prefix of another container: no container has this ID.
		return nil, false, nil
	}
	return func(prev *containers.Container, now time.Time) *containers.Container {
		return toContainer(&in, prev, now)
	}, true, nil
}

// watch subscribes to Docker's events matching f since the checkpoint and
// passes on those that convert gives a change for. The returned error channel
// receives the stream's failure (or nothing when ctx ends) and is closed once
// this function's goroutine and the client's stream goroutine have ended.
func (d *dockerEngine) watch(ctx context.Context, since time.Time, f filters.Args,
	convert func(events.Message) (engine.Change, bool)) (<-chan engine.Change, <-chan error) {
	msgs, errs := d.cli.Events(ctx, events.ListOptions{
		Since:   fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()),
		Filters: f,
	})
	out := make(chan engine.Change)
	outErr := make(chan error, 1)
	go func() {
		defer close(outErr)
		// The client's goroutine ends with ctx; wait for it before closing.
		defer func() {
			for range errs { // drain until the client's stream goroutine has ended
			}
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case msg := <-msgs:
				c, ok := convert(msg)
				if !ok {
					continue
				}
				c.Received = time.Now()
				select {
				case out <- c:
				case <-ctx.Done():
					return
				}
			case err, ok := <-errs:
				if ctx.Err() != nil {
					return
				}
				if !ok || err == nil {
					err = errors.New("event stream closed")
				}
				outErr <- d.errorOf(err)
				return
			}
		}
	}()
	return out, outErr
}
