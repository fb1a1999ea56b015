//go:build integration

package images

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// waitAll reads events until every "TYPE name" in want has been seen, and
// returns the count of every event read.
func (w *watcher) waitAll(want ...string) map[string]int {
	w.t.Helper()
	seen := map[string]int{}
	missing := func() []string {
		var m []string
		for _, k := range want {
			if seen[k] == 0 {
				m = append(m, k)
			}
		}
		return m
	}
	for m := missing(); len(m) > 0; m = missing() {
		ev := w.next(strings.Join(m, ", "))
		seen[string(ev.typ)+" "+ev.name]++
	}
	return seen
}

func key(typ watch.EventType, name string) string { return string(typ) + " " + name }

// TestImagesFollowDocker: tag, untag (a tag moved away leaves the image
// untagged), rmi, import and load through Docker's CLI, each seen on a watch,
// and the resource equal to `docker images` after each.
func TestImagesFollowDocker(t *testing.T) {
	e := newEnv(t)
	w := e.watchImages()

	tag1 := uniqueTag(t, "first")
	id := e.uniqueImage(tag1)
	img := w.waitFor(watch.Added, engine.ImageName(id, tag1), nil).(*v1alpha1.Image)
	st := img.Status
	if st.ID != id || st.RepoTag != tag1 || st.Namespace != "moby" {
		t.Errorf("status %+v; want id %s tag %s namespace moby", st, id, tag1)
	}
	inspect := strings.Fields(e.docker("image", "inspect", "-f", "{{.Architecture}} {{.Os}} {{.Size}}", id))
	if st.Architecture != inspect[0] || st.OS != inspect[1] || inspect[2] != strconv.FormatInt(st.Size, 10) {
		t.Errorf("status %+v; docker inspect says %v", st, inspect)
	}
	if st.CreatedAt == nil || st.Labels["test"] == "" || img.Labels["test"] == "" {
		t.Errorf("createdAt %v, labels %v / metadata labels %v", st.CreatedAt, st.Labels, img.Labels)
	}
	e.imagesEqualDocker()

	tag2 := uniqueTag(t, "second")
	e.docker("tag", id, tag2)
	w.waitFor(watch.Added, engine.ImageName(id, tag2), nil)
	e.imagesEqualDocker()

	e.docker("rmi", tag2)
	w.waitFor(watch.Deleted, engine.ImageName(id, tag2), nil)
	e.imagesEqualDocker()

	// Moving the last tag to another image leaves this one untagged, with no
	// event for it at all: the untagged mirror replaces the tagged one.
	bb := e.imageID(testenv.BusyboxImage)
	e.docker("tag", testenv.BusyboxImage, tag1)
	w.waitAll(key(watch.Deleted, engine.ImageName(id, tag1)), key(watch.Added, engine.ImageName(id, "")),
		key(watch.Added, engine.ImageName(bb, tag1)))
	e.imagesEqualDocker()

	e.docker("rmi", tag1) // busybox keeps its own tag
	w.waitFor(watch.Deleted, engine.ImageName(bb, tag1), nil)
	e.docker("rmi", id)
	w.waitFor(watch.Deleted, engine.ImageName(id, ""), nil)
	e.imagesEqualDocker()

	// docker import makes a new image from a filesystem, docker load brings a
	// removed one back.
	dir := t.TempDir()
	ctr := e.docker("create", testenv.BusyboxImage, "true")
	e.docker("export", "-o", filepath.Join(dir, "fs.tar"), ctr)
	e.docker("rm", ctr)
	tagImp := uniqueTag(t, "import")
	imp := e.docker("import", filepath.Join(dir, "fs.tar"), tagImp)
	t.Cleanup(func() { e.removeImage(imp) })
	w.waitFor(watch.Added, engine.ImageName(imp, tagImp), nil)
	e.imagesEqualDocker()

	e.docker("save", "-o", filepath.Join(dir, "img.tar"), tagImp)
	e.docker("rmi", tagImp)
	w.waitFor(watch.Deleted, engine.ImageName(imp, tagImp), nil)
	e.docker("load", "-i", filepath.Join(dir, "img.tar"))
	w.waitFor(watch.Added, engine.ImageName(imp, tagImp), nil)
	e.imagesEqualDocker()
}

// TestImageDeletes: deletes through the API remove the tag (or the untagged
// image) from Docker, answer 409 with Docker's reason while a container uses
// the only tag, and watchers see exactly one DELETED.
func TestImageDeletes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.s.Client.ContainersV1alpha1().Images(e.s.Namespace)
	w := e.watchImages()

	tagA, tagB := uniqueTag(t, "a"), uniqueTag(t, "b")
	id := e.uniqueImage(tagA)
	e.docker("tag", id, tagB)
	nameA, nameB := engine.ImageName(id, tagA), engine.ImageName(id, tagB)
	w.waitAll(key(watch.Added, nameA), key(watch.Added, nameB))
	// Every event from here on, to count the DELETEDs at the end.
	seen := map[string]int{}

	// One tag of two: only that tag goes, the image stays.
	if err := c.Delete(ctx, nameB, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete %s: %v", tagB, err)
	}
	if _, err := c.Get(ctx, nameB, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("mirror of %s after its delete returned: %v, want NotFound", tagB, err)
	}
	if _, err := testenv.Docker(ctx, e.host, "image", "inspect", tagB); err == nil {
		t.Errorf("docker still has %s", tagB)
	}
	if got := e.imageID(tagA); got != id {
		t.Errorf("%s is %s, want %s", tagA, got, id)
	}

	// The only tag, used by a (stopped) container: 409 with Docker's reason.
	ctr := e.docker("create", tagA, "true")
	err := c.Delete(ctx, nameA, metav1.DeleteOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "unable to remove repository reference") ||
		!strings.Contains(err.Error(), "is using its referenced image") {
		t.Fatalf("delete of an image in use: %v, want 409 with Docker's reason", err)
	}
	if _, err := c.Get(ctx, nameA, metav1.GetOptions{}); err != nil {
		t.Errorf("mirror after a refused delete: %v", err)
	}
	e.docker("rm", ctr)
	if err := c.Delete(ctx, nameA, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete %s: %v", tagA, err)
	}
	if _, err := testenv.Docker(ctx, e.host, "image", "inspect", id); err == nil {
		t.Errorf("docker still has image %s after its last tag was deleted", id)
	}
	if _, err := c.Get(ctx, nameA, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("mirror of %s after its delete returned: %v, want NotFound", tagA, err)
	}
	if err := c.Delete(ctx, nameA, metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: %v, want NotFound", err)
	}

	// An untagged image, deleted by the API.
	tagC := uniqueTag(t, "c")
	id2 := e.uniqueImage(tagC)
	e.docker("tag", testenv.BusyboxImage, tagC) // id2 is untagged now
	t.Cleanup(func() { _, _ = testenv.Docker(ctx, e.host, "rmi", tagC) })
	untagged := engine.ImageName(id2, "")
	w.waitFor(watch.Added, untagged, seen)
	if err := c.Delete(ctx, untagged, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete untagged %s: %v", id2, err)
	}
	if _, err := testenv.Docker(ctx, e.host, "image", "inspect", id2); err == nil {
		t.Errorf("docker still has untagged image %s", id2)
	}

	// Exactly one DELETED per delete: a later change is a marker; every event
	// before it has been read when it arrives.
	marker := uniqueTag(t, "marker")
	e.docker("tag", testenv.BusyboxImage, marker)
	t.Cleanup(func() { _, _ = testenv.Docker(ctx, e.host, "rmi", marker) })
	w.waitFor(watch.Added, engine.ImageName(e.imageID(marker), marker), seen)
	for k, want := range map[string]int{
		key(watch.Deleted, nameB): 1, key(watch.Deleted, nameA): 1, key(watch.Deleted, untagged): 1,
		// The image went with its last tag: no untagged mirror in between.
		key(watch.Added, engine.ImageName(id, "")): 0,
	} {
		if seen[k] != want {
			t.Errorf("%d events %s, want %d (all: %v)", seen[k], k, want, seen)
		}
	}
	e.imagesEqualDocker()
}
