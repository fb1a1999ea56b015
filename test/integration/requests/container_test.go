//go:build integration

package requests

import (
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

var containerIDRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestContainerCreateRequest(t *testing.T) {
	s, host := startServer(t)
	cli := testenv.DockerClient(t, host)
	c := ctx(t)
	reqs := s.Client.ContainersV1alpha1().ContainerCreateRequests(s.Namespace)
	w, err := reqs.Watch(c, metav1.ListOptions{})
	rw := newWatch(t, w, err)

	name := testenv.UniqueName(t, "ccr")
	t.Cleanup(func() { _, _ = testenv.Docker(c, host, "rm", "-f", name) })
	created, err := reqs.Create(c, &v1alpha1.ContainerCreateRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "run-"},
		Spec: v1alpha1.ContainerCreateRequestSpec{
			Name: name, Image: testenv.BusyboxImage, Path: "sleep", Args: []string{"300"},
			Labels: map[string]string{"test": "ccr"},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Name, "run-") || len(created.Name) <= len("run-") {
		t.Fatalf("generateName: name %q", created.Name)
	}

	t.Run("Complete", func(t *testing.T) {
		obj := rw.waitEnded(created.Name).(*v1alpha1.ContainerCreateRequest)
		expectOutcome(t, obj, v1alpha1.RequestComplete, "ContainerStarted", "started")
		if !containerIDRE.MatchString(obj.Status.ContainerID) {
			t.Fatalf("status.containerID = %q", obj.Status.ContainerID)
		}
		insp, err := cli.ContainerInspect(c, obj.Status.ContainerID)
		if err != nil {
			t.Fatal(err)
		}
		if insp.Name != "/"+name || !insp.State.Running || insp.Path != "sleep" || strings.Join(insp.Args, " ") != "300" ||
			insp.Config.Labels["test"] != "ccr" {
			t.Fatalf("container: name %s running %v path %s args %v labels %v", insp.Name, insp.State.Running, insp.Path, insp.Args, insp.Config.Labels)
		}
	})

	t.Run("DuplicateName", func(t *testing.T) {
		dup, err := reqs.Create(c, &v1alpha1.ContainerCreateRequest{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "dup-"},
			Spec:       v1alpha1.ContainerCreateRequestSpec{Name: name, Image: testenv.BusyboxImage},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		obj := rw.waitEnded(dup.Name).(*v1alpha1.ContainerCreateRequest)
		expectOutcome(t, obj, v1alpha1.RequestFailed, "NameConflict", "is already in use")
		if obj.Status.ContainerID != "" {
			t.Fatalf("a failed create names container %s", obj.Status.ContainerID)
		}
	})

	t.Run("UnknownImage", func(t *testing.T) {
		bad, err := reqs.Create(c, &v1alpha1.ContainerCreateRequest{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "noimg-"},
			Spec:       v1alpha1.ContainerCreateRequestSpec{Image: "containers-apiserver/no-such-image:v0"},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		obj := rw.waitEnded(bad.Name)
		expectOutcome(t, obj, v1alpha1.RequestFailed, "ImageNotFound", "No such image")
	})

	// A command that does not exist: Docker creates the container, then
	// refuses to start it (as an "invalid argument"); the request says
	// StartFailed and names the container, which is kept, as docker run keeps it.
	t.Run("StartFailed", func(t *testing.T) {
		name3 := testenv.UniqueName(t, "ccr")
		t.Cleanup(func() { _, _ = testenv.Docker(c, host, "rm", "-f", name3) })
		req, err := reqs.Create(c, &v1alpha1.ContainerCreateRequest{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "nocmd-"},
			Spec:       v1alpha1.ContainerCreateRequestSpec{Name: name3, Image: testenv.BusyboxImage, Path: "/no/such/command"},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		obj := rw.waitEnded(req.Name).(*v1alpha1.ContainerCreateRequest)
		expectOutcome(t, obj, v1alpha1.RequestFailed, "StartFailed", "no such file or directory")
		if !containerIDRE.MatchString(obj.Status.ContainerID) {
			t.Fatalf("status.containerID = %q, want the created container", obj.Status.ContainerID)
		}
		insp, err := cli.ContainerInspect(c, obj.Status.ContainerID)
		if err != nil {
			t.Fatalf("the container that failed to start is gone: %v", err)
		}
		if insp.Name != "/"+name3 || insp.State.Running {
			t.Fatalf("container %s running %v", insp.Name, insp.State.Running)
		}
	})

	t.Run("CreatedWithPorts", func(t *testing.T) {
		name2 := testenv.UniqueName(t, "ccr")
		t.Cleanup(func() { _, _ = testenv.Docker(c, host, "rm", "-f", name2) })
		req, err := reqs.Create(c, &v1alpha1.ContainerCreateRequest{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "ports-"},
			Spec: v1alpha1.ContainerCreateRequestSpec{
				Name: name2, Image: testenv.BusyboxImage, State: "created",
				Ports: []v1alpha1.ContainerPort{{Name: "80/tcp", Bindings: []v1alpha1.PortBinding{{HostIP: "127.0.0.1", HostPort: 0}}}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		obj := rw.waitEnded(req.Name).(*v1alpha1.ContainerCreateRequest)
		expectOutcome(t, obj, v1alpha1.RequestComplete, "ContainerCreated", "created")
		insp, err := cli.ContainerInspect(c, obj.Status.ContainerID)
		if err != nil {
			t.Fatal(err)
		}
		b := insp.HostConfig.PortBindings["80/tcp"]
		if insp.State.Status != "created" || len(b) != 1 || b[0].HostIP != "127.0.0.1" {
			t.Fatalf("container: state %s, bindings %v", insp.State.Status, insp.HostConfig.PortBindings)
		}
		if _, ok := insp.Config.ExposedPorts["80/tcp"]; !ok {
			t.Fatalf("80/tcp not exposed: %v", insp.Config.ExposedPorts)
		}
	})

	t.Run("RemovedAfterTTL", func(t *testing.T) {
		rw.waitDeleted(created.Name)
		if _, err := reqs.Get(c, created.Name, metav1.GetOptions{}); err == nil {
			t.Fatal("the request is still there after its DELETED event")
		}
		// The container itself stays.
		if _, err := cli.ContainerInspect(c, name); err != nil {
			t.Fatal(err)
		}
	})
}
