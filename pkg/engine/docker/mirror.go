// Package docker mirrors the containers of a Docker engine as Container objects.
//
// The Mirror is the only writer of Container mirrors. It writes the internal
// objects (*containers.Container) straight into a storage.Interface, in one
// Kubernetes namespace, named by the full Docker container ID.
//
// How it stays equal to `docker ps -a`:
//
//  1. Connect: a new Docker client (API version negotiated, so Docker 20.10 /
//     API 1.41 works), Ping, then a checkpoint from the daemon's own clock
//     (Info().SystemTime minus a second of margin; no host/VM clock skew).
//  2. Subscribe to the container events since the checkpoint. The daemon
//     replays what happened after the checkpoint from its event buffer, so no
//     event between the checkpoint and the end of the sync is lost. One reader
//     goroutine only marks container IDs dirty in a coalescing queue and never
//     blocks, so dockerd never drops events for a slow subscriber.
//  3. Full sync: ContainerList(all) plus the stored mirrors, then for each ID,
//     in parallel (bounded): inspect, and create / update (only when the
//     computed object differs) / delete the mirror.
//  4. Ready; event workers start: each dirty ID is inspected again and its
//     mirror upserted or deleted. A key is held by one worker at a time and the
//     event queue keeps no per-event payload, so per-container order reduces to
//     "the latest inspection wins".
//  5. Every ResyncInterval, a full sync again. On a stream error or a failed
//     sync: not ready (with the reason), reconnect after a capped, jittered,
//     exponential backoff, and go back to 1.
//
// Every inspection and the store write that follows it happen under a
// per-container lock, so a full sync and an event worker never interleave on
// one container: the later inspection is always the later write.
package docker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/klog/v2"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// Defaults for the zero fields of Config.
const (
	DefaultHost               = "unix:///var/run/docker.sock"
	DefaultNamespace          = "rancher-desktop"
	DefaultResyncInterval     = 5 * time.Minute
	DefaultBackoffCap         = 30 * time.Second
	DefaultInspectParallelism = 8
)

const (
	initialBackoff = 500 * time.Millisecond
	callTimeout    = 30 * time.Second // Ping, Info, one ContainerInspect
	listTimeout    = time.Minute      // ContainerList
	// checkpointMargin is subtracted from the daemon's clock: replaying an event
	// twice costs one inspection, missing one costs a stale mirror.
	checkpointMargin = time.Second
	// itemAttempts is how often one container is tried before its error counts.
	itemAttempts = 3
)

// ignoredActions are container events that do not change what a mirror shows
// (the part of the action before ":"). Everything else, including actions a
// newer Docker may add, leads to an inspection.
var ignoredActions = map[string]bool{
	"exec_create": true, "exec_start": true, "exec_die": true, "exec_detach": true,
	"attach": true, "detach": true, "resize": true, "top": true, "copy": true,
	"archive-path": true, "extract-to-dir": true, "export": true, "commit": true,
}

// Config configures a Mirror. Storage, KeyFunc and ListKey are required.
type Config struct {
	// Host is the Docker endpoint; default $DOCKER_HOST, else DefaultHost.
	Host string
	// Namespace is the Kubernetes namespace holding every mirror; default
	// DefaultNamespace.
	Namespace string
	// Storage holds the internal *containers.Container objects.
	Storage storage.Interface
	// KeyFunc gives the storage key of the Container named name in Namespace.
	KeyFunc func(name string) string
	// ListKey is the key prefix under which all mirrors of Namespace are listed.
	ListKey string
	// ResyncInterval is the period of the full sync while connected; default
	// DefaultResyncInterval.
	ResyncInterval time.Duration
	// BackoffCap bounds the delay between reconnect attempts; default
	// DefaultBackoffCap.
	BackoffCap time.Duration
	// InspectParallelism bounds the concurrent inspections of a full sync, and is
	// the number of event workers; default DefaultInspectParallelism.
	InspectParallelism int
}

// Mirror keeps the Container objects in Storage equal to the containers of one
// Docker engine. Create it with New and start it with Run.
type Mirror struct {
	// Set by New, read-only afterwards: safe from any goroutine.
	host        string
	namespace   string
	store       storage.Interface
	keyFunc     func(string) string
	listKey     string
	resync      time.Duration
	backoffCap  time.Duration
	parallelism int

	// locks serialises inspection + write per container; it has its own lock.
	locks keyLocks

	// started makes a second Run a no-op (atomic).
	started atomic.Bool

	// mu guards readyErr and every streamState.lost. Run's session goroutine
	// and its event reader write them; Ready reads readyErr from any goroutine
	// (e.g. /readyz).
	mu       sync.Mutex
	readyErr error
}

// streamState is one session's event stream. lost is guarded by Mirror.mu, so
// "the sync is done" and "the stream is lost" cannot overwrite each other.
type streamState struct {
	lost bool
}

// New checks cfg, fills in the defaults and returns a Mirror that is not ready
// until Run has completed its first full sync.
func New(cfg Config) (*Mirror, error) {
	if cfg.Storage == nil {
		return nil, errors.New("docker mirror: Config.Storage is required")
	}
	if cfg.KeyFunc == nil {
		return nil, errors.New("docker mirror: Config.KeyFunc is required")
	}
	if cfg.ListKey == "" {
		return nil, errors.New("docker mirror: Config.ListKey is required")
	}
	if cfg.Host == "" {
		cfg.Host = os.Getenv(client.EnvOverrideHost)
	}
	if cfg.Host == "" {
		cfg.Host = DefaultHost
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = DefaultResyncInterval
	}
	if cfg.BackoffCap <= 0 {
		cfg.BackoffCap = DefaultBackoffCap
	}
	if cfg.InspectParallelism <= 0 {
		cfg.InspectParallelism = DefaultInspectParallelism
	}
	// Validate the host now (no connection is made).
	cli, err := newClient(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("docker mirror: docker host %q: %w", cfg.Host, err)
	}
	_ = cli.Close()
	registerMetrics()
	return &Mirror{
		host:        cfg.Host,
		namespace:   cfg.Namespace,
		store:       cfg.Storage,
		keyFunc:     cfg.KeyFunc,
		listKey:     cfg.ListKey,
		resync:      cfg.ResyncInterval,
		backoffCap:  cfg.BackoffCap,
		parallelism: cfg.InspectParallelism,
		readyErr:    errors.New("initial sync with docker not finished"),
	}, nil
}

func newClient(host string) (*client.Client, error) {
	return client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
}

// Ready returns nil when the mirrors equal Docker's containers as of the last
// full sync and the event stream is connected; otherwise an error saying why.
// It is safe for concurrent use.
func (m *Mirror) Ready() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.readyErr
}

func (m *Mirror) setNotReady(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.readyErr = err
}

// markSynced makes the Mirror ready after a successful full sync, unless the
// session's event stream is already lost (then it returns false).
func (m *Mirror) markSynced(stream *streamState) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if stream.lost {
		return false
	}
	m.readyErr = nil
	return true
}

// markLost records that the session's event stream failed: not ready.
func (m *Mirror) markLost(stream *streamState, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	stream.lost = true
	m.readyErr = err
}

// Run mirrors Docker until ctx is done and returns once every goroutine it
// started has ended. Call it once; a second call returns at once.
//
// While Docker is unreachable the mirrors are KEPT as they were last seen
// (stale, not deleted): clients tell "engine unreachable" from "no containers"
// by Ready (/readyz). The next successful connect resyncs them; an unchanged
// container sees no write at all.
func (m *Mirror) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithName("docker-mirror").WithValues("host", m.host)
	if !m.started.CompareAndSwap(false, true) {
		logger.Error(nil, "Run called twice; ignoring the second call")
		return
	}
	ctx = klog.NewContext(ctx, logger)
	defer m.setNotReady(errors.New("docker mirror stopped"))

	attempt := 0
	for {
		synced, err := m.session(ctx)
		if ctx.Err() != nil {
			return
		}
		m.setNotReady(err)
		if synced {
			attempt = 0 // the connection worked for a while: start the backoff over
		}
		delay := backoffDelay(attempt, m.backoffCap)
		attempt++
		logger.Error(err, "Docker connection failed; mirrors kept as they are until the next sync", "retryIn", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		reconnectsTotal.Inc()
	}
}

// backoffDelay is the wait before reconnect attempt n (0-based): exponential
// from initialBackoff, capped, with "equal jitter" (half fixed, half random) so
// several servers do not hammer a restarting daemon in step.
func backoffDelay(n int, limit time.Duration) time.Duration {
	d := limit
	if n < 30 {
		if e := initialBackoff << n; e > 0 && e < limit {
			d = e
		}
	}
	return d/2 + rand.N(d/2+1)
}

// session is one connection to Docker: connect, subscribe, full sync, then
// events and periodic resyncs until an error or ctx. synced tells whether the
// initial full sync succeeded. Every goroutine it starts has ended when it
// returns.
func (m *Mirror) session(ctx context.Context) (synced bool, err error) {
	logger := klog.FromContext(ctx)
	cli, err := newClient(m.host)
	if err != nil {
		return false, fmt.Errorf("docker engine at %s: %w", m.host, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	q := newKeyQueue()
	var wg sync.WaitGroup
	defer func() {
		cancel()
		q.ShutDown()
		wg.Wait()
		_ = cli.Close()
	}()

	since, err := m.checkpoint(ctx, cli)
	if err != nil {
		return false, fmt.Errorf("docker engine at %s unreachable: %w", m.host, err)
	}

	// Subscribe first, then list: events after the checkpoint are replayed.
	msgs, errs := cli.Events(ctx, events.ListOptions{
		Since:   fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()),
		Filters: filters.NewArgs(filters.Arg("type", string(events.ContainerEventType))),
	})
	// lost receives the stream's error once; buffered so the reader never blocks.
	lost := make(chan error, 1)
	stream := &streamState{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.readEvents(ctx, msgs, errs, q, stream, lost)
	}()

	if err := m.fullSync(ctx, cli, "connect"); err != nil {
		return false, fmt.Errorf("sync with docker engine at %s failed: %w", m.host, err)
	}
	if !m.markSynced(stream) {
		return false, fmt.Errorf("docker event stream from %s lost: %w", m.host, <-lost)
	}
	logger.Info("Docker containers mirrored; following events", "since", since)

	for range m.parallelism {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.work(ctx, cli, q)
		}()
	}

	ticker := time.NewTicker(m.resync)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case err := <-lost:
			return true, fmt.Errorf("docker event stream from %s lost: %w", m.host, err)
		case <-ticker.C:
			if err := m.fullSync(ctx, cli, "resync"); err != nil {
				return true, fmt.Errorf("periodic sync with docker engine at %s failed: %w", m.host, err)
			}
		}
	}
}

// checkpoint pings Docker (negotiating the API version) and returns the
// daemon's current time minus a margin, from which events are replayed.
func (m *Mirror) checkpoint(ctx context.Context, cli *client.Client) (time.Time, error) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := cli.Ping(cctx); err != nil {
		return time.Time{}, err
	}
	info, err := cli.Info(cctx)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, info.SystemTime)
	if err != nil {
		// An old or odd daemon: fall back to our clock with a wide margin.
		klog.FromContext(ctx).Info("Docker did not report its clock; using the local one",
			"systemTime", info.SystemTime, "err", err)
		return time.Now().Add(-2 * time.Minute), nil
	}
	return t.Add(-checkpointMargin), nil
}

// readEvents turns the event stream into dirty keys until the stream fails
// (its error goes to lost) or ctx ends. It never blocks on the queue.
func (m *Mirror) readEvents(ctx context.Context, msgs <-chan events.Message, errs <-chan error,
	q *keyQueue, stream *streamState, lost chan<- error) {
	logger := klog.FromContext(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-msgs:
			if msg.Type != events.ContainerEventType {
				continue
			}
			action, _, _ := strings.Cut(string(msg.Action), ":")
			eventsTotal.WithLabelValues(action).Inc()
			id := msg.Actor.ID
			if id == "" {
				id = msg.ID //nolint:staticcheck // pre-1.22 daemons set only the legacy field
			}
			if ignoredActions[action] || !IsContainerID(id) {
				continue
			}
			logger.V(4).Info("Docker event", "action", msg.Action, "id", id)
			q.Add(id, time.Now())
		case err := <-errs:
			if err == nil {
				err = errors.New("event stream closed")
			}
			if ctx.Err() != nil {
				return // our own cancellation, not a lost stream
			}
			// Not ready at once, not only when the session notices.
			m.markLost(stream, fmt.Errorf("docker event stream from %s lost: %w", m.host, err))
			lost <- err
			return
		}
	}
}

// work processes dirty keys until the queue is shut down.
func (m *Mirror) work(ctx context.Context, cli *client.Client, q *keyQueue) {
	logger := klog.FromContext(ctx)
	for {
		id, received, ok := q.Get()
		if !ok {
			return
		}
		if _, err := m.reconcileWithRetry(ctx, cli, id); err != nil {
			if ctx.Err() == nil {
				// The next full sync (periodic or after a reconnect) repairs it.
				logger.Error(err, "Mirroring a container event failed", "id", id)
			}
		} else if !received.IsZero() {
			eventLatency.Observe(time.Since(received).Seconds())
		}
		q.Done(id)
	}
}

// fullSync makes the mirrors equal to Docker's containers: every container
// listed by Docker and every stored mirror is inspected and its mirror created,
// updated (only if changed) or deleted.
func (m *Mirror) fullSync(ctx context.Context, cli *client.Client, trigger string) (err error) {
	logger := klog.FromContext(ctx)
	start := time.Now()
	defer func() {
		result := "success"
		if err != nil {
			result = "error"
		}
		fullSyncsTotal.WithLabelValues(trigger, result).Inc()
		logger.V(2).Info("Full sync done", "trigger", trigger, "duration", time.Since(start), "err", err)
	}()

	stored := &containers.ContainerList{}
	if err := m.store.GetList(ctx, m.listKey, storage.ListOptions{Recursive: true, Predicate: storage.Everything}, stored); err != nil {
		return fmt.Errorf("listing the stored mirrors: %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, listTimeout)
	list, err := cli.ContainerList(lctx, container.ListOptions{All: true})
	cancel()
	if err != nil {
		return fmt.Errorf("listing docker containers: %w", err)
	}

	seen := make(map[string]struct{}, len(list)+len(stored.Items))
	for _, c := range list {
		seen[c.ID] = struct{}{}
	}
	for i := range stored.Items {
		if stored.Items[i].Namespace == m.namespace {
			seen[stored.Items[i].Name] = struct{}{}
		}
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)

	// Bounded parallelism: m.parallelism goroutines take IDs from a channel.
	// These goroutines end before fullSync returns.
	var (
		wg      sync.WaitGroup
		work    = make(chan string)
		errMu   sync.Mutex // guards errs and exists
		errs    []error
		exists  int
		workers = min(m.parallelism, len(ids))
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				ok, err := m.reconcileWithRetry(ctx, cli, id)
				errMu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if ok {
					exists++
				}
				errMu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()

	if len(errs) > 0 {
		if len(errs) > 3 {
			errs = append(errs[:3], fmt.Errorf("and %d more errors", len(errs)-3))
		}
		return errors.Join(errs...)
	}
	mirroredContainers.Set(float64(exists))
	return ctx.Err()
}

// reconcileWithRetry is reconcile, tried up to itemAttempts times.
func (m *Mirror) reconcileWithRetry(ctx context.Context, cli *client.Client, id string) (exists bool, err error) {
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		exists, err = m.reconcile(ctx, cli, id)
		if err == nil || attempt == itemAttempts || ctx.Err() != nil {
			return exists, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return exists, err
		case <-t.C:
		}
		delay *= 2
	}
}

// reconcile inspects container id and makes its mirror match: upserted when the
// container exists (exists true), deleted when Docker does not know it.
func (m *Mirror) reconcile(ctx context.Context, cli *client.Client, id string) (exists bool, err error) {
	unlock := m.locks.lock(id)
	defer unlock()

	ictx, cancel := context.WithTimeout(ctx, callTimeout)
	in, err := cli.ContainerInspect(ictx, id)
	cancel()
	switch {
	case cerrdefs.IsNotFound(err):
		return false, m.deleteMirror(ctx, id)
	case err != nil:
		return false, fmt.Errorf("inspecting container %s: %w", id, err)
	case in.ContainerJSONBase == nil || in.ID != id:
		// Docker resolved a stored name that is not a container ID as the name or
		// ID prefix of another container: no container has this ID.
		return false, m.deleteMirror(ctx, id)
	}
	return true, m.upsert(ctx, &in)
}

// upsert creates the mirror of in, or updates it when the computed object
// differs from the stored one (the store's and users' fields kept).
func (m *Mirror) upsert(ctx context.Context, in *container.InspectResponse) error {
	key := m.keyFunc(in.ID)
	for range 2 { // a create may race a delete through the API, and vice versa
		now := time.Now()
		stored := &containers.Container{}
		err := m.store.Get(ctx, key, storage.GetOptions{}, stored)
		switch {
		case storage.IsNotFound(err):
			err := m.store.Create(ctx, key, toContainer(in, m.namespace, nil, now), &containers.Container{}, 0)
			if storage.IsExist(err) {
				continue
			}
			if err == nil {
				mirroredContainers.Inc()
			}
			return err
		case err != nil:
			return fmt.Errorf("reading mirror %s: %w", in.ID, err)
		}
		if unchanged(toContainer(in, m.namespace, stored, now), stored) {
			return nil
		}
		err = m.store.GuaranteedUpdate(ctx, key, &containers.Container{}, false, nil,
			func(input runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
				cur, ok := input.(*containers.Container)
				if !ok {
					return nil, nil, fmt.Errorf("stored object %s is a %T, not a Container", key, input)
				}
				// Recomputed from the current object, so concurrent changes to
				// annotations or lastAction are kept.
				desired := toContainer(in, m.namespace, cur, now)
				if unchanged(desired, cur) {
					return cur, nil, nil
				}
				return desired, nil, nil
			}, stored)
		if storage.IsNotFound(err) {
			continue
		}
		return err
	}
	return fmt.Errorf("mirror %s kept changing under the mirror", in.ID)
}

// deleteMirror deletes the mirror of id; a missing mirror is no error.
func (m *Mirror) deleteMirror(ctx context.Context, id string) error {
	err := m.store.Delete(ctx, m.keyFunc(id), &containers.Container{}, nil,
		storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{})
	switch {
	case err == nil:
		mirroredContainers.Dec()
		klog.FromContext(ctx).V(4).Info("Container mirror deleted", "id", id)
		return nil
	case storage.IsNotFound(err):
		return nil
	default:
		return fmt.Errorf("deleting mirror %s: %w", id, err)
	}
}
