//go:build integration

package images

import (
	"context"
	"strings"
	"testing"

	units "github.com/docker/go-units"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// TestVolumes: a volume created, used by a container, and deleted, through
// Docker and through the API (409 while in use), each seen on a watch.
func TestVolumes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.s.Client.ContainersV1alpha1().Volumes(e.s.Namespace)
	w := e.watchVolumes()

	vname := testenv.UniqueName(t, "ca-vol")
	e.docker("volume", "create", "--label", "app=web", vname)
	t.Cleanup(func() { _, _ = testenv.Docker(ctx, e.host, "volume", "rm", "-f", vname) })
	name := engine.VolumeName(vname)
	v := w.waitFor(watch.Added, name, nil).(*v1alpha1.Volume)
	st := v.Status
	mountpoint := e.docker("volume", "inspect", "-f", "{{.Mountpoint}}", vname)
	if st.Name != vname || st.Namespace != "moby" || st.Driver != "local" || st.Scope != "local" ||
		st.Mountpoint != mountpoint || st.Labels["app"] != "web" || v.Labels["app"] != "web" || st.CreatedAt == nil {
		t.Errorf("volume %+v (metadata labels %v); want %s, local, %s, label app=web, a creation time", st, v.Labels, vname, mountpoint)
	}

	list, err := c.List(ctx, metav1.ListOptions{FieldSelector: "status.name=" + vname})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != name {
		t.Fatalf("field selector status.name: %v %+v", err, list)
	}
	out := e.kubectl("get", "volumes.containers.rancherdesktop.io", "--field-selector", "status.name="+vname)
	if !strings.Contains(out, "VOLUME NAME") || !strings.Contains(out, "DRIVER") || !strings.Contains(out, "SCOPE") ||
		!strings.Contains(out, vname) || !strings.Contains(out, "local") {
		t.Errorf("kubectl get volumes:\n%s", out)
	}

	// In use by a container (stopped, even): Docker refuses, so does the API.
	ctr := e.docker("create", "-v", vname+":/data", testenv.BusyboxImage, "true")
	t.Cleanup(func() { _, _ = testenv.Docker(ctx, e.host, "rm", "-f", ctr) })
	err = c.Delete(ctx, name, metav1.DeleteOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "volume is in use") {
		t.Fatalf("delete of a volume in use: %v, want 409 with Docker's reason", err)
	}
	if _, err := c.Get(ctx, name, metav1.GetOptions{}); err != nil {
		t.Errorf("mirror after a refused delete: %v", err)
	}
	e.docker("rm", ctr)

	seen := map[string]int{}
	if err := c.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete %s: %v", vname, err)
	}
	if _, err := c.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("mirror after its delete returned: %v, want NotFound", err)
	}
	if _, err := testenv.Docker(ctx, e.host, "volume", "inspect", vname); err == nil {
		t.Errorf("docker still has volume %s", vname)
	}

	// A later volume is the marker: by its ADDED, every earlier event was read.
	marker := testenv.UniqueName(t, "ca-vol-marker")
	e.docker("volume", "create", marker)
	t.Cleanup(func() { _, _ = testenv.Docker(ctx, e.host, "volume", "rm", "-f", marker) })
	w.waitFor(watch.Added, engine.VolumeName(marker), seen)
	if n := seen[key(watch.Deleted, name)]; n != 1 {
		t.Errorf("%d DELETED events for the volume, want 1 (all: %v)", n, seen)
	}

	// Removed through Docker.
	e.docker("volume", "rm", marker)
	w.waitFor(watch.Deleted, engine.VolumeName(marker), nil)
}

// TestImageSelectorsAndTable: field selectors status.id and status.repoTag,
// and the table kubectl prints.
func TestImageSelectorsAndTable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.s.Client.ContainersV1alpha1().Images(e.s.Namespace)

	tagA, tagB := uniqueTag(t, "a"), uniqueTag(t, "b")
	id := e.uniqueImage(tagA)
	e.docker("tag", id, tagB)
	e.imagesEqualDocker()

	list, err := c.List(ctx, metav1.ListOptions{FieldSelector: "status.repoTag=" + tagA})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != engine.ImageName(id, tagA) {
		t.Fatalf("field selector status.repoTag: %v %+v", err, list)
	}
	list, err = c.List(ctx, metav1.ListOptions{FieldSelector: "status.id=" + id})
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("field selector status.id: %v %+v", err, list)
	}
	if _, err := c.List(ctx, metav1.ListOptions{FieldSelector: "status.size=1"}); !apierrors.IsBadRequest(err) {
		t.Errorf("unsupported field selector: %v, want 400", err)
	}

	img := list.Items[0]
	out := e.kubectl("get", "images.containers.rancherdesktop.io", "--field-selector", "status.repoTag="+tagA)
	short := strings.TrimPrefix(id, "sha256:")[:12]
	for _, want := range []string{"TAG", "IMAGE ID", "SIZE", "CREATED", tagA, short,
		units.HumanSizeWithPrecision(float64(img.Status.Size), 3)} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl get images has no %q:\n%s", want, out)
		}
	}
	out = e.kubectl("get", "img", "-o", "wide", "--field-selector", "status.id="+id)
	if !strings.Contains(out, "PLATFORM") || !strings.Contains(out, img.Status.OS+"/"+img.Status.Architecture) ||
		!strings.Contains(out, tagB) {
		t.Errorf("kubectl get img -o wide:\n%s", out)
	}
}
