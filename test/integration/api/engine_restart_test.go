//go:build integration

package api

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// restartDeadline covers a dockerd restart plus the mirror's reconnect backoff.
const restartDeadline = 120 * time.Second

// TestDockerdKilledAndRestarted kills a test-owned dockerd with SIGKILL while
// the server follows it: the server stays up, /readyz turns unready with the
// reason, then ready again, and the registry equals `docker ps -a` with no
// ghost or duplicate objects.
func TestDockerdKilledAndRestarted(t *testing.T) {
	d := testenv.StartDockerd(t, "apirestart")
	host := d.Host

	s := testenv.StartServer(t, host, testenv.ServerOptions{})
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the test server's self-signed certificate
	defer hc.CloseIdleConnections()
	probe := func(path string) (int, string) {
		resp, err := hc.Get(s.URL + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	kept := runContainer(t, host, testenv.UniqueName(t, "kept"))
	volName := testenv.UniqueName(t, "keptvol")
	testenv.MustDocker(t, host, "volume", "create", volName)
	imageID := testenv.MustDocker(t, host, "image", "inspect", "-f", "{{.ID}}", testenv.BusyboxImage)
	imageObj, volObj := engine.ImageName(imageID, testenv.BusyboxImage), engine.VolumeName(volName)
	eventually(t, "image and volume mirrored", func() error {
		if _, err := s.Client.ContainersV1alpha1().Images(s.Namespace).Get(context.Background(), imageObj, metav1.GetOptions{}); err != nil {
			return err
		}
		_, err := s.Client.ContainersV1alpha1().Volumes(s.Namespace).Get(context.Background(), volObj, metav1.GetOptions{})
		return err
	})
	removed := testenv.MustDocker(t, host, "create", "--name", testenv.UniqueName(t, "removed"), testenv.BusyboxImage, "true")
	registryEqualsDocker(t, s, host)

	if err := d.Kill(); err != nil {
		t.Fatal(err)
	}

	waitUntil(t, restartDeadline, "/readyz unready after dockerd was killed", func() error {
		code, body := probe("/readyz/docker-mirror")
		if code == http.StatusOK {
			return fmt.Errorf("still ready")
		}
		if !strings.Contains(body, "docker") {
			return fmt.Errorf("unready without a reason: %d %q", code, body)
		}
		return nil
	})
	if code, body := probe("/livez"); code != http.StatusOK {
		t.Fatalf("server not live while Docker is down: %d %s", code, body)
	}
	// The mirrors stay while the engine is away.
	if _, err := s.Client.ContainersV1alpha1().Containers(s.Namespace).Get(context.Background(), kept, metav1.GetOptions{}); err != nil {
		t.Fatalf("mirror of %s gone while Docker was down: %v", kept, err)
	}

	// Every write answers 503 with the reason meanwhile, and changes nothing.
	expect503 := func(what string, err error) {
		t.Helper()
		if !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), "docker") {
			t.Errorf("%s while Docker is down: %v, want 503 naming the engine", what, err)
		}
	}
	expect503("an action", annotate(s, kept, "pause"))
	expect503("a delete", s.Client.ContainersV1alpha1().Containers(s.Namespace).Delete(context.Background(), kept, metav1.DeleteOptions{}))
	expect503("an image delete", s.Client.ContainersV1alpha1().Images(s.Namespace).Delete(context.Background(), imageObj, metav1.DeleteOptions{}))
	expect503("a volume delete", s.Client.ContainersV1alpha1().Volumes(s.Namespace).Delete(context.Background(), volObj, metav1.DeleteOptions{}))
	_, err := s.Client.ContainersV1alpha1().VolumeCreateRequests(s.Namespace).Create(context.Background(),
		&v1alpha1.VolumeCreateRequest{ObjectMeta: metav1.ObjectMeta{GenerateName: "outage-"}}, metav1.CreateOptions{})
	expect503("a request", err)
	for what, get := range map[string]func() error{
		"image": func() error {
			_, err := s.Client.ContainersV1alpha1().Images(s.Namespace).Get(context.Background(), imageObj, metav1.GetOptions{})
			return err
		},
		"volume": func() error {
			_, err := s.Client.ContainersV1alpha1().Volumes(s.Namespace).Get(context.Background(), volObj, metav1.GetOptions{})
			return err
		},
	} {
		if err := get(); err != nil {
			t.Errorf("the %s mirror is gone while Docker is down: %v", what, err)
		}
	}
	if c, err := s.Client.ContainersV1alpha1().Containers(s.Namespace).Get(context.Background(), kept, metav1.GetOptions{}); err != nil {
		t.Fatalf("mirror of %s gone after refused writes: %v", kept, err)
	} else if _, pending := c.Annotations[v1alpha1.ActionAnnotation]; pending {
		t.Errorf("a refused action was stored: %v", c.Annotations)
	}

	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.MustDocker(t, host, "rm", "-f", removed)
	runContainer(t, host, testenv.UniqueName(t, "added"))

	waitUntil(t, restartDeadline, "/readyz ready after dockerd came back", func() error {
		if code, body := probe("/readyz"); code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	registryEqualsDocker(t, s, host)

	// Writes work again (the daemon's restart stopped the container).
	cw := watchContainers(t, s, metav1.ListOptions{FieldSelector: "metadata.name=" + kept})
	if err := annotate(s, kept, "start"); err != nil {
		t.Fatalf("an action after Docker came back: %v", err)
	}
	if la := waitAction(cw, kept, "start"); la.State != "Succeeded" {
		t.Errorf("start after Docker came back: %+v", la)
	}
}

// registryEqualsDocker waits until the served Containers are exactly the
// engine's containers (by ID, name and state), with no duplicates.
func registryEqualsDocker(t *testing.T, s *testenv.Server, host string) {
	t.Helper()
	ctx := context.Background()
	eventually(t, "registry equals docker ps -a", func() error {
		want, err := testenv.Docker(ctx, host, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.State}}")
		if err != nil {
			return err
		}
		list, err := s.Client.ContainersV1alpha1().Containers(s.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		var got []string
		for _, c := range list.Items {
			if seen[c.Name] {
				return fmt.Errorf("duplicate object %s", c.Name)
			}
			seen[c.Name] = true
			got = append(got, fmt.Sprintf("%s %s %s", c.Name, c.Status.Name, c.Status.Status))
		}
		return sameLines(want, got)
	})
}
