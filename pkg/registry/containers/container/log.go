package container

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/pkg/logmerge"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
	"github.com/rancher-sandbox/containers-apiserver/pkg/stream"
)

// LogREST serves containers/log and containers/logs: a Connecter, so one
// handler serves both chunked HTTP and WebSocket upgrades.
type LogREST struct {
	registry.LogSubresource
	// Store finds the Container mirror, so unknown names get a 404 before the engine is asked.
	Store *genericregistry.Store
	// Ready is nil while the engine is connected; a log request gets 503 otherwise.
	Ready func() error
	// Source opens the engine's logs.
	Source engine.Logs
	// Stream tunes the transports (keep-alive, limits).
	Stream stream.Options
}

var (
	_ rest.Connecter       = &LogREST{}
	_ rest.StorageMetadata = &LogREST{}
)

// New returns the kind the subresource belongs to, as pods/log does.
func (r *LogREST) New() runtime.Object { return &containers.Container{} }

func (r *LogREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &containers.ContainerLogOptions{}, false, ""
}

// Connect checks everything that can be checked before a byte is sent, then
// returns the handler that opens the engine's stream and serves it.
func (r *LogREST) Connect(ctx context.Context, name string, options runtime.Object, responder rest.Responder) (http.Handler, error) {
	opts, ok := options.(*containers.ContainerLogOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options object %T", options))
	}
	if err := findContainer(ctx, r.Store, name, ValidateLogOptions(opts)); err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// The engine stream lives until the transport is done with it, not
		// until this request's context (a WebSocket outlives it).
		if err := registry.NotConnected(r.Ready); err != nil {
			responder.Error(err)
			return
		}
		resource := containers.Resource("containers")
		logs, err := r.Source.OpenLogs(context.WithoutCancel(req.Context()), name, opts)
		if err != nil {
			responder.Error(registry.StatusError(err, resource, name))
			return
		}
		defer func() { _ = logs.Close() }() // a read-only stream: nothing to lose on close
		stream.Serve(w, req, r.Stream, func(ctx context.Context, stdout, stderr io.Writer) error {
			// Closing the engine stream is what interrupts a blocked read.
			stop := context.AfterFunc(ctx, func() { _ = logs.Close() })
			defer stop()
			if rn, ok := logs.(engine.RunNotifier); ok && opts.FollowRestarts {
				rn.OnRunChange(func(c engine.RunChange) error { return logmerge.WriteRunChange(stdout, c, opts.Timestamps) })
			}
			return registry.StatusError(logs.Copy(ctx, stdout, stderr), resource, name)
		})
	}), nil
}

// findContainer is a subresource's first check: the name must be a container
// ID, the options valid (optsErr), and the Container mirrored; in that order,
// so that a person learns first what they can fix.
func findContainer(ctx context.Context, store *genericregistry.Store, name string, optsErr error) error {
	if !engine.IsContainerID(name) {
		return notFound(name, "names of containers are full 64-character lowercase hex container IDs")
	}
	if optsErr != nil {
		return optsErr
	}
	if _, err := store.Get(ctx, name, &metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return notFound(name, "no such container")
		}
		return err
	}
	return nil
}

// notFound is a 404 that tells a person how to find a container by name.
func notFound(name, why string) error {
	err := apierrors.NewNotFound(containers.Resource("containers"), name)
	err.ErrStatus.Message = fmt.Sprintf("container %q not found: %s; to find one by its Docker name use "+
		"`kubectl get containers.containers.rancherdesktop.io --field-selector status.name=NAME`", name, why)
	return err
}

// ValidateLogOptions rejects option combinations before anything is streamed.
func ValidateLogOptions(o *containers.ContainerLogOptions) error {
	var problems []string
	if o.TailLines != nil && *o.TailLines < 0 {
		problems = append(problems, fmt.Sprintf("tailLines must be 0 or more, got %d", *o.TailLines))
	}
	if o.SinceSeconds != nil && o.SinceTime != nil {
		problems = append(problems, "give at most one of sinceSeconds and sinceTime")
	}
	if o.SinceSeconds != nil && *o.SinceSeconds < 1 {
		problems = append(problems, fmt.Sprintf("sinceSeconds must be 1 or more, got %d", *o.SinceSeconds))
	}
	if o.LimitBytes != nil && *o.LimitBytes < 1 {
		problems = append(problems, fmt.Sprintf("limitBytes must be 1 or more, got %d", *o.LimitBytes))
	}
	if o.SinceTime != nil && o.UntilTime != nil && !o.UntilTime.After(o.SinceTime.Time) {
		problems = append(problems, "untilTime must be after sinceTime")
	}
	if o.FollowRestarts && !o.Follow {
		problems = append(problems, "followRestarts needs follow=true")
	}
	if o.FollowRestarts && o.UntilTime != nil {
		problems = append(problems, "followRestarts follows without end and cannot be combined with untilTime")
	}
	switch o.Stream {
	case "", containers.LogStreamAll, containers.LogStreamStdout, containers.LogStreamStderr:
	default:
		problems = append(problems, fmt.Sprintf("stream must be All, Stdout or Stderr, got %q", o.Stream))
	}
	if len(problems) > 0 {
		return apierrors.NewBadRequest("invalid log options: " + strings.Join(problems, "; "))
	}
	return nil
}
