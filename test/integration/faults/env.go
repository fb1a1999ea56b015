package faults

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/generated/clientset/versioned"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const (
	// callTimeout bounds one Docker or API call of the suite.
	callTimeout = 30 * time.Second
	// pollEvery is the period of the suite's polls of Docker and the API.
	pollEvery = 25 * time.Millisecond
	// churnLabel marks the containers of the churn loop.
	churnLabel = "io.rancherdesktop.faults.churn"
	// targetLabel marks the containers whose logs are followed.
	targetLabel = "io.rancherdesktop.faults.target"
)

// Endpoint is where a server answers: in-process or a binary.
type Endpoint struct {
	URL, Token, Namespace string
}

// Env is a server mirroring a test-owned dockerd, and clients of both.
type Env struct {
	T       testing.TB
	Dockerd *testenv.Dockerd
	Docker  *client.Client // the test's own client of the daemon
	Server  Endpoint
	Client  versioned.Interface // the server's clientset
	config  *rest.Config
}

// NewEnv wraps an in-process server s that mirrors d.
func NewEnv(t testing.TB, d *testenv.Dockerd, s *testenv.Server) *Env {
	return &Env{
		T:       t,
		Dockerd: d,
		Docker:  testenv.DockerClient(t, d.Host),
		Server:  Endpoint{URL: s.URL, Token: s.Token, Namespace: s.Namespace},
		Client:  s.Client,
		config:  s.Config,
	}
}

// NewBinaryEnv wraps a server binary b that mirrors d.
func NewBinaryEnv(t testing.TB, d *testenv.Dockerd, b *testenv.Binary) *Env {
	t.Helper()
	kc, err := clientcmd.LoadFromFile(b.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	config, err := clientcmd.NewDefaultClientConfig(*kc, nil).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	kctx, ok := kc.Contexts[kc.CurrentContext]
	if !ok || kctx.Namespace == "" {
		t.Fatalf("kubeconfig %s names no namespace", b.Kubeconfig)
	}
	cs, err := versioned.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{
		T:       t,
		Dockerd: d,
		Docker:  testenv.DockerClient(t, d.Host),
		// The kubeconfig's namespace is the server's (--namespace).
		Server: Endpoint{URL: b.URL, Token: b.Token, Namespace: kctx.Namespace},
		Client: cs,
		config: config,
	}
}

// CloseIdle closes the idle connections of the env's own clients (Docker and
// the clientset), so that the connections left are the ones in use.
func (e *Env) CloseIdle() {
	e.Docker.HTTPClient().CloseIdleConnections()
	if rt, err := rest.TransportFor(e.config); err == nil {
		utilnet.CloseIdleConnectionsFor(rt)
	}
}

// ctr is one container as `docker ps -a` shows it, or as mirrored.
type ctr struct {
	ID, Name, State string
	Churn           bool // carries churnLabel
}

func (c ctr) String() string { return c.ID[:12] + " " + c.Name + " " + c.State }

// dockerPS is `docker ps -a`, through the API.
func (e *Env) dockerPS(ctx context.Context) ([]ctr, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	list, err := e.Docker.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return nil, err
	}
	out := make([]ctr, 0, len(list))
	for _, c := range list {
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out = append(out, ctr{ID: c.ID, Name: name, State: c.State, Churn: c.Labels[churnLabel] == "1"})
	}
	return out, nil
}

// mirrorPS lists the Containers through the server's API.
func (e *Env) mirrorPS(ctx context.Context) ([]ctr, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	list, err := e.Client.ContainersV1alpha1().Containers(e.Server.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]ctr, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, fromContainer(&list.Items[i]))
	}
	return out, nil
}

func fromContainer(c *v1alpha1.Container) ctr {
	return ctr{ID: c.Name, Name: c.Status.Name, State: c.Status.Status, Churn: c.Status.Labels[churnLabel] == "1"}
}

// sameContainers compares two listings by ID, name and state; the error
// shows the difference.
func sameContainers(wantName string, want []ctr, gotName string, got []ctr) error {
	index := func(l []ctr) (map[string]ctr, error) {
		m := make(map[string]ctr, len(l))
		for _, c := range l {
			if _, dup := m[c.ID]; dup {
				return nil, fmt.Errorf("duplicate %s", c.ID)
			}
			m[c.ID] = c
		}
		return m, nil
	}
	w, err := index(want)
	if err != nil {
		return fmt.Errorf("%s: %w", wantName, err)
	}
	g, err := index(got)
	if err != nil {
		return fmt.Errorf("%s: %w", gotName, err)
	}
	var diff []string
	for id, c := range w {
		switch gc, ok := g[id]; {
		case !ok:
			diff = append(diff, fmt.Sprintf("missing from %s: %s", gotName, c))
		case gc.Name != c.Name || gc.State != c.State:
			diff = append(diff, fmt.Sprintf("%s shows %s, %s shows %s", wantName, c, gotName, gc))
		}
	}
	for id, c := range g {
		if _, ok := w[id]; !ok {
			diff = append(diff, fmt.Sprintf("not in %s: %s (%s)", wantName, c, gotName))
		}
	}
	if len(diff) == 0 {
		return nil
	}
	slices.Sort(diff)
	if len(diff) > 10 {
		diff = append(diff[:10], fmt.Sprintf("... %d more", len(diff)-10))
	}
	return errors.New(strings.Join(diff, "; "))
}

// mirrorEqualsDocker compares the mirror with `docker ps -a`, listing Docker
// before and after the mirror: a change in Docker meanwhile is no verdict.
func (e *Env) mirrorEqualsDocker(ctx context.Context) error {
	before, err := e.dockerPS(ctx)
	if err != nil {
		return fmt.Errorf("docker ps -a: %w", err)
	}
	mirror, err := e.mirrorPS(ctx)
	if err != nil {
		return fmt.Errorf("listing the mirror: %w", err)
	}
	after, err := e.dockerPS(ctx)
	if err != nil {
		return fmt.Errorf("docker ps -a: %w", err)
	}
	if err := sameContainers("docker ps -a", before, "docker ps -a a moment later", after); err != nil {
		return fmt.Errorf("docker changed meanwhile: %w", err)
	}
	return sameContainers("docker ps -a", before, "the mirror", mirror)
}

// poll calls check every pollEvery until it returns nil (the time it did) or
// timeout passes (the last error).
func poll(ctx context.Context, timeout time.Duration, check func(context.Context) error) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		err := check(ctx)
		if err == nil {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("still failing after %s: %w", timeout, err)
		case <-tick.C:
		}
	}
}

// waitConverged waits until the mirror equals `docker ps -a` and returns when it did.
func (e *Env) waitConverged(ctx context.Context, timeout time.Duration) (time.Time, error) {
	return poll(ctx, timeout, e.mirrorEqualsDocker)
}

// waitStatsAfter waits until each of ids has a ContainerStats sampled after
// since.
func (e *Env) waitStatsAfter(ctx context.Context, ids []string, since time.Time, timeout time.Duration) error {
	_, err := poll(ctx, timeout, func(ctx context.Context) error {
		l, err := e.Client.ContainersV1alpha1().ContainerStats(e.Server.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		sampled := map[string]time.Time{}
		for _, cs := range l.Items {
			sampled[cs.Name] = cs.Status.Timestamp.Time
		}
		for _, id := range ids {
			if !sampled[id].After(since) {
				return fmt.Errorf("container %s: no sample since %s (last %s)", id[:12], since.Format(time.RFC3339Nano), sampled[id])
			}
		}
		return nil
	})
	return err
}

// waitReady waits until the server's /readyz answers 200 (every mirror connected).
func (e *Env) waitReady(ctx context.Context, timeout time.Duration) error {
	hc := &http.Client{Timeout: callTimeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the test's own server
	defer hc.CloseIdleConnections()
	_, err := poll(ctx, timeout, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.Server.URL+"/readyz", nil)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %d", resp.StatusCode)
		}
		return nil
	})
	return err
}

// waitDockerAnswers pings Docker until it answers and returns when it first did.
func (e *Env) waitDockerAnswers(ctx context.Context, timeout time.Duration) (time.Time, error) {
	return poll(ctx, timeout, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := e.Docker.Ping(ctx)
		return err
	})
}
