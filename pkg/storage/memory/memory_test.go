package memory

// Focused tests of behaviour specific to this store (the conformance suite is
// in store_test.go). Tests wait on events and conditions with deadlines; no
// sleep is used for synchronisation.

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/apis/example"
	examplev1 "k8s.io/apiserver/pkg/apis/example/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/features"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	featuregatetesting "k8s.io/component-base/featuregate/testing"
	"k8s.io/utils/ptr"
)

var deadline = wait.ForeverTestTimeout

func podKey(ns, name string) string { return "/pods/" + ns + "/" + name }

func mustCreate(t testing.TB, s storage.Interface, ns, name string, lbls map[string]string) *example.Pod {
	t.Helper()
	out := &example.Pod{}
	in := &example.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls}}
	if err := s.Create(context.Background(), podKey(ns, name), in, out, 0); err != nil {
		t.Fatalf("Create %s/%s: %v", ns, name, err)
	}
	return out
}

func currentRV(t testing.TB, s *Store) uint64 {
	t.Helper()
	rv, err := s.GetCurrentResourceVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rv
}

func rvString(rv uint64) string { return strconv.FormatUint(rv, 10) }

// nextEvent returns the next event, failing the test after deadline.
func nextEvent(t testing.TB, w watch.Interface) (watch.Event, bool) {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		return ev, ok
	case <-time.After(deadline):
		t.Fatalf("no watch event within %v", deadline)
		return watch.Event{}, false
	}
}

func expectEvent(t testing.TB, w watch.Interface, typ watch.EventType) runtime.Object {
	t.Helper()
	ev, ok := nextEvent(t, w)
	if !ok {
		t.Fatalf("watch closed, expected %s", typ)
	}
	if ev.Type != typ {
		t.Fatalf("got %s event (%#v), expected %s", ev.Type, ev.Object, typ)
	}
	return ev.Object
}

// expectClosed drains buffered events until the channel closes and returns
// them.
func expectClosed(t testing.TB, w watch.Interface) []watch.Event {
	t.Helper()
	var got []watch.Event
	for {
		ev, ok := nextEvent(t, w)
		if !ok {
			return got
		}
		got = append(got, ev)
	}
}

func eventError(t testing.TB, ev watch.Event) error {
	t.Helper()
	if ev.Type != watch.Error {
		t.Fatalf("got %s event, expected ERROR", ev.Type)
	}
	return apierrors.FromObject(ev.Object)
}

func podRV(t testing.TB, obj runtime.Object) uint64 {
	t.Helper()
	rv, err := storage.APIObjectVersioner{}.ObjectResourceVersion(obj)
	if err != nil {
		t.Fatal(err)
	}
	return rv
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, deadline, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// A watcher that never reads must not slow writers down at all: with a slow
// timeout of one hour, writers would hang if they ever waited on it.
func TestSlowWatcherNeverBlocksWriters(t *testing.T) {
	ctx, s := testSetup(t, func(c *Config) {
		c.WatchBufferSize = 4
		c.SlowWatcherTimeout = time.Hour
	})
	start := rvString(currentRV(t, s))
	opts := storage.ListOptions{ResourceVersion: start, Predicate: storage.Everything, Recursive: true}
	slow, err := s.Watch(ctx, "/pods/", opts)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := s.Watch(ctx, "/pods/", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Stop()

	const writes = 200
	writersDone := make(chan struct{})
	go func() {
		defer close(writersDone)
		for i := range writes {
			mustCreate(t, s, "ns", fmt.Sprintf("pod-%03d", i), nil)
		}
	}()
	select {
	case <-writersDone:
	case <-time.After(deadline):
		t.Fatal("writers were blocked by a watcher that does not read")
	}
	// The reading watcher got every event in order meanwhile.
	for i := range writes {
		obj := expectEvent(t, fast, watch.Added)
		if want := fmt.Sprintf("pod-%03d", i); obj.(*example.Pod).Name != want {
			t.Fatalf("event %d is %s, want %s", i, obj.(*example.Pod).Name, want)
		}
	}
	if m := s.Metrics(); m.SlowWatchersTerminated != 0 || m.Watchers != 2 || m.EventsTotal != writes {
		t.Fatalf("unexpected metrics %+v", m)
	}
	// Stop is idempotent and safe from several goroutines.
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); slow.Stop() }()
	}
	wg.Wait()
	slow.Stop()
	expectClosed(t, slow)
	waitFor(t, "slow watcher deregistered", func() bool { return s.Metrics().Watchers == 1 })
}

// A watcher whose consumer stops reading is terminated after
// SlowWatcherTimeout; what it had buffered is still readable, contiguous, and
// the client can resume from the last resourceVersion it got.
func TestSlowWatcherIsTerminated(t *testing.T) {
	ctx, s := testSetup(t, func(c *Config) {
		c.WatchBufferSize = 4
		c.SlowWatcherTimeout = 50 * time.Millisecond
	})
	start := rvString(currentRV(t, s))
	opts := storage.ListOptions{ResourceVersion: start, Predicate: storage.Everything, Recursive: true}
	w, err := s.Watch(ctx, "/pods/", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	const writes = 10
	for i := range writes {
		mustCreate(t, s, "ns", fmt.Sprintf("pod-%02d", i), nil)
	}
	waitFor(t, "slow watcher termination", func() bool { return s.Metrics().SlowWatchersTerminated == 1 })

	got := expectClosed(t, w)
	if len(got) != 4 {
		t.Fatalf("got %d buffered events, want 4 (the buffer size)", len(got))
	}
	for i, ev := range got {
		if want := fmt.Sprintf("pod-%02d", i); ev.Type != watch.Added || ev.Object.(*example.Pod).Name != want {
			t.Fatalf("event %d: %s %s, want ADDED %s", i, ev.Type, ev.Object.(*example.Pod).Name, want)
		}
	}
	if m := s.Metrics(); m.Watchers != 0 {
		t.Fatalf("terminated watcher still registered: %+v", m)
	}

	// Re-watch from the last delivered resourceVersion: nothing lost.
	opts.ResourceVersion = got[len(got)-1].Object.(*example.Pod).ResourceVersion
	w2, err := s.Watch(ctx, "/pods/", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	for i := 4; i < writes; i++ {
		obj := expectEvent(t, w2, watch.Added)
		if want := fmt.Sprintf("pod-%02d", i); obj.(*example.Pod).Name != want {
			t.Fatalf("resumed event is %s, want %s", obj.(*example.Pod).Name, want)
		}
	}
}

// An update that produces the same encoding keeps the resourceVersion and
// emits nothing, even when the new object is rebuilt from scratch (as a
// mirror resync does) with empty instead of nil maps.
func TestNoOpGuaranteedUpdate(t *testing.T) {
	ctx, s := testSetup(t)
	created := mustCreate(t, s, "ns", "foo", map[string]string{"a": "b"})
	key := podKey("ns", "foo")
	w, err := s.Watch(ctx, key, storage.ListOptions{ResourceVersion: created.ResourceVersion, Predicate: storage.Everything})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	before := s.Metrics()

	rebuild := func(runtime.Object, storage.ResponseMeta) (runtime.Object, *uint64, error) {
		return &example.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "foo", Labels: map[string]string{"a": "b"}, Annotations: map[string]string{}},
			Spec:       example.PodSpec{NodeSelector: map[string]string{}},
		}, nil, nil
	}
	for range 3 {
		out := &example.Pod{}
		if err := s.GuaranteedUpdate(ctx, key, out, false, nil, rebuild, nil); err != nil {
			t.Fatal(err)
		}
		if out.ResourceVersion != created.ResourceVersion {
			t.Fatalf("no-op update changed resourceVersion %s -> %s", created.ResourceVersion, out.ResourceVersion)
		}
		if !reflect.DeepEqual(out, created) {
			t.Fatalf("no-op update returned %#v, want %#v", out, created)
		}
	}
	after := s.Metrics()
	if after.ResourceVersion != before.ResourceVersion || after.EventsTotal != before.EventsTotal {
		t.Fatalf("no-op updates changed the store: before %+v after %+v", before, after)
	}

	// The first event the watcher sees is the next real change.
	changed := &example.Pod{}
	if err := s.GuaranteedUpdate(ctx, key, changed, false, nil, storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
		obj.(*example.Pod).Labels["a"] = "c"
		return obj, nil
	}), nil); err != nil {
		t.Fatal(err)
	}
	obj := expectEvent(t, w, watch.Modified)
	if !reflect.DeepEqual(obj, changed) {
		t.Fatalf("got %#v, want %#v", obj, changed)
	}
	if podRV(t, changed) != podRV(t, created)+1 {
		t.Fatalf("real update has resourceVersion %s, want %d", changed.ResourceVersion, podRV(t, created)+1)
	}
}

// resourceVersions are seeded from the wall clock, so what a previous
// process handed out is older than anything a new store retains: 410 Gone,
// never stale data.
func TestRestartGivesGoneForOldResourceVersions(t *testing.T) {
	featuregatetesting.SetFeatureGateDuringTest(t, utilfeature.DefaultFeatureGate, features.WatchList, true)
	seeded := func(c *Config) { c.initialResourceVersion = 0 } // wall clock, as in production
	startMicros := uint64(time.Now().UnixMicro())
	ctx, before := testSetup(t, seeded)
	if seed, now := currentRV(t, before), uint64(time.Now().UnixMicro()); seed < startMicros || seed > now {
		t.Fatalf("seed %d is not the wall clock (between %d and %d)", seed, startMicros, now)
	}
	for i := range 3 {
		mustCreate(t, before, "ns", fmt.Sprintf("pod-%d", i), nil)
	}
	oldRV := currentRV(t, before)
	page := &example.PodList{}
	limit1 := storage.SelectionPredicate{Label: labels.Everything(), Field: fields.Everything(), Limit: 1}
	if err := before.GetList(ctx, "/pods/", storage.ListOptions{Predicate: limit1, Recursive: true}, page); err != nil {
		t.Fatal(err)
	}
	if page.Continue == "" {
		t.Fatal("expected a continue token")
	}

	// "Restart": a new store for the same resource.
	_, after := testSetup(t, seeded)
	if got := currentRV(t, after); got <= oldRV {
		t.Fatalf("new store starts at %d, not above the old %d", got, oldRV)
	}

	w, err := after.Watch(ctx, "/pods/", storage.ListOptions{ResourceVersion: rvString(oldRV), Predicate: storage.Everything, Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := nextEvent(t, w)
	if err := eventError(t, ev); !apierrors.IsResourceExpired(err) || !strings.Contains(err.Error(), "too old resource version") {
		t.Fatalf("watch from old resourceVersion: got %v, want 410 too old resource version", err)
	}
	expectClosed(t, w)

	err = after.GetList(ctx, "/pods/", storage.ListOptions{ResourceVersion: rvString(oldRV), ResourceVersionMatch: metav1.ResourceVersionMatchExact, Predicate: storage.Everything, Recursive: true}, &example.PodList{})
	if !apierrors.IsResourceExpired(err) {
		t.Fatalf("exact list at old resourceVersion: got %v, want 410", err)
	}
	limit1.Continue = page.Continue
	err = after.GetList(ctx, "/pods/", storage.ListOptions{Predicate: limit1, Recursive: true}, &example.PodList{})
	if !apierrors.IsResourceExpired(err) {
		t.Fatalf("old continue token: got %v, want 410", err)
	}
	// A "not older than" read of the old resourceVersion is served current data.
	list := &example.PodList{}
	if err := after.GetList(ctx, "/pods/", storage.ListOptions{ResourceVersion: rvString(oldRV), Predicate: storage.Everything, Recursive: true}, list); err != nil || len(list.Items) != 0 {
		t.Fatalf("not-older-than list: %v, %d items", err, len(list.Items))
	}
}

// Watch-list: ADDED for each matching object in key order, then the
// initial-events-end BOOKMARK carrying the snapshot resourceVersion; without
// AllowWatchBookmarks there is no bookmark.
func TestWatchListInitialEventsEndBookmark(t *testing.T) {
	featuregatetesting.SetFeatureGateDuringTest(t, utilfeature.DefaultFeatureGate, features.WatchList, true)
	ctx, s := testSetup(t)
	var pods []*example.Pod
	for _, name := range []string{"b", "a", "c"} {
		pods = append(pods, mustCreate(t, s, "ns", name, nil))
	}
	mustCreate(t, s, "other", "x", nil) // moves the store's RV past the namespace
	snapshotRV := currentRV(t, s)

	for _, bookmarks := range []bool{true, false} {
		t.Run(fmt.Sprintf("AllowWatchBookmarks=%v", bookmarks), func(t *testing.T) {
			pred := storage.Everything
			pred.AllowWatchBookmarks = bookmarks
			w, err := s.Watch(ctx, "/pods/ns", storage.ListOptions{SendInitialEvents: ptr.To(true), Predicate: pred, Recursive: true})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			for _, want := range []*example.Pod{pods[1], pods[0], pods[2]} {
				if obj := expectEvent(t, w, watch.Added); !reflect.DeepEqual(obj, want) {
					t.Fatalf("got %#v, want %#v", obj, want)
				}
			}
			if bookmarks {
				obj := expectEvent(t, w, watch.Bookmark)
				want := &example.Pod{ObjectMeta: metav1.ObjectMeta{
					ResourceVersion: rvString(snapshotRV),
					Annotations:     map[string]string{metav1.InitialEventsAnnotationKey: "true"},
				}}
				if !reflect.DeepEqual(obj, want) {
					t.Fatalf("bookmark %#v, want %#v", obj, want)
				}
			}
			// The next event is the next change in the namespace.
			added := mustCreate(t, s, "ns", "d-"+strconv.FormatBool(bookmarks), nil)
			if obj := expectEvent(t, w, watch.Added); !reflect.DeepEqual(obj, added) {
				t.Fatalf("got %#v, want %#v", obj, added)
			}
			// Leave the state as the other case expects it.
			if err := s.Delete(ctx, podKey("ns", added.Name), &example.Pod{}, nil, storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			snapshotRV = currentRV(t, s)
		})
	}
}

// Reads and watches for a resourceVersion the store has not reached wait for
// it, then fail with "too large resource version".
func TestFutureResourceVersion(t *testing.T) {
	ctx, s := testSetup(t, func(c *Config) { c.FutureResourceVersionWait = deadline })
	next := currentRV(t, s) + 1

	getErr := make(chan error, 1)
	go func() {
		getErr <- s.Get(ctx, podKey("ns", "a"), storage.GetOptions{ResourceVersion: rvString(next)}, &example.Pod{})
	}()
	w, err := s.Watch(ctx, "/pods/", storage.ListOptions{ResourceVersion: rvString(next), Predicate: storage.Everything, Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	mustCreate(t, s, "ns", "a", nil) // reaches next
	select {
	case err := <-getErr:
		if err != nil {
			t.Fatalf("Get waiting for the next resourceVersion: %v", err)
		}
	case <-time.After(deadline):
		t.Fatal("Get did not return once its resourceVersion was reached")
	}
	b := mustCreate(t, s, "ns", "b", nil)
	if obj := expectEvent(t, w, watch.Added); !reflect.DeepEqual(obj, b) {
		t.Fatalf("watch from %d: got %#v, want the change after it %#v", next, obj, b)
	}

	_, short := testSetup(t) // 250ms wait
	far := rvString(currentRV(t, short) + 100)
	if err := short.Get(ctx, podKey("ns", "a"), storage.GetOptions{ResourceVersion: far}, &example.Pod{}); !storage.IsTooLargeResourceVersion(err) {
		t.Fatalf("Get: got %v, want too large", err)
	}
	err = short.GetList(ctx, "/pods/", storage.ListOptions{ResourceVersion: far, ResourceVersionMatch: metav1.ResourceVersionMatchExact, Predicate: storage.Everything, Recursive: true}, &example.PodList{})
	if !storage.IsTooLargeResourceVersion(err) {
		t.Fatalf("GetList: got %v, want too large", err)
	}
	fw, err := short.Watch(ctx, "/pods/", storage.ListOptions{ResourceVersion: far, Predicate: storage.Everything, Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := nextEvent(t, fw)
	if err := eventError(t, ev); !storage.IsTooLargeResourceVersion(err) {
		t.Fatalf("Watch: got %v, want too large", err)
	}
	expectClosed(t, fw)
}

// The history is bounded: beyond MaxHistoryEvents the oldest events go,
// and so does the ability to resume from before them.
func TestHistoryTrimming(t *testing.T) {
	ctx, s := testSetup(t, func(c *Config) {
		c.MinHistoryEvents = 5
		c.MaxHistoryEvents = 5
	})
	start := currentRV(t, s)
	for i := range 20 {
		mustCreate(t, s, "ns", fmt.Sprintf("pod-%02d", i), nil)
	}
	m := s.Metrics()
	if m.HistoryEvents != 5 || m.Objects != 20 {
		t.Fatalf("unexpected metrics %+v", m)
	}
	if got, want := s.CompactRevision(), int64(start+15); got != want {
		t.Fatalf("CompactRevision() = %d, want %d", got, want)
	}
	w, err := s.Watch(ctx, "/pods/", storage.ListOptions{ResourceVersion: rvString(start), Predicate: storage.Everything, Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := nextEvent(t, w)
	if err := eventError(t, ev); !apierrors.IsResourceExpired(err) {
		t.Fatalf("got %v, want 410", err)
	}
	// The oldest retained state is still readable exactly.
	list := &example.PodList{}
	exact := storage.ListOptions{ResourceVersion: rvString(start + 15), ResourceVersionMatch: metav1.ResourceVersionMatchExact, Predicate: storage.Everything, Recursive: true}
	if err := s.GetList(ctx, "/pods/", exact, list); err != nil || len(list.Items) != 15 {
		t.Fatalf("exact list at the oldest retained revision: %v, %d items", err, len(list.Items))
	}
	exact.ResourceVersion = rvString(start + 14)
	if err := s.GetList(ctx, "/pods/", exact, list); !apierrors.IsResourceExpired(err) {
		t.Fatalf("exact list before the history: got %v, want 410", err)
	}
}

// RequestWatchProgress makes bookmark-capable watchers send a bookmark now.
func TestRequestWatchProgress(t *testing.T) {
	ctx, s := testSetup(t) // default bookmark interval: one minute
	mustCreate(t, s, "ns", "a", nil)
	cur := rvString(currentRV(t, s))
	w, err := s.Watch(ctx, "/pods/", storage.ListOptions{ResourceVersion: cur, Predicate: storage.Everything, Recursive: true, ProgressNotify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := s.RequestWatchProgress(ctx); err != nil {
		t.Fatal(err)
	}
	obj := expectEvent(t, w, watch.Bookmark)
	if want := (&example.Pod{ObjectMeta: metav1.ObjectMeta{ResourceVersion: cur}}); !reflect.DeepEqual(obj, want) {
		t.Fatalf("bookmark %#v, want %#v", obj, want)
	}
}

// Close ends every watcher and fails the readiness check.
func TestClose(t *testing.T) {
	ctx, s := testSetup(t)
	w, err := s.Watch(ctx, "/pods/", storage.ListOptions{Predicate: storage.Everything, Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ReadinessCheck(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	expectClosed(t, w)
	if err := s.ReadinessCheck(); err == nil {
		t.Fatal("closed store reports ready")
	}
	waitFor(t, "watchers gone", func() bool { return s.Metrics().Watchers == 0 })
}

// TestGuaranteedUpdateCases ports the cases of the upstream
// RunTestGuaranteedUpdate that apply here (all but the stale-transformer one).
func TestGuaranteedUpdateCases(t *testing.T) {
	ctx, s := testSetup(t)
	validate := checkStorageInvariants(s)
	inputObj := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "foo", Namespace: "test-ns", UID: "A"}}
	key := podKey("test-ns", "foo")
	tests := []struct {
		name                string
		key                 string
		ignoreNotFound      bool
		precondition        *storage.Preconditions
		expectNotFoundErr   bool
		expectInvalidObjErr bool
		expectNoUpdate      bool
		hasSelfLink         bool
	}{
		{name: "non-existing key, ignoreNotFound=false", key: "/pods/non-existing", expectNotFoundErr: true},
		{name: "non-existing key, ignoreNotFound=true", key: "/pods/non-existing", ignoreNotFound: true},
		{name: "existing key", key: key},
		{name: "same data", key: key, expectNoUpdate: true},
		{name: "same data, a selfLink", key: key, expectNoUpdate: true, hasSelfLink: true},
		{name: "UID match", key: key, precondition: storage.NewUIDPreconditions("A"), expectNoUpdate: true},
		{name: "UID mismatch", key: key, precondition: storage.NewUIDPreconditions("B"), expectInvalidObjErr: true, expectNoUpdate: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = s.Delete(ctx, key, &example.Pod{}, nil, storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{})
			storeObj := &example.Pod{}
			if err := s.Create(ctx, key, inputObj.DeepCopy(), storeObj, 0); err != nil {
				t.Fatal(err)
			}
			annotations := map[string]string{"version": strconv.Itoa(i)}
			if tt.expectNoUpdate {
				annotations = nil
			}
			out := &example.Pod{}
			err := s.GuaranteedUpdate(ctx, tt.key, out, tt.ignoreNotFound, tt.precondition,
				storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
					pod := *storeObj
					if tt.hasSelfLink {
						pod.SetSelfLink("testlink")
					}
					pod.Annotations = annotations
					return &pod, nil
				}), nil)
			switch {
			case tt.expectNotFoundErr:
				if !storage.IsNotFound(err) {
					t.Fatalf("expecting not found error, got %v", err)
				}
				return
			case tt.expectInvalidObjErr:
				if !storage.IsInvalidObj(err) {
					t.Fatalf("expecting invalid UID error, got %v", err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out.Annotations, annotations) {
				t.Errorf("annotations %v, want %v", out.Annotations, annotations)
			}
			if out.GetSelfLink() != "" {
				t.Errorf("selfLink should not be set")
			}
			validate(ctx, t, tt.key)
			if changed := out.ResourceVersion != storeObj.ResourceVersion; changed == tt.expectNoUpdate {
				t.Errorf("resourceVersion %s -> %s, expectNoUpdate=%v", storeObj.ResourceVersion, out.ResourceVersion, tt.expectNoUpdate)
			}
		})
	}
}

// Stores are safe for concurrent writers, readers and watchers (run with -race).
func TestConcurrentUse(t *testing.T) {
	ctx, s := testSetup(t)
	start := rvString(currentRV(t, s))
	w, err := s.Watch(ctx, "/pods/", storage.ListOptions{ResourceVersion: start, Predicate: storage.Everything, Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	const writers, perWriter = 4, 25
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := podKey("ns", fmt.Sprintf("pod-%d", i))
			for range perWriter {
				err := s.GuaranteedUpdate(ctx, key, &example.Pod{}, true, nil, storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
					pod := obj.(*example.Pod)
					pod.Namespace, pod.Name = "ns", fmt.Sprintf("pod-%d", i)
					pod.Spec.ActiveDeadlineSeconds = ptr.To(ptr.Deref(pod.Spec.ActiveDeadlineSeconds, 0) + 1)
					return pod, nil
				}), nil)
				if err != nil {
					t.Error(err)
					return
				}
				if err := s.GetList(ctx, "/pods/", storage.ListOptions{Predicate: storage.Everything, Recursive: true}, &example.PodList{}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	last := uint64(0)
	for range writers * perWriter {
		ev, ok := nextEvent(t, w)
		if !ok {
			t.Fatal("watch closed")
		}
		rv := podRV(t, ev.Object)
		if rv != last+1 && last != 0 {
			t.Fatalf("resourceVersion %d after %d: gap or reorder", rv, last)
		}
		last = rv
	}
	for i := range writers {
		out := &example.Pod{}
		if err := s.Get(ctx, podKey("ns", fmt.Sprintf("pod-%d", i)), storage.GetOptions{}, out); err != nil {
			t.Fatal(err)
		}
		if *out.Spec.ActiveDeadlineSeconds != perWriter {
			t.Fatalf("lost updates: %d, want %d", *out.Spec.ActiveDeadlineSeconds, perWriter)
		}
	}
}

// ---------------------------------------------------------------------------
// An unmodified genericregistry.Store on top of RESTOptionsGetter.
// ---------------------------------------------------------------------------

type podStrategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

func (podStrategy) NamespaceScoped() bool                                            { return true }
func (podStrategy) PrepareForCreate(context.Context, runtime.Object)                 {}
func (podStrategy) Validate(context.Context, runtime.Object) field.ErrorList         { return nil }
func (podStrategy) WarningsOnCreate(context.Context, runtime.Object) []string        { return nil }
func (podStrategy) Canonicalize(runtime.Object)                                      {}
func (podStrategy) AllowCreateOnUpdate(context.Context) bool                         { return false }
func (podStrategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}
func (podStrategy) ValidateUpdate(context.Context, runtime.Object, runtime.Object) field.ErrorList {
	return nil
}
func (podStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}
func (podStrategy) AllowUnconditionalUpdate(context.Context) bool { return true }

func TestGenericRegistryOnRESTOptionsGetter(t *testing.T) {
	codec := codecs.LegacyCodec(examplev1.SchemeGroupVersion)
	getter := NewRESTOptionsGetter(codec, examplev1.SchemeGroupVersion, Options{})
	strategy := podStrategy{ObjectTyper: scheme, NameGenerator: names.SimpleNameGenerator}
	reg := &genericregistry.Store{
		NewFunc:                   newPod,
		NewListFunc:               newPodList,
		DefaultQualifiedResource:  example.Resource("pods"),
		SingularQualifiedResource: example.Resource("pod"),
		CreateStrategy:            strategy,
		UpdateStrategy:            strategy,
		DeleteStrategy:            strategy,
		TableConvertor:            rest.NewDefaultTableConvertor(example.Resource("pods")),
	}
	if err := reg.CompleteWithOptions(&generic.StoreOptions{RESTOptions: getter}); err != nil {
		t.Fatal(err)
	}
	defer reg.Destroy()

	s, ok := getter.Store(example.Resource("pods"))
	if !ok {
		t.Fatal("no store for pods")
	}
	if s.resourcePrefix != "/example.apiserver.k8s.io/pods" {
		t.Fatalf("resource prefix %q", s.resourcePrefix)
	}
	ctx := genericapirequest.WithNamespace(genericapirequest.NewContext(), "ns1")

	obj, err := reg.Create(ctx, &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns1"}}, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created := obj.(*example.Pod)
	w, err := reg.Watch(ctx, &metainternalversion.ListOptions{ResourceVersion: created.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// Dry-run goes through the codec and stores nothing.
	if _, err := reg.Create(ctx, &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "dry", Namespace: "ns1"}}, rest.ValidateAllObjectFunc, &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Get(ctx, "dry", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("dry-run object stored: %v", err)
	}

	// A writer going straight to the store, with the registry's key function.
	key, err := reg.KeyFunc(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	mirrored := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns1"}}
	if objKey, err := s.ObjectKey(mirrored); err != nil || objKey != key {
		t.Fatalf("ObjectKey = %q, %v; registry key %q", objKey, err, key)
	}
	if err := s.Create(ctx, key, mirrored, &example.Pod{}, 0); err != nil {
		t.Fatal(err)
	}
	if obj, err := reg.Get(ctx, "b", &metav1.GetOptions{}); err != nil || obj.(*example.Pod).Name != "b" {
		t.Fatalf("registry Get of a directly written object: %v", err)
	}
	expectEvent(t, w, watch.Added)

	// An update through the registry that changes nothing keeps the RV.
	cur, err := reg.Get(ctx, "a", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	same, _, err := reg.Update(ctx, "a", rest.DefaultUpdatedObjectInfo(cur), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if same.(*example.Pod).ResourceVersion != created.ResourceVersion {
		t.Fatalf("no-op registry update changed resourceVersion %s -> %s", created.ResourceVersion, same.(*example.Pod).ResourceVersion)
	}
	changed := cur.DeepCopyObject().(*example.Pod)
	changed.Labels = map[string]string{"x": "y"}
	if _, _, err := reg.Update(ctx, "a", rest.DefaultUpdatedObjectInfo(changed), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if obj := expectEvent(t, w, watch.Modified); obj.(*example.Pod).Labels["x"] != "y" {
		t.Fatalf("unexpected modified object %#v", obj)
	}

	list, err := reg.List(ctx, &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if items := list.(*example.PodList).Items; len(items) != 2 {
		t.Fatalf("listed %d pods, want 2", len(items))
	}
	if _, _, err := reg.Delete(ctx, "a", rest.ValidateAllObjectFunc, &metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if obj := expectEvent(t, w, watch.Deleted); obj.(*example.Pod).Name != "a" {
		t.Fatalf("unexpected deleted object %#v", obj)
	}
	if m := getter.Metrics()[example.Resource("pods")]; m.Objects != 1 || m.Watchers != 1 {
		t.Fatalf("unexpected metrics %+v", m)
	}
	if got := getter.Resources(); len(got) != 1 || got[0] != example.Resource("pods") {
		t.Fatalf("Resources() = %v", got)
	}
	if _, err := getter.GetRESTOptions(example.Resource("pods"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRESTOptionsGetter(nil, nil, Options{}).GetRESTOptions(example.Resource("pods"), nil); err == nil {
		t.Fatal("expected an error without codec")
	}
}

// TestTune: a tuned resource's store gets its own options, the others the
// getter's; tuning a resource whose store exists is refused.
func TestTune(t *testing.T) {
	getter := NewRESTOptionsGetter(codecs.LegacyCodec(examplev1.SchemeGroupVersion), examplev1.SchemeGroupVersion, Options{})
	pods, other := example.Resource("pods"), example.Resource("others")
	if err := getter.Tune(pods, Options{HistoryRetention: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	for _, gr := range []schema.GroupResource{pods, other} {
		opts, err := getter.GetRESTOptions(gr, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, destroy, err := opts.Decorator(opts.StorageConfig, opts.ResourcePrefix, nil, newPod, newPodList, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(destroy)
	}
	if s, _ := getter.Store(pods); s.opts.HistoryRetention != 5*time.Second {
		t.Errorf("tuned store keeps history %s, want 5s", s.opts.HistoryRetention)
	}
	if s, _ := getter.Store(other); s.opts.HistoryRetention != DefaultHistoryRetention {
		t.Errorf("untuned store keeps history %s, want the default %s", s.opts.HistoryRetention, DefaultHistoryRetention)
	}
	if err := getter.Tune(other, Options{}); err == nil {
		t.Error("tuning a resource whose store exists succeeded")
	}
}

// TestUnparsableResourceVersionIsBadRequest: a client's resourceVersion that
// is not a number is a 400 on watch, as on get and list, never a 500.
func TestUnparsableResourceVersionIsBadRequest(t *testing.T) {
	ctx, s := testSetup(t)
	for _, rv := range []string{"abc", "-1", "1.5", "18446744073709551616"} {
		_, err := s.Watch(ctx, "/pods/", storage.ListOptions{ResourceVersion: rv, Predicate: storage.Everything, Recursive: true})
		if !apierrors.IsBadRequest(err) {
			t.Errorf("watch resourceVersion=%q: %v, want 400", rv, err)
		}
		err = s.GetList(ctx, "/pods/", storage.ListOptions{ResourceVersion: rv, Predicate: storage.Everything, Recursive: true}, &example.PodList{})
		if !apierrors.IsBadRequest(err) {
			t.Errorf("list resourceVersion=%q: %v, want 400", rv, err)
		}
	}
}

// TestObjectResourceVersionUnparsable: the generic registry hands the
// versioner's error on an update with metadata.resourceVersion "abc" straight
// to the client, so it must be a 400.
func TestObjectResourceVersionUnparsable(t *testing.T) {
	_, s := testSetup(t)
	for _, rv := range []string{"abc", "-1", "99999999999999999999"} {
		_, err := s.Versioner().ObjectResourceVersion(&example.Pod{ObjectMeta: metav1.ObjectMeta{ResourceVersion: rv}})
		if !apierrors.IsBadRequest(err) {
			t.Errorf("ObjectResourceVersion(%q): %v, want 400", rv, err)
		}
	}
	if rv, err := s.Versioner().ObjectResourceVersion(&example.Pod{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "42"}}); err != nil || rv != 42 {
		t.Errorf("ObjectResourceVersion(42) = %d, %v", rv, err)
	}
}
