//go:build integration

package requests

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

func TestVolumeCreateRequest(t *testing.T) {
	s, host := startServer(t)
	cli := testenv.DockerClient(t, host)
	c := ctx(t)
	reqs := s.Client.ContainersV1alpha1().VolumeCreateRequests(s.Namespace)
	w, err := reqs.Watch(c, metav1.ListOptions{})
	rw := newWatch(t, w, err)

	name := testenv.UniqueName(t, "vol")
	t.Cleanup(func() { _, _ = testenv.Docker(c, host, "volume", "rm", "-f", name) })
	req, err := reqs.Create(c, &v1alpha1.VolumeCreateRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "vol-"},
		Spec:       v1alpha1.VolumeCreateRequestSpec{Name: name, Labels: map[string]string{"test": "vcr"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	obj := rw.waitEnded(req.Name).(*v1alpha1.VolumeCreateRequest)
	expectOutcome(t, obj, v1alpha1.RequestComplete, "VolumeCreated", name)
	if obj.Status.VolumeName != name {
		t.Fatalf("status.volumeName = %q, want %q", obj.Status.VolumeName, name)
	}
	v, err := cli.VolumeInspect(c, name)
	if err != nil {
		t.Fatal(err)
	}
	if v.Driver != "local" || v.Labels["test"] != "vcr" {
		t.Fatalf("volume: driver %s labels %v", v.Driver, v.Labels)
	}

	// Without a name, Docker picks one and the status tells it.
	anon, err := reqs.Create(c, &v1alpha1.VolumeCreateRequest{ObjectMeta: metav1.ObjectMeta{GenerateName: "anon-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	aobj := rw.waitEnded(anon.Name).(*v1alpha1.VolumeCreateRequest)
	expectOutcome(t, aobj, v1alpha1.RequestComplete, "VolumeCreated", "created")
	if aobj.Status.VolumeName == "" {
		t.Fatal("no status.volumeName for a volume Docker named")
	}
	t.Cleanup(func() { _, _ = testenv.Docker(c, host, "volume", "rm", "-f", aobj.Status.VolumeName) })
	if _, err := cli.VolumeInspect(c, aobj.Status.VolumeName); err != nil {
		t.Fatal(err)
	}

	rw.waitDeleted(req.Name)
	rw.waitDeleted(anon.Name)
}
