package apiserver_test

// The assembled server on the fake engine (pkg/engine/fake), hermetic: the
// wiring of reconcilers, controllers and REST storages, the error mapping, the
// health checks. The same behaviour against a real dockerd is in
// test/integration.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/cmd/server"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine/fake"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const deadline = 30 * time.Second

func id(n int) string { return fmt.Sprintf("%064x", n) }

func startOnFake(t *testing.T, f *fake.Engine) *testenv.Server {
	t.Helper()
	return testenv.StartServer(t, "unix:///nonexistent/docker.sock", testenv.ServerOptions{Mutate: func(o *server.Options) {
		o.Engine = f.Engine()
	}})
}

func get(t *testing.T, s *testenv.Server, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := testenv.HTTPClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServerOnFakeEngine(t *testing.T) {
	f := fake.New()
	f.PutContainer(fake.Container{ID: id(1), Name: "web", Image: "sha256:1", Status: "running", Stdout: []byte("hello\n")})
	f.PutContainer(fake.Container{ID: id(2), Name: "db", Image: "sha256:2", Status: "exited"})
	f.PutImage(fake.Image{ID: "sha256:1", Tags: []string{"web:1"}})
	f.PutImage(fake.Image{ID: "sha256:9", Tags: []string{"unused:1"}})
	f.PutVolume(fake.Volume{Name: "data"})
	s := startOnFake(t, f)
	c := s.Client.ContainersV1alpha1()
	ctx := context.Background()

	t.Run("mirrors", func(t *testing.T) {
		cs, err := c.Containers(s.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil || len(cs.Items) != 2 {
			t.Fatalf("containers: %v, %+v", err, cs)
		}
		imgs, err := c.Images(s.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil || len(imgs.Items) != 2 {
			t.Fatalf("images: %v, %+v", err, imgs)
		}
		if _, err := c.Volumes(s.Namespace).Get(ctx, engine.VolumeName("data"), metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		code, body := get(t, s, "/readyz?verbose")
		for _, check := range []string{"fake-mirror", "fake-images", "fake-volumes"} {
			if code != http.StatusOK || !strings.Contains(body, check) {
				t.Fatalf("/readyz: %d %s", code, body)
			}
		}
		if code, body := get(t, s, "/livez?verbose"); code != http.StatusOK || !strings.Contains(body, "fake-mirror-progress") {
			t.Fatalf("/livez: %d %s", code, body)
		}
	})

	t.Run("action", func(t *testing.T) {
		patch := []byte(`{"metadata":{"annotations":{"containers.rancherdesktop.io/action":"stop"}}}`)
		if _, err := c.Containers(s.Namespace).Patch(ctx, id(1), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, deadline, "the action's outcome", func() error {
			got, err := c.Containers(s.Namespace).Get(ctx, id(1), metav1.GetOptions{})
			if err != nil {
				return err
			}
			if a := got.Status.LastAction; a == nil || a.Action != "stop" || a.State != "Succeeded" || got.Status.Status != "exited" {
				return fmt.Errorf("lastAction %+v, status %s", got.Status.LastAction, got.Status.Status)
			}
			return nil
		})
		if a := f.Actions(); len(a) != 1 || a[0] != "stop "+id(1) {
			t.Errorf("engine actions %v", a)
		}
	})

	t.Run("log", func(t *testing.T) {
		if code, body := get(t, s, "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/"+s.Namespace+"/containers/"+id(1)+"/log"); code != http.StatusOK || body != "hello\n" {
			t.Fatalf("log: %d %q", code, body)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if err := c.Containers(s.Namespace).Delete(ctx, id(2), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		// The delete returned once the mirror was gone.
		if _, err := c.Containers(s.Namespace).Get(ctx, id(2), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("after delete: %v", err)
		}
		// The engine refuses (image in use): 409 with its reason; the mirror stays.
		err := c.Images(s.Namespace).Delete(ctx, engine.ImageName("sha256:1", "web:1"), metav1.DeleteOptions{})
		if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "is used by container") {
			t.Fatalf("delete of an image in use: %v", err)
		}
		if err := c.Images(s.Namespace).Delete(ctx, engine.ImageName("sha256:9", "unused:1"), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.Volumes(s.Namespace).Delete(ctx, engine.VolumeName("data"), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		imgs, _ := c.Images(s.Namespace).List(ctx, metav1.ListOptions{})
		vols, _ := c.Volumes(s.Namespace).List(ctx, metav1.ListOptions{})
		if len(imgs.Items) != 1 || len(vols.Items) != 0 {
			t.Fatalf("after deletes: %d images, %d volumes", len(imgs.Items), len(vols.Items))
		}
	})

	t.Run("request", func(t *testing.T) {
		req, err := c.VolumeCreateRequests(s.Namespace).Create(ctx, &v1alpha1.VolumeCreateRequest{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "vol-"}, Spec: v1alpha1.VolumeCreateRequestSpec{Name: "cache"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, deadline, "the request's outcome", func() error {
			got, err := c.VolumeCreateRequests(s.Namespace).Get(ctx, req.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if cond := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.RequestComplete); cond == nil || got.Status.VolumeName != "cache" {
				return fmt.Errorf("status %+v", got.Status)
			}
			return nil
		})
	})

	t.Run("engine down", func(t *testing.T) {
		f.SetDown(true)
		testenv.Eventually(t, deadline, "/readyz to fail with the reason", func() error {
			if code, body := get(t, s, "/readyz/fake-mirror"); code == http.StatusOK || !strings.Contains(body, "fake engine") {
				return fmt.Errorf("%d %s", code, body)
			}
			return nil
		})
		err := c.Containers(s.Namespace).Delete(ctx, id(1), metav1.DeleteOptions{})
		if !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), "not connected") {
			t.Fatalf("delete while the engine is down: %v", err)
		}
		code, body := get(t, s, "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/"+s.Namespace+"/containers/"+id(1)+"/log")
		if code != http.StatusServiceUnavailable {
			t.Fatalf("log while the engine is down: %d %s", code, body)
		}
		// The mirrors stay as last seen.
		if _, err := c.Containers(s.Namespace).Get(ctx, id(1), metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		f.SetDown(false)
		testenv.Eventually(t, deadline, "ready again", func() error {
			if code, body := get(t, s, "/readyz"); code != http.StatusOK {
				return errors.New(body)
			}
			return nil
		})
	})
}
