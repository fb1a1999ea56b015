package fake

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// --- control ---

type control struct{ f *Engine }

func (c control) Act(_ context.Context, id, action string) error {
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked("Act"); err != nil {
		return err
	}
	ct, ok := f.containers[id]
	if !ok {
		return engine.Errorf(engine.NotFound, "no such container: %s", id)
	}
	f.actions = append(f.actions, action+" "+id)
	switch action {
	case containers.ActionStart, containers.ActionRestart, containers.ActionUnpause:
		ct.Status = "running"
	case containers.ActionStop:
		ct.Status = "exited"
	case containers.ActionPause:
		if ct.Status != "running" && ct.Status != "paused" {
			return engine.Errorf(engine.Conflict, "container %s is not running", id)
		}
		ct.Status = "paused"
	default:
		return engine.Errorf(engine.InvalidArgument, "unknown action %q", action)
	}
	f.emitLocked("containers", engine.Change{Key: id, Action: action})
	return nil
}

func (c control) RemoveContainer(_ context.Context, id string) error {
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked("RemoveContainer"); err != nil {
		return err
	}
	if _, ok := f.containers[id]; !ok {
		return engine.Errorf(engine.NotFound, "no such container: %s", id)
	}
	delete(f.containers, id)
	f.emitLocked("containers", engine.Change{Key: id, Action: "destroy"})
	return nil
}

func (c control) RemoveImage(_ context.Context, id, repoTag string) error {
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked("RemoveImage"); err != nil {
		return err
	}
	img, ok := f.images[id]
	if !ok {
		return engine.Errorf(engine.NotFound, "no such image: %s", id)
	}
	for _, ct := range f.containers {
		if ct.Image == id {
			return engine.Errorf(engine.Conflict, "image %s is used by container %s", engine.ShortID(id), engine.ShortID(ct.ID))
		}
	}
	if repoTag != "" {
		img.Tags = slices.DeleteFunc(img.Tags, func(t string) bool { return t == repoTag })
	}
	if repoTag == "" || len(img.Tags) == 0 {
		delete(f.images, id)
	}
	f.emitLocked("images", engine.Change{All: true, Action: "delete"})
	return nil
}

func (c control) RemoveVolume(_ context.Context, name string) error {
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked("RemoveVolume"); err != nil {
		return err
	}
	if _, ok := f.volumes[name]; !ok {
		return engine.Errorf(engine.NotFound, "no such volume: %s", name)
	}
	delete(f.volumes, name)
	f.emitLocked("volumes", engine.Change{All: true, Action: "destroy"})
	return nil
}

// --- requests ---

type requests struct{ f *Engine }

func (r requests) CreateContainer(_ context.Context, spec *containers.ContainerCreateRequestSpec) (string, error) {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked("CreateContainer"); err != nil {
		return "", err
	}
	if _, ok := f.images[spec.Image]; !ok && !f.hasTagLocked(spec.Image) {
		return "", engine.Errorf(engine.NotFound, "No such image: %s", spec.Image)
	}
	for _, ct := range f.containers {
		if spec.Name != "" && ct.Name == spec.Name {
			return "", engine.Errorf(engine.Conflict, "the container name %q is already in use", spec.Name)
		}
	}
	id := fmt.Sprintf("%064x", len(f.containers)+1)
	for f.containers[id] != nil {
		id = "f" + id[1:]
	}
	f.containers[id] = &Container{ID: id, Name: spec.Name, Image: spec.Image, Status: "created"}
	f.emitLocked("containers", engine.Change{Key: id, Action: "create"})
	return id, nil
}

func (f *Engine) hasTagLocked(ref string) bool {
	for _, img := range f.images {
		if slices.Contains(img.Tags, ref) {
			return true
		}
	}
	return false
}

func (r requests) StartContainer(ctx context.Context, id string) error {
	return control(r).Act(ctx, id, containers.ActionStart)
}

func (r requests) PullImage(_ context.Context, repoTag string, progress func(*containers.TransferProgress)) (engine.TransferResult, error) {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked("PullImage"); err != nil {
		return engine.TransferResult{}, err
	}
	p := &containers.TransferProgress{Layers: 1, LayersDone: 1, Message: "Pull complete"}
	if progress != nil {
		progress(p)
	}
	id := "sha256:" + fmt.Sprintf("%064x", len(f.images)+1)
	f.images[id] = &Image{ID: id, Tags: []string{repoTag}}
	f.emitLocked("images", engine.Change{All: true, Action: "pull"})
	return engine.TransferResult{ImageID: id, Summary: "pulled " + repoTag, Progress: p}, nil
}

func (r requests) PushImage(_ context.Context, imageRef string, _ func(*containers.TransferProgress)) (engine.TransferResult, error) {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked("PushImage"); err != nil {
		return engine.TransferResult{}, err
	}
	for _, img := range f.images {
		for _, t := range img.Tags {
			if engine.ImageName(img.ID, t) == imageRef {
				return engine.TransferResult{Digest: "sha256:" + strings.Repeat("d", 64), Summary: "pushed " + t}, nil
			}
		}
		if engine.ImageName(img.ID, "") == imageRef {
			return engine.TransferResult{}, &engine.Error{Kind: engine.InvalidArgument, Reason: "NotTagged",
				Message: "image " + img.ID + " has no tag to push"}
		}
	}
	return engine.TransferResult{}, engine.Errorf(engine.NotFound, "no image tag is named %s", imageRef)
}

func (r requests) CreateVolume(_ context.Context, spec *containers.VolumeCreateRequestSpec) (string, error) {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked("CreateVolume"); err != nil {
		return "", err
	}
	name := spec.Name
	if name == "" {
		name = fmt.Sprintf("%064x", len(f.volumes)+1)
	}
	if _, ok := f.volumes[name]; ok {
		return "", engine.Errorf(engine.Conflict, "volume %s exists", name)
	}
	f.volumes[name] = &Volume{Name: name, Labels: spec.Labels}
	f.emitLocked("volumes", engine.Change{All: true, Action: "create"})
	return name, nil
}

// --- logs ---

type logs struct{ f *Engine }

func (l logs) OpenLogs(_ context.Context, id string, _ *containers.ContainerLogOptions) (engine.LogStream, error) {
	f := l.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked("OpenLogs"); err != nil {
		return nil, err
	}
	c, ok := f.containers[id]
	if !ok {
		return nil, engine.Errorf(engine.NotFound, "no such container: %s", id)
	}
	return &logStream{data: slices.Clone(c.Stdout)}, nil
}

// logStream replays a container's whole log once (options are ignored).
type logStream struct{ data []byte }

func (s *logStream) Copy(_ context.Context, stdout, _ io.Writer) error {
	_, err := stdout.Write(s.data)
	return err
}

func (s *logStream) Close() error { return nil }

// --- not implemented ---

type notImplemented struct{}

func (notImplemented) Sample(context.Context, string) (engine.StatsSample, error) {
	return engine.StatsSample{}, engine.Errorf(engine.NotImplemented, "the fake engine has no stats")
}
