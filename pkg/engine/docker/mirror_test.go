package docker

// Unit tests of the Mirror's session logic against a fake Docker API (no
// daemon): per-container failures, a silently dead event stream, the
// containers gauge, and Run's shutdown. The real daemon is exercised by
// test/integration/mirror_test.go.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/system"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/component-base/metrics/legacyregistry"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/install"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/storage/memory"
)

const (
	fakeNamespace = "ns"
	fakePrefix    = "/containers.rancherdesktop.io/containers"
	fakeListKey   = fakePrefix + "/" + fakeNamespace
	waitTimeout   = 20 * time.Second
)

func fakeKey(name string) string { return fakeListKey + "/" + name }

// fakeID is a valid container ID made from n.
func fakeID(n int) string { return fmt.Sprintf("%064x", n+1) }

// errBlock makes the fake's ContainerInspect hang until its context ends.
var errBlock = errors.New("inspection hangs")

// fakeDocker is a Docker engine in memory. Every field is guarded by mu.
type fakeDocker struct {
	mu         sync.Mutex
	containers map[string]container.InspectResponse
	inspectErr map[string]error // per ID; errBlock hangs
	silent     bool             // events are not delivered (a dead stream)
	subs       map[chan events.Message]struct{}
	dials      int // sessions started
	inFlight   int // ContainerInspect calls running
}

func newFakeDocker() *fakeDocker {
	return &fakeDocker{
		containers: map[string]container.InspectResponse{},
		inspectErr: map[string]error{},
		subs:       map[chan events.Message]struct{}{},
	}
}

// set creates or replaces container id with the given status and emits an event.
func (f *fakeDocker) set(id, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers[id] = container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{
			ID: id, Name: "/c" + id[58:], Created: "2026-01-02T03:04:05Z", Image: "sha256:abc",
			State: &container.State{Status: status, Running: status == "running"},
		},
		Config: &container.Config{Image: "busybox"},
	}
	f.emitLocked(id, "start")
}

func (f *fakeDocker) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.containers, id)
	f.emitLocked(id, "destroy")
}

// emitLocked sends an event to every subscriber, in the same critical section
// as the change, as dockerd logs an event once the change is made.
func (f *fakeDocker) emitLocked(id, action string) {
	if f.silent {
		return
	}
	for ch := range f.subs {
		select {
		case ch <- events.Message{Type: events.ContainerEventType, Action: events.Action(action), Actor: events.Actor{ID: id}}:
		default:
			panic("fake event buffer full")
		}
	}
}

func (f *fakeDocker) setInspectErr(id string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inspectErr[id] = err
}

func (f *fakeDocker) setSilent(silent bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.silent = silent
}

func (f *fakeDocker) counts() (dials, subs, inFlight int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dials, len(f.subs), f.inFlight
}

func (f *fakeDocker) dial(string) (dockerAPI, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dials++
	return f, nil
}

func (f *fakeDocker) Ping(ctx context.Context) (types.Ping, error) { return types.Ping{}, ctx.Err() }

func (f *fakeDocker) Info(ctx context.Context) (system.Info, error) {
	return system.Info{SystemTime: time.Now().Format(time.RFC3339Nano)}, ctx.Err()
}

func (f *fakeDocker) Events(ctx context.Context, _ events.ListOptions) (<-chan events.Message, <-chan error) {
	msgs := make(chan events.Message, 10000)
	errs := make(chan error, 1)
	f.mu.Lock()
	f.subs[msgs] = struct{}{}
	f.mu.Unlock()
	go func() { // like the Docker client's: ends with ctx, then closes errs
		<-ctx.Done()
		f.mu.Lock()
		delete(f.subs, msgs)
		f.mu.Unlock()
		errs <- ctx.Err()
		close(errs)
	}()
	return msgs, errs
}

func (f *fakeDocker) ContainerList(ctx context.Context, _ container.ListOptions) ([]container.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []container.Summary
	for id := range f.containers {
		out = append(out, container.Summary{ID: id})
	}
	return out, ctx.Err()
}

func (f *fakeDocker) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	f.mu.Lock()
	c, ok := f.containers[id]
	err := f.inspectErr[id]
	f.inFlight++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	switch {
	case errors.Is(err, errBlock):
		<-ctx.Done()
		return container.InspectResponse{}, ctx.Err()
	case err != nil:
		return container.InspectResponse{}, err
	case !ok:
		return container.InspectResponse{}, fmt.Errorf("no such container %s: %w", id, cerrdefs.ErrNotFound)
	}
	return c, nil
}

func (f *fakeDocker) Close() error { return nil }

func newTestStore(t *testing.T) *memory.Store {
	t.Helper()
	scheme := runtime.NewScheme()
	install.Install(scheme)
	st, err := memory.New(memory.Config{
		Codec:          serializer.NewCodecFactory(scheme).LegacyCodec(v1alpha1.SchemeGroupVersion),
		GroupResource:  containers.Resource("containers"),
		ResourcePrefix: fakePrefix,
		NewFunc:        func() runtime.Object { return &containers.Container{} },
		NewListFunc:    func() runtime.Object { return &containers.ContainerList{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func storedMirrors(t *testing.T, st storage.Interface) map[string]*containers.Container {
	t.Helper()
	l := &containers.ContainerList{}
	if err := st.GetList(context.Background(), fakeListKey, storage.ListOptions{Recursive: true, Predicate: storage.Everything}, l); err != nil {
		t.Fatal(err)
	}
	out := map[string]*containers.Container{}
	for i := range l.Items {
		out[l.Items[i].Name] = &l.Items[i]
	}
	return out
}

// startFakeMirror runs a Mirror on f until the test ends. stop cancels Run and
// waits for it to return.
func startFakeMirror(t *testing.T, f *fakeDocker, st storage.Interface, mod func(*Config)) (m *Mirror, stop func()) {
	t.Helper()
	return startMirrorDialing(t, f.dial, st, mod)
}

// startMirrorDialing is startFakeMirror with the Mirror's sessions dialling dial.
func startMirrorDialing(t *testing.T, dial func(string) (dockerAPI, error), st storage.Interface, mod func(*Config)) (m *Mirror, stop func()) {
	t.Helper()
	cfg := Config{Host: "unix:///fake.sock", Namespace: fakeNamespace, Storage: st, KeyFunc: fakeKey, ListKey: fakeListKey}
	if mod != nil {
		mod(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.dial = dial
	m.repairGrace = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Fatal("Run did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return m, stop
}

func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// metricValue sums the samples of a counter or gauge whose labels include want.
func metricValue(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != "containers_apiserver_docker_mirror_"+name {
			continue
		}
	samples:
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if v, ok := want[l.GetName()]; ok && v != l.GetValue() {
					continue samples
				}
			}
			sum += s.GetCounter().GetValue() + s.GetGauge().GetValue()
		}
	}
	return sum
}

var resyncOK = map[string]string{"trigger": "resync", "result": "success"}

// checkGauge checks that the containers gauge equals the number of mirrors.
func checkGauge(t *testing.T, st storage.Interface) {
	t.Helper()
	eventually(t, "the containers gauge to equal the stored mirrors", func() error {
		if got, want := metricValue(t, "containers", nil), float64(len(storedMirrors(t, st))); got != want {
			return fmt.Errorf("gauge %v, %v mirrors stored", got, want)
		}
		return nil
	})
}

// watchReady records every time Ready was seen non-nil until the test ends.
func watchReady(t *testing.T, m *Mirror) (unready func() []string) {
	var (
		mu   sync.Mutex
		errs []string
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if err := m.Ready(); err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(errs)
	}
}

// A container Docker fails to inspect does not fail the sync: the Mirror gets
// ready, resyncs keep the session, the broken container's mirror is kept as it
// was, counted, and retried until it can be mirrored.
func TestPerContainerErrorKeepsMirrorReadyAndIsRetried(t *testing.T) {
	f := newFakeDocker()
	good, bad := fakeID(1), fakeID(2)
	f.set(good, "running")
	f.set(bad, "running")
	f.setInspectErr(bad, errors.New("boom"))
	st := newTestStore(t)
	stale := &containers.Container{
		ObjectMeta: metav1.ObjectMeta{Name: bad, Namespace: fakeNamespace},
		Status:     containers.ContainerStatus{Status: "created"},
	}
	if err := st.Create(context.Background(), fakeKey(bad), stale, nil, 0); err != nil {
		t.Fatal(err)
	}
	errorsBefore := metricValue(t, "container_errors_total", nil)
	resyncsBefore := metricValue(t, "full_syncs_total", resyncOK)

	m, _ := startFakeMirror(t, f, st, func(c *Config) {
		c.ResyncInterval = 20 * time.Millisecond
		c.BackoffCap = 10 * time.Millisecond
	})
	eventually(t, "ready", m.Ready)
	unready := watchReady(t, m)

	// Retried (by the workers and the resyncs) while the session stays up.
	eventually(t, "retries and resyncs", func() error {
		errs := metricValue(t, "container_errors_total", nil) - errorsBefore
		resyncs := metricValue(t, "full_syncs_total", resyncOK) - resyncsBefore
		if errs < 5 || resyncs < 3 {
			return fmt.Errorf("%v container errors, %v resyncs", errs, resyncs)
		}
		return nil
	})
	mirrors := storedMirrors(t, st)
	if c := mirrors[bad]; c == nil || c.Status.Status != "created" {
		t.Fatalf("the mirror of the failing container was not kept as it was: %+v", c)
	}
	if c := mirrors[good]; c == nil || c.Status.Status != "running" {
		t.Fatalf("the healthy container is not mirrored: %+v", c)
	}
	checkGauge(t, st)

	// Once Docker answers, a retry mirrors it.
	f.setInspectErr(bad, nil)
	eventually(t, "the recovered container to be mirrored", func() error {
		if c := storedMirrors(t, st)[bad]; c == nil || c.Status.Status != "running" {
			return errors.New("not yet")
		}
		return nil
	})
	if dials, _, _ := f.counts(); dials != 1 {
		t.Errorf("%d sessions, want 1: a per-container error restarted the session", dials)
	}
	if errs := unready(); len(errs) > 0 {
		t.Errorf("the Mirror became unready: %v", errs[0])
	}
	checkGauge(t, st)
}

// A stream that delivers nothing is caught by the next resync that has to
// repair a mirror: the repair is counted and the session subscribes again,
// without the Mirror becoming unready.
func TestSilentEventStreamRestartsSession(t *testing.T) {
	f := newFakeDocker()
	f.set(fakeID(1), "running")
	st := newTestStore(t)
	m, _ := startFakeMirror(t, f, st, func(c *Config) { c.ResyncInterval = 20 * time.Millisecond })
	eventually(t, "ready", m.Ready)
	unready := watchReady(t, m)
	repairsBefore := metricValue(t, "resync_repairs_total", nil)
	reconnectsBefore := metricValue(t, "reconnects_total", nil)

	f.setSilent(true)
	f.set(fakeID(2), "running") // created: no event
	f.set(fakeID(1), "exited")  // updated: no event
	eventually(t, "a new session", func() error {
		if dials, _, _ := f.counts(); dials < 2 {
			return fmt.Errorf("%d sessions", dials)
		}
		return nil
	})
	if n := metricValue(t, "resync_repairs_total", nil) - repairsBefore; n != 2 {
		t.Errorf("resync_repairs_total grew by %v, want 2", n)
	}
	if n := metricValue(t, "reconnects_total", nil) - reconnectsBefore; n < 1 {
		t.Errorf("reconnects_total grew by %v", n)
	}
	mirrors := storedMirrors(t, st)
	if mirrors[fakeID(2)] == nil || mirrors[fakeID(1)].Status.Status != "exited" {
		t.Errorf("the resync did not repair the mirrors: %v", mirrors)
	}
	eventually(t, "ready after the restart", m.Ready)
	if errs := unready(); len(errs) > 0 {
		t.Errorf("the Mirror became unready: %v", errs[0])
	}
	checkGauge(t, st)
}

// While the stream delivers every change, resyncs racing the event workers may
// write a change first, but never count it as a repair nor restart the session.
// The gauge follows creates and deletes, including a delete event for a
// container that never had a mirror.
func TestChangesWithEventsDoNotRestartSession(t *testing.T) {
	f := newFakeDocker()
	st := newTestStore(t)
	m, _ := startFakeMirror(t, f, st, func(c *Config) { c.ResyncInterval = 2 * time.Millisecond })
	eventually(t, "ready", m.Ready)
	repairsBefore := metricValue(t, "resync_repairs_total", nil)
	resyncsBefore := metricValue(t, "full_syncs_total", resyncOK)

	statuses := []string{"created", "running", "paused", "exited"}
	for i := range 400 {
		id := fakeID(i % 7)
		switch {
		case i%11 == 10:
			f.remove(id)
		case i%13 == 12:
			f.remove(fakeID(1000 + i)) // never existed
		default:
			f.set(id, statuses[i%len(statuses)])
		}
		if i%4 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	eventually(t, "the mirrors to equal the fake's containers", func() error {
		f.mu.Lock()
		want := map[string]string{}
		for id, c := range f.containers {
			want[id] = c.State.Status
		}
		f.mu.Unlock()
		got := map[string]string{}
		for id, c := range storedMirrors(t, st) {
			got[id] = c.Status.Status
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("mirrors %v, docker %v", got, want)
		}
		return nil
	})
	if n := metricValue(t, "full_syncs_total", resyncOK) - resyncsBefore; n < 5 {
		t.Errorf("only %v resyncs ran during the churn", n)
	}
	if n := metricValue(t, "resync_repairs_total", nil) - repairsBefore; n != 0 {
		t.Errorf("resync_repairs_total grew by %v although every change had an event", n)
	}
	if dials, _, _ := f.counts(); dials != 1 {
		t.Errorf("%d sessions, want 1", dials)
	}
	checkGauge(t, st)
}

// Run returns only once everything it started has ended, even with an
// inspection hanging in a full sync.
func TestRunReturnsAfterItsGoroutines(t *testing.T) {
	f := newFakeDocker()
	f.set(fakeID(1), "running")
	f.set(fakeID(2), "running")
	f.setInspectErr(fakeID(2), errBlock)
	st := newTestStore(t)
	m, stop := startFakeMirror(t, f, st, nil)
	eventually(t, "the hanging inspection", func() error {
		if _, subs, inFlight := f.counts(); subs != 1 || inFlight != 1 {
			return fmt.Errorf("%d subscriptions, %d inspections", subs, inFlight)
		}
		return nil
	})
	stop()
	if _, subs, inFlight := f.counts(); subs != 0 || inFlight != 0 {
		t.Fatalf("after Run returned: %d subscriptions, %d inspections still running", subs, inFlight)
	}
	if m.Ready() == nil {
		t.Fatal("ready after Run returned")
	}
}
