package docker

import (
	"context"
	"fmt"
	"maps"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// Volumes keeps the Volume objects in a store equal to `docker volume ls`.
// Create it with NewVolumes and start it with Run.
type Volumes struct {
	*listMirror[*containers.Volume]
}

// NewVolumes returns a volume mirror for cfg (the same Config as New, with the
// volumes' store, keys and list key); it is not ready until Run has synced.
func NewVolumes(cfg Config) (*Volumes, error) {
	vs := &Volumes{}
	lm, err := newListMirror(cfg, listSpec[*containers.Volume]{
		kind:     "volume",
		filters:  filters.NewArgs(filters.Arg("type", string(events.VolumeEventType))),
		relevant: volumeEventRelevant,
		desired:  vs.desired,
		newObj:   func() *containers.Volume { return &containers.Volume{} },
		newList:  func() runtime.Object { return &containers.VolumeList{} },
	})
	if err != nil {
		return nil, err
	}
	vs.listMirror = lm
	return vs, nil
}

// volumeEventRelevant: mount and unmount change nothing `docker volume ls` shows.
func volumeEventRelevant(msg events.Message) bool {
	return msg.Type == events.VolumeEventType && msg.Action != events.ActionMount && msg.Action != events.ActionUnmount
}

// desired lists the volumes and returns their mirrors.
func (vs *Volumes) desired(ctx context.Context, cli *client.Client) (map[string]*containers.Volume, error) {
	lctx, cancel := context.WithTimeout(ctx, listTimeout)
	list, err := cli.VolumeList(lctx, volume.ListOptions{})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("listing docker volumes: %w", err)
	}
	if len(list.Warnings) > 0 {
		klog.FromContext(ctx).Info("Docker warned while listing volumes", "warnings", list.Warnings)
	}
	out := make(map[string]*containers.Volume, len(list.Volumes))
	for _, v := range list.Volumes {
		if v == nil || v.Name == "" {
			continue
		}
		vol := toVolume(v, vs.namespace)
		out[vol.Name] = vol
	}
	return out, nil
}

// toVolume converts a listed volume into its mirror. It is a pure function;
// a CreatedAt Docker does not give or that does not parse is left unset.
func toVolume(v *volume.Volume, namespace string) *containers.Volume {
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
	out.Name = VolumeName(v.Name)
	out.Namespace = namespace
	out.UID = uidFor("volume\x00" + out.Name)
	if out.Status.CreatedAt != nil {
		out.CreationTimestamp = *out.Status.CreatedAt
	}
	out.Labels = kubeLabels(v.Labels)
	return out
}

// Remove removes the Docker volume behind a Volume mirror (registry.Remover),
// not forced: Docker refuses with 409 while a container (even a stopped one)
// uses it. See listMirror.remove for the errors.
func (vs *Volumes) Remove(ctx context.Context, obj runtime.Object) error {
	v, ok := obj.(*containers.Volume)
	if !ok {
		return fmt.Errorf("not a Volume: %T", obj)
	}
	return vs.remove(ctx, v.Name, func(ctx context.Context, cli *client.Client) error {
		return cli.VolumeRemove(ctx, v.Status.Name, false)
	})
}
