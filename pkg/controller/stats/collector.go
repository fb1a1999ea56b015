// Package stats is the containerstats collector: one sampling goroutine per
// running container, sharing the engine's client, that keeps each
// container's ContainerStats object current and a bounded history of its
// samples (the containers/stats subresource reads it). It is engine-neutral:
// the engine reads the counters (engine.Stats), this package turns them into
// rates, objects and history.
package stats

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/klog/v2"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/pkg/mirror"
)

const (
	// DefaultInterval is how often a running container is sampled.
	DefaultInterval = 2 * time.Second
	// MinInterval is the shortest interval accepted: each sample is one
	// engine call per container.
	MinInterval = 250 * time.Millisecond
	// DefaultHistory is how much of each container's recent past is kept.
	DefaultHistory = 15 * time.Minute
	// MaxSamples caps one container's ring whatever the interval and history
	// (43,200 samples: 24 h at 2 s, about 4 MiB).
	MaxSamples = 43200

	// firstGap is the longest wait between a container's first (baseline)
	// sample and the first one published: the first CPU rate needs two.
	// Docker 20.10 answers a one-shot stats call at its own collector's next
	// tick (every second), so the second sample comes about a second after
	// the first whatever the wait; a newer engine answers at once, and the
	// wait keeps the first rate's window from being a few milliseconds.
	firstGap = 500 * time.Millisecond
	// baselineRetry is the wait before another try at a baseline sample
	// that failed (a container the engine does not show as running yet).
	baselineRetry = 250 * time.Millisecond
	// relistBackoff is the wait before listing the containers again after
	// their watch failed.
	relistBackoff = time.Second
)

// Options configure a Collector.
type Options struct {
	// Source reads a container's counters.
	Source engine.Stats
	// Containers are the Container mirrors, listed and watched to learn
	// which containers run.
	Containers mirror.Store
	// Target holds the ContainerStats objects (the collector is their only
	// writer).
	Target mirror.Store
	// Interval is the sampling period (>= MinInterval).
	Interval time.Duration
	// History is how far back each container's samples are kept; zero:
	// DefaultHistory.
	History time.Duration
}

// Capacity is the number of samples kept per container for interval and
// history: enough for history, at most MaxSamples.
func Capacity(interval, history time.Duration) int {
	if history <= 0 {
		history = DefaultHistory
	}
	n := int((history + interval - 1) / interval)
	return max(1, min(n, MaxSamples))
}

// Collector samples every running container. Run drives it.
type Collector struct {
	opts     Options
	capacity int

	mu      sync.Mutex         // guards workers
	workers map[string]*worker // container ID -> its sampler, while it runs
	wg      sync.WaitGroup     // the samplers
}

// worker is the sampler of one run of one container.
type worker struct {
	series *Series
	labels map[string]string // guarded by Collector.mu; read at each write
	cancel context.CancelFunc
}

// New returns a collector; Run starts it.
func New(opts Options) (*Collector, error) {
	if opts.Interval < MinInterval {
		return nil, fmt.Errorf("stats interval %s is below the minimum %s", opts.Interval, MinInterval)
	}
	return &Collector{opts: opts, capacity: Capacity(opts.Interval, opts.History), workers: map[string]*worker{}}, nil
}

// SamplesPerContainer is the ring's capacity.
func (c *Collector) SamplesPerContainer() int { return c.capacity }

// Series returns the samples of container id, or false when it is not being
// sampled (not running, unknown, or not seen yet).
func (c *Collector) Series(id string) (*Series, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.workers[id]
	if !ok {
		return nil, false
	}
	return w.series, true
}

// Run keeps one sampler per running container until ctx ends, then stops
// them all and returns once they have.
func (c *Collector) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithName("stats")
	defer func() {
		c.mu.Lock()
		for id, w := range c.workers {
			w.cancel()
			delete(c.workers, id)
		}
		c.mu.Unlock()
		c.wg.Wait()
	}()
	for ctx.Err() == nil {
		if err := c.syncAndWatch(ctx); err != nil && ctx.Err() == nil {
			logger.Error(err, "Watching containers for stats; listing again")
		}
		select {
		case <-ctx.Done():
		case <-time.After(relistBackoff):
		}
	}
}

// syncAndWatch lists the containers, brings the samplers in line, then
// follows the containers' changes until the watch ends.
func (c *Collector) syncAndWatch(ctx context.Context) error {
	list := &containers.ContainerList{}
	cs := c.opts.Containers
	if err := cs.Storage.GetList(ctx, cs.ListKey, storage.ListOptions{Recursive: true, Predicate: storage.Everything}, list); err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	seen := make(map[string]bool, len(list.Items))
	for i := range list.Items {
		seen[list.Items[i].Name] = true
		c.observe(ctx, &list.Items[i])
	}
	c.mu.Lock()
	for id := range c.workers {
		if !seen[id] {
			c.stopLocked(id)
		}
	}
	c.mu.Unlock()
	c.deleteOrphans(ctx)

	w, err := cs.Storage.Watch(ctx, cs.ListKey, storage.ListOptions{
		ResourceVersion: list.ResourceVersion, Recursive: true, Predicate: storage.Everything,
	})
	if err != nil {
		return fmt.Errorf("watching containers: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("the containers' watch ended")
			}
			switch ev.Type {
			case watch.Error:
				return fmt.Errorf("the containers' watch failed: %v", ev.Object)
			case watch.Deleted:
				if ctr, ok := ev.Object.(*containers.Container); ok {
					c.mu.Lock()
					c.stopLocked(ctr.Name)
					c.mu.Unlock()
				}
			case watch.Added, watch.Modified:
				if ctr, ok := ev.Object.(*containers.Container); ok {
					c.observe(ctx, ctr)
				}
			}
		}
	}
}

// observe starts or stops the sampler of ctr by its state, and passes a new
// name or labels on to a running one.
func (c *Collector) observe(ctx context.Context, ctr *containers.Container) {
	// A paused container still runs (with no CPU), as in `docker stats`.
	running := ctr.Status.Status == "running" || ctr.Status.Status == "paused"
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.workers[ctr.Name]
	switch {
	case ok && !running:
		c.stopLocked(ctr.Name)
	case ok:
		w.series.setName(dockerName(ctr))
		w.labels = ctr.Labels
	case running:
		wctx, cancel := context.WithCancel(ctx)
		w = &worker{series: newSeries(dockerName(ctr), c.capacity), labels: ctr.Labels, cancel: cancel}
		c.workers[ctr.Name] = w
		c.wg.Add(1)
		go c.sample(wctx, ctr.Name, w)
	}
}

// stopLocked stops id's sampler (which then deletes its object); c.mu held.
func (c *Collector) stopLocked(id string) {
	if w, ok := c.workers[id]; ok {
		w.cancel()
		delete(c.workers, id)
	}
}

func dockerName(ctr *containers.Container) string {
	return strings.TrimPrefix(ctr.Status.Name, "/")
}

// sample runs one container's sampler: a baseline sample at once, the first
// published one at most firstGap later, then one at each tick of the
// collector's grid (nextTick), until ctx ends (the container stopped, or the
// collector did). It then ends the series and deletes the object.
func (c *Collector) sample(ctx context.Context, id string, w *worker) {
	defer c.wg.Done()
	logger := klog.FromContext(ctx).WithValues("container", id)
	defer func() {
		// ctx has ended: the delete runs on a context without its cancel.
		w.series.end()
		c.deleteObject(context.WithoutCancel(ctx), id, w)
	}()

	var prev engine.StatsSample
	havePrev := false
	next := time.Now() // when the next sample is due
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		s, err := c.opts.Source.Sample(ctx, id)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			// Not running any more (the watch will stop us), not quite
			// started, or the engine is away for a moment (a Docker
			// restart): skip this tick. A missing baseline is tried again
			// soon, so the object still appears within one interval.
			if k := engine.KindOf(err); k != engine.Conflict && k != engine.NotFound && k != engine.Unavailable {
				logger.V(2).Info("Sampling stats failed", "err", err)
			}
			if havePrev {
				next = c.nextTick(time.Now())
			} else {
				next = time.Now().Add(baselineRetry)
			}
		case !havePrev || !s.Timestamp.After(prev.Timestamp) || s.CPUUsageCoreNanoSeconds < prev.CPUUsageCoreNanoSeconds:
			// The baseline (or a new one after the counters went back, as
			// when the engine came back with a restarted container): the
			// first rate comes soon after it.
			prev, havePrev = s, true
			next = time.Now().Add(min(c.opts.Interval/2, firstGap))
		default:
			p := pointOf(s, prev)
			prev = s
			w.series.add(p)
			if err := c.writeObject(ctx, id, w, p); err != nil && ctx.Err() == nil {
				logger.Error(err, "Writing the container's stats")
			}
			next = c.nextTick(time.Now())
		}
	}
}

// nextTick is the first tick of the collector's grid (the multiples of the
// interval since Go's zero time) at least half an interval after now. Every
// sampler samples at the same instants, so the process wakes up once an
// interval for all containers rather than once for each: spread wake-ups cost
// the runtime a thread hand-off apiece, more than the sample itself. The
// half interval keeps a rate's window from being cut short after a baseline
// or a slow answer.
func (c *Collector) nextTick(now time.Time) time.Time {
	iv := c.opts.Interval
	earliest := now.Add(iv / 2)
	t := earliest.Truncate(iv)
	if t.Before(earliest) {
		t = t.Add(iv)
	}
	return t
}

// pointOf is sample s with its CPU rate since prev.
func pointOf(s, prev engine.StatsSample) point {
	dt := s.Timestamp.Sub(prev.Timestamp)
	cpu := s.CPUUsageCoreNanoSeconds - prev.CPUUsageCoreNanoSeconds
	return point{
		at:         s.Timestamp.UnixNano(),
		nanoCores:  int64(float64(cpu) / dt.Seconds()),
		cpuTotal:   int64(s.CPUUsageCoreNanoSeconds),
		memUsage:   int64(s.MemoryUsageBytes),
		workingSet: int64(s.MemoryWorkingSetBytes),
		memLimit:   int64(s.MemoryLimitBytes),
		rx:         int64(s.NetworkRxBytes), tx: int64(s.NetworkTxBytes),
		read: int64(s.BlockIOReadBytes), write: int64(s.BlockIOWriteBytes),
		pids: int64(s.PIDs),
	}
}

// writeObject creates or updates id's ContainerStats with p.
func (c *Collector) writeObject(ctx context.Context, id string, w *worker, p point) error {
	t := c.opts.Target
	c.mu.Lock()
	labels := w.labels
	c.mu.Unlock()
	status := p.status(w.series.Name())
	return t.Storage.GuaranteedUpdate(ctx, t.KeyFunc(id), &containers.ContainerStats{}, true, nil,
		func(in runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
			// in is the store's private copy: changed in place.
			out, ok := in.(*containers.ContainerStats)
			if !ok {
				return nil, nil, fmt.Errorf("stored object is a %T", in)
			}
			out.Name, out.Namespace = id, t.Namespace
			if out.UID == "" {
				out.UID = uuid.NewUUID()
				out.CreationTimestamp = metav1.Now()
			}
			out.Labels = labels
			out.Status = status
			return out, nil, nil
		}, nil)
}

// deleteObject removes id's ContainerStats, unless a newer sampler of the
// same container (a quick restart) has taken it over.
func (c *Collector) deleteObject(ctx context.Context, id string, w *worker) {
	c.mu.Lock()
	taken := c.workers[id] != nil && c.workers[id] != w
	c.mu.Unlock()
	if taken {
		return
	}
	t := c.opts.Target
	err := t.Storage.Delete(ctx, t.KeyFunc(id), &containers.ContainerStats{}, nil, storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{})
	if err != nil && !storage.IsNotFound(err) {
		klog.FromContext(ctx).Error(err, "Deleting the stats of a stopped container", "container", id)
	}
}

// deleteOrphans removes the objects of containers no sampler runs for (left
// by a sampler whose delete failed).
func (c *Collector) deleteOrphans(ctx context.Context) {
	t := c.opts.Target
	list := &containers.ContainerStatsList{}
	if err := t.Storage.GetList(ctx, t.ListKey, storage.ListOptions{Recursive: true, Predicate: storage.Everything}, list); err != nil {
		klog.FromContext(ctx).Error(err, "Listing container stats")
		return
	}
	for i := range list.Items {
		id := list.Items[i].Name
		c.mu.Lock()
		_, running := c.workers[id]
		c.mu.Unlock()
		if !running {
			err := t.Storage.Delete(ctx, t.KeyFunc(id), &containers.ContainerStats{}, nil, storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{})
			if err != nil && !storage.IsNotFound(err) {
				klog.FromContext(ctx).Error(err, "Deleting the stats of a stopped container", "container", id)
			}
		}
	}
}
