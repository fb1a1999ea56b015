package docker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/klog/v2"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// DefaultActionTimeout bounds one action; a stop waits for the container's
// own stop timeout (10 s by default) before Docker kills it.
const DefaultActionTimeout = 2 * time.Minute

// Control carries out users' writes to containers against Docker: the action
// annotation and deletes. It writes mirrors through the Mirror's store, under
// the Mirror's per-container locks, so a Docker event about the same
// container never interleaves with it.
//
// Each container's action runs in its own goroutine: a slow stop of one
// container does not delay a pause of another. A container has at most one
// action goroutine; an annotation changed while it runs is picked up when
// its action ends.
type Control struct {
	m       *Mirror
	cli     *client.Client // safe for concurrent use
	timeout time.Duration
	ctx     context.Context // ends the action goroutines (Stop)
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the action goroutines

	mu      sync.Mutex      // guards running and stopped
	running map[string]bool // container ID -> an action goroutine runs; true: run again after it
	stopped bool
}

// NewControl returns the controller for m's engine. timeout bounds each
// action (default DefaultActionTimeout).
func NewControl(m *Mirror, timeout time.Duration) (*Control, error) {
	cli, err := newClient(m.host)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = DefaultActionTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Control{m: m, cli: cli, timeout: timeout, ctx: ctx, cancel: cancel, running: map[string]bool{}}, nil
}

// Stop cancels the actions in progress, waits for their goroutines and
// releases the client. Actions requested afterwards are ignored.
func (c *Control) Stop() {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	_ = c.cli.Close()
}

// Ready is nil while the engine is connected; otherwise a 503 saying why.
// Every write checks it first.
func (c *Control) Ready() error {
	if err := c.m.Ready(); err != nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("docker engine not connected: %v", err))
	}
	return nil
}

// ActionRequested makes sure an action goroutine will look at container id's
// annotation. It never blocks.
func (c *Control) ActionRequested(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	if _, ok := c.running[id]; ok {
		c.running[id] = true
		return
	}
	c.running[id] = false
	c.wg.Add(1)
	go c.actionLoop(id)
}

// ResumeActions requests the action of every mirror that still carries an
// annotation: after a reconnect to Docker, an action whose outcome was not
// recorded runs again (they are idempotent or harmless, see do).
func (c *Control) ResumeActions(ctx context.Context) {
	list := &containers.ContainerList{}
	if err := c.m.store.GetList(ctx, c.m.listKey, storage.ListOptions{Recursive: true, Predicate: storage.Everything}, list); err != nil {
		klog.FromContext(ctx).Error(err, "Listing containers to resume their actions")
		return
	}
	for i := range list.Items {
		if _, ok := list.Items[i].Annotations[containers.ActionAnnotation]; ok {
			c.ActionRequested(list.Items[i].Name)
		}
	}
}

// actionLoop carries out id's annotation until none is left.
func (c *Control) actionLoop(id string) {
	defer c.wg.Done()
	for {
		c.runAction(id)
		c.mu.Lock()
		again := c.running[id] && !c.stopped
		if !again {
			delete(c.running, id)
		} else {
			c.running[id] = false
		}
		c.mu.Unlock()
		if !again {
			return
		}
	}
}

// runAction carries out the action annotated on id, if any, then records the
// outcome in status.lastAction and removes the annotation, unless a user set
// another value meanwhile (that one runs next).
func (c *Control) runAction(id string) {
	logger := klog.FromContext(c.ctx).WithValues("container", id)
	key := c.m.keyFunc(id)
	stored := &containers.Container{}
	if err := c.m.store.Get(c.ctx, key, storage.GetOptions{}, stored); err != nil {
		if !storage.IsNotFound(err) {
			logger.Error(err, "Reading the container for its action")
		}
		return
	}
	action, ok := stored.Annotations[containers.ActionAnnotation]
	if !ok {
		return
	}
	// Whole seconds, the precision of metav1.Time on the wire: a client's
	// patch round-trips status, and must find it unchanged.
	observed := metav1.NewTime(time.Now().Truncate(time.Second))
	err := c.do(id, action)
	completed := metav1.NewTime(time.Now().Truncate(time.Second))
	result := &containers.ContainerAction{
		Action: action, State: containers.ActionSucceeded,
		ObservedAt: &observed, CompletedAt: &completed,
	}
	if err != nil {
		result.State, result.Error = containers.ActionFailed, err.Error()
		logger.V(2).Info("Container action failed", "action", action, "err", err)
	}
	err = c.m.store.GuaranteedUpdate(c.ctx, key, &containers.Container{}, false, nil,
		func(input runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
			cur, ok := input.(*containers.Container)
			if !ok {
				return nil, nil, fmt.Errorf("stored object %s is a %T, not a Container", key, input)
			}
			out := cur.DeepCopy()
			out.Status.LastAction = result
			if out.Annotations[containers.ActionAnnotation] == action {
				delete(out.Annotations, containers.ActionAnnotation)
			}
			return out, nil, nil
		}, nil)
	if err != nil && !storage.IsNotFound(err) {
		logger.Error(err, "Recording the outcome of a container action", "action", action)
	}
}

// do runs one action against Docker. pause and unpause first look at the
// container, so that a replayed action that already took effect succeeds.
func (c *Control) do(id, action string) error {
	ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
	defer cancel()
	var err error
	switch action {
	case containers.ActionStart:
		err = c.cli.ContainerStart(ctx, id, container.StartOptions{})
	case containers.ActionStop:
		err = c.cli.ContainerStop(ctx, id, container.StopOptions{})
	case containers.ActionRestart:
		err = c.cli.ContainerRestart(ctx, id, container.StopOptions{})
	case containers.ActionPause, containers.ActionUnpause:
		var in container.InspectResponse
		in, err = c.cli.ContainerInspect(ctx, id)
		if err != nil {
			break
		}
		paused := in.State != nil && in.State.Paused
		switch {
		case action == containers.ActionPause && paused, action == containers.ActionUnpause && in.State != nil && in.State.Running && !paused:
			return nil // already so
		case action == containers.ActionPause:
			err = c.cli.ContainerPause(ctx, id)
		default:
			err = c.cli.ContainerUnpause(ctx, id)
		}
	default:
		// Validation refuses other values; one can only be here from a store
		// written around the API.
		return fmt.Errorf("unknown action %q; valid actions: %v", action, containers.Actions)
	}
	if err != nil && ctx.Err() != nil && c.ctx.Err() == nil {
		return fmt.Errorf("%s did not finish within %s: %w", action, c.timeout, err)
	}
	return err
}

// RemoveContainer removes container id from Docker as `docker rm -f` does,
// then its mirror, and returns once both are gone. Errors are API status
// errors: 409 when Docker refuses, 503 while the engine is not connected.
func (c *Control) RemoveContainer(ctx context.Context, id string) error {
	if err := c.Ready(); err != nil {
		return err
	}
	unlock := c.m.locks.lock(id)
	defer unlock()
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	err := c.cli.ContainerRemove(rctx, id, container.RemoveOptions{Force: true})
	cancel()
	if err != nil && !cerrdefs.IsNotFound(err) {
		return writeError(c.m.host, containers.Resource("containers"), id, err)
	}
	_, err = c.m.deleteMirror(ctx, id)
	return err
}

// writeError maps a Docker error of a write (a delete, an action's call)
// onto the status a client should see: Docker's reason with 409 when it
// refuses, 503 when it cannot be reached, 400 for what it calls invalid, 504
// when the call timed out.
func writeError(host string, resource schema.GroupResource, name string, err error) error {
	switch {
	case cerrdefs.IsConflict(err):
		return apierrors.NewConflict(resource, name, err)
	case client.IsErrConnectionFailed(err), cerrdefs.IsUnavailable(err):
		return apierrors.NewServiceUnavailable(fmt.Sprintf("docker engine at %s not reachable: %v", host, err))
	case cerrdefs.IsInvalidArgument(err):
		return apierrors.NewBadRequest(dockerMessage(err))
	case cerrdefs.IsNotFound(err):
		return apierrors.NewNotFound(resource, name)
	case errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewTimeoutError(fmt.Sprintf("docker did not answer in time: %v", err), 0)
	default:
		return apierrors.NewInternalError(fmt.Errorf("docker engine: %s", dockerMessage(err)))
	}
}
