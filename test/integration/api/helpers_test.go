//go:build integration

package api

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// eventDeadline bounds every wait for a change to show up through the API.
const eventDeadline = 30 * time.Second

// containerWatch is one open watch on containers, read by one test goroutine.
type containerWatch struct {
	t *testing.T
	w watch.Interface
}

func watchContainers(t *testing.T, s *testenv.Server, opts metav1.ListOptions) *containerWatch {
	t.Helper()
	w, err := s.Client.ContainersV1alpha1().Containers(s.Namespace).Watch(context.Background(), opts)
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	t.Cleanup(w.Stop)
	return &containerWatch{t: t, w: w}
}

// waitFor reads events until match accepts one, failing at the deadline. Events
// of other containers (other tests share the engine) are skipped.
func (cw *containerWatch) waitFor(what string, match func(watch.EventType, *v1alpha1.Container) bool) *v1alpha1.Container {
	cw.t.Helper()
	timeout := time.NewTimer(eventDeadline)
	defer timeout.Stop()
	for {
		select {
		case ev, ok := <-cw.w.ResultChan():
			if !ok {
				cw.t.Fatalf("watch closed while waiting for %s", what)
			}
			if ev.Type == watch.Error {
				cw.t.Fatalf("watch error while waiting for %s: %v", what, ev.Object)
			}
			c, ok := ev.Object.(*v1alpha1.Container)
			if !ok {
				continue
			}
			if match(ev.Type, c) {
				return c
			}
		case <-timeout.C:
			cw.t.Fatalf("no event for %s within %s", what, eventDeadline)
		}
	}
}

// eventually polls check until it returns nil, failing with its last error at eventDeadline.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	waitUntil(t, eventDeadline, what, check)
}

// waitUntil polls check until it returns nil, failing with its last error at the timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	testenv.Eventually(t, timeout, what, check)
}

// stoppable is a command that exits promptly on SIGTERM, so stop and daemon
// restarts do not wait Docker's 10 s kill timeout.
var stoppable = []string{"sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"}

func runContainer(t *testing.T, host, name string, extra ...string) string {
	t.Helper()
	args := append([]string{"run", "-d", "--name", name}, extra...)
	args = append(args, testenv.BusyboxImage)
	args = append(args, stoppable...)
	id := testenv.MustDocker(t, host, args...)
	t.Cleanup(func() { _, _ = testenv.Docker(context.Background(), host, "rm", "-f", id) })
	return id
}

func describe(c *v1alpha1.Container) string {
	return fmt.Sprintf("%s name=%s status=%s pid=%d exit=%d", c.Name[:12], c.Status.Name, c.Status.Status, c.Status.Pid, c.Status.ExitCode)
}

// everything selects all objects in a lister.
var everything = labels.Everything()

func timeoutAfter() <-chan time.Time { return time.After(eventDeadline) }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
