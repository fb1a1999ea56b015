//go:build integration

package api

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// TestLifecycleThroughWatch drives a container through docker's verbs and
// checks that each change reaches an API watch, with status equal to docker inspect.
func TestLifecycleThroughWatch(t *testing.T) {
	host := testenv.DockerHost(t)
	s := testenv.StartServer(t, host, testenv.ServerOptions{})
	dc := testenv.DockerClient(t, host)
	ctx := context.Background()

	list, err := s.Client.ContainersV1alpha1().Containers(s.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cw := watchContainers(t, s, metav1.ListOptions{ResourceVersion: list.ResourceVersion})

	name := testenv.UniqueName(t, "life")
	id := runContainer(t, host, name, "--label", "app.example.com/tier=web", "--label", "com.example/a/b=x", "-p", "127.0.0.1::80")

	// matchInspect compares the mirrored status with docker inspect.
	matchInspect := func(c *v1alpha1.Container) {
		t.Helper()
		in, err := dc.ContainerInspect(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status.Name != strings.TrimPrefix(in.Name, "/") || c.Status.Status != in.State.Status ||
			c.Status.Pid != int64(in.State.Pid) || c.Status.ExitCode != int64(in.State.ExitCode) ||
			c.Status.Image != in.Image || c.Status.ImageName != in.Config.Image {
			t.Fatalf("mirror %s differs from docker inspect: name=%s status=%s pid=%d exit=%d image=%s",
				describe(c), in.Name, in.State.Status, in.State.Pid, in.State.ExitCode, in.Image)
		}
	}
	waitState := func(what, state string, typ ...watch.EventType) *v1alpha1.Container {
		t.Helper()
		return cw.waitFor(what, func(et watch.EventType, c *v1alpha1.Container) bool {
			if c.Name != id || c.Status.Status != state {
				return false
			}
			return len(typ) == 0 || et == typ[0]
		})
	}

	c := waitState("docker run", "running")
	matchInspect(c)
	if c.Labels["app.example.com/tier"] != "web" || c.Status.Labels["com.example/a/b"] != "x" {
		t.Errorf("labels: metadata %v, status %v", c.Labels, c.Status.Labels)
	}
	if _, ok := c.Labels["com.example/a/b"]; ok {
		t.Errorf("invalid Kubernetes label copied into metadata.labels: %v", c.Labels)
	}
	if len(c.Status.Ports) != 1 || c.Status.Ports[0].Name != "80/tcp" || len(c.Status.Ports[0].Bindings) == 0 ||
		c.Status.Ports[0].Bindings[0].HostPort == 0 {
		t.Errorf("ports: %+v", c.Status.Ports)
	}
	if cond := condition(c, "Running"); cond == nil || cond.Status != v1alpha1.ConditionTrue {
		t.Errorf("Running condition: %+v", c.Status.Conditions)
	}

	testenv.MustDocker(t, host, "pause", id)
	c = waitState("docker pause", "paused")
	matchInspect(c)
	if cond := condition(c, "Paused"); cond == nil || cond.Status != v1alpha1.ConditionTrue {
		t.Errorf("Paused condition: %+v", c.Status.Conditions)
	}

	testenv.MustDocker(t, host, "unpause", id)
	matchInspect(waitState("docker unpause", "running"))

	testenv.MustDocker(t, host, "stop", id)
	c = waitState("docker stop", "exited")
	matchInspect(c)
	if c.Status.FinishedAt == nil {
		t.Errorf("finishedAt unset after stop")
	}

	testenv.MustDocker(t, host, "start", id)
	matchInspect(waitState("docker start", "running"))

	newName := name + "-renamed"
	testenv.MustDocker(t, host, "rename", id, newName)
	c = cw.waitFor("docker rename", func(_ watch.EventType, c *v1alpha1.Container) bool {
		return c.Name == id && c.Status.Name == newName
	})
	matchInspect(c)

	testenv.MustDocker(t, host, "rm", "-f", id)
	cw.waitFor("docker rm", func(et watch.EventType, c *v1alpha1.Container) bool {
		return c.Name == id && et == watch.Deleted
	})
	if _, err := s.Client.ContainersV1alpha1().Containers(s.Namespace).Get(ctx, id, metav1.GetOptions{}); err == nil {
		t.Errorf("container %s still served after docker rm", id)
	}
}

func condition(c *v1alpha1.Container, typ string) *v1alpha1.ContainerCondition {
	for i := range c.Status.Conditions {
		if c.Status.Conditions[i].Type == typ {
			return &c.Status.Conditions[i]
		}
	}
	return nil
}
