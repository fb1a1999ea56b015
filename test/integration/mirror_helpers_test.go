//go:build integration

package integration

// Helpers for mirror_test.go: an in-memory store, a store watch with
// deadlines, and a unix-socket proxy that can cut Docker off or silently stall
// its event streams. The Docker engine and clients come from test/testenv.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	dockerclient "github.com/docker/docker/client"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/storage"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/install"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine/docker"
	"github.com/rancher-sandbox/containers-apiserver/pkg/mirror"
	"github.com/rancher-sandbox/containers-apiserver/pkg/storage/memory"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const (
	mirrorNamespace = "rancher-desktop"
	mirrorPrefix    = "/containers.rancherdesktop.io/containers"
	mirrorWaitTime  = 30 * time.Second // deadline of every wait on the mirror
)

// mirrorPrefixName is a unique container name prefix for one test.
func mirrorPrefixName(t *testing.T) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "mirror-it-" + hex.EncodeToString(b) + "-"
}

// mirrorCreate creates (and, if start, starts) a busybox container running cmd,
// removed at cleanup.
func mirrorCreate(t *testing.T, cli *dockerclient.Client, name string, start bool, cfg *container.Config, hc *container.HostConfig) string {
	t.Helper()
	ctx := context.Background()
	if cfg == nil {
		cfg = &container.Config{}
	}
	cfg.Image = testenv.BusyboxImage
	if len(cfg.Cmd) == 0 {
		cfg.Cmd = []string{"sleep", "600"}
	}
	if hc == nil {
		hc = &container.HostConfig{}
	}
	resp, err := cli.ContainerCreate(ctx, cfg, hc, nil, nil, name)
	if err != nil {
		t.Fatalf("creating container %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := cli.ContainerRemove(ctx, resp.ID, container.RemoveOptions{Force: true})
		if err != nil && !strings.Contains(strings.ToLower(err.Error()), "no such container") {
			t.Errorf("removing container %s: %v", name, err)
		}
	})
	if start {
		if err := cli.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
			t.Fatalf("starting container %s: %v", name, err)
		}
	}
	return resp.ID
}

func mirrorInspect(t *testing.T, cli *dockerclient.Client, id string) container.InspectResponse {
	t.Helper()
	in, err := cli.ContainerInspect(context.Background(), id)
	if err != nil {
		t.Fatalf("inspecting %s: %v", id, err)
	}
	return in
}

// mirrorStore is an in-memory Container store like the server's.
type mirrorStore struct {
	*memory.Store
	listKey string
}

func (s *mirrorStore) key(name string) string { return s.listKey + "/" + name }

func newMirrorStore(t *testing.T) *mirrorStore {
	t.Helper()
	scheme := runtime.NewScheme()
	install.Install(scheme)
	codec := serializer.NewCodecFactory(scheme).LegacyCodec(v1alpha1.SchemeGroupVersion)
	st, err := memory.New(memory.Config{
		Codec:          codec,
		GroupResource:  containers.Resource("containers"),
		ResourcePrefix: mirrorPrefix,
		NewFunc:        func() runtime.Object { return &containers.Container{} },
		NewListFunc:    func() runtime.Object { return &containers.ContainerList{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &mirrorStore{Store: st, listKey: mirrorPrefix + "/" + mirrorNamespace}
}

func (s *mirrorStore) list(t *testing.T) *containers.ContainerList {
	t.Helper()
	l := &containers.ContainerList{}
	if err := s.GetList(context.Background(), s.listKey, storage.ListOptions{Recursive: true, Predicate: storage.Everything}, l); err != nil {
		t.Fatal(err)
	}
	return l
}

func (s *mirrorStore) get(t *testing.T, name string) (*containers.Container, bool) {
	t.Helper()
	c := &containers.Container{}
	err := s.Get(context.Background(), s.key(name), storage.GetOptions{}, c)
	if storage.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return c, true
}

// put creates obj (namespace and name set by the caller) in the store.
func (s *mirrorStore) put(t *testing.T, obj *containers.Container) {
	t.Helper()
	if err := s.Create(context.Background(), s.key(obj.Name), obj, &containers.Container{}, 0); err != nil {
		t.Fatal(err)
	}
}

// mirrorWatch is a recursive watch on the store from its current state.
type mirrorWatch struct {
	t  *testing.T
	s  *mirrorStore
	w  watch.Interface
	rv string
}

func (s *mirrorStore) watch(t *testing.T) *mirrorWatch {
	t.Helper()
	rv := s.list(t).ResourceVersion
	w, err := s.Watch(context.Background(), s.listKey, storage.ListOptions{
		ResourceVersion: rv, Recursive: true, Predicate: storage.Everything,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return &mirrorWatch{t: t, s: s, w: w, rv: rv}
}

// next returns the next event, failing the test at the deadline.
func (w *mirrorWatch) next(deadline <-chan time.Time, what string) (watch.EventType, *containers.Container) {
	w.t.Helper()
	select {
	case ev, ok := <-w.w.ResultChan():
		if !ok {
			w.t.Fatalf("store watch closed while waiting for %s", what)
		}
		if ev.Type == watch.Error {
			w.t.Fatalf("store watch error while waiting for %s: %v", what, ev.Object)
		}
		c, ok := ev.Object.(*containers.Container)
		if !ok {
			w.t.Fatalf("watch event with a %T", ev.Object)
		}
		return ev.Type, c
	case <-deadline:
		w.t.Fatalf("timed out after %v waiting for %s", mirrorWaitTime, what)
	}
	return "", nil
}

// waitFor consumes events until one for container id satisfies ok, and returns
// the events seen for id on the way (including the matching one).
func (w *mirrorWatch) waitFor(id, what string, ok func(watch.EventType, *containers.Container) bool) []watch.EventType {
	w.t.Helper()
	deadline := time.After(mirrorWaitTime)
	var seen []watch.EventType
	for {
		typ, c := w.next(deadline, what)
		if c.Name != id {
			continue
		}
		seen = append(seen, typ)
		if ok(typ, c) {
			return seen
		}
	}
}

// barrier writes a marker object and consumes events up to its ADDED event:
// every change committed before the call has then been delivered. It returns
// the events seen on the way, by object name. The marker is deleted after.
func (w *mirrorWatch) barrier() map[string][]watch.EventType {
	w.t.Helper()
	name := "barrier-" + strings.TrimSuffix(mirrorPrefixName(w.t)[len("mirror-it-"):], "-")
	w.s.put(w.t, &containers.Container{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: mirrorNamespace}})
	deadline := time.After(mirrorWaitTime)
	seen := map[string][]watch.EventType{}
	for {
		typ, c := w.next(deadline, "the barrier object")
		if c.Name == name {
			break
		}
		seen[c.Name] = append(seen[c.Name], typ)
	}
	if err := w.s.Delete(context.Background(), w.s.key(name), &containers.Container{}, nil,
		storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{}); err != nil && !storage.IsNotFound(err) {
		w.t.Fatal(err)
	}
	// Consume the marker's own DELETED event.
	deadline = time.After(mirrorWaitTime)
	for {
		typ, c := w.next(deadline, "the barrier deletion")
		if c.Name == name && typ == watch.Deleted {
			return seen
		}
		seen[c.Name] = append(seen[c.Name], typ)
	}
}

// startMirror runs a container Reconciler on the Docker engine at host until
// the test ends; cleanup waits for Run to return.
func startMirror(t *testing.T, s *mirrorStore, host string, mod func(*mirror.Options[*containers.Container])) *mirror.Reconciler[*containers.Container] {
	t.Helper()
	eng, err := docker.New(host)
	if err != nil {
		t.Fatal(err)
	}
	opts := mirror.Options[*containers.Container]{
		Source: eng.Containers, Mode: mirror.Keyed, EngineName: eng.Name,
		Store:     mirror.Store{Storage: s, Namespace: mirrorNamespace, KeyFunc: s.key, ListKey: s.listKey},
		NewObject: func() *containers.Container { return &containers.Container{} },
		NewList:   func() runtime.Object { return &containers.ContainerList{} },
	}
	if mod != nil {
		mod(&opts)
	}
	m, err := mirror.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(mirrorWaitTime):
			t.Error("Reconciler.Run did not return after its context ended")
		}
		if err := m.Ready(); err == nil {
			t.Error("Ready() is nil after Run returned")
		}
		_ = eng.Close()
	})
	return m
}

// mirrorEventually polls cond (cheap, in-process checks only) until it returns
// nil or the deadline passes.
func mirrorEventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	testenv.Eventually(t, mirrorWaitTime, what, cond)
}

func waitMirrorReady(t *testing.T, m *mirror.Reconciler[*containers.Container]) {
	t.Helper()
	mirrorEventually(t, "the mirror to be ready", m.Ready)
}

// mirrorMetric sums the samples of a counter or gauge on the legacy registry
// whose labels include want.
func mirrorMetric(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	// The mirror's metrics carry the resource; these tests watch containers.
	labels := map[string]string{"resource": "containers"}
	for k, v := range want {
		labels[k] = v
	}
	v, err := testenv.Metric(name, labels)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mirrorProxy forwards a unix socket to Docker's and can cut the engine off:
// while down it closes every open connection and every new one at once, as a
// dead daemon would. It can also stall the event streams open at the time:
// their connections stay open but carry nothing more, as a stream silently
// dropped by a VM's socket forwarder would.
type mirrorProxy struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup // accept loop and copy goroutines

	mu    sync.Mutex // guards down, conns and pairs, and every proxyPair's fields
	down  bool
	conns map[net.Conn]struct{}
	pairs map[*proxyPair]struct{}
}

// proxyPair is one proxied connection; its fields are guarded by mirrorProxy.mu.
type proxyPair struct {
	events  bool // a GET /events request went through it
	stalled bool // nothing is forwarded any more
}

// eventsRequest matches the request line of a Docker event subscription.
var eventsRequest = regexp.MustCompile(`GET /(v[0-9.]+/)?events[? ]`)

func newMirrorProxy(t *testing.T, dockerHost string) (*mirrorProxy, string) {
	t.Helper()
	target, ok := strings.CutPrefix(dockerHost, "unix://")
	if !ok {
		t.Skipf("the proxy test needs a unix:// DOCKER_HOST, not %s", dockerHost)
	}
	// Not t.TempDir: its path holds the test name, and a unix socket path
	// must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "mirror-proxy") //nolint:usetesting // see above
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	p := &mirrorProxy{target: target, ln: ln, conns: map[net.Conn]struct{}{}, pairs: map[*proxyPair]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.setDown(true)
		p.wg.Wait()
	})
	return p, "unix://" + sock
}

func (p *mirrorProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			_ = c.Close()
			continue
		}
		up, err := net.Dial("unix", p.target)
		if err != nil || !p.track(up) {
			if up != nil {
				_ = up.Close()
			}
			p.untrack(c)
			continue
		}
		pair := &proxyPair{}
		p.mu.Lock()
		p.pairs[pair] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up, pair, false)
		go p.pipe(up, c, pair, true)
	}
}

// pipe copies src to dst until either fails, dropping what arrives once the
// pair is stalled. fromClient marks the client-to-Docker direction.
func (p *mirrorProxy) pipe(dst, src net.Conn, pair *proxyPair, fromClient bool) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			if fromClient && eventsRequest.Match(buf[:n]) {
				pair.events = true
			}
			stalled := pair.stalled
			p.mu.Unlock()
			if !stalled {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
		}
		if err != nil {
			break
		}
	}
	p.untrack(dst)
	p.untrack(src)
	p.mu.Lock()
	delete(p.pairs, pair)
	p.mu.Unlock()
}

// stallEvents stalls the event streams open now and returns how many.
func (p *mirrorProxy) stallEvents() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for pair := range p.pairs {
		if pair.events && !pair.stalled {
			pair.stalled = true
			n++
		}
	}
	return n
}

func (p *mirrorProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *mirrorProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.conns[c]; ok {
		delete(p.conns, c)
		_ = c.Close()
	}
}

func (p *mirrorProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			_ = c.Close()
			delete(p.conns, c)
		}
	}
}

var errMirrorNotYet = errors.New("not yet")
