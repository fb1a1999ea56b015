// Package actions carries out the container action annotation
// (containers.rancherdesktop.io/action): it runs the action against the
// engine, records the outcome in status.lastAction and removes the
// annotation. It is engine-neutral: the engine does the action
// (engine.Control.Act), this package the bookkeeping.
package actions

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/klog/v2"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/pkg/mirror"
)

// DefaultTimeout bounds one action; a stop waits for the container's own stop
// timeout (10 s by default) before the engine kills it.
const DefaultTimeout = 2 * time.Minute

// Runner carries out container actions. Each container's action runs in its
// own goroutine: a slow stop of one container does not delay a pause of
// another. A container has at most one action goroutine; an annotation
// changed while it runs is picked up when its action ends.
type Runner struct {
	control engine.Control
	store   mirror.Store // the Container mirrors
	timeout time.Duration
	ctx     context.Context // ends the action goroutines (Run's end)
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the action goroutines

	mu      sync.Mutex      // guards running and stopped
	running map[string]bool // container ID -> an action goroutine runs; true: run again after it
	stopped bool
}

// New returns a Runner of actions on the Containers in store; timeout bounds
// each (zero: DefaultTimeout). Actions requested before Run are carried out
// at once; Run's end stops them.
func New(control engine.Control, store mirror.Store, timeout time.Duration) *Runner {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Runner{control: control, store: store, timeout: timeout, ctx: ctx, cancel: cancel, running: map[string]bool{}}
}

// Run waits until ctx ends, then cancels the actions in progress and returns
// once their goroutines have ended. Actions requested afterwards are ignored.
func (r *Runner) Run(ctx context.Context) {
	<-ctx.Done()
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

// ActionRequested makes sure an action goroutine will look at container id's
// annotation. It never blocks.
func (r *Runner) ActionRequested(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	if _, ok := r.running[id]; ok {
		r.running[id] = true
		return
	}
	r.running[id] = false
	r.wg.Add(1)
	go r.actionLoop(id)
}

// Resume requests the action of every mirror that still carries an
// annotation: after a reconnect to the engine, an action whose outcome was
// not recorded runs again (actions are idempotent or harmless, see
// engine.Control.Act). It suits mirror.Options.OnSynced.
func (r *Runner) Resume(ctx context.Context) {
	list := &containers.ContainerList{}
	if err := r.store.Storage.GetList(ctx, r.store.ListKey, storage.ListOptions{Recursive: true, Predicate: storage.Everything}, list); err != nil {
		klog.FromContext(ctx).Error(err, "Listing containers to resume their actions")
		return
	}
	for i := range list.Items {
		if _, ok := list.Items[i].Annotations[containers.ActionAnnotation]; ok {
			r.ActionRequested(list.Items[i].Name)
		}
	}
}

// actionLoop carries out id's annotation until none is left.
func (r *Runner) actionLoop(id string) {
	defer r.wg.Done()
	for {
		r.runAction(id)
		r.mu.Lock()
		again := r.running[id] && !r.stopped
		if !again {
			delete(r.running, id)
		} else {
			r.running[id] = false
		}
		r.mu.Unlock()
		if !again {
			return
		}
	}
}

// runAction carries out the action annotated on id, if any, then records the
// outcome in status.lastAction and removes the annotation, unless a user set
// another value meanwhile (that one runs next).
func (r *Runner) runAction(id string) {
	logger := klog.FromContext(r.ctx).WithValues("container", id)
	key := r.store.KeyFunc(id)
	stored := &containers.Container{}
	if err := r.store.Storage.Get(r.ctx, key, storage.GetOptions{}, stored); err != nil {
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
	err := r.do(id, action)
	completed := metav1.NewTime(time.Now().Truncate(time.Second))
	result := &containers.ContainerAction{
		Action: action, State: containers.ActionSucceeded,
		ObservedAt: &observed, CompletedAt: &completed,
	}
	if err != nil {
		result.State, result.Error = containers.ActionFailed, err.Error()
		logger.V(2).Info("Container action failed", "action", action, "err", err)
	}
	err = r.store.Storage.GuaranteedUpdate(r.ctx, key, &containers.Container{}, false, nil,
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

// do runs one action, bounded by the timeout.
func (r *Runner) do(id, action string) error {
	ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
	defer cancel()
	err := r.control.Act(ctx, id, action)
	if err != nil && ctx.Err() != nil && r.ctx.Err() == nil {
		return fmt.Errorf("%s did not finish within %s: %w", action, r.timeout, err)
	}
	return err
}
