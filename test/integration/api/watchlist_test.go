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

// TestWatchListInitialEventsEnd asks for a watch-list stream directly (an
// informer would silently fall back to list+watch if it failed): the current
// objects arrive as ADDED, then a BOOKMARK annotated k8s.io/initial-events-end.
func TestWatchListInitialEventsEnd(t *testing.T) {
	host := testenv.DockerHost(t)
	s := testenv.StartServer(t, host, testenv.ServerOptions{})
	id := runContainer(t, host, testenv.UniqueName(t, "wl"))
	eventually(t, "container mirrored", func() error {
		_, err := s.Client.ContainersV1alpha1().Containers(s.Namespace).Get(context.Background(), id, metav1.GetOptions{})
		return err
	})

	yes := true
	w, err := s.Client.ContainersV1alpha1().Containers(s.Namespace).Watch(context.Background(), metav1.ListOptions{
		SendInitialEvents:    &yes,
		AllowWatchBookmarks:  true,
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
	})
	if err != nil {
		t.Fatalf("watch-list request refused: %v", err)
	}
	defer w.Stop()
	sawContainer := false
	timeout := timeoutAfter()
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch closed before the initial-events-end bookmark")
			}
			c, isContainer := ev.Object.(*v1alpha1.Container)
			if !isContainer {
				t.Fatalf("unexpected %s event: %#v", ev.Type, ev.Object)
			}
			switch ev.Type {
			case watch.Added:
				sawContainer = sawContainer || c.Name == id
			case watch.Bookmark:
				if c.Annotations[metav1.InitialEventsAnnotationKey] != "true" {
					continue // a periodic bookmark
				}
				if !sawContainer {
					t.Fatalf("initial-events-end bookmark before the existing container %s was sent", id)
				}
				if c.ResourceVersion == "" {
					t.Fatal("initial-events-end bookmark without a resourceVersion")
				}
				return
			default:
				t.Fatalf("unexpected %s event before the initial-events-end bookmark", ev.Type)
			}
		case <-timeout:
			t.Fatal("no initial-events-end bookmark in time")
		}
	}
}
