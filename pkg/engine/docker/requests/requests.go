// Package requests carries out the request objects' operations against
// Docker: create and start a container, pull and push an image, create a
// volume. It reports progress and outcomes in engine-neutral terms; the
// controller in pkg/controller/requests records them in the objects.
package requests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// emptyRegistryAuth is base64url("{}"): no credentials. The 20.10 daemon
// refuses a push without the X-Registry-Auth header.
const emptyRegistryAuth = "e30="

// noneTag is Docker's placeholder for an image without a tag.
const noneTag = "<none>:<none>"

// Requests implements engine.Requests on a Docker client.
type Requests struct {
	cli     *client.Client // safe for concurrent use; owned by the engine
	errorOf func(error) error
}

var _ engine.Requests = (*Requests)(nil)

// New returns the operations on cli; errorOf classifies Docker's errors.
func New(cli *client.Client, errorOf func(error) error) *Requests {
	return &Requests{cli: cli, errorOf: errorOf}
}

// CreateContainer creates the container the spec describes (not started).
func (r *Requests) CreateContainer(ctx context.Context, spec *containers.ContainerCreateRequestSpec) (string, error) {
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
		return "", r.errorOf(err)
	}
	return resp.ID, nil
}

// StartContainer starts a created container.
func (r *Requests) StartContainer(ctx context.Context, id string) error {
	return r.errorOf(r.cli.ContainerStart(ctx, id, container.StartOptions{}))
}

// PullImage pulls repoTag (a reference without a tag means ":latest") and
// returns the image's ID.
func (r *Requests) PullImage(ctx context.Context, repoTag string, progress func(*containers.TransferProgress)) (engine.TransferResult, error) {
	named, err := reference.ParseNormalizedNamed(repoTag)
	if err != nil {
		return engine.TransferResult{}, engine.Wrap(engine.InvalidArgument, err)
	}
	// What Docker pulls: a reference without a tag means ":latest".
	ref := reference.FamiliarString(reference.TagNameOnly(named))
	body, err := r.cli.ImagePull(ctx, ref, image.PullOptions{})
	_, res, err := r.follow(body, err, progress)
	if err != nil {
		return res, err
	}
	insp, err := r.cli.ImageInspect(ctx, ref)
	if err != nil {
		return res, r.errorOf(err)
	}
	res.ImageID = insp.ID
	if res.Summary == "" {
		res.Summary = "pulled " + ref
	}
	return res, nil
}

// PushImage pushes the tag that the Image object imageRef names. It asks
// Docker which tag that is, rather than the mirror, so a tag made a moment
// ago counts.
func (r *Requests) PushImage(ctx context.Context, imageRef string, progress func(*containers.TransferProgress)) (engine.TransferResult, error) {
	tag, err := r.resolveImageRef(ctx, imageRef)
	if err != nil {
		return engine.TransferResult{}, err
	}
	body, err := r.cli.ImagePush(ctx, tag, image.PushOptions{RegistryAuth: emptyRegistryAuth})
	tr, res, err := r.follow(body, err, progress)
	if err != nil {
		return res, err
	}
	if tr.digest == "" {
		return res, fmt.Errorf("docker reported no digest for the push of %s", tag)
	}
	res.Digest = tr.digest
	res.Summary = "pushed " + tag + " as " + tr.digest
	return res, nil
}

// resolveImageRef finds the tag an Image object name stands for.
func (r *Requests) resolveImageRef(ctx context.Context, imageRef string) (string, error) {
	imgs, err := r.cli.ImageList(ctx, image.ListOptions{All: true})
	if err != nil {
		return "", r.errorOf(err)
	}
	for _, img := range imgs {
		for _, t := range img.RepoTags {
			if t != noneTag && engine.ImageName(img.ID, t) == imageRef {
				return t, nil
			}
		}
	}
	for _, img := range imgs {
		if engine.ImageName(img.ID, "") == imageRef {
			return "", &engine.Error{Kind: engine.InvalidArgument, Reason: "NotTagged",
				Message: fmt.Sprintf("image %s has no tag to push; tag it with the registry's name first, e.g. docker tag %s 127.0.0.1:5000/NAME:TAG",
					img.ID, engine.ShortID(img.ID))}
		}
	}
	return "", engine.Errorf(engine.NotFound, "no image tag is named %s (see kubectl get images)", imageRef)
}

// CreateVolume creates the volume (driver local when none is given).
func (r *Requests) CreateVolume(ctx context.Context, spec *containers.VolumeCreateRequestSpec) (string, error) {
	driver := spec.Driver
	if driver == "" {
		driver = "local"
	}
	v, err := r.cli.VolumeCreate(ctx, volume.CreateOptions{Name: spec.Name, Driver: driver, Labels: spec.Labels})
	if err != nil {
		return "", r.errorOf(err)
	}
	return v.Name, nil
}

// transfer reads a pull's or push's stream to its end, calling progress
// (when set) after every message that changed it. It returns the tracker and
// the stream's error, if any.
// follow reads to its end the progress stream that a pull or push call
// answered (body, err): the tracker, the result so far, and the call's or
// the stream's error.
func (r *Requests) follow(body io.ReadCloser, err error, progress func(*containers.TransferProgress)) (*transferTracker, engine.TransferResult, error) {
	if err != nil {
		return nil, engine.TransferResult{}, r.errorOf(err)
	}
	tr, err := transfer(body, progress)
	return tr, engine.TransferResult{Summary: tr.summary, Progress: tr.progress(time.Now())}, err
}

func transfer(body io.ReadCloser, progress func(*containers.TransferProgress)) (*transferTracker, error) {
	defer body.Close()
	tr := newTransferTracker()
	dec := json.NewDecoder(body)
	var streamErr error
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
		if tr.add(&m) && progress != nil {
			progress(tr.progress(time.Now()))
		}
	}
	return tr, streamErr
}
