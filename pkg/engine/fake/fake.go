// Package fake is an in-memory container engine for unit tests: containers,
// images, volumes and logs held in maps, an event stream, and scripted
// failures (an engine that stops answering, a read that fails for one key, a
// stream that goes silent). It implements every part of engine.Engine.
//
// It is a test double for one unit at a time (the reconciler, the registry,
// the server's wiring); tests against a real dockerd remain the evidence that
// features work.
package fake

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// Container is a fake container.
type Container struct {
	ID, Name, Image string
	// Status is Docker's word: created, running, paused, exited.
	Status string
	Labels map[string]string
	Stdout []byte // its log
}

// Image is a fake image: one ID, any number of tags.
type Image struct {
	ID   string
	Tags []string
}

// Volume is a fake volume.
type Volume struct {
	Name   string
	Labels map[string]string
}

// Engine is the fake engine. The zero value is not usable; call New.
type Engine struct {
	// mu guards every field below; the engine's parts and the test's script
	// use it from any goroutine.
	mu         sync.Mutex
	containers map[string]*Container
	images     map[string]*Image
	volumes    map[string]*Volume
	watchers   map[*watcher]struct{}
	down       bool             // Unavailable everywhere
	getErrs    map[string]error // key -> the error of Get/inspect
	silent     bool             // events are dropped (a silently dead stream)
	actions    []string         // "action id", in order
	calls      map[string]int   // method -> calls, for tests
	inflight   int              // container Gets blocked by ErrBlock
}

// ErrBlock, given to FailGet, makes a read hang until its context ends.
var ErrBlock = errors.New("the read hangs")

// New returns an empty, reachable fake engine.
func New() *Engine {
	return &Engine{
		containers: map[string]*Container{}, images: map[string]*Image{}, volumes: map[string]*Volume{},
		watchers: map[*watcher]struct{}{}, getErrs: map[string]error{}, calls: map[string]int{},
	}
}

// Engine returns the engine.Engine made of this fake.
func (f *Engine) Engine() *engine.Engine {
	return &engine.Engine{
		Name:       "fake engine",
		Kind:       "fake",
		Containers: containerSource{f},
		Images:     imageSource{f},
		Volumes:    volumeSource{f},
		Control:    control{f},
		Requests:   requests{f},
		Logs:       logs{f},
		Exec:       execer{f},
		Stats:      notImplemented{},
		Close:      func() error { return nil },
	}
}

// --- the test's script ---

// PutContainer adds or changes a container and emits its event.
func (f *Engine) PutContainer(c Container) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cc := c
	cc.Labels = maps.Clone(c.Labels)
	f.containers[c.ID] = &cc
	f.emitLocked("containers", engine.Change{Key: c.ID, Action: "update"})
}

// DeleteContainer removes a container and emits its event.
func (f *Engine) DeleteContainer(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.containers, id)
	f.emitLocked("containers", engine.Change{Key: id, Action: "destroy"})
}

// PutContainerQuietly changes a container without an event (a missed event).
func (f *Engine) PutContainerQuietly(c Container) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cc := c
	f.containers[c.ID] = &cc
}

// PutImage adds or changes an image and emits an image event.
func (f *Engine) PutImage(img Image) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ii := img
	ii.Tags = slices.Clone(img.Tags)
	f.images[img.ID] = &ii
	f.emitLocked("images", engine.Change{All: true, Action: "tag"})
}

// PutVolume adds a volume and emits a volume event.
func (f *Engine) PutVolume(v Volume) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vv := v
	f.volumes[v.Name] = &vv
	f.emitLocked("volumes", engine.Change{All: true, Action: "create"})
}

// SetDown makes the engine unreachable (every call fails with Unavailable and
// every open stream ends with that error) or reachable again.
func (f *Engine) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
	if down {
		for w := range f.watchers {
			w.fail(engine.Errorf(engine.Unavailable, "fake engine is down"))
			delete(f.watchers, w)
		}
	}
}

// FailGet makes reads of key fail with err (nil: succeed again).
func (f *Engine) FailGet(key string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.getErrs, key)
		return
	}
	f.getErrs[key] = err
}

// SetSilent drops every event from now on (true), as a stream that died
// without an error.
func (f *Engine) SetSilent(silent bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.silent = silent
}

// Actions returns the container actions carried out so far ("action id").
func (f *Engine) Actions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.actions)
}

// Calls returns how often method was called (e.g. "List containers").
func (f *Engine) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// Inflight returns the number of reads blocked by ErrBlock.
func (f *Engine) Inflight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inflight
}

// Watchers returns the number of open change streams.
func (f *Engine) Watchers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.watchers)
}

// --- internals ---

func (f *Engine) checkLocked(method string) error {
	f.calls[method]++
	if f.down {
		return engine.Errorf(engine.Unavailable, "fake engine is down")
	}
	return nil
}

func (f *Engine) emitLocked(resource string, c engine.Change) {
	if f.silent {
		return
	}
	c.Received = time.Now()
	for w := range f.watchers {
		if w.resource == resource {
			w.send(c)
		}
	}
}

// watcher is one open change stream. Its goroutine delivers queued changes in
// order without ever blocking the engine; it ends when ctx does or on fail.
type watcher struct {
	resource string
	mu       sync.Mutex // guards queue, err, wake
	queue    []engine.Change
	err      error
	wake     chan struct{} // one slot
}

func (w *watcher) send(c engine.Change) {
	w.mu.Lock()
	w.queue = append(w.queue, c)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) fail(err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (f *Engine) watch(ctx context.Context, resource string) (<-chan engine.Change, <-chan error) {
	out := make(chan engine.Change)
	errs := make(chan error, 1)
	f.mu.Lock()
	if err := f.checkLocked("Watch " + resource); err != nil {
		f.mu.Unlock()
		errs <- err
		close(errs)
		return out, errs
	}
	w := &watcher{resource: resource, wake: make(chan struct{}, 1)}
	f.watchers[w] = struct{}{}
	f.mu.Unlock()
	go func() {
		defer close(errs)
		defer func() {
			f.mu.Lock()
			delete(f.watchers, w)
			f.mu.Unlock()
		}()
		for {
			w.mu.Lock()
			queue, err := w.queue, w.err
			w.queue = nil
			w.mu.Unlock()
			for _, c := range queue {
				select {
				case out <- c:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				errs <- err
				return
			}
			select {
			case <-w.wake:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, errs
}

func (f *Engine) checkpoint(method string) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked(method); err != nil {
		return time.Time{}, err
	}
	return time.Now(), nil
}

func (f *Engine) ping() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.checkLocked("Ping")
}

// --- containers ---

type containerSource struct{ f *Engine }

func (containerSource) Resource() string { return "containers" }
func (s containerSource) Checkpoint(context.Context) (time.Time, error) {
	return s.f.checkpoint("Checkpoint containers")
}
func (s containerSource) Watch(ctx context.Context, _ time.Time) (<-chan engine.Change, <-chan error) {
	return s.f.watch(ctx, "containers")
}
func (s containerSource) Ping(context.Context) error { return s.f.ping() }

func (s containerSource) List(context.Context) (engine.Listing[*containers.Container], error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if err := s.f.checkLocked("List containers"); err != nil {
		return engine.Listing[*containers.Container]{}, err
	}
	return engine.Listing[*containers.Container]{Keys: slices.Sorted(maps.Keys(s.f.containers))}, nil
}

func (s containerSource) Get(ctx context.Context, id string) (engine.Desired[*containers.Container], bool, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if err := s.f.checkLocked("Get containers"); err != nil {
		return nil, false, err
	}
	if err := s.f.getErrs[id]; errors.Is(err, ErrBlock) {
		s.f.inflight++
		s.f.mu.Unlock()
		<-ctx.Done()
		s.f.mu.Lock()
		s.f.inflight--
		return nil, false, ctx.Err()
	} else if err != nil {
		return nil, false, err
	}
	c, ok := s.f.containers[id]
	if !ok {
		return nil, false, nil
	}
	cc := *c
	cc.Labels = maps.Clone(c.Labels)
	return func(prev *containers.Container, _ time.Time) *containers.Container {
		out := &containers.Container{}
		if prev != nil {
			prev.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
			out.Status.LastAction = prev.Status.LastAction.DeepCopy()
		}
		out.Name = cc.ID
		out.UID = engine.UID(cc.ID)
		out.Labels = engine.KubeLabels(cc.Labels)
		out.Status.Name = cc.Name
		out.Status.Namespace = containers.MobyNamespace
		out.Status.Image = cc.Image
		out.Status.Status = cc.Status
		out.Status.Labels = maps.Clone(cc.Labels)
		return out
	}, true, nil
}

// --- images and volumes ---

type imageSource struct{ f *Engine }

func (imageSource) Resource() string { return "images" }
func (s imageSource) Checkpoint(context.Context) (time.Time, error) {
	return s.f.checkpoint("Checkpoint images")
}
func (s imageSource) Watch(ctx context.Context, _ time.Time) (<-chan engine.Change, <-chan error) {
	return s.f.watch(ctx, "images")
}
func (s imageSource) Ping(context.Context) error { return s.f.ping() }

func (s imageSource) List(context.Context) (engine.Listing[*containers.Image], error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if err := s.f.checkLocked("List images"); err != nil {
		return engine.Listing[*containers.Image]{}, err
	}
	objs := map[string]*containers.Image{}
	for _, img := range s.f.images {
		tags := img.Tags
		if len(tags) == 0 {
			tags = []string{""}
		}
		for _, tag := range tags {
			o := &containers.Image{Status: containers.ImageStatus{Namespace: containers.MobyNamespace, ID: img.ID, RepoTag: tag}}
			o.Name = engine.ImageName(img.ID, tag)
			o.UID = engine.UID("image\x00" + o.Name)
			objs[o.Name] = o
		}
	}
	return engine.ListingOf(objs, (*containers.Image).DeepCopy), nil
}

func (s imageSource) Get(ctx context.Context, key string) (engine.Desired[*containers.Image], bool, error) {
	l, err := s.List(ctx)
	if err != nil {
		return nil, false, err
	}
	return l.Get(ctx, key)
}

type volumeSource struct{ f *Engine }

func (volumeSource) Resource() string { return "volumes" }
func (s volumeSource) Checkpoint(context.Context) (time.Time, error) {
	return s.f.checkpoint("Checkpoint volumes")
}
func (s volumeSource) Watch(ctx context.Context, _ time.Time) (<-chan engine.Change, <-chan error) {
	return s.f.watch(ctx, "volumes")
}
func (s volumeSource) Ping(context.Context) error { return s.f.ping() }

func (s volumeSource) List(context.Context) (engine.Listing[*containers.Volume], error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if err := s.f.checkLocked("List volumes"); err != nil {
		return engine.Listing[*containers.Volume]{}, err
	}
	objs := map[string]*containers.Volume{}
	for _, v := range s.f.volumes {
		o := &containers.Volume{Status: containers.VolumeStatus{Name: v.Name, Namespace: containers.MobyNamespace,
			Driver: "local", Labels: maps.Clone(v.Labels)}}
		o.Name = engine.VolumeName(v.Name)
		o.UID = engine.UID("volume\x00" + o.Name)
		objs[o.Name] = o
	}
	return engine.ListingOf(objs, (*containers.Volume).DeepCopy), nil
}

func (s volumeSource) Get(ctx context.Context, key string) (engine.Desired[*containers.Volume], bool, error) {
	l, err := s.List(ctx)
	if err != nil {
		return nil, false, err
	}
	return l.Get(ctx, key)
}
