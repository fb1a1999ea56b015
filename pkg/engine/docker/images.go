package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// Docker's placeholders for a dangling image in an image listing.
const (
	noneTag    = "<none>:<none>"
	noneDigest = "<none>@<none>"
)

// ImageName is the name of the Image mirroring tag repoTag of image id: "img-"
// and the hex SHA-256 of id, NUL, repoTag; of id alone when repoTag is "" (an
// untagged image).
func ImageName(id, repoTag string) string {
	s := id
	if repoTag != "" {
		s += "\x00" + repoTag
	}
	sum := sha256.Sum256([]byte(s))
	return "img-" + hex.EncodeToString(sum[:])
}

// VolumeName is the name of the Volume mirroring Docker volume name.
func VolumeName(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "vol-" + hex.EncodeToString(sum[:])
}

// imagePlatform is what the mirror needs from an image inspection: the only
// fields the listing lacks. They never change for an image ID, so they are
// cached by ID.
type imagePlatform struct {
	architecture, os string
}

// Images keeps the Image objects in a store equal to `docker images` (one per
// tag, one for an image without tags). Create it with NewImages and start it
// with Run.
type Images struct {
	*listMirror[*containers.Image]
	// platforms caches the inspected platform of each listed image ID; guarded
	// by listMirror.syncMu (only desired, which runs under it, uses it).
	platforms map[string]imagePlatform
}

// NewImages returns an image mirror for cfg (the same Config as New, with the
// images' store, keys and list key); it is not ready until Run has synced.
func NewImages(cfg Config) (*Images, error) {
	im := &Images{platforms: map[string]imagePlatform{}}
	lm, err := newListMirror(cfg, listSpec[*containers.Image]{
		kind: "image",
		// Container events for `docker commit`: without a repository it
		// creates an image with no image event at all.
		filters:  filters.NewArgs(filters.Arg("type", string(events.ImageEventType)), filters.Arg("type", string(events.ContainerEventType))),
		relevant: imageEventRelevant,
		desired:  im.desired,
		newObj:   func() *containers.Image { return &containers.Image{} },
		newList:  func() runtime.Object { return &containers.ImageList{} },
	})
	if err != nil {
		return nil, err
	}
	im.listMirror = lm
	return im, nil
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

// desired lists the images (as `docker images`: All false hides intermediate
// layers) and returns their mirrors. An image that cannot be inspected is
// still mirrored, without its platform, and inspected again next time.
func (im *Images) desired(ctx context.Context, cli *client.Client) (map[string]*containers.Image, error) {
	lctx, cancel := context.WithTimeout(ctx, listTimeout)
	list, err := cli.ImageList(lctx, image.ListOptions{All: false})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("listing docker images: %w", err)
	}
	out := make(map[string]*containers.Image, len(list))
	listed := make(map[string]bool, len(list))
	for i := range list {
		s := &list[i]
		listed[s.ID] = true
		p, ok := im.platforms[s.ID]
		if !ok {
			ictx, cancel := context.WithTimeout(ctx, callTimeout)
			in, err := cli.ImageInspect(ictx, s.ID)
			cancel()
			switch {
			case cerrdefs.IsNotFound(err):
				continue // removed since the listing; its event triggers another one
			case err != nil:
				klog.FromContext(ctx).Error(err, "Inspecting an image failed; mirrored without its platform", "id", s.ID)
			default:
				p = imagePlatform{architecture: in.Architecture, os: in.Os}
				im.platforms[s.ID] = p
			}
		}
		for _, img := range toImages(s, p, im.namespace) {
			out[img.Name] = img
		}
	}
	maps.DeleteFunc(im.platforms, func(id string, _ imagePlatform) bool { return !listed[id] })
	return out, nil
}

// toImages converts one listed image into its mirrors: one per tag, or one
// without repoTag when it has no tag. It is a pure function; every slice is
// sorted and every time whole seconds, so the same Docker state always gives
// semantically equal objects.
func toImages(s *image.Summary, p imagePlatform, namespace string) []*containers.Image {
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
		img.Name = ImageName(s.ID, tag)
		img.Namespace = namespace
		img.UID = uidFor("image\x00" + img.Name)
		if created != nil {
			img.CreationTimestamp = *created
		}
		img.Labels = kubeLabels(labels)
		out = append(out, img)
	}
	return out
}

// Remove removes the Docker image behind an Image mirror (registry.Remover):
// its tag (`docker rmi TAG`, which deletes the image with its last tag), or
// the untagged image by ID. See listMirror.remove for the errors.
func (im *Images) Remove(ctx context.Context, obj runtime.Object) error {
	img, ok := obj.(*containers.Image)
	if !ok {
		return fmt.Errorf("not an Image: %T", obj)
	}
	ref := img.Status.RepoTag
	if ref == "" {
		ref = img.Status.ID
	}
	return im.remove(ctx, img.Name, func(ctx context.Context, cli *client.Client) error {
		// A mirror a little behind Docker (the tag moved to another image, or
		// the untagged image got a tag) must not remove what it does not show:
		// then there is nothing to remove, and the reconcile fixes the mirror.
		in, err := cli.ImageInspect(ctx, ref)
		if err != nil {
			return err
		}
		if in.ID != img.Status.ID || (img.Status.RepoTag == "" && hasTag(in.RepoTags)) {
			return nil
		}
		// Not forced: an image in use must give Docker's 409, not be untagged
		// from under its containers.
		_, err = cli.ImageRemove(ctx, ref, image.RemoveOptions{Force: false, PruneChildren: true})
		return err
	})
}

// hasTag tells whether repoTags holds a real tag (not Docker's placeholder).
func hasTag(repoTags []string) bool {
	return slices.ContainsFunc(repoTags, func(t string) bool { return t != "" && t != noneTag })
}
