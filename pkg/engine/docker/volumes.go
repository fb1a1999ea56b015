package docker

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"k8s.io/klog/v2"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// volumeSource is the volume mirror source: one Volume per `docker volume ls`
// entry; any volume event asks for the whole listing again.
type volumeSource struct{ d *dockerEngine }

var _ engine.Source[*containers.Volume] = (*volumeSource)(nil)

func (*volumeSource) Resource() string { return "volumes" }

func (s *volumeSource) Checkpoint(ctx context.Context) (time.Time, error) { return s.d.checkpoint(ctx) }

func (s *volumeSource) Ping(ctx context.Context) error { return s.d.ping(ctx) }

func (s *volumeSource) Watch(ctx context.Context, since time.Time) (<-chan engine.Change, <-chan error) {
	return s.d.watch(ctx, since, filters.NewArgs(filters.Arg("type", string(events.VolumeEventType))),
		func(msg events.Message) (engine.Change, bool) {
			return engine.Change{All: true, Action: string(msg.Action)}, volumeEventRelevant(msg)
		})
}

// volumeEventRelevant: mount and unmount change nothing `docker volume ls` shows.
func volumeEventRelevant(msg events.Message) bool {
	return msg.Type == events.VolumeEventType && msg.Action != events.ActionMount && msg.Action != events.ActionUnmount
}

// List lists the volumes and returns their mirrors.
func (s *volumeSource) List(ctx context.Context) (engine.Listing[*containers.Volume], error) {
	list, err := s.d.cli.VolumeList(ctx, volume.ListOptions{})
	if err != nil {
		return engine.Listing[*containers.Volume]{}, fmt.Errorf("listing docker volumes: %w", s.d.errorOf(err))
	}
	if len(list.Warnings) > 0 {
		klog.FromContext(ctx).Info("Docker warned while listing volumes", "warnings", list.Warnings)
	}
	out := make(map[string]*containers.Volume, len(list.Volumes))
	for _, v := range list.Volumes {
		if v == nil || v.Name == "" {
			continue
		}
		vol := toVolume(v)
		out[vol.Name] = vol
	}
	return engine.ListingOf(out, (*containers.Volume).DeepCopy), nil
}

// Get answers from a new listing.
func (s *volumeSource) Get(ctx context.Context, name string) (engine.Desired[*containers.Volume], bool, error) {
	return getListed(ctx, s.List, name)
}

// toVolume converts a listed volume into its mirror. It is a pure function;
// a CreatedAt Docker does not give or that does not parse is left unset.
func toVolume(v *volume.Volume) *containers.Volume {
	out := &containers.Volume{
		Status: containers.VolumeStatus{
			Name:       v.Name,
			Namespace:  containers.MobyNamespace,
			CreatedAt:  parseTime(v.CreatedAt),
			Driver:     v.Driver,
			Mountpoint: v.Mountpoint,
			Scope:      v.Scope,
		},
	}
	if len(v.Labels) > 0 {
		out.Status.Labels = maps.Clone(v.Labels)
	}
	if len(v.Options) > 0 {
		out.Status.Options = maps.Clone(v.Options)
	}
	out.Name = engine.VolumeName(v.Name)
	out.UID = engine.UID("volume\x00" + out.Name)
	if out.Status.CreatedAt != nil {
		out.CreationTimestamp = *out.Status.CreatedAt
	}
	out.Labels = engine.KubeLabels(v.Labels)
	return out
}
