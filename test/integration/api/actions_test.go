//go:build integration

package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// annotate sets the action annotation with a merge patch, as kubectl annotate does.
func annotate(s *testenv.Server, id, action string) error {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{v1alpha1.ActionAnnotation: action}}})
	_, err := s.Client.ContainersV1alpha1().Containers(s.Namespace).Patch(context.Background(), id,
		types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// waitAction waits until id's lastAction is action and its annotation is gone.
func waitAction(cw *containerWatch, id, action string) *v1alpha1.ContainerAction {
	c := cw.waitFor(action+" recorded on "+id[:12], func(_ watch.EventType, c *v1alpha1.Container) bool {
		_, pending := c.Annotations[v1alpha1.ActionAnnotation]
		return c.Name == id && !pending && c.Status.LastAction != nil && c.Status.LastAction.Action == action
	})
	return c.Status.LastAction
}

func dockerState(t *testing.T, host, id string) string {
	return testenv.MustDocker(t, host, "inspect", "-f", "{{.State.Status}}", id)
}

// TestActions drives one container through every action with the annotation
// and checks each outcome in status.lastAction and in Docker; then the
// failing ones on a stopped container.
func TestActions(t *testing.T) {
	host := testenv.DockerHost(t)
	s := testenv.StartServer(t, host, testenv.ServerOptions{})
	id := runContainer(t, host, testenv.UniqueName(t, "act"))
	cw := watchContainers(t, s, metav1.ListOptions{FieldSelector: "metadata.name=" + id})

	for _, step := range []struct{ action, state string }{
		{"pause", "paused"}, {"unpause", "running"}, {"stop", "exited"}, {"start", "running"},
		{"restart", "running"}, {"pause", "paused"}, {"stop", "exited"},
	} {
		if err := annotate(s, id, step.action); err != nil {
			t.Fatalf("annotate %s: %v", step.action, err)
		}
		la := waitAction(cw, id, step.action)
		if la.State != "Succeeded" || la.Error != "" || la.ObservedAt == nil || la.CompletedAt == nil {
			t.Errorf("%s: lastAction %+v, want Succeeded with times", step.action, la)
		}
		if got := dockerState(t, host, id); got != step.state {
			t.Errorf("after %s Docker says %s, want %s", step.action, got, step.state)
		}
	}

	// Stopped now: pause fails with Docker's reason; unpause too.
	for _, action := range []string{"pause", "unpause"} {
		if err := annotate(s, id, action); err != nil {
			t.Fatal(err)
		}
		la := waitAction(cw, id, action)
		if la.State != "Failed" || !strings.Contains(la.Error, "is not") {
			t.Errorf("%s on a stopped container: lastAction %+v, want Failed with Docker's message", action, la)
		}
	}
	// An action whose effect is already there succeeds (Docker's 304 for
	// start, a look first for unpause), so a replay after a reconnect is
	// harmless: start, unpause, then both again on the running container.
	for range 2 {
		if err := annotate(s, id, "start"); err != nil {
			t.Fatal(err)
		}
		if la := waitAction(cw, id, "start"); la.State != "Succeeded" {
			t.Errorf("start: %+v", la)
		}
		if err := annotate(s, id, "unpause"); err != nil {
			t.Fatal(err)
		}
		if la := waitAction(cw, id, "unpause"); la.State != "Succeeded" {
			t.Errorf("unpause of a running container (already so): %+v", la)
		}
	}
}

// TestActionsRunIndependently: a slow stop of one container does not delay a
// pause of another.
func TestActionsRunIndependently(t *testing.T) {
	host := testenv.DockerHost(t)
	s := testenv.StartServer(t, host, testenv.ServerOptions{})
	// slow ignores SIGTERM, so docker stop waits its whole stop timeout.
	slowName := testenv.UniqueName(t, "slow")
	slow := testenv.MustDocker(t, host, "run", "-d", "--name", slowName, "--stop-timeout", "15",
		testenv.BusyboxImage, "sh", "-c", "trap '' TERM; while :; do sleep 0.2; done")
	t.Cleanup(func() { _, _ = testenv.Docker(context.Background(), host, "rm", "-f", slow) })
	fast := runContainer(t, host, testenv.UniqueName(t, "fast"))
	cw := watchContainers(t, s, metav1.ListOptions{})
	cw.waitFor("both mirrored", func(_ watch.EventType, c *v1alpha1.Container) bool { return c.Name == slow || c.Name == fast })

	// Docker has the stop in hand once it sends the container SIGTERM (a kill event).
	dc := testenv.DockerClient(t, host)
	ectx, cancel := context.WithTimeout(context.Background(), eventDeadline)
	defer cancel()
	msgs, errs := dc.Events(ectx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("container", slow), filters.Arg("event", "kill"))})
	if err := annotate(s, slow, "stop"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-msgs:
	case err := <-errs:
		t.Fatalf("waiting for Docker to stop the slow container: %v", err)
	}
	if err := annotate(s, fast, "pause"); err != nil {
		t.Fatal(err)
	}
	la := waitAction(cw, fast, "pause")
	if la.State != "Succeeded" {
		t.Fatalf("pause: %+v", la)
	}
	// The slow stop is still going: its annotation is pending and Docker still runs it.
	c, err := s.Client.ContainersV1alpha1().Containers(s.Namespace).Get(context.Background(), slow, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, pending := c.Annotations[v1alpha1.ActionAnnotation]; !pending || c.Status.LastAction != nil {
		t.Fatalf("the slow stop ended before the other container's pause (lastAction %+v); the test proves nothing", c.Status.LastAction)
	}
	if got := dockerState(t, host, slow); got != "running" {
		t.Errorf("slow container: %s while its stop waits", got)
	}
	if la := waitAction(cw, slow, "stop"); la.State != "Succeeded" {
		t.Errorf("slow stop: %+v", la)
	}
}

// TestContainerWritesRefused: what users cannot change is refused with 422
// and a message that says what to do, never dropped silently.
func TestContainerWritesRefused(t *testing.T) {
	host := testenv.DockerHost(t)
	s := testenv.StartServer(t, host, testenv.ServerOptions{})
	id := runContainer(t, host, testenv.UniqueName(t, "ro"))
	cc := s.Client.ContainersV1alpha1().Containers(s.Namespace)
	eventually(t, "mirrored", func() error {
		_, err := cc.Get(context.Background(), id, metav1.GetOptions{})
		return err
	})
	expect422 := func(what string, err error, words ...string) {
		t.Helper()
		if !apierrors.IsInvalid(err) {
			t.Errorf("%s: got %v, want 422 Invalid", what, err)
			return
		}
		for _, w := range words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: message %q lacks %q", what, err.Error(), w)
			}
		}
	}

	expect422("invalid action (patch)", annotate(s, id, "explode"), "Unsupported value", "pause", "restart")

	c, err := cc.Get(context.Background(), id, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad := c.DeepCopy()
	bad.Annotations = map[string]string{v1alpha1.ActionAnnotation: "reboot"}
	_, err = cc.Update(context.Background(), bad, metav1.UpdateOptions{})
	expect422("invalid action (update)", err, "Unsupported value")

	bad = c.DeepCopy()
	bad.Status.Status = "exited"
	_, err = cc.Update(context.Background(), bad, metav1.UpdateOptions{})
	expect422("status (update)", err, "status", v1alpha1.ActionAnnotation)

	patch := []byte(`{"status":{"name":"renamed"}}`)
	_, err = cc.Patch(context.Background(), id, types.MergePatchType, patch, metav1.PatchOptions{})
	expect422("status (patch)", err, "status")

	patch = []byte(`{"metadata":{"labels":{"x":"y"}}}`)
	_, err = cc.Patch(context.Background(), id, types.MergePatchType, patch, metav1.PatchOptions{})
	expect422("labels (patch)", err, "metadata.labels")

	// Ownership metadata could let the garbage collector docker rm -f the
	// container, or keep a removed one forever: refused, and nothing stored.
	patch = []byte(`{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"gone","uid":"0b8f6a1e-5d0c-4c1b-9d0a-2f1e3c4b5a69"}]}}`)
	_, err = cc.Patch(context.Background(), id, types.MergePatchType, patch, metav1.PatchOptions{})
	expect422("ownerReferences (patch)", err, "metadata.ownerReferences", "garbage collector")
	patch = []byte(`{"metadata":{"finalizers":["example.com/keep"]}}`)
	_, err = cc.Patch(context.Background(), id, types.MergePatchType, patch, metav1.PatchOptions{})
	expect422("finalizers (patch)", err, "metadata.finalizers")
	bad = c.DeepCopy()
	bad.Finalizers = []string{"example.com/keep"}
	_, err = cc.Update(context.Background(), bad, metav1.UpdateOptions{})
	expect422("finalizers (update)", err, "metadata.finalizers")
	if now, err := cc.Get(context.Background(), id, metav1.GetOptions{}); err != nil || len(now.OwnerReferences)+len(now.Finalizers) != 0 {
		t.Errorf("after refused patches: %v, owners %v, finalizers %v", err, now.OwnerReferences, now.Finalizers)
	}

	// Users' own annotations are fine, and kept by later mirror updates.
	patch = []byte(`{"metadata":{"annotations":{"example.com/note":"keep me"}}}`)
	if _, err := cc.Patch(context.Background(), id, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("a user annotation: %v", err)
	}
	testenv.MustDocker(t, host, "pause", id)
	cw := watchContainers(t, s, metav1.ListOptions{FieldSelector: "metadata.name=" + id})
	got := cw.waitFor("paused", func(_ watch.EventType, c *v1alpha1.Container) bool { return c.Status.Status == "paused" })
	if got.Annotations["example.com/note"] != "keep me" {
		t.Errorf("the mirror dropped a user annotation: %v", got.Annotations)
	}

	// Containers are made by Docker (or a ContainerCreateRequest), not by a POST.
	err = s.Client.ContainersV1alpha1().RESTClient().Post().Namespace(s.Namespace).Resource("containers").
		Body([]byte(`{"apiVersion":"containers.rancherdesktop.io/v1alpha1","kind":"Container","metadata":{"name":"` + strings.Repeat("a", 64) + `"}}`)).
		Do(context.Background()).Error()
	if !apierrors.IsMethodNotSupported(err) {
		t.Errorf("create: got %v, want 405", err)
	}
}

// TestDeleteContainer: a delete through the API removes the container from
// Docker (as docker rm -f) before it returns; watchers see one DELETED.
func TestDeleteContainer(t *testing.T) {
	host := testenv.DockerHost(t)
	s := testenv.StartServer(t, host, testenv.ServerOptions{})
	id := runContainer(t, host, testenv.UniqueName(t, "del"))
	cw := watchContainers(t, s, metav1.ListOptions{FieldSelector: "metadata.name=" + id})
	cw.waitFor("mirrored", func(_ watch.EventType, c *v1alpha1.Container) bool { return c.Name == id })

	cc := s.Client.ContainersV1alpha1().Containers(s.Namespace)
	if err := cc.Delete(context.Background(), id, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if out, err := testenv.Docker(context.Background(), host, "inspect", id); err == nil {
		t.Fatalf("still in Docker after the delete returned:\n%s", out)
	}
	if _, err := cc.Get(context.Background(), id, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: %v, want 404", err)
	}
	cw.waitFor("DELETED", func(typ watch.EventType, c *v1alpha1.Container) bool { return typ == watch.Deleted })
	// Docker's destroy event arrives after the delete: it must not produce a
	// second DELETED. Bound the wait by a later change of another object.
	other := runContainer(t, host, testenv.UniqueName(t, "del2"))
	all := watchContainers(t, s, metav1.ListOptions{})
	all.waitFor("a later container", func(typ watch.EventType, c *v1alpha1.Container) bool {
		if c.Name == id && typ == watch.Deleted {
			t.Errorf("a second DELETED for %s", id[:12])
		}
		return c.Name == other
	})
	select {
	case ev := <-cw.w.ResultChan():
		t.Errorf("another event after DELETED: %s %v", ev.Type, ev.Object)
	default:
	}

	if err := cc.Delete(context.Background(), id, metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: %v, want 404", err)
	}
	// A precondition on a stale UID is a 409 and removes nothing.
	uid := types.UID("not-the-uid")
	err := cc.Delete(context.Background(), other, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if !apierrors.IsConflict(err) {
		t.Errorf("delete with a stale UID: %v, want 409", err)
	}
	if st := dockerState(t, host, other); st != "running" {
		t.Errorf("after a refused delete Docker says %s", st)
	}
}
