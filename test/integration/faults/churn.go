package faults

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// stoppable runs until SIGTERM, which it obeys at once (a shell as PID 1
// ignores it otherwise, and dockerd's restart would wait 10 s per container).
var stoppable = []string{"sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"}

// churn creates, starts, stops and removes containers, one Docker call at a
// time, until stopped. Calls fail while Docker is down; the loop goes on.
// It keeps a few containers in each state, so that `docker ps -a` always
// shows created, running and exited ones.
type churn struct {
	dc     *client.Client
	prefix string
	done   chan struct{} // closed when the loop has returned

	mu          sync.Mutex
	cond        *sync.Cond // on mu: signalled on every change below
	stopped     bool
	pauseWanted bool // park after the next successful call
	paused      bool // parked until resume
	ok, failed  int  // calls
	// The containers by stage; only the loop changes them.
	created, running, exited []string
	n                        int // containers created so far
	next                     int // the action to try next
}

func startChurn(dc *client.Client) *churn {
	c := &churn{dc: dc, prefix: fmt.Sprintf("churn-%d-", os.Getpid()), done: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	go func() {
		defer close(c.done)
		c.loop()
	}()
	return c
}

func (c *churn) loop() {
	for {
		c.mu.Lock()
		for c.paused && !c.stopped {
			c.cond.Wait()
		}
		if c.stopped {
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()

		err := c.step()

		c.mu.Lock()
		if err == nil {
			c.ok++
			if c.pauseWanted {
				c.pauseWanted, c.paused = false, true
			}
		} else {
			c.failed++
		}
		c.cond.Broadcast()
		stopped := c.stopped
		c.mu.Unlock()
		if err != nil && !stopped {
			// Docker is down, most likely: pace the attempts.
			c.pace()
		}
	}
}

// pace waits a little, or until the churn is stopped.
func (c *churn) pace() {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = c.waitFor(ctx, func() bool { return c.stopped })
}

// step makes one Docker call: the next action in turn that has a container
// to act on (create always has).
func (c *churn) step() error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	for range 4 {
		action := c.next
		c.next = (c.next + 1) % 4
		switch {
		case action == 1 && len(c.created) > 0:
			return advance(&c.created, &c.running, func(id string) error {
				return c.dc.ContainerStart(ctx, id, container.StartOptions{})
			})
		case action == 2 && len(c.running) > 0:
			return advance(&c.running, &c.exited, func(id string) error {
				timeout := 5
				return c.dc.ContainerStop(ctx, id, container.StopOptions{Timeout: &timeout})
			})
		case action == 3 && len(c.exited) > 0:
			return advance(&c.exited, nil, func(id string) error {
				return c.dc.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
			})
		case action == 0:
			resp, err := c.dc.ContainerCreate(ctx, &container.Config{
				Image:  testenv.BusyboxImage,
				Cmd:    stoppable,
				Labels: map[string]string{churnLabel: "1"},
			}, nil, nil, nil, fmt.Sprintf("%s%d", c.prefix, c.n))
			c.n++ // a failed create may still have made the name: never reuse it
			if err != nil {
				return err
			}
			c.created = append(c.created, resp.ID)
			return nil
		}
	}
	return nil
}

// advance makes call on the first container of the stage from and, when it
// succeeds, moves the container to the stage to (nil: it is gone). A
// container Docker does not know is dropped, so that no call is retried that
// cannot succeed.
func advance(from, to *[]string, call func(id string) error) error {
	id := (*from)[0]
	err := call(id)
	if err == nil || cerrdefs.IsNotFound(err) {
		*from = (*from)[1:]
	}
	if err == nil && to != nil {
		*to = append(*to, id)
	}
	return err
}

// waitFor waits until cond (called under mu) holds, or ctx ends.
func (c *churn) waitFor(ctx context.Context, cond func() bool) error {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.cond.Broadcast()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for !cond() {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.cond.Wait()
	}
	return nil
}

// pause parks the loop after its next successful call (one that Docker,
// being back, carried out while the mirror reconnects) and waits until it is
// parked.
func (c *churn) pause(ctx context.Context) error {
	c.mu.Lock()
	c.pauseWanted = true
	c.mu.Unlock()
	return c.waitFor(ctx, func() bool { return c.paused || c.stopped })
}

// resume lets a parked loop go on.
func (c *churn) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused, c.pauseWanted = false, false
	c.cond.Broadcast()
}

// waitCalls waits until n more calls have succeeded.
func (c *churn) waitCalls(ctx context.Context, n int) error {
	c.mu.Lock()
	target := c.ok + n
	c.mu.Unlock()
	return c.waitFor(ctx, func() bool { return c.ok >= target || c.stopped })
}

// stop ends the loop and waits for it.
func (c *churn) stop() {
	c.mu.Lock()
	c.stopped = true
	c.cond.Broadcast()
	c.mu.Unlock()
	<-c.done
}

func (c *churn) counts() (ok, failed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok, c.failed
}
