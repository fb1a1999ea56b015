//go:build integration

package requests

import (
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/cmd/server"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// expectInvalid checks a 422 that names the field at fault.
func expectInvalid(t *testing.T, err error, field string) {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Fatalf("err = %v; want 422 Invalid", err)
	}
	if !strings.Contains(err.Error(), field) {
		t.Fatalf("the 422 does not name %s: %v", field, err)
	}
}

func TestRequestValidation(t *testing.T) {
	s, _ := startServer(t)
	c := ctx(t)
	cs := s.Client.ContainersV1alpha1()
	meta := metav1.ObjectMeta{GenerateName: "bad-"}

	_, err := cs.ContainerCreateRequests(s.Namespace).Create(c, &v1alpha1.ContainerCreateRequest{ObjectMeta: meta,
		Spec: v1alpha1.ContainerCreateRequestSpec{State: "paused"}}, metav1.CreateOptions{})
	expectInvalid(t, err, "spec.image")
	expectInvalid(t, err, "spec.state")
	_, err = cs.ImagePullRequests(s.Namespace).Create(c, &v1alpha1.ImagePullRequest{ObjectMeta: meta,
		Spec: v1alpha1.ImagePullRequestSpec{RepoTag: "not a reference", Namespace: "k8s.io"}}, metav1.CreateOptions{})
	expectInvalid(t, err, "spec.repoTag")
	expectInvalid(t, err, "spec.namespace")
	_, err = cs.ImagePushRequests(s.Namespace).Create(c, &v1alpha1.ImagePushRequest{ObjectMeta: meta,
		Spec: v1alpha1.ImagePushRequestSpec{ImageRef: "busybox:latest"}}, metav1.CreateOptions{})
	expectInvalid(t, err, "spec.imageRef")
	_, err = cs.VolumeCreateRequests(s.Namespace).Create(c, &v1alpha1.VolumeCreateRequest{ObjectMeta: meta,
		Spec: v1alpha1.VolumeCreateRequestSpec{Driver: "nfs"}}, metav1.CreateOptions{})
	expectInvalid(t, err, "spec.driver")
	// Requests live where the mirrors do.
	_, err = cs.VolumeCreateRequests("default").Create(c, &v1alpha1.VolumeCreateRequest{ObjectMeta: meta}, metav1.CreateOptions{})
	expectInvalid(t, err, "metadata.namespace")

	// Names are DNS-1123 subdomains, as for most Kubernetes objects; a
	// generateName is a prefix of one.
	long := strings.Repeat("a", 1000)
	for _, name := range []string{"BAD_NAME!", "été☃", "a b:c", "-x", "x-", long} {
		_, err = cs.VolumeCreateRequests(s.Namespace).Create(c, &v1alpha1.VolumeCreateRequest{ObjectMeta: metav1.ObjectMeta{Name: name}},
			metav1.CreateOptions{})
		expectInvalid(t, err, "metadata.name")
	}
	for _, prefix := range []string{"BAD_NAME!", "été☃", "a b:c", "-x", long} {
		_, err = cs.ImagePullRequests(s.Namespace).Create(c, &v1alpha1.ImagePullRequest{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix},
			Spec: v1alpha1.ImagePullRequestSpec{RepoTag: "busybox:latest"}}, metav1.CreateOptions{})
		expectInvalid(t, err, "metadata.generateName")
	}
	// Nothing could ever remove a finalizer from a request (no updates).
	_, err = cs.VolumeCreateRequests(s.Namespace).Create(c, &v1alpha1.VolumeCreateRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "fin-", Finalizers: []string{"example.com/keep"}}}, metav1.CreateOptions{})
	expectInvalid(t, err, "metadata.finalizers")

	// Nothing was stored.
	list, err := cs.VolumeCreateRequests(s.Namespace).List(c, metav1.ListOptions{})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("list after refused creates: %v, %d items", err, len(list.Items))
	}

	// A request cannot be changed: no update verb at all.
	vr, err := cs.VolumeCreateRequests(s.Namespace).Create(c, &v1alpha1.VolumeCreateRequest{ObjectMeta: metav1.ObjectMeta{GenerateName: "ok-"}},
		metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	// An owner is fine: the garbage collector would delete only the request.
	owned, err := cs.VolumeCreateRequests(s.Namespace).Create(c, &v1alpha1.VolumeCreateRequest{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "owned-", OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner",
			UID: "0b8f6a1e-5d0c-4c1b-9d0a-2f1e3c4b5a69"}}}}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil || len(owned.OwnerReferences) != 1 {
		t.Fatalf("a request with an owner: %v", err)
	}
	vr.Name = "fixed-name"
	body := `{"spec":{"driver":"local"},"status":{"volumeName":"forged"}}`
	res := cs.RESTClient().Patch("application/merge-patch+json").Namespace(s.Namespace).
		Resource("volumecreaterequests").Name(vr.Name).Body([]byte(body)).Do(c)
	var code int
	res.StatusCode(&code)
	if code != http.StatusMethodNotAllowed {
		t.Fatalf("PATCH answered %d (%v); want 405", code, res.Error())
	}
}

// TestRequestsWhileEngineDown checks that creates answer 503 with the reason
// while the Docker engine is not connected.
func TestRequestsWhileEngineDown(t *testing.T) {
	name := "requests"
	out, err := testenv.Script("start-test-dockerd.sh", name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = testenv.Script("stop-test-dockerd.sh", name, "--purge") })
	lines := strings.Split(strings.TrimSpace(out), "\n")
	host := lines[len(lines)-1]
	s := testenv.StartServer(t, host, testenv.ServerOptions{Mutate: func(o *server.Options) { o.RequestTTL = requestTTL }})
	c := ctx(t)
	reqs := s.Client.ContainersV1alpha1().VolumeCreateRequests(s.Namespace)

	if _, err := testenv.Script("stop-test-dockerd.sh", name); err != nil {
		t.Fatal(err)
	}
	// The server learns of the loss from its event stream; nothing signals it
	// to the test, so the API is polled until the deadline.
	deadline := time.Now().Add(eventDeadline)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := reqs.Create(c, &v1alpha1.VolumeCreateRequest{ObjectMeta: metav1.ObjectMeta{GenerateName: "down-"}},
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if apierrors.IsServiceUnavailable(err) {
			if !strings.Contains(err.Error(), "engine is not connected") || !strings.Contains(err.Error(), "docker engine at "+host) {
				t.Fatalf("the 503 gives no reason: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("create while dockerd is stopped: %v; want 503 within %s", err, eventDeadline)
		}
		<-tick.C
	}
	list, err := reqs.List(c, metav1.ListOptions{})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("list: %v, %d items; reads must keep working and nothing be stored", err, len(list.Items))
	}
}
