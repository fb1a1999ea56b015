package testenv

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rancher-sandbox/containers-apiserver/pkg/cmd/server"
	"github.com/rancher-sandbox/containers-apiserver/pkg/generated/clientset/versioned"
)

// Server is a standalone containers-apiserver running inside the test process.
type Server struct {
	// Dir holds the certificates, token and kubeconfig.
	Dir        string
	Kubeconfig string
	URL        string
	Token      string
	Config     *rest.Config
	Client     versioned.Interface
	Namespace  string

	cancel context.CancelFunc
	done   chan error
}

// ServerOptions adjust a test server.
type ServerOptions struct {
	// Dir reuses a state directory (certificates, token) across restarts.
	Dir string
	// Namespace defaults to a name unique to the test, so tests sharing one
	// Docker engine do not share mirrors' namespaces.
	Namespace string
	// Mutate, if set, changes the options before the server starts.
	Mutate func(*server.Options)
}

// StartServer runs a standalone server against dockerHost and waits until it
// is ready. It stops when the test ends.
func StartServer(t testing.TB, dockerHost string, so ServerOptions) *Server {
	t.Helper()
	if so.Dir == "" {
		so.Dir = t.TempDir()
	}
	if so.Namespace == "" {
		so.Namespace = "rancher-desktop"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port

	o := server.NewOptions()
	o.Standalone = true
	o.DockerHost = dockerHost
	o.Namespace = so.Namespace
	o.TokenFile = filepath.Join(so.Dir, "token")
	o.WriteKubeconfig = filepath.Join(so.Dir, "kubeconfig")
	o.RecommendedOptions.SecureServing.ServerCert.CertDirectory = filepath.Join(so.Dir, "certs")
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	// After Complete, which applies the standalone port default.
	o.RecommendedOptions.SecureServing.Listener = ln
	o.RecommendedOptions.SecureServing.BindPort = port
	if so.Mutate != nil {
		so.Mutate(o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(o.WriteKubeconfig)

	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		Dir:        so.Dir,
		Kubeconfig: o.WriteKubeconfig,
		URL:        "https://127.0.0.1:" + strconv.Itoa(port),
		Namespace:  so.Namespace,
		cancel:     cancel,
		done:       make(chan error, 1),
	}
	go func() { s.done <- server.Run(ctx, o) }()
	t.Cleanup(s.Stop)

	if err := s.waitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(o.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	s.Token = string(bytesTrimSpace(token))
	s.Config, err = clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	s.Client = versioned.NewForConfigOrDie(s.Config)
	return s
}

// waitReady waits for the kubeconfig and for /readyz to answer 200.
func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // only a probe of our own test server
	}}
	defer hc.CloseIdleConnections()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-s.done:
			s.done <- err
			return errors.Join(errors.New("server exited before it was ready"), err)
		case <-tick.C:
		}
		if _, err := os.Stat(s.Kubeconfig); err == nil {
			if resp, err := hc.Get(s.URL + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return errors.New("server not ready within " + timeout.String())
		}
	}
}

// Stop stops the server and waits until it has shut down.
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	select {
	case err := <-s.done:
		// Run ends with the cancel's error or none: nothing to report.
		_ = err
	case <-time.After(60 * time.Second):
		panic("test server did not stop within 60s")
	}
	s.cancel = nil
}

func bytesTrimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
