// Package requests carries out the request objects (ContainerCreateRequest,
// ImagePullRequest, ImagePushRequest, VolumeCreateRequest): the registry hands
// it each new request once (Submit); it runs each in its own goroutine against
// the engine (engine.Requests), so a slow pull does not delay a volume
// create, writes the progress and the outcome into the request's status, and
// deletes the request TTL after it ended. Requests are never retried: one
// created request is at most one sequence of engine calls.
package requests

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/klog/v2"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// Defaults of Options.
const (
	// DefaultTTL is how long an ended request stays before it is deleted.
	DefaultTTL = time.Minute
	// DefaultConcurrency bounds the requests carried out at once.
	DefaultConcurrency = 8
	// DefaultProgressInterval is the least time between two progress writes
	// of one pull or push.
	DefaultProgressInterval = 500 * time.Millisecond
)

// Reasons of the Complete and Failed conditions.
const (
	ReasonContainerCreated = "ContainerCreated"
	ReasonContainerStarted = "ContainerStarted"
	ReasonImagePulled      = "ImagePulled"
	ReasonImagePushed      = "ImagePushed"
	ReasonVolumeCreated    = "VolumeCreated"

	ReasonNameConflict      = "NameConflict"
	ReasonImageNotFound     = "ImageNotFound"
	ReasonNotTagged         = "NotTagged"
	ReasonInvalidSpec       = "InvalidSpec"
	ReasonEngineUnavailable = "EngineUnavailable"
	ReasonCreateFailed      = "CreateFailed"
	ReasonStartFailed       = "StartFailed"
	ReasonPullFailed        = "PullFailed"
	ReasonPushFailed        = "PushFailed"
	ReasonInterrupted       = "Interrupted"
)

// Store is where one request kind is stored.
type Store struct {
	Storage storage.Interface
	// KeyFunc returns the storage key of the request name in namespace ns.
	KeyFunc func(ns, name string) (string, error)
}

// Options configure a Controller. Zero durations and counts mean the defaults.
type Options struct {
	TTL              time.Duration
	Concurrency      int
	ProgressInterval time.Duration

	ContainerCreates, ImagePulls, ImagePushes, VolumeCreates Store
}

// Controller carries out request objects against an engine.
type Controller struct {
	engine engine.Requests
	opts   Options
	// sem bounds the requests talking to the engine at once; a goroutine
	// waiting out its TTL holds no slot.
	sem chan struct{}

	mu sync.Mutex // guards ctx, pending and stopped; wg.Add happens under it
	// ctx is Run's context, nil until Run starts; it ends every task goroutine.
	ctx context.Context
	// pending are the requests submitted before Run started.
	pending []*task
	// stopped is set once Run's context ended: no goroutine starts after.
	stopped bool
	// wg counts the task goroutines; Run waits for them before returning.
	wg sync.WaitGroup
}

// New returns the controller; Run starts it.
func New(e engine.Requests, opts Options) *Controller {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = DefaultProgressInterval
	}
	return &Controller{engine: e, opts: opts, sem: make(chan struct{}, opts.Concurrency)}
}

// task is one submitted request.
type task struct {
	store *Store
	// obj is a private copy of the request as created; only its spec is read.
	obj       runtime.Object
	namespace string
	name      string
	uid       types.UID
}

// Submit hands over a request the registry has just stored. It never blocks.
func (c *Controller) Submit(obj runtime.Object) {
	logger := klog.Background().WithName("requests")
	var st *Store
	switch obj.(type) {
	case *containers.ContainerCreateRequest:
		st = &c.opts.ContainerCreates
	case *containers.ImagePullRequest:
		st = &c.opts.ImagePulls
	case *containers.ImagePushRequest:
		st = &c.opts.ImagePushes
	case *containers.VolumeCreateRequest:
		st = &c.opts.VolumeCreates
	default:
		logger.Error(nil, "Cannot carry out this kind of object", "type", fmt.Sprintf("%T", obj))
		return
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		logger.Error(err, "Submitted request has no metadata")
		return
	}
	t := &task{store: st, obj: obj.DeepCopyObject(), namespace: m.GetNamespace(), name: m.GetName(), uid: m.GetUID()}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.stopped:
		// Shutting down: the in-memory store goes with the server.
		logger.V(2).Info("Request dropped: the server is shutting down", "namespace", t.namespace, "name", t.name)
	case c.ctx == nil:
		c.pending = append(c.pending, t)
	default:
		c.startLocked(t)
	}
}

func (c *Controller) startLocked(t *task) {
	ctx := c.ctx
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.run(ctx, t)
	}()
}

// Run carries out submitted requests until ctx ends, then waits for the
// running ones to stop (their engine calls are cancelled) and returns.
func (c *Controller) Run(ctx context.Context) {
	c.mu.Lock()
	c.ctx = ctx
	for _, t := range c.pending {
		c.startLocked(t)
	}
	c.pending = nil
	c.mu.Unlock()

	<-ctx.Done()
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	c.wg.Wait()
}

// outcome is how a request ended.
type outcome struct {
	failed          bool
	reason, message string
	// set writes the kind's result fields (containerID, imageID, ...).
	set func(obj runtime.Object)
}

func completed(reason, message string, set func(runtime.Object)) outcome {
	return outcome{reason: reason, message: message, set: set}
}

// failed is the outcome of an engine error: its kind chooses the reason
// among the step's (fallback when none applies); an error's own Reason wins.
func failed(err error, r reasons, set func(runtime.Object)) outcome {
	reason := r.fallback
	switch k := engine.KindOf(err); {
	case engine.ReasonOf(err) != "":
		reason = engine.ReasonOf(err)
	case k == engine.Unavailable:
		reason = ReasonEngineUnavailable
	case k == engine.NotFound && r.notFound != "":
		reason = r.notFound
	case k == engine.Conflict && r.conflict != "":
		reason = r.conflict
	case k == engine.InvalidArgument && r.invalid != "":
		reason = r.invalid
	}
	return outcome{failed: true, reason: reason, message: err.Error(), set: set}
}

// reasons name a step's failure reasons: fallback by default; notFound,
// conflict and invalid for the engine's NotFound, Conflict and
// InvalidArgument ("" keeps the fallback).
type reasons struct{ fallback, notFound, conflict, invalid string }

// run carries out one request, records its outcome and deletes it TTL later.
func (c *Controller) run(ctx context.Context, t *task) {
	logger := klog.FromContext(ctx).WithValues("kind", fmt.Sprintf("%T", t.obj), "namespace", t.namespace, "name", t.name)
	var out outcome
	ran := false
	select {
	case c.sem <- struct{}{}:
		out, ran = c.execute(ctx, t), true
		<-c.sem
	case <-ctx.Done():
	}
	// A failure caused by the shutdown is not the engine's verdict: say so.
	if !ran || (out.failed && ctx.Err() != nil) {
		out = outcome{failed: true, reason: ReasonInterrupted, message: "the server shut down before the request ended", set: out.set}
	}
	// The outcome is written even when ctx ended: the store outlives Run.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	err := c.update(wctx, t, func(obj runtime.Object) {
		st, prog := requestStatus(obj)
		if out.set != nil {
			out.set(obj)
		}
		if prog != nil && *prog != nil {
			(*prog).UpdatedAt = &metav1.Time{Time: time.Now()}
		}
		setOutcome(st, out, generation(obj))
	})
	cancel()
	if err != nil {
		logger.Error(err, "Recording the request's outcome")
	}
	logger.V(2).Info("Request ended", "failed", out.failed, "reason", out.reason, "message", out.message)

	timer := time.NewTimer(c.opts.TTL)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
		return
	}
	key, err := t.store.KeyFunc(t.namespace, t.name)
	if err == nil {
		err = t.store.Storage.Delete(ctx, key, t.obj.DeepCopyObject(), &storage.Preconditions{UID: &t.uid},
			storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{})
	}
	if err != nil && !storage.IsNotFound(err) && !storage.IsInvalidObj(err) {
		logger.Error(err, "Deleting the ended request")
	}
}

// update changes the stored request, if it is still the one submitted (a
// request deleted, or deleted and created again, is left alone).
func (c *Controller) update(ctx context.Context, t *task, mutate func(obj runtime.Object)) error {
	key, err := t.store.KeyFunc(t.namespace, t.name)
	if err != nil {
		return err
	}
	err = t.store.Storage.GuaranteedUpdate(ctx, key, t.obj.DeepCopyObject(), false, &storage.Preconditions{UID: &t.uid},
		func(in runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
			// in is the store's private copy.
			mutate(in)
			return in, nil, nil
		}, nil)
	if storage.IsNotFound(err) || storage.IsInvalidObj(err) {
		return nil
	}
	return err
}

func generation(obj runtime.Object) int64 {
	if m, err := meta.Accessor(obj); err == nil {
		return m.GetGeneration()
	}
	return 0
}

// requestStatus returns the shared status and, for transfers, the progress
// field of a request.
func requestStatus(obj runtime.Object) (*containers.RequestStatus, **containers.TransferProgress) {
	switch o := obj.(type) {
	case *containers.ContainerCreateRequest:
		return &o.Status.RequestStatus, nil
	case *containers.ImagePullRequest:
		return &o.Status.RequestStatus, &o.Status.Progress
	case *containers.ImagePushRequest:
		return &o.Status.RequestStatus, &o.Status.Progress
	case *containers.VolumeCreateRequest:
		return &o.Status.RequestStatus, nil
	}
	return &containers.RequestStatus{}, nil
}

// maxConditionMessage is metav1.Condition's limit on Message.
const maxConditionMessage = 32768

// setOutcome makes exactly one of Complete and Failed True.
func setOutcome(st *containers.RequestStatus, out outcome, gen int64) {
	typ := containers.RequestComplete
	if out.failed {
		typ = containers.RequestFailed
	}
	msg := out.message
	if len(msg) > maxConditionMessage {
		msg = msg[:maxConditionMessage]
	}
	st.Conditions = []metav1.Condition{{
		Type: typ, Status: metav1.ConditionTrue, ObservedGeneration: gen,
		LastTransitionTime: metav1.Now(), Reason: out.reason, Message: msg,
	}}
}

// execute makes the engine calls of one request.
func (c *Controller) execute(ctx context.Context, t *task) outcome {
	switch o := t.obj.(type) {
	case *containers.ContainerCreateRequest:
		return c.createContainer(ctx, &o.Spec)
	case *containers.ImagePullRequest:
		return c.transfer(ctx, t, false, o.Spec.RepoTag)
	case *containers.ImagePushRequest:
		return c.transfer(ctx, t, true, o.Spec.ImageRef)
	case *containers.VolumeCreateRequest:
		name, err := c.engine.CreateVolume(ctx, &o.Spec)
		if err != nil {
			return failed(err, reasons{ReasonCreateFailed, "", ReasonNameConflict, ReasonInvalidSpec}, nil)
		}
		return completed(ReasonVolumeCreated, "volume "+name+" created", func(obj runtime.Object) {
			obj.(*containers.VolumeCreateRequest).Status.VolumeName = name
		})
	}
	return outcome{failed: true, reason: ReasonInvalidSpec, message: fmt.Sprintf("unknown request kind %T", t.obj)}
}

func (c *Controller) createContainer(ctx context.Context, spec *containers.ContainerCreateRequestSpec) outcome {
	id, err := c.engine.CreateContainer(ctx, spec)
	if err != nil {
		return failed(err, reasons{ReasonCreateFailed, ReasonImageNotFound, ReasonNameConflict, ReasonInvalidSpec}, nil)
	}
	set := func(obj runtime.Object) { obj.(*containers.ContainerCreateRequest).Status.ContainerID = id }
	if spec.State == "created" {
		return completed(ReasonContainerCreated, "container "+engine.ShortID(id)+" created", set)
	}
	if err := c.engine.StartContainer(ctx, id); err != nil {
		// Kept, as `docker run` keeps a container that failed to start;
		// status.containerID names it. An engine may call a missing
		// executable an invalid argument, but the spec was accepted: the
		// container exists, so this is StartFailed.
		return failed(err, reasons{fallback: ReasonStartFailed}, set)
	}
	return completed(ReasonContainerStarted, "container "+engine.ShortID(id)+" created and started", set)
}

// transfer pulls or pushes, writing the progress into the request at most
// every ProgressInterval.
func (c *Controller) transfer(ctx context.Context, t *task, push bool, ref string) outcome {
	var lastWrite time.Time
	progress := func(p *containers.TransferProgress) {
		now := time.Now()
		if now.Sub(lastWrite) < c.opts.ProgressInterval {
			return
		}
		lastWrite = now
		err := c.update(ctx, t, func(obj runtime.Object) {
			if _, prog := requestStatus(obj); prog != nil {
				*prog = p.DeepCopy()
			}
		})
		if err != nil && ctx.Err() == nil {
			klog.FromContext(ctx).Error(err, "Writing a request's progress", "namespace", t.namespace, "name", t.name)
		}
	}
	var (
		res engine.TransferResult
		err error
	)
	if push {
		res, err = c.engine.PushImage(ctx, ref, progress)
	} else {
		res, err = c.engine.PullImage(ctx, ref, progress)
	}
	setProgress := func(more func(runtime.Object)) func(runtime.Object) {
		return func(obj runtime.Object) {
			if _, prog := requestStatus(obj); prog != nil && res.Progress != nil {
				*prog = res.Progress.DeepCopy()
			}
			if more != nil {
				more(obj)
			}
		}
	}
	switch {
	case err != nil && push:
		return failed(err, reasons{ReasonPushFailed, ReasonImageNotFound, "", ReasonInvalidSpec}, setProgress(nil))
	case err != nil:
		return failed(err, reasons{ReasonPullFailed, ReasonImageNotFound, "", ReasonInvalidSpec}, setProgress(nil))
	case push:
		return completed(ReasonImagePushed, res.Summary, setProgress(func(obj runtime.Object) {
			obj.(*containers.ImagePushRequest).Status.Digest = res.Digest
		}))
	default:
		return completed(ReasonImagePulled, res.Summary, setProgress(func(obj runtime.Object) {
			obj.(*containers.ImagePullRequest).Status.ImageID = res.ImageID
		}))
	}
}
