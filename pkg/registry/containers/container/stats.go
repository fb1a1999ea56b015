package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/controller/stats"
	"github.com/rancher-sandbox/containers-apiserver/pkg/stream"
)

// statsBatch is the most samples written per read of the ring: a request's
// buffer holds at most this many lines (about 400 bytes each).
const statsBatch = 64

// maxSinceSeconds is where a sinceSeconds reaches past anything kept (and
// past what a time.Duration holds): larger ones mean every sample.
const maxSinceSeconds = 100 * 365 * 24 * 3600

// StatsREST serves containers/stats: the samples the collector keeps of a
// running container, as newline-delimited JSON (one v1alpha1
// ContainerStatsStatus per line, oldest first), and with follow=true each
// new one as it is taken.
type StatsREST struct {
	// Store finds the Container mirror, so unknown names get a 404.
	Store *genericregistry.Store
	// Collector holds the samples; nil when collection is off.
	Collector *stats.Collector
	// Stream tunes the transports; its ContentType is set here.
	Stream stream.Options
}

var (
	_ rest.Connecter       = &StatsREST{}
	_ rest.StorageMetadata = &StatsREST{}
)

func (r *StatsREST) New() runtime.Object { return &containers.Container{} }

func (r *StatsREST) Destroy() {}

func (r *StatsREST) ConnectMethods() []string { return []string{http.MethodGet} }

func (r *StatsREST) ProducesMIMETypes(string) []string { return []string{"application/x-ndjson"} }

func (r *StatsREST) ProducesObject(string) interface{} { return v1alpha1.ContainerStatsStatus{} }

func (r *StatsREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &containers.ContainerStatsOptions{}, false, ""
}

// Connect checks the container and the options, then returns the handler
// that writes the history (and follows it).
func (r *StatsREST) Connect(ctx context.Context, name string, options runtime.Object, responder rest.Responder) (http.Handler, error) {
	opts, ok := options.(*containers.ContainerStatsOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options object %T", options))
	}
	var optsErr error
	if opts.SinceSeconds != nil && *opts.SinceSeconds < 1 {
		optsErr = apierrors.NewBadRequest(fmt.Sprintf("sinceSeconds must be 1 or more, got %d", *opts.SinceSeconds))
	}
	if err := findContainer(ctx, r.Store, name, optsErr); err != nil {
		return nil, err
	}
	if r.Collector == nil {
		return nil, notFound(name, "the server collects no stats (--stats-interval=0)")
	}
	series, ok := r.Collector.Series(name)
	if !ok {
		return nil, notFound(name, "the container is not running (stats are kept while it runs)")
	}
	var since time.Time // zero: every sample kept
	if n := opts.SinceSeconds; n != nil && *n < maxSinceSeconds {
		since = time.Now().Add(-time.Duration(*n) * time.Second)
	}
	sopts := r.Stream
	sopts.ContentType = "application/x-ndjson"
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		stream.Serve(w, req, sopts, func(ctx context.Context, stdout, _ io.Writer) error {
			return writeSamples(ctx, series, since, opts.Follow, stdout)
		})
	}), nil
}

// writeSamples writes the series' samples taken since `since` as JSON lines,
// a batch per write; with follow it waits for more until the series ends
// (the container stopped) or ctx does.
func writeSamples(ctx context.Context, series *stats.Series, since time.Time, follow bool, out io.Writer) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	after := uint64(0)
	for {
		batch, next, changed, ended := series.Read(after, since, statsBatch)
		after = next
		buf.Reset()
		for i := range batch {
			var v v1alpha1.ContainerStatsStatus
			if err := v1alpha1.Convert_containers_ContainerStatsStatus_To_v1alpha1_ContainerStatsStatus(&batch[i], &v, nil); err != nil {
				return err
			}
			if err := enc.Encode(&v); err != nil { // one line, "\n"-terminated
				return err
			}
		}
		if buf.Len() > 0 {
			if _, err := out.Write(buf.Bytes()); err != nil {
				return err
			}
		}
		if len(batch) == statsBatch {
			continue // more kept samples to write
		}
		if !follow || ended {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}
