package docker

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// Docker's placeholders for a dangling image in an image listing.
const (
	noneTag    = "<none>:<none>"
	noneDigest = "<none>@<none>"
)

// imagePlatform is what the mirror needs from an image inspection: the only
// fields the listing lacks. They never change for an image ID, so they are
// cached by ID.
type imagePlatform struct {
	architecture, os string
}

// imageSource is the image mirror source: one Image per tag, one for an image
// without tags, so the mirrors equal `docker images`. Docker's image events do
// not name what changed reliably (a pull's Actor.ID is a reference, a tag
// moving emits nothing for its old image), so every relevant event asks for
// the whole listing again.
type imageSource struct {
	d *dockerEngine
	// mu guards platforms, the inspected platform of each listed image ID.
	mu        sync.Mutex
	platforms map[string]imagePlatform
}

var _ engine.Source[*containers.Image] = (*imageSource)(nil)

func newImageSource(d *dockerEngine) *imageSource {
	return &imageSource{d: d, platforms: map[string]imagePlatform{}}
}

func (*imageSource) Resource() string { return "images" }

func (s *imageSource) Checkpoint(ctx context.Context) (time.Time, error) { return s.d.checkpoint(ctx) }

func (s *imageSource) Ping(ctx context.Context) error { return s.d.ping(ctx) }

// Watch turns image events (and a container's commit: without a repository
// it creates an image with no image event at all) into "list again".
func (s *imageSource) Watch(ctx context.Context, since time.Time) (<-chan engine.Change, <-chan error) {
	f := filters.NewArgs(filters.Arg("type", string(events.ImageEventType)), filters.Arg("type", string(events.ContainerEventType)))
	return s.d.watch(ctx, since, f, func(msg events.Message) (engine.Change, bool) {
		return engine.Change{All: true, Action: string(msg.Action)}, imageEventRelevant(msg)
	})
}

// imageEventRelevant: every image event but save (which changes nothing) and
// a container's commit may change `docker images`.
func imageEventRelevant(msg events.Message) bool {
	switch msg.Type {
	case events.ImageEventType:
		return msg.Action != events.ActionSave
	case events.ContainerEventType:
		return msg.Action == events.ActionCommit
	}
	return false
}

// List lists the images (as `docker images`: All false hides intermediate
// layers) and returns their mirrors. An image that cannot be inspected is
// still mirrored, without its platform, and inspected again next time.
func (s *imageSource) List(ctx context.Context) (engine.Listing[*containers.Image], error) {
	cli := s.d.cli
	list, err := cli.ImageList(ctx, image.ListOptions{All: false})
	if err != nil {
		return engine.Listing[*containers.Image]{}, fmt.Errorf("listing docker images: %w", s.d.errorOf(err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*containers.Image, len(list))
	listed := make(map[string]bool, len(list))
	for i := range list {
		sum := &list[i]
		listed[sum.ID] = true
		p, ok := s.platforms[sum.ID]
		if !ok {
			ictx, cancel := context.WithTimeout(ctx, callTimeout)
			in, err := cli.ImageInspect(ictx, sum.ID)
			cancel()
			switch {
			case cerrdefs.IsNotFound(err):
				continue // removed since the listing; its event triggers another one
			case err != nil:
				klog.FromContext(ctx).Error(err, "Inspecting an image failed; mirrored without its platform", "id", sum.ID)
			default:
				p = imagePlatform{architecture: in.Architecture, os: in.Os}
				s.platforms[sum.ID] = p
			}
		}
		for _, img := range toImages(sum, p) {
			out[img.Name] = img
		}
	}
	maps.DeleteFunc(s.platforms, func(id string, _ imagePlatform) bool { return !listed[id] })
	return engine.ListingOf(out, (*containers.Image).DeepCopy), nil
}

// Get answers from a new listing (the reconciler of a listed source reads
// the listing; this serves a removal's check).
func (s *imageSource) Get(ctx context.Context, name string) (engine.Desired[*containers.Image], bool, error) {
	return getListed(ctx, s.List, name)
}

// getListed is Get for a listed source: one name from a new listing.
func getListed[O any](ctx context.Context, list func(context.Context) (engine.Listing[O], error), name string) (engine.Desired[O], bool, error) {
	l, err := list(ctx)
	if err != nil {
		return nil, false, err
	}
	return l.Get(ctx, name)
}

// toImages converts one listed image into its mirrors: one per tag, or one
// without repoTag when it has no tag. It is a pure function; every slice is
// sorted and every time whole seconds, so the same Docker state always gives
// semantically equal objects.
func toImages(s *image.Summary, p imagePlatform) []*containers.Image {
	var tags []string
	for _, t := range s.RepoTags {
		if t != "" && t != noneTag {
			tags = append(tags, t)
		}
	}
	slices.Sort(tags)
	tags = slices.Compact(tags)
	var digests []string
	for _, d := range s.RepoDigests {
		if d != "" && d != noneDigest {
			digests = append(digests, d)
		}
	}
	slices.Sort(digests)
	digests = slices.Compact(digests)
	var created *metav1.Time
	if s.Created > 0 {
		t := metav1.Unix(s.Created, 0).Rfc3339Copy()
		created = &t
	}
	var labels map[string]string
	if len(s.Labels) > 0 {
		labels = maps.Clone(s.Labels)
	}
	if len(tags) == 0 {
		tags = []string{""}
	}
	out := make([]*containers.Image, 0, len(tags))
	for _, tag := range tags {
		img := &containers.Image{
			Status: containers.ImageStatus{
				Namespace:    containers.MobyNamespace,
				ID:           s.ID,
				RepoTag:      tag,
				RepoDigests:  slices.Clone(digests),
				CreatedAt:    created.DeepCopy(),
				Architecture: p.architecture,
				OS:           p.os,
				Size:         s.Size,
				Labels:       maps.Clone(labels),
			},
		}
		img.Name = engine.ImageName(s.ID, tag)
		img.UID = engine.UID("image\x00" + img.Name)
		if created != nil {
			img.CreationTimestamp = *created
		}
		img.Labels = engine.KubeLabels(labels)
		out = append(out, img)
	}
	return out
}
