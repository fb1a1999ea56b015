//go:build integration

package api

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// TestFieldSelectors lists and watches with each supported field selector;
// a container leaving a watch's selection arrives as DELETED, and coming
// back as ADDED.
func TestFieldSelectors(t *testing.T) {
	host := testenv.DockerHost(t)
	s := testenv.StartServer(t, host, testenv.ServerOptions{})
	ctx := context.Background()
	name := testenv.UniqueName(t, "sel")
	id := runContainer(t, host, name)
	c := s.Client.ContainersV1alpha1().Containers(s.Namespace)

	var obj *v1alpha1.Container
	eventually(t, "container mirrored as running", func() error {
		var err error
		obj, err = c.Get(ctx, id, metav1.GetOptions{})
		if err == nil && obj.Status.Status != "running" {
			err = errorf("status %s", obj.Status.Status)
		}
		return err
	})

	for _, sel := range []string{
		"metadata.name=" + id,
		"metadata.namespace=" + s.Namespace,
		"status.name=" + name,
		"status.status=running,status.name=" + name,
		"status.image=" + obj.Status.Image + ",status.name=" + name,
	} {
		list, err := c.List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		found := false
		for _, item := range list.Items {
			found = found || item.Name == id
		}
		if !found {
			t.Errorf("--field-selector %s does not find %s", sel, id)
		}
	}
	for _, sel := range []string{"status.status=exited,status.name=" + name, "status.name=" + name + "-other"} {
		list, err := c.List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		if len(list.Items) != 0 {
			t.Errorf("--field-selector %s matched %d objects", sel, len(list.Items))
		}
	}

	list, err := c.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cw := watchContainers(t, s, metav1.ListOptions{FieldSelector: "status.status=running", ResourceVersion: list.ResourceVersion})
	testenv.MustDocker(t, host, "pause", id)
	var leftAs watch.EventType
	got := cw.waitFor("paused container leaving status.status=running", func(et watch.EventType, c *v1alpha1.Container) bool {
		leftAs = et
		return c.Name == id
	})
	if leftAs != watch.Deleted {
		t.Fatalf("a container leaving the selection came as %s, want DELETED", leftAs)
	}
	if got.Status.Status != "running" {
		// The DELETED event carries the last state that matched.
		t.Errorf("leaving the selection: object status %s", got.Status.Status)
	}
	testenv.MustDocker(t, host, "unpause", id)
	cw.waitFor("unpaused container entering status.status=running", func(et watch.EventType, c *v1alpha1.Container) bool {
		return c.Name == id && et == watch.Added && c.Status.Status == "running"
	})
}
