package mirror

// Unit tests of the Reconciler against the fake engine (pkg/engine/fake):
// initial sync, changes, per-object failures, a silently dead stream, an
// outage, removal through the API, listed resources, the objects gauge and
// Run's shutdown. The real dockerd is exercised by test/integration.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/component-base/metrics/legacyregistry"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/install"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine/fake"
	"github.com/rancher-sandbox/containers-apiserver/pkg/storage/memory"
)

const (
	testNamespace = "ns"
	waitTimeout   = 20 * time.Second
)

// fakeID is a valid container ID made from n.
func fakeID(n int) string { return fmt.Sprintf("%064x", n+1) }

// testStore is a memory store of one resource, and its keys.
type testStore struct {
	*memory.Store
	prefix string
}

func (s *testStore) listKey() string        { return s.prefix + "/" + testNamespace }
func (s *testStore) key(name string) string { return s.listKey() + "/" + name }

func (s *testStore) mirrorStore() Store {
	return Store{Storage: s, Namespace: testNamespace, KeyFunc: s.key, ListKey: s.listKey()}
}

func newTestStore(t *testing.T, resource string, newObj, newList func() runtime.Object) *testStore {
	t.Helper()
	scheme := runtime.NewScheme()
	install.Install(scheme)
	prefix := "/containers.rancherdesktop.io/" + resource
	st, err := memory.New(memory.Config{
		Codec:          serializer.NewCodecFactory(scheme).LegacyCodec(v1alpha1.SchemeGroupVersion),
		GroupResource:  containers.Resource(resource),
		ResourcePrefix: prefix,
		NewFunc:        newObj,
		NewListFunc:    newList,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &testStore{Store: st, prefix: prefix}
}

func newContainerStore(t *testing.T) *testStore {
	return newTestStore(t, "containers", func() runtime.Object { return &containers.Container{} },
		func() runtime.Object { return &containers.ContainerList{} })
}

func stored(t *testing.T, st *testStore) map[string]*containers.Container {
	t.Helper()
	l := &containers.ContainerList{}
	if err := st.GetList(context.Background(), st.listKey(), storage.ListOptions{Recursive: true, Predicate: storage.Everything}, l); err != nil {
		t.Fatal(err)
	}
	out := map[string]*containers.Container{}
	for i := range l.Items {
		out[l.Items[i].Name] = &l.Items[i]
	}
	return out
}

// startContainers runs a container Reconciler on f until the test ends;
// stop cancels Run and waits for it to return.
func startContainers(t *testing.T, f *fake.Engine, st *testStore, mod func(*Options[*containers.Container])) (
	r *Reconciler[*containers.Container], stop func()) {
	t.Helper()
	opts := Options[*containers.Container]{
		Source: f.Engine().Containers, Store: st.mirrorStore(), Mode: Keyed, EngineName: "fake engine",
		NewObject: func() *containers.Container { return &containers.Container{} },
		NewList:   func() runtime.Object { return &containers.ContainerList{} },
	}
	if mod != nil {
		mod(&opts)
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	r.repairGrace = 20 * time.Millisecond
	return r, run(t, r.Run)
}

// run runs fn until the test ends; the returned stop cancels it and waits.
func run(t *testing.T, fn func(context.Context)) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(waitTimeout):
				t.Error("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
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

// metricValue sums the samples of a mirror metric whose labels include want.
func metricValue(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != "containers_apiserver_mirror_"+name {
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

var (
	ctrs     = map[string]string{"resource": "containers"}
	resyncOK = map[string]string{"resource": "containers", "trigger": "resync", "result": "success"}
)

// checkGauge checks that the objects gauge equals the number of mirrors.
func checkGauge(t *testing.T, st *testStore) {
	t.Helper()
	eventually(t, "the objects gauge to equal the stored mirrors", func() error {
		if got, want := metricValue(t, "objects", ctrs), float64(len(stored(t, st))); got != want {
			return fmt.Errorf("gauge %v, %v mirrors stored", got, want)
		}
		return nil
	})
}

// watchReady records every time Ready was seen non-nil until the test ends.
func watchReady(t *testing.T, ready func() error) (unready func() []string) {
	var (
		mu   sync.Mutex
		errs []string
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if err := ready(); err != nil {
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

func container(n int, status string) fake.Container {
	return fake.Container{ID: fakeID(n), Name: fmt.Sprintf("c%d", n), Image: "sha256:abc", Status: status,
		Labels: map[string]string{"app": "web", "not a label!": "x"}}
}

// The initial sync makes the store equal to the engine (stale mirrors go,
// missing ones come, users' annotations are kept); changes follow; an
// unchanged engine writes nothing.
func TestInitialSyncAndChanges(t *testing.T) {
	f := fake.New()
	f.PutContainer(container(1, "running"))
	f.PutContainer(container(2, "exited"))
	st := newContainerStore(t)
	ghost := &containers.Container{ObjectMeta: metav1.ObjectMeta{Name: fakeID(9), Namespace: testNamespace}}
	kept := &containers.Container{ObjectMeta: metav1.ObjectMeta{Name: fakeID(1), Namespace: testNamespace,
		Annotations: map[string]string{"example.com/note": "mine"}}}
	for _, c := range []*containers.Container{ghost, kept} {
		if err := st.Create(context.Background(), st.key(c.Name), c, nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := startContainers(t, f, st, nil)
	eventually(t, "ready", r.Ready)
	got := stored(t, st)
	if len(got) != 2 || got[fakeID(1)].Status.Status != "running" || got[fakeID(2)].Status.Status != "exited" {
		t.Fatalf("after the initial sync: %v", got)
	}
	if got[fakeID(1)].Annotations["example.com/note"] != "mine" {
		t.Errorf("a user's annotation was dropped: %v", got[fakeID(1)].Annotations)
	}
	if l := got[fakeID(1)].Labels; len(l) != 1 || l["app"] != "web" {
		t.Errorf("metadata.labels %v, want the valid label only", l)
	}

	f.PutContainer(container(3, "created"))
	f.PutContainer(container(1, "paused"))
	f.DeleteContainer(fakeID(2))
	eventually(t, "the changes", func() error {
		got := stored(t, st)
		if len(got) != 2 || got[fakeID(3)] == nil || got[fakeID(1)].Status.Status != "paused" {
			return fmt.Errorf("%d mirrors", len(got))
		}
		return nil
	})
	checkGauge(t, st)
}

// The same engine state again writes nothing: no new resourceVersion.
func TestUnchangedStateWritesNothing(t *testing.T) {
	f := fake.New()
	f.PutContainer(container(1, "running"))
	st := newContainerStore(t)
	// One worker: changes are applied in the order they came.
	r, _ := startContainers(t, f, st, func(o *Options[*containers.Container]) { o.Parallelism = 1 })
	eventually(t, "ready", r.Ready)
	before := stored(t, st)[fakeID(1)].ResourceVersion
	f.PutContainer(container(1, "running")) // an event, but nothing changed
	f.PutContainer(container(2, "running")) // applied after it
	eventually(t, "the second change", func() error {
		if stored(t, st)[fakeID(2)] == nil {
			return errors.New("not yet")
		}
		return nil
	})
	if after := stored(t, st)[fakeID(1)].ResourceVersion; after != before {
		t.Errorf("an unchanged object was written: resourceVersion %s -> %s", before, after)
	}
}

// An object the engine fails to read does not fail the sync: the Reconciler
// gets ready, resyncs keep the session, the broken object's mirror is kept as
// it was, counted, and retried until it can be mirrored.
func TestPerObjectErrorKeepsReadyAndIsRetried(t *testing.T) {
	f := fake.New()
	good, bad := fakeID(1), fakeID(2)
	f.PutContainer(container(1, "running"))
	f.PutContainer(container(2, "running"))
	f.FailGet(bad, errors.New("boom"))
	st := newContainerStore(t)
	stale := &containers.Container{ObjectMeta: metav1.ObjectMeta{Name: bad, Namespace: testNamespace},
		Status: containers.ContainerStatus{Status: "created"}}
	if err := st.Create(context.Background(), st.key(bad), stale, nil, 0); err != nil {
		t.Fatal(err)
	}
	errorsBefore := metricValue(t, "object_errors_total", ctrs)
	resyncsBefore := metricValue(t, "full_syncs_total", resyncOK)

	r, _ := startContainers(t, f, st, func(o *Options[*containers.Container]) {
		o.ResyncInterval = 20 * time.Millisecond
		o.BackoffCap = 10 * time.Millisecond
	})
	eventually(t, "ready", r.Ready)
	unready := watchReady(t, r.Ready)
	eventually(t, "retries and resyncs", func() error {
		errs := metricValue(t, "object_errors_total", ctrs) - errorsBefore
		resyncs := metricValue(t, "full_syncs_total", resyncOK) - resyncsBefore
		if errs < 5 || resyncs < 3 {
			return fmt.Errorf("%v object errors, %v resyncs", errs, resyncs)
		}
		return nil
	})
	mirrors := stored(t, st)
	if c := mirrors[bad]; c == nil || c.Status.Status != "created" {
		t.Fatalf("the mirror of the failing object was not kept as it was: %+v", c)
	}
	if c := mirrors[good]; c == nil || c.Status.Status != "running" {
		t.Fatalf("the healthy object is not mirrored: %+v", c)
	}
	checkGauge(t, st)

	f.FailGet(bad, nil)
	eventually(t, "the recovered object to be mirrored", func() error {
		if c := stored(t, st)[bad]; c == nil || c.Status.Status != "running" {
			return errors.New("not yet")
		}
		return nil
	})
	if n := f.Calls("Checkpoint containers"); n != 1 {
		t.Errorf("%d sessions, want 1: a per-object error restarted the session", n)
	}
	if errs := unready(); len(errs) > 0 {
		t.Errorf("the Reconciler became unready: %v", errs[0])
	}
	checkGauge(t, st)
}

// A stream that delivers nothing is caught by the next resync that has to
// repair a mirror: the repair is counted and the session subscribes again,
// without becoming unready.
func TestSilentStreamRestartsSession(t *testing.T) {
	f := fake.New()
	f.PutContainer(container(1, "running"))
	st := newContainerStore(t)
	r, _ := startContainers(t, f, st, func(o *Options[*containers.Container]) { o.ResyncInterval = 20 * time.Millisecond })
	eventually(t, "ready", r.Ready)
	unready := watchReady(t, r.Ready)
	repairsBefore := metricValue(t, "resync_repairs_total", ctrs)
	reconnectsBefore := metricValue(t, "reconnects_total", ctrs)

	f.SetSilent(true)
	f.PutContainer(container(2, "running")) // created: no event
	f.PutContainer(container(1, "exited"))  // updated: no event
	eventually(t, "a new session", func() error {
		if n := f.Calls("Checkpoint containers"); n < 2 {
			return fmt.Errorf("%d sessions", n)
		}
		return nil
	})
	if n := metricValue(t, "resync_repairs_total", ctrs) - repairsBefore; n != 2 {
		t.Errorf("resync_repairs_total grew by %v, want 2", n)
	}
	if n := metricValue(t, "reconnects_total", ctrs) - reconnectsBefore; n < 1 {
		t.Errorf("reconnects_total grew by %v", n)
	}
	mirrors := stored(t, st)
	if mirrors[fakeID(2)] == nil || mirrors[fakeID(1)].Status.Status != "exited" {
		t.Errorf("the resync did not repair the mirrors: %v", mirrors)
	}
	eventually(t, "ready after the restart", r.Ready)
	if errs := unready(); len(errs) > 0 {
		t.Errorf("the Reconciler became unready: %v", errs[0])
	}
	checkGauge(t, st)
}

// While the stream delivers every change, resyncs racing the workers never
// count a change as a repair nor restart the session; the gauge follows
// creates and deletes, including a delete of an object never mirrored.
func TestChangesWithEventsDoNotRestartSession(t *testing.T) {
	f := fake.New()
	st := newContainerStore(t)
	r, _ := startContainers(t, f, st, func(o *Options[*containers.Container]) { o.ResyncInterval = 2 * time.Millisecond })
	eventually(t, "ready", r.Ready)
	repairsBefore := metricValue(t, "resync_repairs_total", ctrs)
	resyncsBefore := metricValue(t, "full_syncs_total", resyncOK)

	statuses := []string{"created", "running", "paused", "exited"}
	want := map[string]string{}
	for i := range 400 {
		n := i % 7
		switch {
		case i%11 == 10:
			f.DeleteContainer(fakeID(n))
			delete(want, fakeID(n))
		case i%13 == 12:
			f.DeleteContainer(fakeID(1000 + i)) // never existed
		default:
			f.PutContainer(container(n, statuses[i%len(statuses)]))
			want[fakeID(n)] = statuses[i%len(statuses)]
		}
		if i%4 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	eventually(t, "the mirrors to equal the engine", func() error {
		got := map[string]string{}
		for id, c := range stored(t, st) {
			got[id] = c.Status.Status
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("mirrors %v, engine %v", got, want)
		}
		return nil
	})
	if n := metricValue(t, "full_syncs_total", resyncOK) - resyncsBefore; n < 5 {
		t.Errorf("only %v resyncs ran during the churn", n)
	}
	if n := metricValue(t, "resync_repairs_total", ctrs) - repairsBefore; n != 0 {
		t.Errorf("resync_repairs_total grew by %v although every change had an event", n)
	}
	if n := f.Calls("Checkpoint containers"); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
	checkGauge(t, st)
}

// Run returns only once everything it started has ended, even with a read
// hanging in a full sync.
func TestRunReturnsAfterItsGoroutines(t *testing.T) {
	f := fake.New()
	f.PutContainer(container(1, "running"))
	f.PutContainer(container(2, "running"))
	f.FailGet(fakeID(2), fake.ErrBlock)
	st := newContainerStore(t)
	_, stop := startContainers(t, f, st, nil)
	eventually(t, "the hanging read", func() error {
		if w, in := f.Watchers(), f.Inflight(); w != 1 || in != 1 {
			return fmt.Errorf("%d streams, %d reads", w, in)
		}
		return nil
	})
	stop()
	if w, in := f.Watchers(), f.Inflight(); w != 0 || in != 0 {
		t.Fatalf("after Run returned: %d streams, %d reads still open", w, in)
	}
}

// While the engine is down the mirrors are kept and the Reconciler is not
// ready (with the reason); once it answers again, it is reconnected to within
// a few probe intervals, not after the rest of its backoff, and synced.
func TestOutageKeepsMirrorsAndReconnects(t *testing.T) {
	f := fake.New()
	f.PutContainer(container(1, "running"))
	st := newContainerStore(t)
	r, _ := startContainers(t, f, st, func(o *Options[*containers.Container]) { o.BackoffCap = time.Minute })
	eventually(t, "ready", r.Ready)

	f.SetDown(true)
	eventually(t, "unready", func() error {
		if err := r.Ready(); err == nil || !strings.Contains(err.Error(), "fake engine") {
			return fmt.Errorf("Ready = %v", err)
		}
		return nil
	})
	// Let the backoff grow past a few attempts.
	eventually(t, "several failed attempts", func() error {
		if n := f.Calls("Checkpoint containers"); n < 5 {
			return fmt.Errorf("%d attempts", n)
		}
		return nil
	})
	if got := stored(t, st); got[fakeID(1)] == nil {
		t.Fatal("the mirror was dropped during the outage")
	}
	f.PutContainerQuietly(container(1, "exited"))
	back := time.Now()
	f.SetDown(false)
	eventually(t, "ready again", r.Ready)
	if d := time.Since(back); d > 20*probeInterval {
		t.Errorf("reconnected %v after the engine was back", d)
	}
	if got := stored(t, st)[fakeID(1)]; got.Status.Status != "exited" {
		t.Errorf("not resynced after the outage: %s", got.Status.Status)
	}
}

// Remove calls the engine, then the mirror goes, once; while not connected
// nothing is called and the answer is Unavailable; the engine's refusal is
// returned as it is.
func TestRemove(t *testing.T) {
	f := fake.New()
	f.PutContainer(container(1, "running"))
	f.PutContainer(container(2, "running"))
	st := newContainerStore(t)
	r, _ := startContainers(t, f, st, nil)
	eventually(t, "ready", r.Ready)
	w, err := st.Watch(context.Background(), st.listKey(), storage.ListOptions{Recursive: true, Predicate: storage.Everything,
		ResourceVersion: stored(t, st)[fakeID(1)].ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ctl := f.Engine().Control
	if err := r.Remove(context.Background(), fakeID(1), func(ctx context.Context) error {
		return ctl.RemoveContainer(ctx, fakeID(1))
	}); err != nil {
		t.Fatal(err)
	}
	if stored(t, st)[fakeID(1)] != nil {
		t.Fatal("the mirror is still there after Remove returned")
	}
	// The engine's own event for the removal changes nothing more.
	refused := engine.Errorf(engine.Conflict, "in use")
	if err := r.Remove(context.Background(), fakeID(2), func(context.Context) error { return refused }); !errors.Is(err, refused) {
		t.Errorf("a refusal came back as %v", err)
	}
	if stored(t, st)[fakeID(2)] == nil {
		t.Error("a refused removal deleted the mirror")
	}
	deletes := 0
	timeout := time.After(200 * time.Millisecond)
collect:
	for {
		select {
		case ev := <-w.ResultChan():
			if ev.Type == "DELETED" {
				deletes++
			}
		case <-timeout:
			break collect
		}
	}
	if deletes != 1 {
		t.Errorf("%d DELETED events, want exactly 1", deletes)
	}

	f.SetDown(true)
	eventually(t, "unready", func() error {
		if r.Ready() == nil {
			return errors.New("still ready")
		}
		return nil
	})
	called := false
	err = r.Remove(context.Background(), fakeID(2), func(context.Context) error { called = true; return nil })
	if !engine.IsUnavailable(err) || called {
		t.Errorf("Remove while down: %v, engine called: %v", err, called)
	}
}

// A listed resource (images) is reconciled as a whole on any change; a
// removal of one tag that leaves the image untagged replaces its mirror.
func TestListedImages(t *testing.T) {
	f := fake.New()
	f.PutImage(fake.Image{ID: "sha256:1", Tags: []string{"a:1", "a:2"}})
	st := newTestStore(t, "images", func() runtime.Object { return &containers.Image{} },
		func() runtime.Object { return &containers.ImageList{} })
	r, err := New(Options[*containers.Image]{
		Source: f.Engine().Images, Store: st.mirrorStore(), Mode: Listed,
		NewObject: func() *containers.Image { return &containers.Image{} },
		NewList:   func() runtime.Object { return &containers.ImageList{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, r.Run)
	eventually(t, "ready", r.Ready)
	names := func() []string {
		l := &containers.ImageList{}
		if err := st.GetList(context.Background(), st.listKey(), storage.ListOptions{Recursive: true, Predicate: storage.Everything}, l); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, i := range l.Items {
			out = append(out, i.Status.RepoTag)
		}
		slices.Sort(out)
		return out
	}
	if got := names(); fmt.Sprint(got) != "[a:1 a:2]" {
		t.Fatalf("images %v", got)
	}
	f.PutImage(fake.Image{ID: "sha256:2", Tags: []string{"b:1"}})
	eventually(t, "the new image", func() error {
		if got := names(); fmt.Sprint(got) != "[a:1 a:2 b:1]" {
			return fmt.Errorf("images %v", got)
		}
		return nil
	})
	ctl := f.Engine().Control
	for _, tag := range []string{"a:1", "a:2"} {
		if err := r.Remove(context.Background(), engine.ImageName("sha256:1", tag), func(ctx context.Context) error {
			return ctl.RemoveImage(ctx, "sha256:1", tag)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if got := names(); fmt.Sprint(got) != "[b:1]" {
		t.Fatalf("after removing both tags: %v", got)
	}
}

// Alive fails when the loop has not moved on for longer than asked.
func TestAlive(t *testing.T) {
	f := fake.New()
	st := newContainerStore(t)
	r, _ := startContainers(t, f, st, nil)
	eventually(t, "ready", r.Ready)
	if err := r.Alive(time.Minute); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the loop is idle: nothing moves for this long
	if err := r.Alive(10 * time.Millisecond); err == nil {
		t.Fatal("Alive reported an idle loop as moving for a stale threshold it exceeded")
	}
}
func TestBackoffDelay(t *testing.T) {
	limit := 30 * time.Second
	prevMax := time.Duration(0)
	for n := range 40 {
		for range 20 {
			d := backoffDelay(n, limit)
			if d <= 0 || d > limit {
				t.Fatalf("backoffDelay(%d) = %v, outside (0, %v]", n, d, limit)
			}
		}
		full := min(initialBackoff<<min(n, 30), limit)
		if n >= 30 {
			full = limit
		}
		if full < prevMax {
			t.Fatalf("backoff shrinks at attempt %d", n)
		}
		prevMax = full
	}
	if d := backoffDelay(100, limit); d < limit/2 {
		t.Fatalf("capped delay %v below half the cap", d)
	}
}
