//go:build integration

package api

import (
	"context"
	"strconv"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// expectExpired checks that a watch from rv is refused with 410 Gone, either
// as the Watch error or as the stream's first event (both are legal).
func expectExpired(t *testing.T, s *testenv.Server, rv string) {
	t.Helper()
	w, err := s.Client.ContainersV1alpha1().Containers(s.Namespace).Watch(context.Background(),
		metav1.ListOptions{ResourceVersion: rv})
	if err != nil {
		if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
			t.Fatalf("watch from %s: want 410, got %v", rv, err)
		}
		return
	}
	defer w.Stop()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatalf("watch from %s closed without an event", rv)
		}
		if ev.Type != watch.Error {
			t.Fatalf("watch from %s: want an ERROR event with 410, got %s", rv, ev.Type)
		}
		status, ok := ev.Object.(*metav1.Status)
		if !ok || status.Code != 410 {
			t.Fatalf("watch from %s: want 410, got %#v", rv, ev.Object)
		}
	case <-timeoutAfter():
		t.Fatalf("watch from %s: no event within %s", rv, eventDeadline)
	}
}

// TestTooOldResourceVersion asks for a resourceVersion older than any the
// server keeps and expects 410 Gone.
func TestTooOldResourceVersion(t *testing.T) {
	host := testenv.DockerHost(t)
	s := testenv.StartServer(t, host, testenv.ServerOptions{})
	expectExpired(t, s, "1")

	// A watch from the current list's resourceVersion is fine.
	list, err := s.Client.ContainersV1alpha1().Containers(s.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Client.ContainersV1alpha1().Containers(s.Namespace).Watch(context.Background(),
		metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatalf("watch from the current resourceVersion: %v", err)
	}
	w.Stop()
}

// TestRestartInvalidatesResourceVersions restarts the server and checks that
// resourceVersions from before the restart never yield stale data: a watch or
// an exact list gets 410, and new resourceVersions are larger than old ones.
func TestRestartInvalidatesResourceVersions(t *testing.T) {
	host := testenv.DockerHost(t)
	ctx := context.Background()
	dir := t.TempDir()
	runContainer(t, host, testenv.UniqueName(t, "rv"))

	s1 := testenv.StartServer(t, host, testenv.ServerOptions{Dir: dir})
	before, err := s1.Client.ContainersV1alpha1().Containers(s1.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(before.Items) == 0 {
		t.Fatal("expected at least the test's container")
	}
	oldRV := before.ResourceVersion
	s1.Stop()

	s2 := testenv.StartServer(t, host, testenv.ServerOptions{Dir: dir})
	expectExpired(t, s2, oldRV)
	expectExpired(t, s2, before.Items[0].ResourceVersion)

	_, err = s2.Client.ContainersV1alpha1().Containers(s2.Namespace).List(ctx, metav1.ListOptions{
		ResourceVersion: oldRV, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("exact list at a pre-restart resourceVersion: want 410, got %v", err)
	}

	after, err := s2.Client.ContainersV1alpha1().Containers(s2.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o, _ := strconv.ParseUint(oldRV, 10, 64)
	n, _ := strconv.ParseUint(after.ResourceVersion, 10, 64)
	if n <= o {
		t.Fatalf("resourceVersion went backwards across a restart: %d then %d", o, n)
	}
}
