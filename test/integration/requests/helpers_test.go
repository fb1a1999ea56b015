//go:build integration

// Package requests tests the request objects (containercreaterequests,
// imagepullrequests, imagepushrequests, volumecreaterequests) against a real
// dockerd and a real local registry (hack/start-registry.sh).
package requests

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/cmd/server"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const (
	// eventDeadline bounds every wait for a request to end.
	eventDeadline = 60 * time.Second
	// requestTTL is the servers' --request-ttl: short, so removal is tested quickly.
	requestTTL = 2 * time.Second
)

// startServer runs a server with a short request TTL against the test engine.
func startServer(t *testing.T) (*testenv.Server, string) {
	t.Helper()
	host := testenv.DockerHost(t)
	s := testenv.StartServer(t, host, testenv.ServerOptions{Mutate: func(o *server.Options) { o.RequestTTL = requestTTL }})
	return s, host
}

// testRegistry is the local registry hack/test.sh starts.
func testRegistry(t *testing.T) string {
	t.Helper()
	r := os.Getenv("CA_TEST_REGISTRY")
	if r == "" {
		t.Fatal("CA_TEST_REGISTRY is not set: start the test registry with " +
			"`export CA_TEST_REGISTRY=$(hack/start-registry.sh | tail -n1)` (make test does this)")
	}
	return r
}

// lowerName is a name unique to this test run usable in image references.
func lowerName(t *testing.T, prefix string) string {
	return strings.ToLower(testenv.UniqueName(t, prefix))
}

// requestWatch reads the events of one resource's watch, by one goroutine.
type requestWatch struct {
	t *testing.T
	w watch.Interface
	// seen are the events read so far, per object name.
	seen map[string][]watch.Event
}

func newWatch(t *testing.T, w watch.Interface, err error) *requestWatch {
	t.Helper()
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	t.Cleanup(w.Stop)
	return &requestWatch{t: t, w: w, seen: map[string][]watch.Event{}}
}

func nameOf(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetName()
}

// waitFor reads events until one of name's satisfies match; it returns it.
func (rw *requestWatch) waitFor(name, what string, match func(watch.Event) bool) watch.Event {
	rw.t.Helper()
	for _, ev := range rw.seen[name] {
		if match(ev) {
			return ev
		}
	}
	timeout := time.NewTimer(eventDeadline)
	defer timeout.Stop()
	for {
		select {
		case ev, ok := <-rw.w.ResultChan():
			if !ok {
				rw.t.Fatalf("watch closed while waiting for %s of %s", what, name)
			}
			if ev.Type == watch.Error {
				rw.t.Fatalf("watch error while waiting for %s of %s: %v", what, name, ev.Object)
			}
			n := nameOf(ev.Object)
			rw.seen[n] = append(rw.seen[n], ev)
			if n == name && match(ev) {
				return ev
			}
		case <-timeout.C:
			rw.t.Fatalf("no %s of %s within %s", what, name, eventDeadline)
		}
	}
}

// conditionsOf returns a request's conditions and, for transfers, its progress.
func conditionsOf(obj runtime.Object) ([]metav1.Condition, *v1alpha1.TransferProgress) {
	switch o := obj.(type) {
	case *v1alpha1.ContainerCreateRequest:
		return o.Status.Conditions, nil
	case *v1alpha1.ImagePullRequest:
		return o.Status.Conditions, o.Status.Progress
	case *v1alpha1.ImagePushRequest:
		return o.Status.Conditions, o.Status.Progress
	case *v1alpha1.VolumeCreateRequest:
		return o.Status.Conditions, nil
	}
	return nil, nil
}

// waitEnded waits until name is Complete or Failed, checks that exactly one
// of the two is set, with a reason and a message, and returns the object.
func (rw *requestWatch) waitEnded(name string) runtime.Object {
	rw.t.Helper()
	ev := rw.waitFor(name, "Complete or Failed", func(ev watch.Event) bool {
		conds, _ := conditionsOf(ev.Object)
		return ev.Type == watch.Modified && (meta.IsStatusConditionTrue(conds, v1alpha1.RequestComplete) ||
			meta.IsStatusConditionTrue(conds, v1alpha1.RequestFailed))
	})
	conds, _ := conditionsOf(ev.Object)
	if len(conds) != 1 || conds[0].Reason == "" || conds[0].Message == "" {
		rw.t.Fatalf("%s ended with conditions %+v; want exactly one of Complete and Failed, with a reason and a message", name, conds)
	}
	return ev.Object
}

// expectOutcome checks the single condition of an ended request.
func expectOutcome(t *testing.T, obj runtime.Object, typ, reason, msgPart string) metav1.Condition {
	t.Helper()
	conds, _ := conditionsOf(obj)
	c := meta.FindStatusCondition(conds, typ)
	if c == nil || c.Status != metav1.ConditionTrue || (reason != "" && c.Reason != reason) || !strings.Contains(c.Message, msgPart) {
		t.Fatalf("%s: conditions %+v; want %s=True, reason %q, message containing %q", nameOf(obj), conds, typ, reason, msgPart)
	}
	return *c
}

// waitDeleted waits for name's DELETED event: the TTL removal.
func (rw *requestWatch) waitDeleted(name string) {
	rw.t.Helper()
	rw.waitFor(name, "DELETED (request TTL)", func(ev watch.Event) bool { return ev.Type == watch.Deleted })
}

// progressBeforeEnd reports whether an event of name showed progress before
// the request ended.
func (rw *requestWatch) progressBeforeEnd(name string) *v1alpha1.TransferProgress {
	for _, ev := range rw.seen[name] {
		conds, p := conditionsOf(ev.Object)
		if len(conds) == 0 && p != nil {
			return p
		}
	}
	return nil
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*eventDeadline)
	t.Cleanup(cancel)
	return c
}
