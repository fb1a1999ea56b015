// Package testenv starts what the integration tests need: a real Docker
// engine (the one that answers, or the project's dockerd; test-owned daemons
// through hostenv), the offline busybox test image, and containers-apiserver
// itself, in-process or as the built binary.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/docker/docker/client"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv/hostenv"
)

// BusyboxImage is built offline by hack/build-busybox-image.sh.
const BusyboxImage = "containers-apiserver/busybox:test"

// Root is the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var (
	dockerOnce sync.Once
	dockerHost string
	dockerErr  error
)

// DockerHost makes a Docker engine answer (starting the project's private
// dockerd if none does), makes sure the busybox image exists, and returns the
// engine's address: $DOCKER_HOST, the default socket or the project's
// dockerd, whichever answers first (as hack/ensure-docker.sh prefers them).
// It does so once per test binary.
func DockerHost(t testing.TB) string {
	t.Helper()
	dockerOnce.Do(func() {
		ctx := context.Background()
		host, ok := hostenv.FindDocker(ctx, nil)
		if !ok {
			// Nothing answers: the script installs Docker with apt if need
			// be and starts the project's dockerd, which FindDocker then
			// finds; its output is not parsed.
			if _, err := Script("ensure-docker.sh"); err != nil {
				dockerErr = err
				return
			}
			if host, ok = hostenv.FindDocker(ctx, nil); !ok {
				dockerErr = errors.New("hack/ensure-docker.sh succeeded, yet no Docker engine answers")
				return
			}
		}
		dockerHost = host
		_, dockerErr = Script("build-busybox-image.sh", "-H", dockerHost)
	})
	if dockerErr != nil {
		t.Fatalf("no Docker engine for the tests: %v", dockerErr)
	}
	return dockerHost
}

// Script runs hack/NAME with args and returns its standard output.
func Script(name string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(Root(), "hack", name), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("hack/%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// DockerClient returns a client for host, closed when the test ends.
func DockerClient(t testing.TB, host string) *client.Client {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// Docker runs the docker CLI against host and returns its trimmed output.
func Docker(ctx context.Context, host string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"-H", host}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// MustDocker is Docker that fails the test on error.
func MustDocker(t testing.TB, host string, args ...string) string {
	t.Helper()
	out, err := Docker(context.Background(), host, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// UniqueName returns a Docker container name unique to this test run.
func UniqueName(t testing.TB, prefix string) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(strings.ToLower(t.Name()))
	if len(name) > 30 {
		name = name[:30]
	}
	return fmt.Sprintf("%s-%s-%d-%d", prefix, name, os.Getpid(), nextSeq())
}

var (
	seqMu sync.Mutex
	seq   int
)

func nextSeq() int {
	seqMu.Lock()
	defer seqMu.Unlock()
	seq++
	return seq
}
