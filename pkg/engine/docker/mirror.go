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
//  5. Every ResyncInterval: Ping through the session's client, then a full
//     sync again. If that sync had to repair a mirror that no received or
//     pending event explains, the event stream is suspect (it may be silently
//     dead): the session is restarted at once with a new subscription, the
//     Mirror staying ready. On a stream error or a failed sync: not ready (with
//     the reason), reconnect after a capped, jittered, exponential backoff, and
//     go back to 1. While the engine does not answer at all, it is pinged
//     every probeInterval during the backoff and reconnected to as soon as
//     it answers (waitReconnect).
//
// Only connection-level failures (Ping, Info, ContainerList, the event stream,
// the store's list) fail a sync. A container that cannot be inspected or
// written keeps its last mirror, is counted in container_errors_total, and is
// retried by the event workers with a per-container backoff; the sync still
// succeeds, so one stuck container never keeps the Mirror unready.
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
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/system"
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
	// defaultRepairGrace is how long a resync that repaired mirrors waits for
	// the events of those changes that were still on their way.
	defaultRepairGrace = time.Second
	// probeInterval is how often a mirror that could not reach the engine
	// asks it whether it is back while it waits out its reconnect backoff;
	// probeTimeout bounds one such Ping.
	probeInterval = 250 * time.Millisecond
	probeTimeout  = time.Second
)

// errStreamSuspect ends a session whose periodic resync repaired mirrors that
// no event explained: the event stream may be silently dead.
var errStreamSuspect = errors.New("the periodic resync repaired mirrors that no docker event explained")

// ignoredActions are container events that do not change what a mirror shows
// (the part of the action before ":"). Everything else, including actions a
// newer Docker may add, leads to an inspection.
var ignoredActions = map[string]bool{
	"exec_create": true, "exec_start": true, "exec_die": true, "exec_detach": true,
	"attach": true, "detach": true, "resize": true, "top": true, "copy": true,
	"archive-path": true, "extract-to-dir": true, "export": true, "commit": true,
}

// dockerAPI is the part of the Docker client the Mirror uses. *client.Client
// implements it; unit tests substitute a fake.
type dockerAPI interface {
	Ping(ctx context.Context) (types.Ping, error)
	Info(ctx context.Context) (system.Info, error)
	// Events must close its error channel once its own goroutine has ended
	// (after ctx is done at the latest), as the Docker client does.
	Events(ctx context.Context, options events.ListOptions) (<-chan events.Message, <-chan error)
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error)
	Close() error
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
	// BackoffCap bounds the delay between reconnect attempts, and between the
	// retries of one container that could not be mirrored; default
	// DefaultBackoffCap.
	BackoffCap time.Duration
	// InspectParallelism bounds the concurrent inspections of a full sync, and is
	// the number of event workers; default DefaultInspectParallelism.
	InspectParallelism int
}

// Mirror keeps the Container objects in Storage equal to the containers of one
// Docker engine. Create it with New and start it with Run.
type Mirror struct {
	// Set by New (dial and repairGrace may be replaced by this package's tests
	// before Run), read-only afterwards: safe from any goroutine.
	host        string
	namespace   string
	store       storage.Interface
	keyFunc     func(string) string
	listKey     string
	resync      time.Duration
	backoffCap  time.Duration
	parallelism int
	dial        func(host string) (dockerAPI, error)
	repairGrace time.Duration
	// onSynced runs in the session goroutine after each connect's full sync
	// (SetOnSynced, before Run).
	onSynced func(ctx context.Context)

	// locks serialises inspection + write per container; it has its own lock.
	locks keyLocks

	// started makes a second Run a no-op (atomic).
	started atomic.Bool

	// mu guards readyErr and every session's lost. Run's session goroutine and
	// its event reader write them; Ready reads readyErr from any goroutine
	// (e.g. /readyz).
	mu       sync.Mutex
	readyErr error

	// countMu guards mirrored: the IDs whose mirror this Mirror has created or
	// found in the store, and not deleted or found missing since. It is changed
	// under the container's lock (keyLocks) right after the store write, and the
	// containers gauge is Set from its size under countMu, so the gauge follows
	// the set in order and never drifts.
	countMu  sync.Mutex
	mirrored map[string]struct{}
}

// session is one connection to Docker: its client, its event queue and what
// its event reader has seen.
type session struct {
	cli dockerAPI // safe for concurrent use
	q   *keyQueue // has its own lock
	// lost is guarded by Mirror.mu, so "the sync is done" and "the stream is
	// lost" cannot overwrite each other.
	lost bool

	// seenMu guards seen: the IDs the event reader received an event for since
	// the current periodic resync began (reset by it). A repair of one of them
	// is explained by the stream.
	seenMu sync.Mutex
	seen   map[string]struct{}
}

func (s *session) markSeen(id string) {
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	s.seen[id] = struct{}{}
}

func (s *session) resetSeen() {
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	s.seen = map[string]struct{}{}
}

func (s *session) wasSeen(id string) bool {
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	_, ok := s.seen[id]
	return ok
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
		dial:        func(host string) (dockerAPI, error) { return newClient(host) },
		repairGrace: defaultRepairGrace,
		readyErr:    errors.New("initial sync with docker not finished"),
		mirrored:    map[string]struct{}{},
	}, nil
}

func newClient(host string, opts ...client.Opt) (*client.Client, error) {
	return client.NewClientWithOpts(append([]client.Opt{client.WithHost(host), client.WithAPIVersionNegotiation()}, opts...)...)
}

// SetOnSynced sets a function to run after each (re)connect's first full
// sync, in the Mirror's goroutine; it must not block for long. Call it
// before Run.
func (m *Mirror) SetOnSynced(f func(ctx context.Context)) { m.onSynced = f }

// Ready returns nil when the mirrors equal Docker's containers as of the last
// full sync and the event stream is connected; otherwise an error saying why.
// Containers that could not be mirrored (see container_errors_total) do not
// make it unready. It is safe for concurrent use.
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
func (m *Mirror) markSynced(s *session) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.lost {
		return false
	}
	m.readyErr = nil
	return true
}

// markLost records that the session's event stream failed: not ready.
func (m *Mirror) markLost(s *session, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s.lost = true
	m.readyErr = err
}

// Run mirrors Docker until ctx is done and returns once every goroutine it
// started has ended (event reader, workers, sync goroutines, retry timers, and
// the Docker client's event-stream goroutine), so a caller that waits for Run
// knows the Mirror no longer writes to the store. Call it once; a second call
// returns at once.
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

	// probe pings the engine while it cannot be reached (see waitReconnect):
	// made at the first such wait, closed once a session got through, so
	// that it holds no connection to the engine between outages.
	var probe dockerAPI
	closeProbe := func() {
		if probe != nil {
			_ = probe.Close()
			probe = nil
		}
	}
	defer closeProbe()
	attempt := 0
	for {
		synced, err := m.session(ctx)
		if synced {
			closeProbe()
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errStreamSuspect) {
			// The resync has just made the mirrors equal to Docker, so the
			// Mirror stays ready while it subscribes again from a new checkpoint.
			logger.Info("Docker event stream suspect; subscribing again", "reason", err)
			attempt = 0
			reconnectsTotal.Inc()
			continue
		}
		m.setNotReady(err)
		if synced {
			attempt = 0 // the connection worked for a while: start the backoff over
		}
		delay := backoffDelay(attempt, m.backoffCap)
		attempt++
		logger.Error(err, "Docker connection failed; mirrors kept as they are until the next sync", "retryIn", delay)
		var ping func(context.Context) error
		if isUnreachable(err) {
			if probe == nil {
				probe, _ = m.dial(m.host) // New checked the host; on an error, no probe
			}
			if probe != nil {
				ping = func(ctx context.Context) error { _, err := probe.Ping(ctx); return err }
			}
		}
		if !waitReconnect(ctx, delay, ping) {
			return
		}
		reconnectsTotal.Inc()
	}
}

// unreachableError marks the failure of a session that could not reach the
// engine at all: its first call, a Ping, failed. Its text is the cause's.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// isUnreachable tells whether a session failed because the engine did not answer.
func isUnreachable(err error) bool {
	var u *unreachableError
	return errors.As(err, &u)
}

// waitReconnect waits delay before the next connection attempt, or less when
// ping is set (the last attempt could not reach the engine): it then pings
// the engine every probeInterval and returns as soon as it answers. It
// reports whether ctx is still live.
//
// Why: the backoff grows while the engine is away, up to BackoffCap (30 s).
// Without the probe, an engine back after an outage of a few seconds (a
// dockerd restart) waited up to the current delay for its mirrors: 8-16 s
// after five failed attempts, 30 s after a long outage, where the README
// promises the mirrors equal to Docker within seconds of its return (the
// fault suite, test/integration/faults, restarts dockerd 20 times and holds
// it to 5 s). A Ping of an engine that is not there fails at once (nothing
// accepts the connection), so probing costs next to nothing. The backoff
// still spaces the attempts against an engine that answers but fails
// otherwise: only a session that could not reach it leads to a probe.
func waitReconnect(ctx context.Context, delay time.Duration, ping func(context.Context) error) bool {
	if ping == nil || delay <= probeInterval {
		return sleepCtx(ctx, delay)
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		case <-tick.C:
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			err := ping(pctx)
			cancel()
			if err == nil {
				return ctx.Err() == nil
			}
		}
	}
}

// sleepCtx waits d, or less when ctx ends first; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
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
	cli, err := m.dial(m.host)
	if err != nil {
		return false, fmt.Errorf("docker engine at %s: %w", m.host, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &session{
		cli:  cli,
		q:    newKeyQueue(func(n int) time.Duration { return backoffDelay(n, m.backoffCap) }),
		seen: map[string]struct{}{},
	}
	var (
		wg   sync.WaitGroup // the event reader and the workers
		errs <-chan error   // the event stream's; closed when the client's stream goroutine ends
	)
	defer func() {
		cancel()
		s.q.ShutDown() // wakes the workers; stops and waits for the retry timers
		wg.Wait()
		if errs != nil {
			for range errs { //nolint:revive // wait for the client's event goroutine to end
			}
		}
		_ = cli.Close()
	}()

	since, err := m.checkpoint(ctx, cli)
	if err != nil {
		return false, fmt.Errorf("docker engine at %s unreachable: %w", m.host, err)
	}

	// Subscribe first, then list: events after the checkpoint are replayed.
	var msgs <-chan events.Message
	msgs, errs = cli.Events(ctx, events.ListOptions{
		Since:   fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()),
		Filters: filters.NewArgs(filters.Arg("type", string(events.ContainerEventType))),
	})
	// lost receives the stream's error once; buffered so the reader never blocks.
	lost := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.readEvents(ctx, s, msgs, errs, lost)
	}()

	if _, err := m.fullSync(ctx, s, "connect"); err != nil {
		return false, fmt.Errorf("sync with docker engine at %s failed: %w", m.host, err)
	}
	if !m.markSynced(s) {
		return false, fmt.Errorf("docker event stream from %s lost: %w", m.host, <-lost)
	}
	logger.Info("Docker containers mirrored; following events", "since", since)
	if m.onSynced != nil {
		m.onSynced(ctx)
	}

	for range m.parallelism {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.work(ctx, s)
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
			// The ping goes through this session's client, so a daemon that
			// stopped answering is noticed even when no container changes.
			pctx, pcancel := context.WithTimeout(ctx, callTimeout)
			_, err := cli.Ping(pctx)
			pcancel()
			if err != nil {
				return true, fmt.Errorf("docker engine at %s unreachable: %w", m.host, err)
			}
			repairs, err := m.fullSync(ctx, s, "resync")
			if err != nil {
				return true, fmt.Errorf("periodic sync with docker engine at %s failed: %w", m.host, err)
			}
			if repairs > 0 {
				return true, fmt.Errorf("%w (%d mirrors)", errStreamSuspect, repairs)
			}
		}
	}
}

// checkpoint pings Docker (negotiating the API version) and returns the
// daemon's current time minus a margin, from which events are replayed.
func (m *Mirror) checkpoint(ctx context.Context, cli dockerAPI) (time.Time, error) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := cli.Ping(cctx); err != nil {
		return time.Time{}, &unreachableError{err}
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
func (m *Mirror) readEvents(ctx context.Context, s *session, msgs <-chan events.Message, errs <-chan error,
	lost chan<- error) {
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
			s.markSeen(id)
			s.q.Add(id, time.Now())
		case err := <-errs:
			if err == nil {
				err = errors.New("event stream closed")
			}
			if ctx.Err() != nil {
				return // our own cancellation, not a lost stream
			}
			// Not ready at once, not only when the session notices.
			m.markLost(s, fmt.Errorf("docker event stream from %s lost: %w", m.host, err))
			lost <- err
			return
		}
	}
}

// work processes dirty keys until the queue is shut down. A container that
// fails is retried with backoff.
func (m *Mirror) work(ctx context.Context, s *session) {
	for {
		id, received, ok := s.q.Get()
		if !ok {
			return
		}
		_, err := m.reconcile(ctx, s.cli, id)
		switch {
		case err == nil:
			s.q.Forget(id)
			if !received.IsZero() {
				eventLatency.Observe(time.Since(received).Seconds())
			}
		case ctx.Err() == nil:
			m.containerFailed(ctx, s, id, err)
		}
		s.q.Done(id)
	}
}

// containerFailed handles a failure to mirror one container: counted, logged,
// and retried later by the event workers; its mirror stays as it was.
func (m *Mirror) containerFailed(ctx context.Context, s *session, id string, err error) {
	containerErrorsTotal.Inc()
	delay, failures := s.q.Retry(id)
	klog.FromContext(ctx).Error(err, "Mirroring a container failed; its mirror is kept as it was and retried",
		"id", id, "failures", failures, "retryIn", delay)
}

// fullSync makes the mirrors equal to Docker's containers: every container
// listed by Docker and every stored mirror is inspected and its mirror created,
// updated (only if changed) or deleted. Only the listings and ctx can make it
// fail; a container that cannot be mirrored is handed to containerFailed.
//
// For a periodic resync (trigger "resync") it returns how many mirrors it had
// to change although no event received or pending for the container explains
// the change.
func (m *Mirror) fullSync(ctx context.Context, s *session, trigger string) (repairs int, err error) {
	logger := klog.FromContext(ctx)
	start := time.Now()
	defer func() {
		result := "success"
		if err != nil {
			result = "error"
		}
		fullSyncsTotal.WithLabelValues(trigger, result).Inc()
		logger.V(2).Info("Full sync done", "trigger", trigger, "duration", time.Since(start), "repairs", repairs, "err", err)
	}()
	resync := trigger == "resync"
	if resync {
		s.resetSeen()
	}

	stored := &containers.ContainerList{}
	if err := m.store.GetList(ctx, m.listKey, storage.ListOptions{Recursive: true, Predicate: storage.Everything}, stored); err != nil {
		return 0, fmt.Errorf("listing the stored mirrors: %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, listTimeout)
	list, err := s.cli.ContainerList(lctx, container.ListOptions{All: true})
	cancel()
	if err != nil {
		return 0, fmt.Errorf("listing docker containers: %w", err)
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
		wg       sync.WaitGroup
		work     = make(chan string)
		repairMu sync.Mutex // guards changed
		changed  []string   // mirrors changed with no event pending for them
		workers  = min(m.parallelism, len(ids))
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				// Checked before the inspection: an event received later is in
				// s.seen, one received earlier is still pending here.
				pending := resync && s.q.Pending(id)
				res, err := m.reconcile(ctx, s.cli, id)
				switch {
				case err != nil:
					if ctx.Err() == nil {
						m.containerFailed(ctx, s, id, err)
					}
				case resync && res != noChange && !pending:
					repairMu.Lock()
					changed = append(changed, id)
					repairMu.Unlock()
				}
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(changed) == 0 {
		return 0, nil
	}

	// Give the events of changes made just before their inspection time to
	// arrive, then keep the changes no event explains.
	t := time.NewTimer(m.repairGrace)
	select {
	case <-ctx.Done():
		t.Stop()
		return 0, ctx.Err()
	case <-t.C:
	}
	var unexplained []string
	for _, id := range changed {
		if !s.wasSeen(id) {
			unexplained = append(unexplained, id)
		}
	}
	if len(unexplained) > 0 {
		resyncRepairsTotal.Add(float64(len(unexplained)))
		slices.Sort(unexplained)
		logger.Info("Periodic resync repaired mirrors that no Docker event explained",
			"count", len(unexplained), "ids", unexplained[:min(len(unexplained), 5)])
	}
	return len(unexplained), nil
}

// outcome is what reconcile did to a mirror.
type outcome int

const (
	noChange outcome = iota // includes "no mirror and no container"
	created
	updated
	deleted
)

// reconcile inspects container id and makes its mirror match: upserted when the
// container exists, deleted when Docker does not know it. On an error the
// mirror is left as it was.
func (m *Mirror) reconcile(ctx context.Context, cli dockerAPI, id string) (outcome, error) {
	unlock := m.locks.lock(id)
	defer unlock()

	ictx, cancel := context.WithTimeout(ctx, callTimeout)
	in, err := cli.ContainerInspect(ictx, id)
	cancel()
	switch {
	case cerrdefs.IsNotFound(err):
		return m.deleteMirror(ctx, id)
	case err != nil:
		// The mirror stays as it is; record whether there is one, for the gauge.
		stored := &containers.Container{}
		if gerr := m.store.Get(ctx, m.keyFunc(id), storage.GetOptions{}, stored); gerr == nil {
			m.setMirrored(id, true)
		} else if storage.IsNotFound(gerr) {
			m.setMirrored(id, false)
		}
		return noChange, fmt.Errorf("inspecting container %s: %w", id, err)
	case in.ContainerJSONBase == nil || in.ID != id:
		// Docker resolved a stored name that is not a container ID as the name or
		// ID prefix of another container: no container has this ID.
		return m.deleteMirror(ctx, id)
	}
	return m.upsert(ctx, &in)
}

// setMirrored records whether id has a mirror in the store and sets the
// containers gauge. The caller holds id's lock.
func (m *Mirror) setMirrored(id string, present bool) {
	m.countMu.Lock()
	defer m.countMu.Unlock()
	if present {
		m.mirrored[id] = struct{}{}
	} else {
		delete(m.mirrored, id)
	}
	mirroredContainers.Set(float64(len(m.mirrored)))
}

// upsert creates the mirror of in, or updates it when the computed object
// differs from the stored one (the store's and users' fields kept).
func (m *Mirror) upsert(ctx context.Context, in *container.InspectResponse) (outcome, error) {
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
			if err != nil {
				return noChange, err
			}
			m.setMirrored(in.ID, true)
			return created, nil
		case err != nil:
			return noChange, fmt.Errorf("reading mirror %s: %w", in.ID, err)
		}
		m.setMirrored(in.ID, true)
		if unchanged(toContainer(in, m.namespace, stored, now), stored) {
			return noChange, nil
		}
		wrote := false
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
					wrote = false
					return cur, nil, nil
				}
				wrote = true
				return desired, nil, nil
			}, stored)
		if storage.IsNotFound(err) {
			m.setMirrored(in.ID, false)
			continue
		}
		if err != nil || !wrote {
			return noChange, err
		}
		return updated, nil
	}
	return noChange, fmt.Errorf("mirror %s kept changing under the mirror", in.ID)
}

// deleteMirror deletes the mirror of id; a missing mirror is no error.
func (m *Mirror) deleteMirror(ctx context.Context, id string) (outcome, error) {
	err := m.store.Delete(ctx, m.keyFunc(id), &containers.Container{}, nil,
		storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{})
	switch {
	case err == nil:
		m.setMirrored(id, false)
		klog.FromContext(ctx).V(4).Info("Container mirror deleted", "id", id)
		return deleted, nil
	case storage.IsNotFound(err):
		m.setMirrored(id, false)
		return noChange, nil
	default:
		return noChange, fmt.Errorf("deleting mirror %s: %w", id, err)
	}
}
