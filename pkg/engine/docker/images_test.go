package docker

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/volume"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

const testImageID = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestToImages(t *testing.T) {
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	s := &image.Summary{
		ID:          testImageID,
		RepoTags:    []string{"repo:b", "repo:a", "repo:a"},
		RepoDigests: []string{"repo@sha256:2", "<none>@<none>", "repo@sha256:1"},
		Created:     created.Unix(),
		Size:        1234,
		Labels:      map[string]string{"app": "web", "bad key!": "x"},
	}
	got := toImages(s, imagePlatform{architecture: "amd64", os: "linux"})
	if len(got) != 2 {
		t.Fatalf("got %d images, want one per distinct tag (2)", len(got))
	}
	for i, tag := range []string{"repo:a", "repo:b"} {
		img := got[i]
		if img.Name != engine.ImageName(testImageID, tag) || img.Status.RepoTag != tag {
			t.Errorf("image %d: name %s ns %s tag %q", i, img.Name, img.Namespace, img.Status.RepoTag)
		}
		want := containers.ImageStatus{
			Namespace: containers.MobyNamespace, ID: testImageID, RepoTag: tag,
			RepoDigests: []string{"repo@sha256:1", "repo@sha256:2"}, CreatedAt: img.Status.CreatedAt,
			Architecture: "amd64", OS: "linux", Size: 1234, Labels: map[string]string{"app": "web", "bad key!": "x"},
		}
		if !equality.Semantic.DeepEqual(img.Status, want) {
			t.Errorf("image %d status:\n got %+v\nwant %+v", i, img.Status, want)
		}
		if img.Status.CreatedAt == nil || !img.Status.CreatedAt.Time.Equal(created) || !img.CreationTimestamp.Time.Equal(created) {
			t.Errorf("image %d created: %v / %v, want %v", i, img.Status.CreatedAt, img.CreationTimestamp, created)
		}
		if len(img.Labels) != 1 || img.Labels["app"] != "web" {
			t.Errorf("image %d metadata labels: %v, want only the valid one", i, img.Labels)
		}
		if img.UID == "" {
			t.Errorf("image %d has no UID", i)
		}
	}
	if got[0].UID == got[1].UID {
		t.Error("two tags share a UID")
	}
	// Same input, same objects: the reconcile writes nothing for an unchanged image.
	again := toImages(s, imagePlatform{architecture: "amd64", os: "linux"})
	if !equality.Semantic.DeepEqual(got, again) {
		t.Error("toImages is not deterministic")
	}
}

func TestToImagesUntagged(t *testing.T) {
	for _, tags := range [][]string{nil, {}, {"<none>:<none>"}} {
		got := toImages(&image.Summary{ID: testImageID, RepoTags: tags, RepoDigests: []string{"<none>@<none>"}}, imagePlatform{})
		if len(got) != 1 {
			t.Fatalf("tags %q: got %d images, want 1", tags, len(got))
		}
		img := got[0]
		if img.Name != engine.ImageName(testImageID, "") || img.Status.RepoTag != "" || img.Status.RepoDigests != nil || img.Status.CreatedAt != nil {
			t.Errorf("tags %q: got %+v", tags, img)
		}
	}
	// An image with digest references only is untagged and keeps its digests.
	got := toImages(&image.Summary{ID: testImageID, RepoDigests: []string{"r@sha256:1"}}, imagePlatform{})
	if len(got) != 1 || got[0].Status.RepoTag != "" || len(got[0].Status.RepoDigests) != 1 {
		t.Errorf("digest-only image: %+v", got)
	}
}

func TestToVolume(t *testing.T) {
	v := &volume.Volume{
		Name: "data", Driver: "local", Mountpoint: "/var/lib/docker/volumes/data/_data", Scope: "local",
		CreatedAt: "2026-11-26T06:33:37Z", Labels: map[string]string{"k": "v"}, Options: map[string]string{"o": "1"},
	}
	got := toVolume(v)
	want := containers.VolumeStatus{
		Name: "data", Namespace: containers.MobyNamespace, CreatedAt: got.Status.CreatedAt, Driver: "local",
		Mountpoint: v.Mountpoint, Scope: "local", Labels: map[string]string{"k": "v"}, Options: map[string]string{"o": "1"},
	}
	if got.Name != engine.VolumeName("data") || !equality.Semantic.DeepEqual(got.Status, want) {
		t.Errorf("got %+v", got)
	}
	if got.Status.CreatedAt == nil || got.Status.CreatedAt.UTC().Format(time.RFC3339) != "2026-11-26T06:33:37Z" {
		t.Errorf("createdAt %v", got.Status.CreatedAt)
	}
	// A driver that gives no or an odd time: the volume is mirrored without it.
	for _, c := range []string{"", "yesterday", "0001-01-01T00:00:00Z"} {
		got := toVolume(&volume.Volume{Name: "odd", CreatedAt: c})
		if got.Status.CreatedAt != nil || !got.CreationTimestamp.IsZero() || got.Status.Name != "odd" {
			t.Errorf("createdAt %q: got %+v", c, got)
		}
	}
}

func TestEventRelevance(t *testing.T) {
	msg := func(typ events.Type, action events.Action) events.Message {
		return events.Message{Type: typ, Action: action}
	}
	for _, c := range []struct {
		msg           events.Message
		image, volume bool
	}{
		{msg(events.ImageEventType, events.ActionPull), true, false},
		{msg(events.ImageEventType, events.ActionTag), true, false},
		{msg(events.ImageEventType, events.ActionUnTag), true, false},
		{msg(events.ImageEventType, events.ActionDelete), true, false},
		{msg(events.ImageEventType, events.ActionImport), true, false},
		{msg(events.ImageEventType, events.ActionLoad), true, false},
		{msg(events.ImageEventType, events.ActionPush), true, false},
		{msg(events.ImageEventType, events.ActionSave), false, false},
		{msg(events.ContainerEventType, events.ActionCommit), true, false},
		{msg(events.ContainerEventType, events.ActionStart), false, false},
		{msg(events.VolumeEventType, events.ActionCreate), false, true},
		{msg(events.VolumeEventType, events.ActionDestroy), false, true},
		{msg(events.VolumeEventType, events.ActionPrune), false, true},
		{msg(events.VolumeEventType, events.ActionMount), false, false},
		{msg(events.VolumeEventType, events.ActionUnmount), false, false},
	} {
		if got := imageEventRelevant(c.msg); got != c.image {
			t.Errorf("images: %s %s relevant = %v", c.msg.Type, c.msg.Action, got)
		}
		if got := volumeEventRelevant(c.msg); got != c.volume {
			t.Errorf("volumes: %s %s relevant = %v", c.msg.Type, c.msg.Action, got)
		}
	}
}
