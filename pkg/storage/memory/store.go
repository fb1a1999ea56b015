package memory

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/features"
	"k8s.io/apiserver/pkg/storage"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
)

// Defaults for Options.
const (
	DefaultHistoryRetention          = 75 * time.Second
	DefaultMinHistoryEvents          = 100
	DefaultMaxHistoryEvents          = 100000
	DefaultWatchBufferSize           = 256
	DefaultSlowWatcherTimeout        = 100 * time.Millisecond
	DefaultBookmarkInterval          = time.Minute
	DefaultFutureResourceVersionWait = 3 * time.Second
)

// retryAfterSeconds is what clients are told to wait before retrying a request
// for a resourceVersion this store has not reached (same as the watch cache).
const retryAfterSeconds = 1

// Messages used for 410 Gone answers; the first two are the etcd3 wording the
// conformance suite checks for.
const (
	expiredListMessage    = "The resourceVersion for the provided list is too old."
	inconsistentContinue  = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."
	continueExpiredReason = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter."
)

// Options tunes a Store. Zero values select the defaults above.
type Options struct {
	// HistoryRetention is the minimum age of events kept in the history ring
	// (bounded by MaxHistoryEvents). Watches and Exact lists can resume from any
	// resourceVersion still covered by the ring.
	HistoryRetention time.Duration
	// MinHistoryEvents is kept regardless of age.
	MinHistoryEvents int
	// MaxHistoryEvents caps the ring; the oldest events are dropped beyond it.
	MaxHistoryEvents int
	// WatchBufferSize is the capacity of each watcher's result channel.
	WatchBufferSize int
	// SlowWatcherTimeout is how long a watcher waits for room in its full
	// result channel before it is terminated (its channel closed). Writers are
	// never involved in this wait.
	SlowWatcherTimeout time.Duration
	// BookmarkInterval is the period of BOOKMARK events sent to watchers that
	// allow bookmarks (Predicate.AllowWatchBookmarks) or asked for
	// ProgressNotify.
	BookmarkInterval time.Duration
	// FutureResourceVersionWait is how long a read or watch for a
	// resourceVersion newer than the store's waits before failing with
	// storage.NewTooLargeResourceVersionError.
	FutureResourceVersionWait time.Duration
}

func (o Options) withDefaults() Options {
	if o.HistoryRetention <= 0 {
		o.HistoryRetention = DefaultHistoryRetention
	}
	if o.MinHistoryEvents <= 0 {
		o.MinHistoryEvents = DefaultMinHistoryEvents
	}
	if o.MaxHistoryEvents <= 0 {
		o.MaxHistoryEvents = DefaultMaxHistoryEvents
	}
	if o.MaxHistoryEvents < o.MinHistoryEvents {
		o.MaxHistoryEvents = o.MinHistoryEvents
	}
	if o.WatchBufferSize <= 0 {
		o.WatchBufferSize = DefaultWatchBufferSize
	}
	if o.SlowWatcherTimeout <= 0 {
		o.SlowWatcherTimeout = DefaultSlowWatcherTimeout
	}
	if o.BookmarkInterval <= 0 {
		o.BookmarkInterval = DefaultBookmarkInterval
	}
	if o.FutureResourceVersionWait <= 0 {
		o.FutureResourceVersionWait = DefaultFutureResourceVersionWait
	}
	return o
}

// Config describes one Store.
type Config struct {
	// Codec encodes objects exactly as they would be written to etcd. It is
	// required: the encoding decides whether an update is a no-op and feeds
	// the size estimate in Stats.
	Codec runtime.Codec
	// GroupResource is informational (logs, errors, metrics).
	GroupResource schema.GroupResource
	// ResourcePrefix is the prefix every key must start with, e.g.
	// "/containers.rancherdesktop.io/containers". Keys are used verbatim (there
	// is no etcd path prefix).
	ResourcePrefix string
	// NewFunc returns an empty object of the stored type. Required (used for
	// bookmarks and for GuaranteedUpdate on absent keys).
	NewFunc func() runtime.Object
	// NewListFunc returns an empty list of the stored type. Optional.
	NewListFunc func() runtime.Object

	Options

	// keyFunc computes an object's key; set when built by RESTOptionsGetter.
	keyFunc func(obj runtime.Object) (string, error)
	// initialResourceVersion replaces the wall-clock seed. Only tests set it
	// (the upstream conformance suite expects etcd-like small revisions).
	initialResourceVersion uint64
}

// entry is the current state of one key. It is immutable once published.
type entry struct {
	obj runtime.Object // deep copy owned by the store, resourceVersion == rev
	rev uint64
	enc encoding // of obj with an empty resourceVersion
}

// encoding identifies an object's Codec encoding (resourceVersion left out)
// without holding it: a no-op update is one whose encoding is unchanged. The
// SHA-256 keeps a few hundred bytes to a few KiB per object out of memory
// (the object itself is kept, as a deep copy); a collision would take
// 2^128 tries.
type encoding struct {
	sum  [sha256.Size]byte
	size int
}

func encodingOf(data []byte) encoding { return encoding{sum: sha256.Sum256(data), size: len(data)} }

// Store is an in-memory storage.Interface. Create it with New.
type Store struct {
	// Immutable after New.
	codec          runtime.Codec
	versioner      versioner
	groupResource  schema.GroupResource
	resourcePrefix string
	newFunc        func() runtime.Object
	newListFunc    func() runtime.Object
	opts           Options
	keyFunc        func(obj runtime.Object) (string, error)
	done           chan struct{} // closed by Close; ends every watcher goroutine
	closeOnce      sync.Once

	// mu guards every field in this block. Writers hold it exclusively only
	// for the commit itself: no user callback, encoding, deep copy or channel
	// send ever happens under it (closing notify is non-blocking).
	mu        sync.RWMutex
	items     map[string]*entry
	keys      []string // sorted keys of items
	rv        uint64   // resourceVersion of the last change (or seed)
	oldestRV  uint64   // lowest resourceVersion whose state can still be rebuilt
	compacted uint64   // highest revision compacted or trimmed, 0 if none
	hist      history
	notify    chan struct{} // closed and replaced on every change of rv
	totalSize int64         // sum of entry.enc.size
	sizeStats bool          // EnableResourceSizeEstimation was called
	closed    bool

	// wmu guards watchers (live watcher goroutines).
	wmu      sync.Mutex
	watchers map[*watcher]struct{}

	// Counters for /metrics; atomics, no lock.
	eventsTotal     atomic.Uint64
	eventsDelivered atomic.Uint64
	slowTerminated  atomic.Uint64
}

var _ storage.Interface = (*Store)(nil)

// New builds an empty Store whose resourceVersion counter is seeded from the
// wall clock.
func New(cfg Config) (*Store, error) {
	if cfg.Codec == nil {
		return nil, errors.New("memory storage: Codec is required")
	}
	if cfg.NewFunc == nil {
		return nil, errors.New("memory storage: NewFunc is required")
	}
	switch {
	case cfg.ResourcePrefix == "":
		return nil, errors.New("memory storage: ResourcePrefix cannot be empty")
	case cfg.ResourcePrefix == "/":
		return nil, errors.New("memory storage: ResourcePrefix cannot be /")
	case !strings.HasPrefix(cfg.ResourcePrefix, "/"):
		return nil, errors.New("memory storage: ResourcePrefix needs to start from /")
	}
	seed := cfg.initialResourceVersion
	if seed == 0 {
		// Restart safety: a resourceVersion issued by an earlier process is
		// (unless it issued more than one write per microsecond on average)
		// lower than this seed, hence older than our history: 410, not stale data.
		seed = uint64(time.Now().UnixMicro())
	}
	return &Store{
		codec:          cfg.Codec,
		groupResource:  cfg.GroupResource,
		resourcePrefix: cfg.ResourcePrefix,
		newFunc:        cfg.NewFunc,
		newListFunc:    cfg.NewListFunc,
		opts:           cfg.Options.withDefaults(),
		keyFunc:        cfg.keyFunc,
		done:           make(chan struct{}),
		items:          map[string]*entry{},
		rv:             seed,
		oldestRV:       seed,
		notify:         make(chan struct{}),
		watchers:       map[*watcher]struct{}{},
	}, nil
}

// Close terminates all watchers (their result channels are closed) and makes
// ReadinessCheck fail. Reads and writes keep working. Idempotent.
func (s *Store) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.done)
	})
}

// ObjectKey returns the storage key of obj as computed by the generic
// registry's key function. Only available on stores built by
// RESTOptionsGetter.
func (s *Store) ObjectKey(obj runtime.Object) (string, error) {
	if s.keyFunc == nil {
		return "", errors.New("memory storage: no key function configured")
	}
	return s.keyFunc(obj)
}

// Versioner implements storage.Interface.
func (s *Store) Versioner() storage.Versioner { return s.versioner }

// versioner is storage.APIObjectVersioner, except that an object whose
// metadata.resourceVersion is not a number is a 400: the generic registry
// passes this error straight to the client (an update or patch that sets
// resourceVersion "abc"), where a bare parse error would be a 500.
type versioner struct{ storage.APIObjectVersioner }

func (v versioner) ObjectResourceVersion(obj runtime.Object) (uint64, error) {
	rv, err := v.APIObjectVersioner.ObjectResourceVersion(obj)
	if err != nil {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid metadata.resourceVersion: %v", err))
	}
	return rv, nil
}

// ReadinessCheck implements storage.Interface.
func (s *Store) ReadinessCheck() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("memory storage for %v is closed", s.groupResource)
	}
	return nil
}

// GetCurrentResourceVersion implements storage.Interface.
func (s *Store) GetCurrentResourceVersion(context.Context) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rv, nil
}

// CompactRevision implements storage.Interface: the highest revision below
// which history is gone (explicit Compact or ring trimming), 0 if none yet.
func (s *Store) CompactRevision() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return int64(s.compacted)
}

// Compact drops the history up to and including rv: the state at rv stays
// readable, older resourceVersions get 410 Gone (watches, Exact lists and
// continue tokens). It is the conformance suite's compaction hook and can be
// used to release history early.
func (s *Store) Compact(rv uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rv > s.rv {
		return fmt.Errorf("memory storage: cannot compact to future resourceVersion %d (current %d)", rv, s.rv)
	}
	s.hist.dropThrough(rv)
	if rv > s.oldestRV {
		s.oldestRV = rv
	}
	if rv > s.compacted {
		s.compacted = rv
	}
	// Wake watchers so that the ones left behind notice and end.
	s.broadcastLocked()
	return nil
}

// EnableResourceSizeEstimation implements storage.Interface. Sizes are the
// lengths of the codec encodings, tracked on every write, so getKeys is not
// needed; it must be non-nil to mirror etcd3.
func (s *Store) EnableResourceSizeEstimation(getKeys storage.KeysFunc) error {
	if getKeys == nil {
		return errors.New("KeysFunc cannot be nil")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sizeStats {
		return errors.New("resourceSizeEstimator already enabled")
	}
	s.sizeStats = true
	return nil
}

// Stats implements storage.Interface.
func (s *Store) Stats(context.Context) (storage.Stats, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := storage.Stats{ObjectCount: int64(len(s.items))}
	if s.sizeStats && len(s.items) > 0 {
		st.EstimatedAverageObjectSizeBytes = s.totalSize / int64(len(s.items))
	}
	return st, nil
}

// RequestWatchProgress implements storage.Interface: every live watcher that
// accepts bookmarks (AllowWatchBookmarks or ProgressNotify) sends one with its
// current resourceVersion as soon as it can.
func (s *Store) RequestWatchProgress(context.Context) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for w := range s.watchers {
		if w.bookmarks {
			select {
			case w.progress <- struct{}{}:
			default: // one request already pending
			}
		}
	}
	return nil
}

func (s *Store) prepareKey(key string, recursive bool) (string, error) {
	return storage.PrepareKey(s.resourcePrefix, key, recursive)
}

// current returns the entry at key (nil if absent).
func (s *Store) current(key string) *entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.items[key]
}

// Create implements storage.Interface. ttl is ignored: this store has no
// expiry (only Events use TTLs in the generic registry).
func (s *Store) Create(ctx context.Context, key string, obj, out runtime.Object, ttl uint64) error {
	preparedKey, err := s.prepareKey(key, false)
	if err != nil {
		return err
	}
	if version, err := s.versioner.ObjectResourceVersion(obj); err == nil && version != 0 {
		return storage.ErrResourceVersionSetOnCreate
	}
	if err := s.versioner.PrepareObjectForStorage(obj); err != nil {
		return fmt.Errorf("PrepareObjectForStorage failed: %w", err)
	}
	data, err := runtime.Encode(s.codec, obj)
	if err != nil {
		return err
	}
	stored := obj.DeepCopyObject()
	acc, err := meta.Accessor(stored)
	if err != nil {
		return err
	}

	s.mu.Lock()
	if _, exists := s.items[preparedKey]; exists {
		s.mu.Unlock()
		return storage.NewKeyExistsError(preparedKey, 0)
	}
	s.commitLocked(preparedKey, nil, stored, acc, encodingOf(data))
	s.mu.Unlock()

	if out != nil {
		return s.copyInto(out, stored)
	}
	return nil
}

// Delete implements storage.Interface. Preconditions and validateDeletion
// always see (a copy of) the current object and the removal only commits if
// that object is still current; otherwise both are evaluated again, which is
// the etcd3 conflict-retry semantics. cachedExistingObject is only a
// suggestion: reading the current in-memory state costs less than checking a
// suggestion, so it is not used.
func (s *Store) Delete(
	ctx context.Context, key string, out runtime.Object, preconditions *storage.Preconditions,
	validateDeletion storage.ValidateObjectFunc, cachedExistingObject runtime.Object, opts storage.DeleteOptions) error {
	preparedKey, err := s.prepareKey(key, false)
	if err != nil {
		return err
	}
	if _, err := conversion.EnforcePtr(out); err != nil {
		return fmt.Errorf("unable to convert output object to pointer: %w", err)
	}
	if opts.ExpectTransformOrDecodeError && utilfeature.DefaultFeatureGate.Enabled(features.AllowUnsafeMalformedObjectDeletion) {
		// Objects held in memory are never corrupt, so an unsafe delete of a
		// malformed object is always refused, like etcd3 does for objects that
		// decode fine.
		if s.current(preparedKey) == nil {
			return storage.NewKeyNotFoundError(preparedKey, 0)
		}
		return storage.NewInvalidObjError(preparedKey, "unsafe deletion is not allowed because the object is decodable from storage")
	}
	for {
		cur := s.current(preparedKey)
		if cur == nil {
			return storage.NewKeyNotFoundError(preparedKey, 0)
		}
		obj := cur.obj.DeepCopyObject()
		if err := preconditions.Check(preparedKey, obj); err != nil {
			return err
		}
		if validateDeletion != nil {
			if err := validateDeletion(ctx, obj); err != nil {
				return err
			}
		}
		s.mu.Lock()
		if s.items[preparedKey] != cur {
			// Changed while the callbacks ran: evaluate them again.
			s.mu.Unlock()
			continue
		}
		rv := s.commitLocked(preparedKey, cur, nil, nil, encoding{})
		s.mu.Unlock()

		if err := s.copyInto(out, cur.obj); err != nil {
			return err
		}
		return s.versioner.UpdateObject(out, rv)
	}
}

// GuaranteedUpdate implements storage.Interface. tryUpdate always receives a
// deep copy of the current object (cachedExistingObject is not needed, see
// Delete). If its result encodes to the same bytes as the stored object,
// nothing is written: no new resourceVersion and no watch event. The ttl
// returned by tryUpdate is ignored (no expiry in this store).
func (s *Store) GuaranteedUpdate(
	ctx context.Context, key string, destination runtime.Object, ignoreNotFound bool,
	preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc, cachedExistingObject runtime.Object) error {
	preparedKey, err := s.prepareKey(key, false)
	if err != nil {
		return err
	}
	v, err := conversion.EnforcePtr(destination)
	if err != nil {
		return fmt.Errorf("unable to convert output object to pointer: %w", err)
	}
	for {
		cur := s.current(preparedKey)
		var in runtime.Object
		var res storage.ResponseMeta
		if cur == nil {
			if !ignoreNotFound {
				return storage.NewKeyNotFoundError(preparedKey, 0)
			}
			if u, ok := v.Addr().Interface().(runtime.Unstructured); ok {
				in = u.NewEmptyInstance()
			} else {
				in = reflect.New(v.Type()).Interface().(runtime.Object)
			}
		} else {
			in = cur.obj.DeepCopyObject()
			res.ResourceVersion = cur.rev
		}
		if err := preconditions.Check(preparedKey, in); err != nil {
			return err
		}
		ret, _, err := tryUpdate(in, res)
		if err != nil {
			return err
		}
		if err := s.versioner.PrepareObjectForStorage(ret); err != nil {
			return fmt.Errorf("PrepareObjectForStorage failed: %w", err)
		}
		data, err := runtime.Encode(s.codec, ret)
		if err != nil {
			return err
		}
		enc := encodingOf(data)
		if cur != nil && enc == cur.enc {
			// No-op: keep the resourceVersion, emit nothing.
			return s.copyInto(destination, cur.obj)
		}
		stored := ret.DeepCopyObject()
		acc, err := meta.Accessor(stored)
		if err != nil {
			return err
		}

		s.mu.Lock()
		if s.items[preparedKey] != cur {
			// Lost a race with another writer: run tryUpdate on the new state.
			s.mu.Unlock()
			continue
		}
		s.commitLocked(preparedKey, cur, stored, acc, enc)
		s.mu.Unlock()
		return s.copyInto(destination, stored)
	}
}

// commitLocked applies one change under s.mu (held exclusively): obj == nil
// deletes old. obj must be a private copy; it is stamped with the new
// resourceVersion and becomes immutable. Returns the new resourceVersion.
func (s *Store) commitLocked(key string, old *entry, obj runtime.Object, acc metav1.Object, enc encoding) uint64 {
	s.rv++
	rv := s.rv
	ev := &event{key: key, rv: rv, at: time.Now()}
	if old != nil {
		ev.prev = old.obj
		s.totalSize -= int64(old.enc.size)
	}
	switch obj {
	case nil:
		ev.typ = watch.Deleted
		delete(s.items, key)
		s.removeKeyLocked(key)
	default:
		acc.SetResourceVersion(strconv.FormatUint(rv, 10))
		ev.typ = watch.Modified
		if old == nil {
			ev.typ = watch.Added
			s.insertKeyLocked(key)
		}
		ev.obj = obj
		s.items[key] = &entry{obj: obj, rev: rv, enc: enc}
		s.totalSize += int64(enc.size)
	}
	s.hist.add(ev)
	s.trimLocked(ev.at)
	s.broadcastLocked()
	s.eventsTotal.Add(1)
	return rv
}

// bumpResourceVersionLocked advances the counter without a change, like a
// write to an unrelated etcd key. Tests use it as the suite's IncreaseRVFunc.
func (s *Store) bumpResourceVersionLocked() uint64 {
	s.rv++
	s.broadcastLocked()
	return s.rv
}

func (s *Store) broadcastLocked() {
	close(s.notify)
	s.notify = make(chan struct{})
}

// trimLocked drops events older than HistoryRetention beyond
// MinHistoryEvents, and anything beyond MaxHistoryEvents.
func (s *Store) trimLocked(now time.Time) {
	for n := s.hist.len(); n > 0; n = s.hist.len() {
		oldest := s.hist.first()
		if n <= s.opts.MaxHistoryEvents &&
			(n <= s.opts.MinHistoryEvents || now.Sub(oldest.at) <= s.opts.HistoryRetention) {
			return
		}
		s.hist.dropFirst()
		// The state at oldest.rv no longer needs that event: still readable.
		if oldest.rv > s.oldestRV {
			s.oldestRV = oldest.rv
		}
		if oldest.rv > s.compacted {
			s.compacted = oldest.rv
		}
	}
}

func (s *Store) insertKeyLocked(key string) {
	i := sort.SearchStrings(s.keys, key)
	s.keys = append(s.keys, "")
	copy(s.keys[i+1:], s.keys[i:])
	s.keys[i] = key
}

func (s *Store) removeKeyLocked(key string) {
	i := sort.SearchStrings(s.keys, key)
	if i < len(s.keys) && s.keys[i] == key {
		copy(s.keys[i:], s.keys[i+1:])
		s.keys[len(s.keys)-1] = ""
		s.keys = s.keys[:len(s.keys)-1]
	}
}

// waitForResourceVersion blocks until the store has reached rv, for at most
// FutureResourceVersionWait, then fails with a "too large resource version"
// error.
func (s *Store) waitForResourceVersion(ctx context.Context, rv uint64) error {
	var timer *time.Timer
	for {
		s.mu.RLock()
		cur, ch := s.rv, s.notify
		s.mu.RUnlock()
		if cur >= rv {
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(s.opts.FutureResourceVersionWait)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-timer.C:
			return storage.NewTooLargeResourceVersionError(rv, cur, retryAfterSeconds)
		case <-ctx.Done():
			return storage.NewTooLargeResourceVersionError(rv, cur, retryAfterSeconds)
		}
	}
}

// Get implements storage.Interface. A resourceVersion is a "not older than"
// bound: the current object is served once the store has reached it.
func (s *Store) Get(ctx context.Context, key string, opts storage.GetOptions, out runtime.Object) error {
	preparedKey, err := s.prepareKey(key, false)
	if err != nil {
		return err
	}
	if opts.ResourceVersion != "" {
		minRV, err := s.versioner.ParseResourceVersion(opts.ResourceVersion)
		if err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %v", err))
		}
		if err := s.waitForResourceVersion(ctx, minRV); err != nil {
			return err
		}
	}
	cur := s.current(preparedKey)
	if cur == nil {
		if opts.IgnoreNotFound {
			return runtime.SetZeroValue(out)
		}
		return storage.NewKeyNotFoundError(preparedKey, 0)
	}
	return s.copyInto(out, cur.obj)
}

// GetList implements storage.Interface, with etcd3 semantics for
// resourceVersion, resourceVersionMatch, limit and continue: lists are
// consistent snapshots, Exact (and continue tokens) are served from the
// history ring while it covers the requested resourceVersion, 410 Gone after.
func (s *Store) GetList(ctx context.Context, key string, opts storage.ListOptions, listObj runtime.Object) error {
	keyPrefix, err := s.prepareKey(key, opts.Recursive)
	if err != nil {
		return err
	}
	listPtr, err := meta.GetItemsPtr(listObj)
	if err != nil {
		return err
	}
	v, err := conversion.EnforcePtr(listPtr)
	if err != nil {
		return fmt.Errorf("need ptr to slice: %w", err)
	}
	if v.Kind() != reflect.Slice {
		return fmt.Errorf("need ptr to slice, got a pointer to %v", v.Kind())
	}
	withRev, continueKey, err := storage.ValidateListOptions(keyPrefix, s.versioner, opts)
	if err != nil {
		return err
	}
	var minRV uint64
	if withRev == 0 && opts.ResourceVersion != "" {
		if minRV, err = s.versioner.ParseResourceVersion(opts.ResourceVersion); err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %v", err))
		}
	}
	if target := max(uint64(withRev), minRV); target > 0 {
		if err := s.waitForResourceVersion(ctx, target); err != nil {
			return err
		}
	}
	from := keyPrefix
	if continueKey != "" {
		from = continueKey
	}

	s.mu.RLock()
	readRV := s.rv
	if withRev > 0 {
		readRV = uint64(withRev)
	}
	if readRV < s.oldestRV {
		s.mu.RUnlock()
		if len(opts.Predicate.Continue) > 0 {
			return continueTooOld(continueKey, keyPrefix)
		}
		return apierrors.NewResourceExpired(expiredListMessage)
	}
	snap := s.snapshotLocked(keyPrefix, opts.Recursive, from, readRV)
	s.mu.RUnlock()

	// Everything below works on immutable objects, outside the lock.
	pred := opts.Predicate
	paging := pred.Limit > 0
	matched := make([]runtime.Object, 0, min(len(snap), 4096))
	var lastKey string
	hasMore := false
	for i, item := range snap {
		if paging && int64(len(matched)) >= pred.Limit {
			hasMore = true
			break
		}
		if i%1024 == 1023 && ctx.Err() != nil {
			return storage.NewTimeoutError(item.key, "request did not complete within requested timeout")
		}
		lastKey = item.key
		if ok, err := pred.Matches(item.obj); err == nil && ok {
			matched = append(matched, item.obj)
		}
	}
	if err := s.fillList(listObj, v, matched); err != nil {
		return err
	}
	continueValue, remaining, err := storage.PrepareContinueToken(lastKey, keyPrefix, int64(readRV), int64(len(snap)), hasMore, opts)
	if err != nil {
		return err
	}
	if err := s.versioner.UpdateList(listObj, readRV, continueValue, remaining); err != nil {
		return err
	}
	if utilfeature.DefaultFeatureGate.Enabled(features.ShardedListAndWatch) {
		pred.SetShardInfoOnList(listObj)
	}
	return nil
}

// continueTooOld is etcd3's answer to a continue token whose resourceVersion
// has been compacted: 410 with a token to continue inconsistently at latest.
func continueTooOld(continueKey, keyPrefix string) error {
	token, err := storage.EncodeContinue(continueKey, keyPrefix, -1)
	if err != nil {
		return apierrors.NewResourceExpired(continueExpiredReason)
	}
	statusErr := apierrors.NewResourceExpired(inconsistentContinue)
	statusErr.ErrStatus.ListMeta.Continue = token
	return statusErr
}

// fillList sets the list's items to deep copies of objs.
func (s *Store) fillList(listObj runtime.Object, v reflect.Value, objs []runtime.Object) error {
	elemType := v.Type().Elem()
	out := reflect.MakeSlice(v.Type(), len(objs), len(objs))
	for i, obj := range objs {
		src := reflect.ValueOf(obj)
		if src.Kind() == reflect.Pointer && src.Type().Elem() == elemType {
			out.Index(i).Set(reflect.ValueOf(obj.DeepCopyObject()).Elem())
			continue
		}
		// Different item type (not expected with the generic registry): go
		// through the codec like etcd3 would.
		item := newListItem(listObj, elemType)
		if err := s.convertInto(item, obj); err != nil {
			return err
		}
		iv := reflect.ValueOf(item)
		if iv.Kind() != reflect.Pointer || iv.Type().Elem() != elemType {
			return fmt.Errorf("cannot store %T in a list of %v", item, elemType)
		}
		out.Index(i).Set(iv.Elem())
	}
	v.Set(out)
	return nil
}

func newListItem(listObj runtime.Object, elemType reflect.Type) runtime.Object {
	if ul, ok := listObj.(*unstructured.UnstructuredList); ok {
		if apiVersion := ul.GetAPIVersion(); apiVersion != "" {
			return &unstructured.Unstructured{Object: map[string]interface{}{"apiVersion": apiVersion}}
		}
	}
	return reflect.New(elemType).Interface().(runtime.Object)
}

// copyInto stores a deep copy of src in dst.
func (s *Store) copyInto(dst, src runtime.Object) error {
	dv := reflect.ValueOf(dst)
	if dv.Kind() != reflect.Pointer || dv.IsNil() {
		return fmt.Errorf("unable to convert output object to pointer: %T", dst)
	}
	if reflect.TypeOf(src) == dv.Type() {
		dv.Elem().Set(reflect.ValueOf(src.DeepCopyObject()).Elem())
		return nil
	}
	return s.convertInto(dst, src)
}

// convertInto round-trips src through the codec into dst, keeping its
// resourceVersion (which is never part of the encoding).
func (s *Store) convertInto(dst, src runtime.Object) error {
	rv, err := s.versioner.ObjectResourceVersion(src)
	if err != nil {
		return err
	}
	cp := src.DeepCopyObject()
	if err := s.versioner.PrepareObjectForStorage(cp); err != nil {
		return err
	}
	data, err := runtime.Encode(s.codec, cp)
	if err != nil {
		return err
	}
	if err := runtime.DecodeInto(s.codec, data, dst); err != nil {
		return err
	}
	return s.versioner.UpdateObject(dst, rv)
}
