package docker

// listMirror is what the image and the volume mirrors share: they keep one
// kind of object in a store equal to a Docker listing (`docker images`,
// `docker volume ls`). Unlike containers, these listings are small and cheap,
// and Docker's image events do not name what changed reliably (a pull's
// Actor.ID is a reference, tag moves emit nothing for the old owner), so every
// relevant event just marks the listing dirty and one worker re-lists and
// reconciles the whole store.
//
// Run's loop, per connection (session):
//  1. Ping, then a checkpoint from the daemon's clock (as the container Mirror).
//  2. Subscribe to the kind's events since the checkpoint; the reader only sets
//     a one-slot dirty flag, so it never blocks and events coalesce.
//  3. Reconcile (list, then create / update-if-changed / delete mirrors); ready.
//  4. The session goroutine itself is the worker: on dirty, or every
//     ResyncInterval (after a Ping), it reconciles again. A stream error or a
//     failed reconcile ends the session: not ready, reconnect with backoff
//     (cut short when the engine answers again, see waitReconnect).
//
// Every reconcile and every delete through the API run under syncMu, so a
// delete's Docker call and its reconcile are never interleaved with the event
// path's: a mirror is deleted from the store exactly once (one DELETED).

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/klog/v2"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// removeTimeout bounds one Docker removal made for an API delete, so a delete
// never hangs (image removal of a large image can take a while).
const removeTimeout = 2 * time.Minute

// mirrorObject is an internal API object a listMirror stores.
type mirrorObject interface {
	runtime.Object
	metav1.Object
}

// listSpec is what one kind adds to a listMirror.
type listSpec[O mirrorObject] struct {
	// kind is the singular resource name, e.g. "image"; the resource is kind+"s".
	kind string
	// filters selects the events to subscribe to.
	filters filters.Args
	// relevant tells whether an event may change the listing.
	relevant func(events.Message) bool
	// desired lists Docker and returns the mirrors there should be, by name.
	// It runs under syncMu only.
	desired func(ctx context.Context, cli *client.Client) (map[string]O, error)
	newObj  func() O
	newList func() runtime.Object
}

// listMirror keeps the objects of one kind in a store equal to a Docker listing.
type listMirror[O mirrorObject] struct {
	spec listSpec[O]
	// Set by newListMirror, read-only afterwards.
	host       string
	namespace  string
	store      storage.Interface
	keyFunc    func(string) string
	listKey    string
	resync     time.Duration
	backoffCap time.Duration
	cli        *client.Client // safe for concurrent use; sessions and deletes share it

	// started makes a second Run a no-op.
	started atomic.Bool

	// syncMu serialises every reconcile and every API delete (Docker call plus
	// reconcile); it also guards what spec.desired caches.
	syncMu sync.Mutex

	// mu guards readyErr: written by Run's goroutine, read by Ready from any
	// goroutine (/readyz, deletes).
	mu       sync.Mutex
	readyErr error
}

// newListMirror checks and completes cfg the way New does for containers (so the
// defaults live in one place) and returns a listMirror that is not ready yet.
func newListMirror[O mirrorObject](cfg Config, spec listSpec[O]) (*listMirror[O], error) {
	base, err := New(cfg)
	if err != nil {
		return nil, fmt.Errorf("docker %s mirror: %w", spec.kind, err)
	}
	cli, err := newClient(base.host)
	if err != nil {
		return nil, fmt.Errorf("docker %s mirror: %w", spec.kind, err)
	}
	return &listMirror[O]{
		spec:       spec,
		host:       base.host,
		namespace:  base.namespace,
		store:      base.store,
		keyFunc:    base.keyFunc,
		listKey:    base.listKey,
		resync:     base.resync,
		backoffCap: base.backoffCap,
		cli:        cli,
		readyErr:   fmt.Errorf("initial sync of docker %ss not finished", spec.kind),
	}, nil
}

// Ready returns nil when the mirrors equal Docker's listing as of the last
// reconcile and the event stream is connected; otherwise why not.
func (m *listMirror[O]) Ready() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.readyErr
}

func (m *listMirror[O]) setReady(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.readyErr = err
}

// Run mirrors Docker until ctx is done and returns once every goroutine it
// started has ended. While Docker is unreachable the mirrors are kept as they
// were last seen, as the container Mirror does; Ready says why they may be stale.
func (m *listMirror[O]) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithName("docker-"+m.spec.kind+"s").WithValues("host", m.host)
	if !m.started.CompareAndSwap(false, true) {
		logger.Error(nil, "Run called twice; ignoring the second call")
		return
	}
	ctx = klog.NewContext(ctx, logger)
	defer m.setReady(fmt.Errorf("docker %s mirror stopped", m.spec.kind))

	attempt := 0
	for {
		synced, err := m.session(ctx)
		if ctx.Err() != nil {
			return
		}
		m.setReady(err)
		if synced {
			attempt = 0
		}
		delay := backoffDelay(attempt, m.backoffCap)
		attempt++
		logger.Error(err, "Docker connection failed; mirrors kept as they are until the next sync", "retryIn", delay)
		var ping func(context.Context) error
		if isUnreachable(err) { // as the container Mirror does, see waitReconnect
			ping = func(ctx context.Context) error { _, err := m.cli.Ping(ctx); return err }
		}
		if !waitReconnect(ctx, delay, ping) {
			return
		}
	}
}

// session is one connection: subscribe, reconcile, then reconcile on events
// and periodically until an error or ctx. Its event reader has ended when it
// returns.
func (m *listMirror[O]) session(ctx context.Context) (synced bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	var (
		wg   sync.WaitGroup // the event reader
		errs <-chan error   // closed when the client's stream goroutine ends
	)
	defer func() {
		cancel()
		wg.Wait()
		if errs != nil {
			for range errs { //nolint:revive // wait for the client's event goroutine to end
			}
		}
	}()

	// checkpoint uses no Mirror state; it is shared so both mirrors use the
	// daemon's clock the same way.
	since, err := new(Mirror).checkpoint(ctx, m.cli)
	if err != nil {
		return false, fmt.Errorf("docker engine at %s unreachable: %w", m.host, err)
	}
	var msgs <-chan events.Message
	msgs, errs = m.cli.Events(ctx, events.ListOptions{
		Since:   fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()),
		Filters: m.spec.filters,
	})
	dirty := make(chan struct{}, 1) // one slot: events coalesce into one re-list
	lost := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.readEvents(ctx, msgs, errs, dirty, lost)
	}()

	if err := m.sync(ctx); err != nil {
		return false, fmt.Errorf("sync of docker %ss at %s failed: %w", m.spec.kind, m.host, err)
	}
	select {
	case err := <-lost:
		return false, fmt.Errorf("docker event stream from %s lost: %w", m.host, err)
	default:
	}
	m.setReady(nil)
	klog.FromContext(ctx).Info("Docker " + m.spec.kind + "s mirrored; following events")

	ticker := time.NewTicker(m.resync)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case err := <-lost:
			return true, fmt.Errorf("docker event stream from %s lost: %w", m.host, err)
		case <-dirty:
			if err := m.sync(ctx); err != nil {
				return true, fmt.Errorf("sync of docker %ss at %s failed: %w", m.spec.kind, m.host, err)
			}
		case <-ticker.C:
			// A Ping notices a daemon that stopped answering even when idle.
			pctx, pcancel := context.WithTimeout(ctx, callTimeout)
			_, err := m.cli.Ping(pctx)
			pcancel()
			if err != nil {
				return true, fmt.Errorf("docker engine at %s unreachable: %w", m.host, err)
			}
			if err := m.sync(ctx); err != nil {
				return true, fmt.Errorf("periodic sync of docker %ss at %s failed: %w", m.spec.kind, m.host, err)
			}
		}
	}
}

// readEvents marks the listing dirty on each relevant event until the stream
// fails (its error goes to lost) or ctx ends. It never blocks on dirty.
func (m *listMirror[O]) readEvents(ctx context.Context, msgs <-chan events.Message, errs <-chan error,
	dirty chan<- struct{}, lost chan<- error) {
	logger := klog.FromContext(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-msgs:
			if !m.spec.relevant(msg) {
				continue
			}
			logger.V(4).Info("Docker event", "type", msg.Type, "action", msg.Action, "id", msg.Actor.ID)
			select {
			case dirty <- struct{}{}:
			default: // a re-list is already pending; it will see this change too
			}
		case err := <-errs:
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				err = errors.New("event stream closed")
			}
			lost <- err
			return
		}
	}
}

// sync reconciles under syncMu.
func (m *listMirror[O]) sync(ctx context.Context) error {
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	return m.reconcileLocked(ctx)
}

// reconcileLocked makes the store equal to Docker's listing. The caller holds
// syncMu. A failure to list fails it; a failure to write one mirror is
// reported after the others have been written.
func (m *listMirror[O]) reconcileLocked(ctx context.Context) error {
	want, err := m.spec.desired(ctx, m.cli)
	if err != nil {
		return err
	}
	list := m.spec.newList()
	if err := m.store.GetList(ctx, m.listKey, storage.ListOptions{Recursive: true, Predicate: storage.Everything}, list); err != nil {
		return fmt.Errorf("listing the stored %s mirrors: %w", m.spec.kind, err)
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	have := make(map[string]O, len(items))
	for _, it := range items {
		if o, ok := it.(O); ok && o.GetNamespace() == m.namespace {
			have[o.GetName()] = o
		}
	}

	var errs []error
	for _, name := range slices.Sorted(maps.Keys(have)) {
		if _, ok := want[name]; !ok {
			if err := m.deleteLocked(ctx, name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		cur, ok := have[name]
		if err := m.upsertLocked(ctx, want[name], cur, ok); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// upsertLocked creates desired, or updates the stored object cur when desired
// differs from it (only the store's resourceVersion is kept from cur);
// exists tells whether there is a cur.
func (m *listMirror[O]) upsertLocked(ctx context.Context, desired, cur O, exists bool) error {
	key := m.keyFunc(desired.GetName())
	if !exists {
		err := m.store.Create(ctx, key, desired, m.spec.newObj(), 0)
		if err != nil {
			return fmt.Errorf("creating %s mirror %s: %w", m.spec.kind, desired.GetName(), err)
		}
		return nil
	}
	desired.SetResourceVersion(cur.GetResourceVersion())
	if equality.Semantic.DeepEqual(desired, cur) {
		return nil
	}
	err := m.store.GuaranteedUpdate(ctx, key, m.spec.newObj(), false, nil,
		func(input runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
			if a, err := meta.Accessor(input); err == nil {
				desired.SetResourceVersion(a.GetResourceVersion())
			}
			return desired, nil, nil
		}, nil)
	if err != nil {
		return fmt.Errorf("updating %s mirror %s: %w", m.spec.kind, desired.GetName(), err)
	}
	return nil
}

// deleteLocked deletes the mirror name; a missing mirror is no error.
func (m *listMirror[O]) deleteLocked(ctx context.Context, name string) error {
	err := m.store.Delete(ctx, m.keyFunc(name), m.spec.newObj(), nil, storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{})
	if err != nil && !storage.IsNotFound(err) {
		return fmt.Errorf("deleting %s mirror %s: %w", m.spec.kind, name, err)
	}
	return nil
}

// remove carries out an API delete of the mirror name: call (the Docker
// removal), then a reconcile, both under syncMu, so the delete returns once
// the store shows Docker's new state and the mirror is deleted exactly once.
// Errors are API status errors: 503 while Docker is not connected, 409 with
// Docker's message when Docker refuses because the object is in use. Docker's
// 404 means the object is already gone: the mirror is removed.
func (m *listMirror[O]) remove(ctx context.Context, name string, call func(ctx context.Context, cli *client.Client) error) error {
	resource := containers.Resource(m.spec.kind + "s")
	if err := m.Ready(); err != nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("the docker engine is not connected: %v", err))
	}
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, removeTimeout)
	err := call(cctx, m.cli)
	cancel()
	if err != nil && !cerrdefs.IsNotFound(err) {
		return writeError(m.host, resource, name, err)
	}
	if err := m.reconcileLocked(ctx); err != nil {
		// Docker removed the object but cannot be listed now: drop this mirror
		// at least; the next session's reconcile fixes the rest.
		klog.FromContext(ctx).Error(err, "Reconcile after a delete failed; deleting the mirror alone", "kind", m.spec.kind, "name", name)
		if derr := m.deleteLocked(ctx, name); derr != nil {
			return apierrors.NewInternalError(derr)
		}
	}
	return nil
}
