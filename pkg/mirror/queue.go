package mirror

import (
	"sync"
	"time"
)

// keyQueue is a FIFO of container IDs that coalesces repeated adds, with the
// semantics of client-go's workqueue: a key is handed to at most one worker at a
// time; a key added while it is being processed is handed out again after Done.
// Add never blocks, so the event-stream reader always keeps up with Docker
// (dockerd drops events for a subscriber that stays behind for 100ms).
//
// A key whose processing failed is re-added later by Retry, after a per-key
// exponential backoff that Forget resets. The retry timers belong to the queue:
// ShutDown stops them and waits for any callback already running, so no timer
// goroutine outlives ShutDown.
//
// All fields but backoff (read-only) and timerWG are guarded by mu.
type keyQueue struct {
	mu   sync.Mutex
	cond *sync.Cond // on mu; signalled when order grows or on shutdown

	order []string // keys waiting for a worker, oldest first; none is in processing
	// dirty holds every key that must be (re)processed, with the time its first
	// pending event was received (for the latency metric; zero for a retry). A
	// key in dirty is in order, or in processing and to be re-queued by Done.
	dirty      map[string]time.Time
	processing map[string]struct{}
	shutdown   bool

	// backoff is the delay before retry n (0-based) of one key.
	backoff  func(n int) time.Duration
	failures map[string]int         // Retry calls since the key's last Forget
	timers   map[string]*time.Timer // the key's scheduled retry
	// timerWG counts the timers that were started and neither stopped nor done
	// running; ShutDown waits for it.
	timerWG sync.WaitGroup
}

// newKeyQueue returns an empty queue; backoff nil means the mirror's reconnect
// backoff with DefaultBackoffCap.
func newKeyQueue(backoff func(n int) time.Duration) *keyQueue {
	if backoff == nil {
		backoff = func(n int) time.Duration { return backoffDelay(n, DefaultBackoffCap) }
	}
	q := &keyQueue{
		dirty: map[string]time.Time{}, processing: map[string]struct{}{},
		backoff: backoff, failures: map[string]int{}, timers: map[string]*time.Timer{},
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add marks key for processing now; received is when its event arrived. A
// retry scheduled for key is cancelled: this processing replaces it.
func (q *keyQueue) Add(key string, received time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.cancelTimerLocked(key)
	q.addLocked(key, received)
}

func (q *keyQueue) addLocked(key string, received time.Time) {
	if q.shutdown {
		return
	}
	if _, ok := q.dirty[key]; ok {
		return // already pending: keep the earliest receive time
	}
	q.dirty[key] = received
	if _, ok := q.processing[key]; ok {
		return // Done re-queues it
	}
	q.order = append(q.order, key)
	q.cond.Signal()
}

// Retry counts a failure of key and schedules it to be added again after the
// backoff of its failure count, unless a retry is already scheduled. It returns
// the delay and the failure count (for logs).
func (q *keyQueue) Retry(key string) (delay time.Duration, failures int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return 0, 0
	}
	q.failures[key]++
	failures = q.failures[key]
	delay = q.backoff(failures - 1)
	if _, ok := q.timers[key]; ok {
		return delay, failures // the earlier retry stands
	}
	q.timerWG.Add(1) // before ShutDown's Wait: shutdown is false under mu
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		defer q.timerWG.Done()
		q.mu.Lock()
		defer q.mu.Unlock()
		// t is assigned before mu is released, so this read is ordered after it.
		if q.timers[key] != t {
			return // cancelled after it had fired
		}
		delete(q.timers, key)
		q.addLocked(key, time.Time{})
	})
	q.timers[key] = t
	return delay, failures
}

// Forget resets key's failure count (after a success). A scheduled retry stays.
func (q *keyQueue) Forget(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.failures, key)
}

// cancelTimerLocked stops key's scheduled retry, if any.
func (q *keyQueue) cancelTimerLocked(key string) {
	t, ok := q.timers[key]
	if !ok {
		return
	}
	delete(q.timers, key)
	if t.Stop() {
		q.timerWG.Done() // it will never run; otherwise its callback calls Done
	}
}

// Pending reports whether key waits for a worker, is being processed, or has a
// retry scheduled: a change to its container is already on its way to the store.
func (q *keyQueue) Pending(key string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, dirty := q.dirty[key]
	_, processing := q.processing[key]
	_, retry := q.timers[key]
	return dirty || processing || retry
}

// Get blocks until a key is ready or the queue is shut down (ok false). The
// caller must call Done(key) when finished with it.
func (q *keyQueue) Get() (key string, received time.Time, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.order) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if q.shutdown {
		return "", time.Time{}, false
	}
	key = q.order[0]
	q.order[0] = ""
	q.order = q.order[1:]
	received = q.dirty[key]
	delete(q.dirty, key)
	q.processing[key] = struct{}{}
	return key, received, true
}

// Done ends the processing of key and re-queues it if it was added meanwhile.
func (q *keyQueue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, key)
	if _, ok := q.dirty[key]; ok && !q.shutdown {
		q.order = append(q.order, key)
		q.cond.Signal()
	}
}

// Len is the number of keys waiting for a worker.
func (q *keyQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}

// ShutDown wakes every Get, which then returns ok false, stops the retry timers
// and waits until no timer callback runs any more. Later Adds and Retries are
// ignored.
func (q *keyQueue) ShutDown() {
	q.mu.Lock()
	q.shutdown = true
	for key := range q.timers {
		q.cancelTimerLocked(key)
	}
	q.cond.Broadcast()
	q.mu.Unlock()
	q.timerWG.Wait()
}

// keyLocks is a set of per-key mutexes, so the event workers and a full sync
// never work on the same container at the same time: each inspects and writes
// under the key's lock, so the later inspection is also the later write.
//
// m and the refs counts are guarded by mu; each keyLock's own mu guards the
// mirror of that key.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int // guarded by keyLocks.mu
}

// lock locks key and returns its unlock function.
func (k *keyLocks) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()

	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
