package docker

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
// All fields are guarded by mu.
type keyQueue struct {
	mu   sync.Mutex
	cond *sync.Cond // on mu; signalled when order grows or on shutdown

	order []string // keys waiting for a worker, oldest first; none is in processing
	// dirty holds every key that must be (re)processed, with the time its first
	// pending event was received (for the latency metric). A key in dirty is in
	// order, or in processing and to be re-queued by Done.
	dirty      map[string]time.Time
	processing map[string]struct{}
	shutdown   bool
}

func newKeyQueue() *keyQueue {
	q := &keyQueue{dirty: map[string]time.Time{}, processing: map[string]struct{}{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add marks key for processing; received is when its event arrived.
func (q *keyQueue) Add(key string, received time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
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

// ShutDown wakes every Get, which then returns ok false; later Adds are ignored.
func (q *keyQueue) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutdown = true
	q.cond.Broadcast()
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
