package docker

import (
	"context"
	"errors"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// errorOf classifies a Docker client error as an engine error: the one place
// where Docker's errors get their engine-neutral kind (and, in the registry,
// their API status). The message is Docker's own words; a connection failure
// names the host.
func (d *dockerEngine) errorOf(err error) error {
	var ee *engine.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return err // already classified
	case client.IsErrConnectionFailed(err), cerrdefs.IsUnavailable(err):
		return &engine.Error{Kind: engine.Unavailable, Message: "docker engine at " + d.host + " not reachable: " + err.Error(), Err: err}
	case errors.Is(err, context.DeadlineExceeded), cerrdefs.IsDeadlineExceeded(err):
		return &engine.Error{Kind: engine.Deadline, Message: "docker did not answer in time: " + err.Error(), Err: err}
	case errors.Is(err, context.Canceled):
		return err
	}
	kind := engine.Unknown
	switch {
	case cerrdefs.IsNotFound(err):
		kind = engine.NotFound
	case cerrdefs.IsConflict(err):
		kind = engine.Conflict
	case cerrdefs.IsInvalidArgument(err):
		kind = engine.InvalidArgument
	case cerrdefs.IsNotImplemented(err):
		kind = engine.NotImplemented
	}
	return &engine.Error{Kind: kind, Message: err.Error(), Err: err}
}

// dockerMessage strips the client's "Error response from daemon: " prefix.
func dockerMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "Error response from daemon: ")
}
