package mirror

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeyQueueCoalescesAndKeepsEarliestTime(t *testing.T) {
	q := newKeyQueue(nil)
	t1, t2 := time.Unix(1, 0), time.Unix(2, 0)
	q.Add("a", t1)
	q.Add("b", t1)
	q.Add("a", t2)
	if q.Len() != 2 {
		t.Fatalf("Len = %d, want 2", q.Len())
	}
	k, at, ok := q.Get()
	if !ok || k != "a" || !at.Equal(t1) {
		t.Fatalf("Get = %q %v %v, want a at %v", k, at, ok, t1)
	}
	// Added while processing: not handed out again until Done.
	q.Add("a", t2)
	k, _, _ = q.Get()
	if k != "b" {
		t.Fatalf("Get = %q, want b", k)
	}
	if q.Len() != 0 {
		t.Fatalf("a re-queued before Done")
	}
	q.Done("a")
	k, at, _ = q.Get()
	if k != "a" || !at.Equal(t2) {
		t.Fatalf("Get = %q %v, want a at %v", k, at, t2)
	}
	q.Done("a")
	q.Done("b")
	q.ShutDown()
	if _, _, ok := q.Get(); ok {
		t.Fatal("Get after ShutDown returned a key")
	}
	q.Add("c", t1) // ignored, no panic
}

func TestKeyQueueOneWorkerPerKey(t *testing.T) {
	q := newKeyQueue(nil)
	var (
		wg       sync.WaitGroup
		active   sync.Map // key -> *atomic.Int32
		overlaps atomic.Int32
		handled  atomic.Int32
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k, _, ok := q.Get()
				if !ok {
					return
				}
				c, _ := active.LoadOrStore(k, new(atomic.Int32))
				if c.(*atomic.Int32).Add(1) > 1 {
					overlaps.Add(1)
				}
				handled.Add(1)
				c.(*atomic.Int32).Add(-1)
				q.Done(k)
			}
		}()
	}
	for i := range 2000 {
		q.Add(string(rune('a'+i%5)), time.Now())
	}
	// Wait until everything queued has been handled, then stop the workers.
	deadline := time.Now().Add(10 * time.Second)
	for {
		q.mu.Lock()
		idle := len(q.order) == 0 && len(q.processing) == 0 && len(q.dirty) == 0
		q.mu.Unlock()
		if idle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("queue did not drain")
		}
		time.Sleep(time.Millisecond)
	}
	q.ShutDown()
	wg.Wait()
	if overlaps.Load() != 0 {
		t.Fatalf("%d times two workers had the same key", overlaps.Load())
	}
	if handled.Load() == 0 {
		t.Fatal("nothing handled")
	}
}

func TestKeyLocks(t *testing.T) {
	var k keyLocks
	var wg sync.WaitGroup
	counter := 0 // guarded by k's lock of "x"
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock := k.lock("x")
			counter++
			unlock()
		}()
	}
	wg.Wait()
	if counter != 50 {
		t.Fatalf("counter = %d", counter)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.m) != 0 {
		t.Fatalf("locks leaked: %d", len(k.m))
	}
}

func TestKeyQueueRetryBackoffAndForget(t *testing.T) {
	var (
		mu    sync.Mutex
		asked []int
	)
	q := newKeyQueue(func(n int) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, n)
		return time.Millisecond
	})
	defer q.ShutDown()

	for want := 1; want <= 3; want++ {
		if _, failures := q.Retry("a"); failures != want {
			t.Fatalf("failures = %d, want %d", failures, want)
		}
		if !q.Pending("a") {
			t.Fatal("a key with a scheduled retry is not pending")
		}
		k, at, ok := q.Get() // the retry arrives without a receive time
		if !ok || k != "a" || !at.IsZero() {
			t.Fatalf("Get = %q %v %v", k, at, ok)
		}
		q.Done("a")
	}
	q.Forget("a")
	q.Retry("a")
	k, _, _ := q.Get()
	q.Done(k)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(asked, []int{0, 1, 2, 0}) {
		t.Fatalf("backoff asked for attempts %v, want [0 1 2 0]", asked)
	}
	if q.Pending("a") {
		t.Fatal("a processed key is still pending")
	}
}

func TestKeyQueueAddReplacesScheduledRetry(t *testing.T) {
	q := newKeyQueue(func(int) time.Duration { return time.Hour })
	q.Retry("a")
	q.Add("a", time.Unix(1, 0))
	k, at, _ := q.Get()
	if k != "a" || !at.Equal(time.Unix(1, 0)) {
		t.Fatalf("Get = %q %v", k, at)
	}
	q.Done("a")
	q.mu.Lock()
	timers := len(q.timers)
	q.mu.Unlock()
	if timers != 0 {
		t.Fatalf("%d retry timers left after Add", timers)
	}
	done := make(chan struct{})
	go func() { q.ShutDown(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("ShutDown waited for a cancelled timer")
	}
}

func TestKeyQueueShutDownStopsRetries(t *testing.T) {
	q := newKeyQueue(func(int) time.Duration { return time.Hour })
	for _, k := range []string{"a", "b", "c"} {
		q.Retry(k)
	}
	fast := newKeyQueue(func(int) time.Duration { return 0 })
	for range 100 {
		fast.Retry("x") // fires at once, racing ShutDown
	}
	done := make(chan struct{})
	go func() { q.ShutDown(); fast.ShutDown(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("ShutDown did not return")
	}
	if _, failures := q.Retry("a"); failures != 0 {
		t.Fatal("Retry after ShutDown counted")
	}
	if q.Pending("a") {
		t.Fatal("a retry is still scheduled after ShutDown")
	}
}
