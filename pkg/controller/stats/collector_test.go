package stats

import (
	"context"
	"sync"
	"testing"
	"time"
	"unsafe"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/storage"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/install"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/pkg/mirror"
	"github.com/rancher-sandbox/containers-apiserver/pkg/storage/memory"
)

const ns = "test"

func newStore(t testing.TB, resource string, newObj, newList func() runtime.Object) mirror.Store {
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
	listKey := prefix + "/" + ns
	return mirror.Store{Storage: st, Namespace: ns, ListKey: listKey, KeyFunc: func(name string) string { return listKey + "/" + name }}
}

// halfCore is a fake engine whose containers each use half a core since
// their first sample; an unknown container is NotFound.
type halfCore struct {
	mu      sync.Mutex           // guards started
	started map[string]time.Time // running containers
}

func (h *halfCore) Sample(_ context.Context, id string) (engine.StatsSample, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	start, ok := h.started[id]
	if !ok {
		return engine.StatsSample{}, engine.Errorf(engine.NotFound, "no container %s", id)
	}
	now := time.Now()
	return engine.StatsSample{
		Timestamp: now, CPUUsageCoreNanoSeconds: uint64(now.Sub(start)) / 2,
		MemoryUsageBytes: 3 << 20, MemoryWorkingSetBytes: 2 << 20, MemoryLimitBytes: 1 << 30,
		NetworkRxBytes: 10, NetworkTxBytes: 20, BlockIOReadBytes: 30, BlockIOWriteBytes: 40, PIDs: 5,
	}, nil
}

func putContainer(t *testing.T, s mirror.Store, id, name, state string) {
	t.Helper()
	err := s.Storage.GuaranteedUpdate(context.Background(), s.KeyFunc(id), &containers.Container{}, true, nil,
		func(runtime.Object, storage.ResponseMeta) (runtime.Object, *uint64, error) {
			c := &containers.Container{}
			c.Name, c.Namespace = id, ns
			c.Labels = map[string]string{"app": "web"}
			c.Status.Name, c.Status.Status = "/"+name, state
			return c, nil, nil
		}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

// nextEvent waits (with a deadline) for the watch's next event.
func nextEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev := <-w.ResultChan():
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return watch.Event{}
	}
}

func TestCollector(t *testing.T) {
	ctrs := newStore(t, "containers", func() runtime.Object { return &containers.Container{} },
		func() runtime.Object { return &containers.ContainerList{} })
	target := newStore(t, "containerstats", func() runtime.Object { return &containers.ContainerStats{} },
		func() runtime.Object { return &containers.ContainerStatsList{} })
	src := &halfCore{started: map[string]time.Time{"c1": time.Now()}}
	c, err := New(Options{Source: src, Containers: ctrs, Target: target, Interval: MinInterval, History: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.SamplesPerContainer(); got != 4 {
		t.Fatalf("capacity %d, want 4 (1s at 250ms)", got)
	}
	putContainer(t, ctrs, "c1", "web", "running")
	putContainer(t, ctrs, "c2", "idle", "exited")

	w, err := target.Storage.Watch(context.Background(), target.ListKey, storage.ListOptions{Recursive: true, Predicate: storage.Everything})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	ev := nextEvent(t, w)
	if ev.Type != watch.Added {
		t.Fatalf("first event %s, want ADDED", ev.Type)
	}
	cs := ev.Object.(*containers.ContainerStats)
	if cs.Name != "c1" || cs.Namespace != ns || cs.Labels["app"] != "web" || cs.UID == "" || cs.CreationTimestamp.IsZero() {
		t.Errorf("object meta %+v", cs.ObjectMeta)
	}
	st := cs.Status
	if st.Name != "web" {
		t.Errorf("status.name %q, want web", st.Name)
	}
	// Half a core, within the rounding of nanosecond counters.
	if st.CPU.UsageNanoCores < 499_000_000 || st.CPU.UsageNanoCores > 501_000_000 {
		t.Errorf("usageNanoCores %d, want 5e8", st.CPU.UsageNanoCores)
	}
	if st.Memory != (containers.MemoryStats{UsageBytes: 3 << 20, WorkingSetBytes: 2 << 20, LimitBytes: 1 << 30}) ||
		st.Network != (containers.NetworkStats{RxBytes: 10, TxBytes: 20}) ||
		st.BlockIO != (containers.BlockIOStats{ReadBytes: 30, WriteBytes: 40}) || st.Pids != 5 {
		t.Errorf("status %+v", st)
	}
	// Each interval: MODIFIED with a later timestamp.
	for range 5 {
		ev := nextEvent(t, w)
		next := ev.Object.(*containers.ContainerStats).Status
		if ev.Type != watch.Modified || !next.Timestamp.After(st.Timestamp.Time) {
			t.Fatalf("event %s at %v, want MODIFIED after %v", ev.Type, next.Timestamp, st.Timestamp)
		}
		st = next
	}
	// The history holds the ring's capacity, oldest first, and goes on.
	series, ok := c.Series("c1")
	if !ok {
		t.Fatal("no series for c1")
	}
	if _, ok := c.Series("c2"); ok {
		t.Error("a series for the exited c2")
	}
	hist, after, _, ended := series.Read(0, time.Time{}, 100)
	if len(hist) != 4 || ended {
		t.Fatalf("history of %d samples (ended %v), want 4", len(hist), ended)
	}
	for i := 1; i < len(hist); i++ {
		if !hist[i].Timestamp.After(hist[i-1].Timestamp.Time) {
			t.Errorf("history out of order at %d", i)
		}
	}
	if more, _, _, _ := series.Read(after, time.Time{}, 100); len(more) > 1 {
		t.Errorf("%d samples after the last read one, want at most 1", len(more))
	}

	// A stop deletes the object and ends the series.
	putContainer(t, ctrs, "c1", "web", "exited")
	for {
		ev := nextEvent(t, w)
		if ev.Type == watch.Deleted {
			break
		}
	}
	if _, ok := c.Series("c1"); ok {
		t.Error("c1 still has a series after it stopped")
	}
	for {
		var changed <-chan struct{}
		var ended bool
		_, after, changed, ended = series.Read(after, time.Time{}, 100)
		if ended {
			break
		}
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Fatal("the series did not end")
		}
	}
}

func TestSeriesRead(t *testing.T) {
	s := newSeries("x", 3)
	base := time.Unix(1000, 0)
	for i := range 5 {
		s.add(point{at: base.Add(time.Duration(i) * time.Second).UnixNano(), pids: int64(i)})
	}
	got, next, _, _ := s.Read(0, time.Time{}, 10)
	if len(got) != 3 || got[0].Pids != 2 || got[2].Pids != 4 || next != 5 {
		t.Fatalf("read %d samples from pids %d, next %d; want the last 3 (2..4), next 5", len(got), got[0].Pids, next)
	}
	got, _, _, _ = s.Read(0, base.Add(3*time.Second), 10)
	if len(got) != 2 || got[0].Pids != 3 {
		t.Errorf("since 3s: %d samples from %d, want 2 from 3", len(got), got[0].Pids)
	}
	got, next, _, _ = s.Read(0, time.Time{}, 1)
	if len(got) != 1 || got[0].Pids != 2 || next != 3 {
		t.Errorf("max 1: %d samples, next %d", len(got), next)
	}
	if l, ok := s.Latest(); !ok || l.Pids != 4 || l.Name != "x" {
		t.Errorf("latest %+v", l)
	}
	s.end()
	// Ended only with the read that returns the last sample.
	if got, _, _, ended := s.Read(3, time.Time{}, 1); len(got) != 1 || ended {
		t.Errorf("ended (%v) with a sample still unread", ended)
	}
	if got, _, _, ended := s.Read(3, time.Time{}, 10); len(got) != 2 || !ended {
		t.Errorf("read %d samples, ended %v; want 2 and the end", len(got), ended)
	}
}

func TestCapacity(t *testing.T) {
	for _, tc := range []struct {
		interval, history time.Duration
		want              int
	}{
		{2 * time.Second, 0, 450},
		{3 * time.Second, 10 * time.Second, 4},
		{MinInterval, 1000 * time.Hour, MaxSamples},
	} {
		if got := Capacity(tc.interval, tc.history); got != tc.want {
			t.Errorf("Capacity(%s, %s) = %d, want %d", tc.interval, tc.history, got, tc.want)
		}
	}
	if got := unsafe.Sizeof(point{}); got != PointBytes {
		t.Errorf("a point takes %d bytes; PointBytes says %d", got, PointBytes)
	}
	if _, err := New(Options{Interval: MinInterval / 2}); err == nil {
		t.Error("an interval below the minimum is accepted")
	}
}

// Every sampler's ticks fall on one grid, at least half an interval ahead.
func TestNextTick(t *testing.T) {
	c, err := New(Options{Interval: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		now, want time.Duration // after base
	}{
		{0, 2 * time.Second},
		{time.Second, 2 * time.Second},
		{time.Second + time.Nanosecond, 4 * time.Second},
		{1900 * time.Millisecond, 4 * time.Second},
		{3 * time.Second, 4 * time.Second},
	} {
		if got := c.nextTick(base.Add(tc.now)); !got.Equal(base.Add(tc.want)) {
			t.Errorf("nextTick(+%s) = +%s, want +%s", tc.now, got.Sub(base), tc.want)
		}
	}
}
