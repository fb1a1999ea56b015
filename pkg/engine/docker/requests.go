package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/klog/v2"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// Defaults of RequestsConfig.
const (
	// DefaultRequestTTL is how long an ended request stays before it is deleted.
	DefaultRequestTTL = time.Minute
	// DefaultRequestConcurrency bounds the requests carried out at once.
	DefaultRequestConcurrency = 8
	// DefaultRequestProgressInterval is the least time between two progress
	// writes of one pull or push.
	DefaultRequestProgressInterval = 500 * time.Millisecond
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

// reqEmptyRegistryAuth is base64url("{}"): no credentials. The 20.10 daemon
// refuses a push without the X-Registry-Auth header.
const reqEmptyRegistryAuth = "e30="

// RequestStore is where one request kind is stored.
type RequestStore struct {
	Storage storage.Interface
	// KeyFunc returns the storage key of the request name in namespace ns.
	KeyFunc func(ns, name string) (string, error)
}

// RequestsConfig configures Requests.
type RequestsConfig struct {
	// Host is the Docker endpoint.
	Host string
	// TTL is how long an ended request stays; zero means DefaultRequestTTL.
	TTL time.Duration
	// Concurrency bounds the requests carried out at once; zero means
	// DefaultRequestConcurrency.
	Concurrency int
	// ProgressInterval is the least time between two progress writes; zero
	// means DefaultRequestProgressInterval.
	ProgressInterval time.Duration

	ContainerCreates, ImagePulls, ImagePushes, VolumeCreates RequestStore
}

// Requests carries out the request objects (ContainerCreateRequest,
// ImagePullRequest, ImagePushRequest, VolumeCreateRequest) against Docker.
// The registry hands it each new request once (Submit); it runs each in its
// own goroutine, so a slow pull does not delay a volume create, writes the
// progress and the outcome into the request's status, and deletes the
// request TTL after it ended. Requests are never retried: one created
// request is at most one Docker call sequence.
type Requests struct {
	cfg RequestsConfig
	cli *client.Client // safe for concurrent use
	// sem bounds the requests talking to Docker at once; a goroutine waiting
	// out its TTL holds no slot.
	sem chan struct{}

	mu sync.Mutex // guards ctx, pending and stopped; wg.Add happens under it
	// ctx is Run's context, nil until Run starts; it ends every task goroutine.
	ctx context.Context
	// pending are the requests submitted before Run started.
	pending []*requestTask
	// stopped is set once Run's context ended: no goroutine starts after.
	stopped bool
	// wg counts the task goroutines; Run waits for them before returning.
	wg sync.WaitGroup
}

// NewRequests returns the controller; Run starts it.
func NewRequests(cfg RequestsConfig) (*Requests, error) {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultRequestTTL
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultRequestConcurrency
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = DefaultRequestProgressInterval
	}
	cli, err := newClient(cfg.Host)
	if err != nil {
		return nil, err
	}
	return &Requests{cfg: cfg, cli: cli, sem: make(chan struct{}, cfg.Concurrency)}, nil
}

// requestTask is one submitted request.
type requestTask struct {
	store *RequestStore
	// obj is a private copy of the request as created; only its spec is read.
	obj       runtime.Object
	namespace string
	name      string
	uid       types.UID
}

// Submit hands over a request the registry has just stored. It never blocks.
func (r *Requests) Submit(obj runtime.Object) {
	var st *RequestStore
	switch obj.(type) {
	case *containers.ContainerCreateRequest:
		st = &r.cfg.ContainerCreates
	case *containers.ImagePullRequest:
		st = &r.cfg.ImagePulls
	case *containers.ImagePushRequest:
		st = &r.cfg.ImagePushes
	case *containers.VolumeCreateRequest:
		st = &r.cfg.VolumeCreates
	default:
		klog.Errorf("Requests: cannot carry out a %T", obj)
		return
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		klog.Errorf("Requests: %v", err)
		return
	}
	t := &requestTask{store: st, obj: obj.DeepCopyObject(), namespace: m.GetNamespace(), name: m.GetName(), uid: m.GetUID()}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.stopped:
		// Shutting down: the in-memory store goes with the server.
		klog.V(2).InfoS("Request dropped: server is shutting down", "namespace", t.namespace, "name", t.name)
	case r.ctx == nil:
		r.pending = append(r.pending, t)
	default:
		r.startLocked(t)
	}
}

func (r *Requests) startLocked(t *requestTask) {
	ctx := r.ctx
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.run(ctx, t)
	}()
}

// Run carries out submitted requests until ctx ends, then waits for the
// running ones to stop (their Docker calls are cancelled) and returns.
func (r *Requests) Run(ctx context.Context) {
	r.mu.Lock()
	r.ctx = ctx
	for _, t := range r.pending {
		r.startLocked(t)
	}
	r.pending = nil
	r.mu.Unlock()

	<-ctx.Done()
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	r.wg.Wait()
	_ = r.cli.Close()
}

// requestOutcome is how a request ended.
type requestOutcome struct {
	failed          bool
	reason, message string
	// set writes the kind's result fields (containerID, imageID, ...).
	set func(obj runtime.Object)
}

func reqCompleted(reason, message string, set func(runtime.Object)) requestOutcome {
	return requestOutcome{reason: reason, message: message, set: set}
}

func reqFailed(reason, message string, set func(runtime.Object)) requestOutcome {
	return requestOutcome{failed: true, reason: reason, message: message, set: set}
}

// run carries out one request, records its outcome and deletes it TTL later.
func (r *Requests) run(ctx context.Context, t *requestTask) {
	logger := klog.FromContext(ctx).WithValues("kind", fmt.Sprintf("%T", t.obj), "namespace", t.namespace, "name", t.name)
	var out requestOutcome
	ran := false
	select {
	case r.sem <- struct{}{}:
		out, ran = r.execute(ctx, t), true
		<-r.sem
	case <-ctx.Done():
	}
	// A failure caused by the shutdown is not Docker's verdict: say so.
	if !ran || (out.failed && ctx.Err() != nil) {
		out = reqFailed(ReasonInterrupted, "the server shut down before the request ended", out.set)
	}
	// The outcome is written even when ctx ended: the store outlives Run.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	err := r.update(wctx, t, func(obj runtime.Object) {
		st, prog := requestStatus(obj)
		if out.set != nil {
			out.set(obj)
		}
		if prog != nil && *prog != nil {
			(*prog).UpdatedAt = &metav1.Time{Time: time.Now()}
		}
		reqSetOutcome(st, out, reqGeneration(obj))
	})
	cancel()
	if err != nil {
		logger.Error(err, "Recording the request's outcome")
	}
	logger.V(2).Info("Request ended", "failed", out.failed, "reason", out.reason, "message", out.message)

	timer := time.NewTimer(r.cfg.TTL)
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
func (r *Requests) update(ctx context.Context, t *requestTask, mutate func(obj runtime.Object)) error {
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

func reqGeneration(obj runtime.Object) int64 {
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

// reqMaxConditionMessage is metav1.Condition's limit on Message.
const reqMaxConditionMessage = 32768

// reqSetOutcome makes exactly one of Complete and Failed True.
func reqSetOutcome(st *containers.RequestStatus, out requestOutcome, gen int64) {
	typ := containers.RequestComplete
	if out.failed {
		typ = containers.RequestFailed
	}
	msg := out.message
	if len(msg) > reqMaxConditionMessage {
		msg = msg[:reqMaxConditionMessage]
	}
	st.Conditions = []metav1.Condition{{
		Type: typ, Status: metav1.ConditionTrue, ObservedGeneration: gen,
		LastTransitionTime: metav1.Now(), Reason: out.reason, Message: msg,
	}}
}

// execute makes the Docker calls of one request.
func (r *Requests) execute(ctx context.Context, t *requestTask) requestOutcome {
	switch o := t.obj.(type) {
	case *containers.ContainerCreateRequest:
		return r.createContainer(ctx, &o.Spec)
	case *containers.ImagePullRequest:
		return r.pullImage(ctx, t, &o.Spec)
	case *containers.ImagePushRequest:
		return r.pushImage(ctx, t, &o.Spec)
	case *containers.VolumeCreateRequest:
		return r.createVolume(ctx, &o.Spec)
	}
	return reqFailed(ReasonInvalidSpec, fmt.Sprintf("unknown request kind %T", t.obj), nil)
}

// reqReasons name a step's failure reasons: fallback by default; notFound,
// conflict and invalid for Docker's 404, 409 and invalid-argument answers
// ("" keeps the fallback).
type reqReasons struct{ fallback, notFound, conflict, invalid string }

// reqEngineFailure classifies a Docker error: the engine's own message (with
// client.IsErrConnectionFailed for an engine that is not there) and a reason.
func reqEngineFailure(err error, r reqReasons, set func(runtime.Object)) requestOutcome {
	reason := r.fallback
	switch {
	case client.IsErrConnectionFailed(err):
		reason = ReasonEngineUnavailable
	case r.notFound != "" && cerrdefs.IsNotFound(err):
		reason = r.notFound
	case r.conflict != "" && cerrdefs.IsConflict(err):
		reason = r.conflict
	case r.invalid != "" && cerrdefs.IsInvalidArgument(err):
		reason = r.invalid
	}
	return reqFailed(reason, err.Error(), set)
}

func (r *Requests) createContainer(ctx context.Context, spec *containers.ContainerCreateRequestSpec) requestOutcome {
	cfg := &container.Config{Image: spec.Image, Labels: spec.Labels}
	if spec.Path != "" {
		cfg.Entrypoint = []string{spec.Path}
	}
	if len(spec.Args) > 0 {
		cfg.Cmd = spec.Args
	}
	hostCfg := &container.HostConfig{}
	if len(spec.Ports) > 0 {
		cfg.ExposedPorts = nat.PortSet{}
		hostCfg.PortBindings = nat.PortMap{}
		for _, p := range spec.Ports {
			port := nat.Port(p.Name)
			cfg.ExposedPorts[port] = struct{}{}
			for _, b := range p.Bindings {
				hostPort := ""
				if b.HostPort != 0 {
					hostPort = strconv.Itoa(int(b.HostPort))
				}
				hostCfg.PortBindings[port] = append(hostCfg.PortBindings[port], nat.PortBinding{HostIP: b.HostIP, HostPort: hostPort})
			}
		}
	}
	resp, err := r.cli.ContainerCreate(ctx, cfg, hostCfg, nil, nil, spec.Name)
	if err != nil {
		return reqEngineFailure(err, reqReasons{ReasonCreateFailed, ReasonImageNotFound, ReasonNameConflict, ReasonInvalidSpec}, nil)
	}
	set := func(obj runtime.Object) {
		obj.(*containers.ContainerCreateRequest).Status.ContainerID = resp.ID
	}
	if spec.State == "created" {
		return reqCompleted(ReasonContainerCreated, "container "+reqShortID(resp.ID)+" created", set)
	}
	if err := r.cli.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		// Kept, as `docker run` keeps a container that failed to start;
		// status.containerID names it.
		// Docker calls a missing executable an invalid argument, but the spec
		// was accepted: the container exists, so this is StartFailed.
		return reqEngineFailure(err, reqReasons{fallback: ReasonStartFailed}, set)
	}
	return reqCompleted(ReasonContainerStarted, "container "+reqShortID(resp.ID)+" created and started", set)
}

func reqShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// transfer reads a pull's or push's stream to its end, writing the progress
// into the request at most every ProgressInterval. It returns the stream's
// error, if any.
func (r *Requests) transfer(ctx context.Context, t *requestTask, body io.ReadCloser) (*transferTracker, error) {
	defer body.Close()
	tr := newTransferTracker()
	dec := json.NewDecoder(body)
	var lastWrite time.Time
	var streamErr error
	writeProgress := func(now time.Time) {
		p := tr.progress(now)
		err := r.update(ctx, t, func(obj runtime.Object) {
			if _, prog := requestStatus(obj); prog != nil {
				*prog = p
			}
		})
		if err != nil && ctx.Err() == nil {
			klog.FromContext(ctx).Error(err, "Writing a request's progress", "namespace", t.namespace, "name", t.name)
		}
		lastWrite = now
	}
	for {
		var m transferMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return tr, fmt.Errorf("reading Docker's progress stream: %w", err)
		}
		if err := m.err(); err != nil && streamErr == nil {
			streamErr = err
		}
		if tr.add(&m) {
			if now := time.Now(); now.Sub(lastWrite) >= r.cfg.ProgressInterval {
				writeProgress(now)
			}
		}
	}
	return tr, streamErr
}

// reqSetProgress returns a setter of a transfer's final progress.
func reqSetProgress(tr *transferTracker, more func(runtime.Object)) func(runtime.Object) {
	return func(obj runtime.Object) {
		if tr != nil {
			if _, prog := requestStatus(obj); prog != nil {
				*prog = tr.progress(time.Now())
			}
		}
		if more != nil {
			more(obj)
		}
	}
}

func (r *Requests) pullImage(ctx context.Context, t *requestTask, spec *containers.ImagePullRequestSpec) requestOutcome {
	named, err := reference.ParseNormalizedNamed(spec.RepoTag)
	if err != nil {
		return reqFailed(ReasonInvalidSpec, err.Error(), nil)
	}
	// What Docker pulls: a reference without a tag means ":latest".
	ref := reference.FamiliarString(reference.TagNameOnly(named))
	body, err := r.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return reqEngineFailure(err, reqReasons{ReasonPullFailed, ReasonImageNotFound, "", ReasonInvalidSpec}, nil)
	}
	tr, err := r.transfer(ctx, t, body)
	if err != nil {
		return reqFailed(ReasonPullFailed, err.Error(), reqSetProgress(tr, nil))
	}
	insp, err := r.cli.ImageInspect(ctx, ref)
	if err != nil {
		return reqEngineFailure(err, reqReasons{fallback: ReasonPullFailed, invalid: ReasonInvalidSpec}, reqSetProgress(tr, nil))
	}
	msg := "pulled " + ref
	if tr.summary != "" {
		msg = tr.summary
	}
	return reqCompleted(ReasonImagePulled, msg, reqSetProgress(tr, func(obj runtime.Object) {
		obj.(*containers.ImagePullRequest).Status.ImageID = insp.ID
	}))
}

// resolveImageRef finds the tag an Image object name stands for. It asks
// Docker rather than the Image mirror, so a tag made a moment ago counts.
func (r *Requests) resolveImageRef(ctx context.Context, imageRef string) (tag string, out *requestOutcome) {
	imgs, err := r.cli.ImageList(ctx, image.ListOptions{All: true})
	if err != nil {
		o := reqEngineFailure(err, reqReasons{fallback: ReasonPushFailed, invalid: ReasonInvalidSpec}, nil)
		return "", &o
	}
	for _, img := range imgs {
		for _, t := range img.RepoTags {
			if t != "<none>:<none>" && ImageName(img.ID, t) == imageRef {
				return t, nil
			}
		}
	}
	for _, img := range imgs {
		if ImageName(img.ID, "") == imageRef {
			o := reqFailed(ReasonNotTagged, fmt.Sprintf("image %s has no tag to push; tag it with the registry's name first, e.g. docker tag %s 127.0.0.1:5000/NAME:TAG",
				img.ID, reqShortID(reqTrimSHA(img.ID))), nil)
			return "", &o
		}
	}
	o := reqFailed(ReasonImageNotFound, fmt.Sprintf("no image tag is named %s (see kubectl get images)", imageRef), nil)
	return "", &o
}

func reqTrimSHA(id string) string {
	if len(id) > 7 && id[:7] == "sha256:" {
		return id[7:]
	}
	return id
}

func (r *Requests) pushImage(ctx context.Context, t *requestTask, spec *containers.ImagePushRequestSpec) requestOutcome {
	tag, out := r.resolveImageRef(ctx, spec.ImageRef)
	if out != nil {
		return *out
	}
	body, err := r.cli.ImagePush(ctx, tag, image.PushOptions{RegistryAuth: reqEmptyRegistryAuth})
	if err != nil {
		return reqEngineFailure(err, reqReasons{ReasonPushFailed, ReasonImageNotFound, "", ReasonInvalidSpec}, nil)
	}
	tr, err := r.transfer(ctx, t, body)
	if err != nil {
		return reqFailed(ReasonPushFailed, err.Error(), reqSetProgress(tr, nil))
	}
	if tr.digest == "" {
		return reqFailed(ReasonPushFailed, "Docker reported no digest for the push of "+tag, reqSetProgress(tr, nil))
	}
	return reqCompleted(ReasonImagePushed, "pushed "+tag+" as "+tr.digest, reqSetProgress(tr, func(obj runtime.Object) {
		obj.(*containers.ImagePushRequest).Status.Digest = tr.digest
	}))
}

func (r *Requests) createVolume(ctx context.Context, spec *containers.VolumeCreateRequestSpec) requestOutcome {
	driver := spec.Driver
	if driver == "" {
		driver = "local"
	}
	v, err := r.cli.VolumeCreate(ctx, volume.CreateOptions{Name: spec.Name, Driver: driver, Labels: spec.Labels})
	if err != nil {
		return reqEngineFailure(err, reqReasons{ReasonCreateFailed, "", ReasonNameConflict, ReasonInvalidSpec}, nil)
	}
	return reqCompleted(ReasonVolumeCreated, "volume "+v.Name+" created", func(obj runtime.Object) {
		obj.(*containers.VolumeCreateRequest).Status.VolumeName = v.Name
	})
}
