//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDelegatedAuthz: real users on kube-apiserver (tokens), authorized by
// kube-apiserver's RBAC through this server's SubjectAccessReviews, with the
// ClusterRoles of artifacts/rbac bound to them by hack/e2e-up.sh.
func TestDelegatedAuthz(t *testing.T) {
	e := Get(t)
	id := e.Container(t, "authz", TriggeredScript)
	e.WaitMirrored(t, id)
	list := GroupVersionPath + "/namespaces/" + e.Namespace + "/containers"
	action := []byte(`{"metadata":{"annotations":{"containers.rancherdesktop.io/action":"pause"}}}`)

	t.Run("viewer", func(t *testing.T) {
		if code, body := e.Do(t, Viewer, http.MethodGet, list, nil); code != http.StatusOK || !strings.Contains(body, id) {
			t.Errorf("viewer list: %d %s", code, trim(body))
		}
		out := e.MustKubectl(t, Viewer, "get", Resource)
		if !strings.Contains(out, id) {
			t.Errorf("kubectl get as viewer lacks %s:\n%s", id, out)
		}
		// The live stats and their history are the viewer's too.
		Eventually(t, 60*time.Second, func() (bool, string) {
			out, err := e.Kubectl(context.Background(), Viewer, "get", "containerstats", "-o", "wide")
			return err == nil && strings.Contains(out, id), out
		})
		if code, body := e.Do(t, Viewer, http.MethodGet, e.ContainerPath(id, "stats"), nil); code != http.StatusOK || !strings.Contains(body, `"usageNanoCores"`) {
			t.Errorf("viewer stats history: %d %s", code, trim(body))
		}
		for _, c := range []struct {
			name, method, path string
			body               []byte
		}{
			{"log", http.MethodGet, e.ContainerPath(id, "log"), nil},
			{"logs", http.MethodGet, e.ContainerPath(id, "logs"), nil},
			{"delete", http.MethodDelete, e.ContainerPath(id, ""), nil},
			{"action annotation", http.MethodPatch, e.ContainerPath(id, ""), action},
		} {
			code, body := e.Do(t, Viewer, c.method, c.path, c.body)
			if code != http.StatusForbidden {
				t.Errorf("viewer %s: %d %s, want 403", c.name, code, trim(body))
			} else if !strings.Contains(body, `User \"viewer\" cannot`) {
				t.Errorf("viewer %s: 403 without the user's name: %s", c.name, trim(body))
			}
		}
	})
	t.Run("logreader", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		lines, _ := e.openFollow(t, ctx, e.Transport(t, LogReader), LogReader, id, "log")
		ExpectLine(t, lines, 30*time.Second, "ready")
		// Reading the log does not make a viewer.
		if code, body := e.Do(t, LogReader, http.MethodGet, list, nil); code != http.StatusForbidden {
			t.Errorf("logreader list: %d %s, want 403", code, trim(body))
		}
		if code, body := e.Do(t, LogReader, http.MethodGet, e.ContainerPath(id, "stats"), nil); code != http.StatusForbidden {
			t.Errorf("logreader stats: %d %s, want 403", code, trim(body))
		}
	})
	t.Run("operator", func(t *testing.T) {
		e.MustKubectl(t, Operator, "annotate", Resource, id, "containers.rancherdesktop.io/action=pause", "--overwrite")
		e.MustKubectl(t, Operator, "wait", Resource+"/"+id, "--for=jsonpath={.status.lastAction.state}=Succeeded", "--timeout=60s")
		e.MustKubectl(t, Operator, "annotate", Resource, id, "containers.rancherdesktop.io/action=unpause", "--overwrite")
		e.MustKubectl(t, Operator, "wait", Resource+"/"+id, "--for=jsonpath={.status.lastAction.action}=unpause", "--timeout=60s")
		// The operator role has no logs.
		if code, body := e.Do(t, Operator, http.MethodGet, e.ContainerPath(id, "log"), nil); code != http.StatusForbidden {
			t.Errorf("operator log: %d %s, want 403", code, trim(body))
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		for _, p := range []string{list, e.ContainerPath(id, "log"), GroupVersionPath} {
			if code, body := e.Do(t, Anonymous, http.MethodGet, p, nil); code != http.StatusUnauthorized {
				t.Errorf("anonymous GET %s: %d %s, want 401", p, code, trim(body))
			}
		}
	})
	t.Run("forged-front-proxy-headers", func(t *testing.T) {
		// Straight to the server's port, no front-proxy client certificate:
		// the X-Remote-* headers must not be believed.
		hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the server's self-signed cert; identity is not the point here
		defer hc.CloseIdleConnections()
		for _, p := range []string{list, e.ContainerPath(id, "log"), e.ContainerPath(id, "")} {
			for _, method := range []string{http.MethodGet, http.MethodDelete} {
				if method == http.MethodDelete && !strings.HasSuffix(p, id) {
					continue
				}
				req, _ := http.NewRequest(method, e.ServerURL+p, nil)
				req.Header.Set("X-Remote-User", "admin")
				req.Header.Add("X-Remote-Group", "system:masters")
				req.Header.Set("X-Remote-Uid", "forged")
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 1024)
				n, _ := resp.Body.Read(buf)
				resp.Body.Close()
				body := string(buf[:n])
				switch {
				case resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden:
					t.Errorf("forged headers %s %s: %d %s, want 401 or 403", method, p, resp.StatusCode, trim(body))
				case strings.Contains(body, `"admin"`):
					t.Errorf("forged headers %s %s: the server took the caller for admin: %s", method, p, trim(body))
				default:
					t.Logf("forged headers %s %s: %d %s", method, p, resp.StatusCode, trim(body))
				}
			}
		}
		// The container is still there.
		if code, body := e.Do(t, Admin, http.MethodGet, e.ContainerPath(id, ""), nil); code != http.StatusOK {
			t.Errorf("container after forged delete: %d %s", code, trim(body))
		}
	})
}
