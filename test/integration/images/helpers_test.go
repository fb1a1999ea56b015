//go:build integration

// Package images tests the images and volumes resources against a real
// dockerd: the mirrors follow `docker images` / `docker volume ls`, and deletes
// through the API remove the Docker objects.
package images

import (
	"context"
	"errors"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// eventDeadline bounds every wait for a change to show up through the API.
const eventDeadline = 30 * time.Second

// env is a server on the shared test engine.
type env struct {
	t    *testing.T
	host string
	s    *testenv.Server
}

func newEnv(t *testing.T) *env {
	host := testenv.DockerHost(t)
	return &env{t: t, host: host, s: testenv.StartServer(t, host, testenv.ServerOptions{})}
}

func (e *env) docker(args ...string) string {
	e.t.Helper()
	return testenv.MustDocker(e.t, e.host, args...)
}

// imageID returns the full ID of the image ref.
func (e *env) imageID(ref string) string {
	e.t.Helper()
	return e.docker("image", "inspect", "-f", "{{.Id}}", ref)
}

// uniqueImage commits a new image (its own ID) from the busybox test image,
// tagged tag, and removes it (with every tag it then has) when the test ends.
func (e *env) uniqueImage(tag string) string {
	e.t.Helper()
	ctr := e.docker("create", testenv.BusyboxImage, "true")
	defer e.docker("rm", "-f", ctr)
	id := e.docker("commit", "-c", "LABEL test="+strings.ReplaceAll(tag, ":", "-"), ctr, tag)
	e.t.Cleanup(func() { e.removeImage(id) })
	return id
}

// removeImage removes image id with every tag it has, ignoring errors (cleanup).
func (e *env) removeImage(id string) {
	_, _ = testenv.Docker(context.Background(), e.host, "rmi", "-f", id)
}

// uniqueTag is a repository:tag no other test uses.
func uniqueTag(t *testing.T, what string) string {
	return testenv.UniqueName(t, "ca-test-"+what) + ":v1"
}

// watcher is one open watch, read by one test goroutine.
type watcher struct {
	t *testing.T
	w watch.Interface
}

func (e *env) watchImages() *watcher {
	e.t.Helper()
	c := e.s.Client.ContainersV1alpha1().Images(e.s.Namespace)
	return e.watchFrom(func(ctx context.Context) (string, error) {
		l, err := c.List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", err
		}
		return l.ResourceVersion, nil
	}, c.Watch)
}

func (e *env) watchVolumes() *watcher {
	e.t.Helper()
	c := e.s.Client.ContainersV1alpha1().Volumes(e.s.Namespace)
	return e.watchFrom(func(ctx context.Context) (string, error) {
		l, err := c.List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", err
		}
		return l.ResourceVersion, nil
	}, c.Watch)
}

// watchFrom watches from the resourceVersion of a list, so only changes made
// after it arrive (no ADDED for what exists already).
func (e *env) watchFrom(list func(context.Context) (string, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)) *watcher {
	e.t.Helper()
	rv, err := list(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	w, err := watchFn(context.Background(), metav1.ListOptions{ResourceVersion: rv})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(w.Stop)
	return &watcher{t: e.t, w: w}
}

// event is one watch event of a named object.
type event struct {
	typ  watch.EventType
	name string
	obj  runtime.Object
}

func (w *watcher) next(what string) event {
	w.t.Helper()
	timeout := time.NewTimer(eventDeadline)
	defer timeout.Stop()
	select {
	case ev, ok := <-w.w.ResultChan():
		if !ok {
			w.t.Fatalf("watch closed while waiting for %s", what)
		}
		if ev.Type == watch.Error {
			w.t.Fatalf("watch error while waiting for %s: %v", what, ev.Object)
		}
		m, err := metaName(ev.Object)
		if err != nil {
			w.t.Fatal(err)
		}
		return event{ev.Type, m, ev.Object}
	case <-timeout.C:
		w.t.Fatalf("no event for %s within %s", what, eventDeadline)
	}
	return event{}
}

func metaName(obj runtime.Object) (string, error) {
	switch o := obj.(type) {
	case *v1alpha1.Image:
		return o.Name, nil
	case *v1alpha1.Volume:
		return o.Name, nil
	}
	return "", nil
}

// waitFor reads events until one of type typ for name arrives and returns its
// object. seen counts every event per "TYPE name" read meanwhile.
func (w *watcher) waitFor(typ watch.EventType, name string, seen map[string]int) runtime.Object {
	w.t.Helper()
	for {
		ev := w.next(string(typ) + " " + name)
		if seen != nil {
			seen[string(ev.typ)+" "+ev.name]++
		}
		if ev.typ == typ && ev.name == name {
			return ev.obj
		}
	}
}

// eventually polls check until it returns "", failing with its last answer at the deadline.
func eventually(t *testing.T, what string, check func() string) {
	t.Helper()
	testenv.Eventually(t, eventDeadline, what, func() error {
		if msg := check(); msg != "" {
			return errors.New(msg)
		}
		return nil
	})
}

// dockerImages is `docker images` as "ID repoTag" lines (repoTag empty when
// untagged), sorted.
func (e *env) dockerImages() []string {
	e.t.Helper()
	out := e.docker("images", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}")
	seen := map[string]bool{}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l == "" {
			continue
		}
		id, ref, _ := strings.Cut(l, " ")
		if ref == "<none>:<none>" || strings.HasSuffix(ref, ":<none>") {
			ref = ""
		}
		if k := id + " " + ref; !seen[k] {
			seen[k] = true
			lines = append(lines, k)
		}
	}
	sort.Strings(lines)
	return lines
}

// apiImages is the images resource as "ID repoTag" lines, sorted.
func (e *env) apiImages() []string {
	e.t.Helper()
	list, err := e.s.Client.ContainersV1alpha1().Images(e.s.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var lines []string
	for _, img := range list.Items {
		lines = append(lines, img.Status.ID+" "+img.Status.RepoTag)
	}
	sort.Strings(lines)
	return lines
}

// imagesEqualDocker waits until the images resource equals `docker images`.
func (e *env) imagesEqualDocker() {
	e.t.Helper()
	eventually(e.t, "images resource equals docker images", func() string {
		d, a := e.dockerImages(), e.apiImages()
		if strings.Join(d, "\n") != strings.Join(a, "\n") {
			return "docker images:\n" + strings.Join(d, "\n") + "\nAPI:\n" + strings.Join(a, "\n")
		}
		return ""
	})
}

func (e *env) kubectl(args ...string) string {
	e.t.Helper()
	out, err := exec.Command("kubectl", append([]string{"--kubeconfig", e.s.Kubeconfig, "-n", e.s.Namespace}, args...)...).CombinedOutput()
	if err != nil {
		e.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
