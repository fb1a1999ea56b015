package containernamespace

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/pkg/logmerge"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry/containers/container"
	"github.com/rancher-sandbox/containers-apiserver/pkg/stream"
)

// LogREST serves containernamespaces/log: the merged logs of the containers
// that the selectors match (compose style: "name | line").
type LogREST struct {
	registry.LogSubresource
	// Namespaces holds the ContainerNamespaces: an unknown name is a 404.
	Namespaces *genericregistry.Store
	// Containers lists and watches the matched Container mirrors.
	Containers *genericregistry.Store
	// Ready is nil while the engine is connected; a request gets 503 otherwise.
	Ready func() error
	// Source opens each container's log.
	Source engine.Logs
	// Stream tunes the transports (keep-alive, limits).
	Stream stream.Options
	// ConvertField checks (and converts) a field selector's field of
	// containers, as the scheme does for a list: an unknown field is an error.
	ConvertField func(label, value string) (string, string, error)
}

var (
	_ rest.Connecter       = &LogREST{}
	_ rest.StorageMetadata = &LogREST{}
)

func (r *LogREST) New() runtime.Object { return &containers.ContainerNamespace{} }

func (r *LogREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &containers.ContainerNamespaceLogOptions{}, false, ""
}

// Connect checks the options, the selectors and the namespace, and lists the
// matched containers, before a byte is sent.
func (r *LogREST) Connect(ctx context.Context, name string, options runtime.Object, responder rest.Responder) (http.Handler, error) {
	opts, ok := options.(*containers.ContainerNamespaceLogOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options object %T", options))
	}
	if err := container.ValidateLogOptions(opts.LogOptions()); err != nil {
		return nil, err
	}
	sel, err := selectors(opts, r.ConvertField)
	if err != nil {
		return nil, err
	}
	if _, err := r.Namespaces.Get(ctx, name, &metav1.GetOptions{}); err != nil {
		return nil, err
	}
	if err := registry.NotConnected(r.Ready); err != nil {
		return nil, err
	}
	obj, err := r.Containers.List(ctx, sel)
	if err != nil {
		return nil, err
	}
	list, ok := obj.(*containers.ContainerList)
	if !ok {
		return nil, fmt.Errorf("containers list: %T", obj)
	}
	if n := len(list.Items); n > logmerge.MaxContainers {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("%d containers match; a merged log holds at most %d: "+
			"narrow labelSelector or fieldSelector", n, logmerge.MaxContainers))
	}
	cs := make([]logmerge.Container, 0, len(list.Items))
	width := 0
	for i := range list.Items {
		c := toMerged(&list.Items[i])
		width = max(width, len(c.Name))
		cs = append(cs, c)
	}
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		m := &logmerge.Merge{Logs: r.Source, Options: opts, Width: width}
		stream.Serve(w, req, r.Stream, func(sctx context.Context, stdout, stderr io.Writer) error {
			var err error
			if opts.Follow {
				err = r.follow(sctx, ns, m, cs, sel, list.ResourceVersion, stdout, stderr)
			} else {
				err = m.Ordered(sctx, cs, stdout, stderr)
			}
			if logmerge.IsLimit(err) {
				return nil
			}
			return registry.StatusError(err, containers.Resource("containernamespaces"), name)
		})
	}), nil
}

// follow runs a merged follow with the containers' changes from a watch of
// the same selection, from the list's resourceVersion.
func (r *LogREST) follow(ctx context.Context, ns string, m *logmerge.Merge, cs []logmerge.Container,
	sel *metainternalversion.ListOptions, rv string, stdout, stderr io.Writer) error {
	wopts := *sel
	wopts.ResourceVersion = rv
	wopts.Watch = true
	// The handler's context has no namespace (Connect's has): ns is it.
	w, err := r.Containers.Watch(genericapirequest.WithNamespace(ctx, ns), &wopts)
	if err != nil {
		return err
	}
	changes := make(chan logmerge.Change)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { // ends when the watch ends or Follow has returned (stop)
		defer close(done)
		defer close(changes)
		for ev := range w.ResultChan() {
			c, ok := ev.Object.(*containers.Container)
			if !ok {
				continue
			}
			ch := logmerge.Change{Container: toMerged(c), Running: c.Status.Status == "running", Gone: ev.Type == watch.Deleted}
			select {
			case changes <- ch:
			case <-stop:
				return
			}
		}
	}()
	defer func() {
		close(stop)
		w.Stop()
		<-done
	}()
	return m.Follow(ctx, cs, changes, stdout, stderr)
}

func toMerged(c *containers.Container) logmerge.Container {
	name := strings.TrimPrefix(c.Status.Name, "/")
	if name == "" {
		name = c.Name[:min(12, len(c.Name))]
	}
	return logmerge.Container{ID: c.Name, Name: name}
}

// selectors parses the options' selectors into list options: a bad one is a 400.
func selectors(o *containers.ContainerNamespaceLogOptions, convert func(label, value string) (string, string, error)) (*metainternalversion.ListOptions, error) {
	lo := &metainternalversion.ListOptions{}
	var problems []string
	if o.LabelSelector != "" {
		s, err := labels.Parse(o.LabelSelector)
		if err != nil {
			problems = append(problems, "labelSelector: "+err.Error())
		}
		lo.LabelSelector = s
	}
	if o.FieldSelector != "" {
		s, err := fields.ParseSelector(o.FieldSelector)
		if err == nil && convert != nil {
			s, err = s.Transform(convert)
		}
		if err != nil {
			problems = append(problems, "fieldSelector: "+err.Error())
		}
		lo.FieldSelector = s
	}
	if len(problems) > 0 {
		return nil, apierrors.NewBadRequest("invalid selector: " + strings.Join(problems, "; "))
	}
	return lo, nil
}
