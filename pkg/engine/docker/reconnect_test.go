package docker

// Reconnecting after an outage: while the engine does not answer, the Mirror
// pings it during its backoff and reconnects as soon as it is back.

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/system"
)

func TestWaitReconnect(t *testing.T) {
	failing := func(context.Context) error { return errors.New("connection refused") }

	t.Run("back during the backoff", func(t *testing.T) {
		var calls atomic.Int32
		start := time.Now()
		ok := waitReconnect(context.Background(), time.Minute, func(context.Context) error {
			if calls.Add(1) < 3 {
				return errors.New("connection refused")
			}
			return nil
		})
		if d := time.Since(start); !ok || d > 20*probeInterval {
			t.Errorf("returned %v after %v, want true after about 3 probes", ok, d)
		}
	})
	t.Run("never back", func(t *testing.T) {
		delay := 3 * probeInterval
		start := time.Now()
		if ok := waitReconnect(context.Background(), delay, failing); !ok || time.Since(start) < delay {
			t.Errorf("returned %v after %v, want true after the whole %v", ok, time.Since(start), delay)
		}
	})
	t.Run("no probe", func(t *testing.T) {
		delay := 3 * probeInterval
		start := time.Now()
		if ok := waitReconnect(context.Background(), delay, nil); !ok || time.Since(start) < delay {
			t.Errorf("returned %v after %v, want true after the whole %v", ok, time.Since(start), delay)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(2*probeInterval, cancel)
		if ok := waitReconnect(ctx, time.Minute, failing); ok {
			t.Error("returned true after its context ended")
		}
	})
}

// outageDocker is a fakeDocker that can go away: while down, every Ping and
// Info fails and open event streams are cut, as when dockerd is killed.
type outageDocker struct {
	*fakeDocker
	down    atomic.Bool
	infoErr atomic.Bool // Info fails although Ping answers
	dials   atomic.Int32

	mu   sync.Mutex
	cuts []chan struct{} // one per open event stream; closed to cut it
}

var errRefused = errors.New("dial unix /fake.sock: connect: connection refused")

func (o *outageDocker) dial(string) (dockerAPI, error) {
	o.dials.Add(1)
	return o, nil
}

func (o *outageDocker) Ping(ctx context.Context) (types.Ping, error) {
	if o.down.Load() {
		return types.Ping{}, errRefused
	}
	return o.fakeDocker.Ping(ctx)
}

func (o *outageDocker) Info(ctx context.Context) (system.Info, error) {
	if o.down.Load() || o.infoErr.Load() {
		return system.Info{}, errRefused
	}
	return o.fakeDocker.Info(ctx)
}

func (o *outageDocker) Events(ctx context.Context, opts events.ListOptions) (<-chan events.Message, <-chan error) {
	msgs, inner := o.fakeDocker.Events(ctx, opts)
	errs := make(chan error, 1)
	cut := make(chan struct{})
	o.mu.Lock()
	o.cuts = append(o.cuts, cut)
	o.mu.Unlock()
	go func() { // ends once the inner stream has, that is with ctx
		defer close(errs)
		select {
		case err := <-inner:
			errs <- err
		case <-cut:
			errs <- errors.New("unexpected EOF")
		}
		for range inner { //nolint:revive // drain until the inner stream ends
		}
	}()
	return msgs, errs
}

// kill takes the engine away and cuts its event streams.
func (o *outageDocker) kill() {
	o.down.Store(true)
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range o.cuts {
		close(c)
	}
	o.cuts = nil
}

// An engine back after the backoff has grown is reconnected to within about
// a probe interval, not after the rest of the backoff.
func TestMirrorReconnectsWhenTheEngineIsBack(t *testing.T) {
	o := &outageDocker{fakeDocker: newFakeDocker()}
	o.set(fakeID(1), "running")
	st := newTestStore(t)
	m, _ := startMirrorDialing(t, o.dial, st, func(c *Config) { c.BackoffCap = time.Minute })
	eventually(t, "the first sync", m.Ready)

	base := o.dials.Load()
	o.kill()
	// Sessions 2, 3, 4 fail to reach the engine; the probe is dialled once.
	// After the fourth failure the backoff is 2-4 s.
	eventually(t, "four sessions after the outage", func() error {
		if n := o.dials.Load() - base; n < 4 {
			return errors.New("not yet")
		}
		return nil
	})
	back := time.Now()
	o.down.Store(false)
	eventually(t, "ready again", m.Ready)
	if d := time.Since(back); d > 1500*time.Millisecond {
		t.Errorf("ready %v after the engine was back, want well under the 2 s backoff", d)
	}
}

// A session that reached the engine but failed otherwise is not short-cut:
// the backoff applies.
func TestUnreachableOnlyWhenPingFails(t *testing.T) {
	o := &outageDocker{fakeDocker: newFakeDocker()}
	o.down.Store(true)
	if _, err := new(Mirror).checkpoint(context.Background(), o); !isUnreachable(err) {
		t.Errorf("Ping failing: %v is not unreachable", err)
	}
	o.down.Store(false)
	o.infoErr.Store(true)
	if _, err := new(Mirror).checkpoint(context.Background(), o); err == nil || isUnreachable(err) {
		t.Errorf("Info failing after a Ping: %v, want an error that is not unreachable", err)
	}
}
