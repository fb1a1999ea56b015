// Package docker is the Docker engine behind pkg/engine: one Docker client per
// server, and on it the mirror sources (containers; images and volumes),
// container control, log streams, exec, stats samples and, in the requests subpackage, the request
// objects' operations. It is the only package that imports the Docker SDK;
// everything it returns is engine-neutral, and its errors are *engine.Error
// (see errors.go).
//
// Files by job:
//
//	engine.go        New: the client and the engine.Engine made of the parts
//	errors.go        Docker errors to engine error kinds, in one place
//	containers.go    the container source; convert.go its Docker-to-API conversion
//	images.go        the image and volume sources
//	control.go       actions and removals
//	logs.go          log streams; logwindow.go windowed tails, logfollow.go untilTime
//	exec.go          commands in containers (the exec subresource)
//	stats.go         one-shot resource samples (containerstats)
//	blockconn*.go    the blocking unix-socket connections logs are read over
//	requests/        the request objects' operations
package docker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/docker/docker/client"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine/docker/requests"
)

// DefaultHost is Docker's own default endpoint.
const DefaultHost = "unix:///var/run/docker.sock"

const (
	callTimeout = 30 * time.Second // Ping, Info, one inspect
	listTimeout = time.Minute      // a listing

	// readBufferSize is the buffer between a Docker connection and its
	// reader. Docker flushes every log message as its own HTTP chunk; a
	// reader that fell behind takes all the waiting chunks in one system call
	// (net/http's default is 4 KiB).
	readBufferSize = 64 << 10
)

// New returns the Docker engine at host (already resolved: the server's
// options default it once). No connection is made yet.
func New(host string) (*engine.Engine, error) {
	if host == "" {
		return nil, errors.New("docker: no host given")
	}
	cli, err := NewClient(host)
	if err != nil {
		return nil, fmt.Errorf("docker host %q: %w", host, err)
	}
	statsCli, err := newStatsClient(host)
	if err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("docker host %q: %w", host, err)
	}
	d := &dockerEngine{host: host, cli: cli}
	return &engine.Engine{
		Name:       "docker engine at " + host,
		Kind:       "docker",
		Containers: &containerSource{d},
		Images:     newImageSource(d),
		Volumes:    &volumeSource{d},
		Control:    &control{d},
		Requests:   requests.New(cli, d.errorOf),
		Logs:       &Logs{d: d},
		Exec:       &Exec{d: d},
		Stats:      &Stats{d: d, cli: statsCli},
		Close:      func() error { return errors.Join(cli.Close(), statsCli.Close()) },
	}, nil
}

// dockerEngine is what the parts share: the host and its one client.
type dockerEngine struct {
	host string
	cli  *client.Client // safe for concurrent use
}

// NewClient returns a client of the Docker API at host, the API version
// negotiated (Docker 20.10 / API 1.41 and newer). For a unix socket it reads
// and writes with blocking system calls outside Go's network poller
// (blockingConn), one connection per request; other hosts keep net/http's
// connections.
func NewClient(host string) (*client.Client, error) {
	return client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation(),
		withReadBufferSize(readBufferSize), withBlockingConns(host))
}

// maxStatsConns bounds the idle connections the stats client keeps: one per
// container sampled at once (Docker 20.10 answers them together, at its
// collector's tick); more are opened and closed as needed.
const maxStatsConns = 64

// newStatsClient is the client of the stats samples: net/http's own
// connections, kept alive and read through Go's network poller. The main
// client's blocking one-connection-per-request reads suit log streams; a
// stats call, which Docker 20.10 answers only at its next once-a-second tick,
// would hold an OS thread and a fresh connection each, 25 times a second
// for 50 containers.
func newStatsClient(host string) (*client.Client, error) {
	return client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation(),
		func(c *client.Client) error {
			if tr, ok := c.HTTPClient().Transport.(*http.Transport); ok {
				tr.MaxIdleConns, tr.MaxIdleConnsPerHost = maxStatsConns, maxStatsConns
			}
			return nil
		})
}

// withReadBufferSize sets the read buffer of the client's connections. Options
// run before the client wraps its transport, so HTTPClient still returns the
// *http.Transport (shared, not copied) here.
func withReadBufferSize(size int) client.Opt {
	return func(c *client.Client) error {
		if tr, ok := c.HTTPClient().Transport.(*http.Transport); ok {
			tr.ReadBufferSize = size
		}
		return nil
	}
}

// withBlockingConns makes the client dial a unix socket host with
// blockingConn, one connection per request: a connection carries the
// ReadHooks of the request that dialed it, so none is reused (a unix socket
// connects in microseconds). Other hosts keep net/http's connections.
func withBlockingConns(host string) client.Opt {
	return func(c *client.Client) error {
		dial := blockingDialer(host)
		if dial == nil {
			return nil
		}
		if err := client.WithDialContext(dial)(c); err != nil {
			return err
		}
		if tr, ok := c.HTTPClient().Transport.(*http.Transport); ok {
			tr.DisableKeepAlives = true
		}
		return nil
	}
}

// ping asks Docker whether it answers; an engine that does not is Unavailable.
func (d *dockerEngine) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := d.cli.Ping(ctx)
	return d.errorOf(err)
}

// checkpoint pings Docker and returns the daemon's current time, from which
// events are replayed.
func (d *dockerEngine) checkpoint(ctx context.Context) (time.Time, error) {
	if err := d.ping(ctx); err != nil {
		return time.Time{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	info, err := d.cli.Info(ctx)
	if err != nil {
		return time.Time{}, d.errorOf(err)
	}
	t, err := time.Parse(time.RFC3339Nano, info.SystemTime)
	if err != nil {
		// An old or odd daemon: our clock, with a wide margin.
		return time.Now().Add(-2 * time.Minute), nil
	}
	return t, nil
}
