//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// server is a second containers-apiserver process, delegated like the main one.
type server struct {
	url, port string
	log       string
	exited    chan error
}

// startServer runs the built server on a free port against dockerHost; it
// is stopped (SIGTERM, then SIGKILL) when the test ends.
func (e *Env) startServer(t *testing.T, port, dockerHost string) *server {
	t.Helper()
	dir := t.TempDir()
	s := &server{url: "https://127.0.0.1:" + port, port: port, log: filepath.Join(dir, "server.log"), exited: make(chan error, 1)}
	logFile, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, e.ServerBin, "--secure-port", port, "--bind-address", "127.0.0.1",
		"--cert-dir", filepath.Join(dir, "certs"), "--docker-host", dockerHost, "--namespace", e.Namespace,
		"--authentication-kubeconfig", e.ServerKubeconfig, "--authorization-kubeconfig", e.ServerKubeconfig,
		"--kubeconfig", e.ServerKubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Killed with the test binary, even when it dies without running cleanups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second // then SIGKILL
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		exit := <-s.exited  // "signal: interrupt" is the normal end here
		_ = logFile.Close() // only the server wrote to it, through its own descriptor
		if t.Failed() {
			b, _ := os.ReadFile(s.log)
			t.Logf("server on %s (exit: %v), log tail:\n%s", port, exit, tail(string(b), 3000))
		}
	})
	return s
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// readyz asks the server itself (not through kube-apiserver); code 0 when
// nothing listens.
func (s *server) readyz() (int, string) {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // probe of our own test server
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(s.url + "/readyz?verbose")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// dockerProxy forwards a unix socket to the real Docker engine, so a path
// that did not answer starts answering.
func dockerProxy(t *testing.T, path, target string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	network, addr := "unix", u.Path
	if u.Scheme == "tcp" {
		network, addr = "tcp", u.Host
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	track := func(c net.Conn, add bool) {
		mu.Lock()
		defer mu.Unlock()
		if add {
			conns[c] = true
		} else {
			delete(conns, c)
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				d, err := net.Dial(network, addr)
				if err != nil {
					return
				}
				defer d.Close()
				track(c, true)
				track(d, true)
				defer track(c, false)
				defer track(d, false)
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(d, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, d); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// TestReadiness: the APIService is Available only when the server is ready.
// The APIService is pointed at a port where nothing listens yet (not
// Available: readiness is not announced before the server listens), then a
// server starts there whose Docker host does not answer (listening, but not
// ready: still not Available), then its Docker host starts answering (ready:
// Available). The APIService is pointed back at the main server afterwards.
func TestReadiness(t *testing.T) {
	e := Get(t)
	port := freePort(t)
	t.Cleanup(func() {
		e.SetAPIServicePort(t, e.ServerPort)
		e.WaitAvailable(t, "True", 90*time.Second)
	})

	// 1. Nothing listens on the port.
	e.SetAPIServicePort(t, port)
	var c APIServiceCondition
	Eventually(t, 60*time.Second, func() (bool, string) {
		c = e.Available(t)
		return c.Status == "False" && strings.Contains(c.Message, ":"+port+"/"),
			fmt.Sprintf("Available=%s %s: %s", c.Status, c.Reason, c.Message)
	})
	t.Logf("nothing listening: Available=%s reason=%s message=%q", c.Status, c.Reason, c.Message)

	// 2. The server listens, but its Docker host does not answer.
	sock := filepath.Join(t.TempDir(), "docker.sock")
	s := e.startServer(t, port, "unix://"+sock)
	Eventually(t, 90*time.Second, func() (bool, string) {
		select {
		case err := <-s.exited:
			s.exited <- err
			return false, fmt.Sprintf("server exited: %v", err)
		default:
		}
		code, body := s.readyz()
		return code != 0, fmt.Sprintf("server /readyz: %d %s", code, trim(body))
	})
	code, body := s.readyz()
	if code == http.StatusOK {
		t.Fatalf("server ready although its Docker host does not answer: %s", body)
	}
	t.Logf("server listening, Docker not answering: /readyz %d\n%s", code, body)
	// Wait for the aggregator to have checked the listening server as
	// system:kube-aggregator (front-proxy certificate, system:masters), and
	// make sure it did not call it Available. A 403 is not such a check: in
	// its first moments the server has not yet loaded the front-proxy CA from
	// the extension-apiserver-authentication ConfigMap and takes the
	// aggregator for system:anonymous. The aggregator re-checks a failing
	// APIService with a backoff capped at 30 s, and every 30 s anyway.
	Eventually(t, 90*time.Second, func() (bool, string) {
		c = e.Available(t)
		if c.Status == "True" {
			rc, rb := s.readyz()
			t.Fatalf("APIService Available (%s: %s) while the server is not ready (/readyz %d %s): "+
				"the server answers the aggregator's discovery check (GET %s) with 2xx before it is ready",
				c.Reason, c.Message, rc, trim(rb), GroupVersionPath)
		}
		return c.Status == "False" && !strings.Contains(c.Message, "connection refused") && !strings.HasSuffix(c.Message, ": 403"),
			fmt.Sprintf("Available=%s %s: %s", c.Status, c.Reason, c.Message)
	})
	t.Logf("listening, not ready: Available=%s reason=%s message=%q", c.Status, c.Reason, c.Message)
	if code, _ := s.readyz(); code == http.StatusOK {
		t.Fatal("server became ready without Docker")
	}

	// 3. Docker answers: the server gets ready, the APIService Available.
	dockerProxy(t, sock, e.DockerHost)
	Eventually(t, 90*time.Second, func() (bool, string) {
		code, body := s.readyz()
		return code == http.StatusOK, fmt.Sprintf("server /readyz: %d %s", code, trim(body))
	})
	c = e.WaitAvailable(t, "True", 90*time.Second)
	t.Logf("ready: Available=%s reason=%s message=%q", c.Status, c.Reason, c.Message)
	if code, body := e.Do(t, Admin, http.MethodGet, GroupVersionPath+"/namespaces/"+e.Namespace+"/containers", nil); code != http.StatusOK {
		t.Errorf("list through kube-apiserver via the second server: %d %s", code, trim(body))
	}
}
