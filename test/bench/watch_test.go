package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// pauserCmd exits at once on SIGTERM, so the daemon's shutdown is quick.
var pauserCmd = []string{"sh", "-c", `trap "exit 0" TERM; while :; do sleep 1; done`}

type watchResult struct {
	stats    summary // Docker event timeNano -> watch event at the client
	fromCall summary // before the pause/unpause API call -> watch event at the client
	warmup   int
}

// op is one pause or unpause, waiting for its Docker event and its watch event.
type op struct {
	id, action, want string // want: the status the mirror must show
	called           int64  // unix ns before the Docker API call
	dockerNs         int64  // the Docker event's timeNano
	watchNs          int64  // when the watch event reached this process
	done             chan struct{}
}

// tracker matches Docker events and watch events to the one pending op of
// each container.
type tracker struct {
	mu       sync.Mutex
	pending  map[string]*op
	watchErr error
	eventErr error
}

func (tr *tracker) add(o *op) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.pending[o.id] = o
}

func (tr *tracker) remove(id string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	delete(tr.pending, id)
}

func (tr *tracker) onWatch(id, status string, at int64) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if o := tr.pending[id]; o != nil && o.watchNs == 0 && status == o.want {
		o.watchNs = at
		tr.maybeDone(o)
	}
}

func (tr *tracker) onDocker(id, action string, timeNano int64) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if o := tr.pending[id]; o != nil && o.dockerNs == 0 && action == o.action {
		o.dockerNs = timeNano
		tr.maybeDone(o)
	}
}

func (tr *tracker) maybeDone(o *op) {
	if o.dockerNs != 0 && o.watchNs != 0 {
		close(o.done)
	}
}

func (tr *tracker) fail(watchSide bool, err error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if watchSide && tr.watchErr == nil {
		tr.watchErr = err
	} else if !watchSide && tr.eventErr == nil {
		tr.eventErr = err
	}
}

// describe says which side of o is missing, for a timeout message.
func (tr *tracker) describe(o *op) string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return fmt.Sprintf("docker event seen=%v (stream error: %v), watch event with status %q seen=%v (watch error: %v)",
		o.dockerNs != 0, tr.eventErr, o.want, o.watchNs != 0, tr.watchErr)
}

func measureWatch(ctx context.Context, t *testing.T, s *testenv.Server, dc *client.Client, p params) watchResult {
	t.Helper()
	cs := s.Client.ContainersV1alpha1().Containers(s.Namespace)

	// Running containers to pause and unpause, and their mirrors showing "running".
	ids := make([]string, p.pausers)
	for i := range ids {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		r, err := dc.ContainerCreate(cctx, &container.Config{
			Image:  testenv.BusyboxImage,
			Cmd:    pauserCmd,
			Labels: map[string]string{benchLabel: "issue2", pauserLabel: "1"},
		}, &container.HostConfig{NetworkMode: "none"}, nil, nil, fmt.Sprintf("bench-pauser-%d", i))
		if err == nil {
			err = dc.ContainerStart(cctx, r.ID, container.StartOptions{})
		}
		cancel()
		if err != nil {
			t.Fatalf("docker run bench-pauser-%d: %v", i, err)
		}
		ids[i] = r.ID
	}
	for _, id := range ids {
		deadline := time.Now().Add(mirrorDeadline)
		last := "absent"
		for {
			cctx, cancel := context.WithTimeout(ctx, callTimeout)
			c, err := cs.Get(cctx, id, metav1.GetOptions{})
			cancel()
			if err == nil {
				if c.Status.Status == "running" {
					break
				}
				last = c.Status.Status
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				t.Fatalf("mirror of pauser %.12s not running after %s (status %s, last error %v)", id, mirrorDeadline, last, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	tr := &tracker{pending: map[string]*op{}}
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()

	// The Docker side: the daemon replays from a second ago, so an event is not
	// lost while the subscription is being set up.
	msgs, errs := dc.Events(wctx, events.ListOptions{
		Since: strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10),
		Filters: filters.NewArgs(
			filters.Arg("type", "container"),
			filters.Arg("event", "pause"),
			filters.Arg("event", "unpause"),
			filters.Arg("label", pauserLabel),
		),
	})
	go func() {
		for {
			select {
			case m := <-msgs:
				tr.onDocker(m.Actor.ID, string(m.Action), m.TimeNano)
			case err := <-errs:
				if wctx.Err() == nil {
					tr.fail(false, err)
				}
				return
			}
		}
	}()

	// The API side: a watch from the current resourceVersion.
	lctx, lcancel := context.WithTimeout(ctx, callTimeout)
	list, err := cs.List(lctx, metav1.ListOptions{})
	lcancel()
	if err != nil {
		t.Fatalf("list before watch: %v", err)
	}
	w, err := cs.Watch(wctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatalf("watch from resourceVersion %s: %v", list.ResourceVersion, err)
	}
	defer w.Stop()
	go func() {
		for ev := range w.ResultChan() {
			at := time.Now().UnixNano()
			if ev.Type == watch.Error {
				tr.fail(true, fmt.Errorf("watch error event: %v", ev.Object))
				continue
			}
			if c, ok := ev.Object.(*v1alpha1.Container); ok {
				tr.onWatch(c.Name, c.Status.Status, at)
			}
		}
		if wctx.Err() == nil {
			tr.fail(true, fmt.Errorf("watch closed by the server"))
		}
	}()

	// Each pauser alternates pause/unpause, one op outstanding per container,
	// all pausers at once. The first pause+unpause of each is warm-up.
	const warmPerPauser = 2
	perPauser := p.ops / p.pausers
	type sample struct{ fromEvent, fromCall time.Duration }
	results := make([][]sample, p.pausers)
	errc := make(chan error, p.pausers)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			for k := range warmPerPauser + perPauser {
				o := &op{id: id, action: "pause", want: "paused", done: make(chan struct{})}
				call := dc.ContainerPause
				if k%2 == 1 {
					o.action, o.want, call = "unpause", "running", dc.ContainerUnpause
				}
				tr.add(o)
				o.called = time.Now().UnixNano()
				cctx, cancel := context.WithTimeout(wctx, callTimeout)
				err := call(cctx, id)
				cancel()
				if err != nil {
					errc <- fmt.Errorf("docker %s %.12s (op %d): %w", o.action, id, k, err)
					return
				}
				timer := time.NewTimer(opTimeout)
				select {
				case <-o.done:
					timer.Stop()
				case <-timer.C:
					errc <- fmt.Errorf("docker %s %.12s (op %d): not both events within %s: %s", o.action, id, k, opTimeout, tr.describe(o))
					return
				case <-wctx.Done():
					timer.Stop()
					errc <- fmt.Errorf("docker %s %.12s (op %d): %w", o.action, id, k, wctx.Err())
					return
				}
				tr.remove(id)
				if k >= warmPerPauser {
					results[i] = append(results[i], sample{
						fromEvent: time.Duration(o.watchNs - o.dockerNs),
						fromCall:  time.Duration(o.watchNs - o.called),
					})
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		t.Fatalf("event-to-watch latency: %v", err)
	}
	var fromEvent, fromCall []time.Duration
	for _, rs := range results {
		for _, s := range rs {
			fromEvent = append(fromEvent, s.fromEvent)
			fromCall = append(fromCall, s.fromCall)
		}
	}
	res := watchResult{stats: summarize(fromEvent), fromCall: summarize(fromCall), warmup: warmPerPauser * p.pausers}
	t.Logf("event->watch over %d ops: p50 %s p99 %s max %s", res.stats.N, ms(res.stats.P50), ms(res.stats.P99), ms(res.stats.Max))
	return res
}
