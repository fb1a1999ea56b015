//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// TestDiscovery: kubectl api-resources lists the group's resources, and the
// group-version document (through the aggregator) lists the subresources.
func TestDiscovery(t *testing.T) {
	e := Get(t)
	out := e.MustKubectl(t, Admin, "api-resources", "--api-group=containers.rancherdesktop.io", "-o", "name")
	for _, r := range []string{"containers", "images", "volumes", "containernamespaces",
		"containercreaterequests", "imagepullrequests", "imagepushrequests", "volumecreaterequests"} {
		if !strings.Contains(out, r+".containers.rancherdesktop.io\n") {
			t.Errorf("kubectl api-resources lacks %s:\n%s", r, out)
		}
	}
	raw := e.MustKubectl(t, Admin, "get", "--raw", GroupVersionPath)
	var list struct {
		Resources []struct {
			Name  string
			Verbs []string
		}
	}
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	verbs := map[string][]string{}
	for _, r := range list.Resources {
		verbs[r.Name] = r.Verbs
	}
	for _, sub := range []string{"containers/log", "containers/logs"} {
		v, ok := verbs[sub]
		if !ok {
			t.Errorf("discovery lacks %s: %s", sub, raw)
			continue
		}
		if strings.Join(v, ",") != "get" {
			t.Errorf("%s verbs = %v, want [get]", sub, v)
		}
	}
}

// TestKubectl: get, get -w, explain, annotate (+ wait), delete, as the admin,
// all through kube-apiserver.
func TestKubectl(t *testing.T) {
	e := Get(t)
	id := e.Container(t, "kctl", TickScript)
	e.WaitMirrored(t, id)

	t.Run("get", func(t *testing.T) {
		out := e.MustKubectl(t, Admin, "get", Resource)
		header := strings.SplitN(out, "\n", 2)[0]
		for _, col := range []string{"NAME", "CONTAINER", "IMAGE", "STATUS"} {
			if !strings.Contains(header, col) {
				t.Errorf("header lacks %s:\n%s", col, out)
			}
		}
		if !strings.Contains(out, id) || !strings.Contains(out, testenv.BusyboxImage) {
			t.Errorf("get lacks %s:\n%s", id, out)
		}
		y := e.MustKubectl(t, Admin, "get", Resource, id, "-o", "yaml")
		if !strings.Contains(y, "kind: Container") || !strings.Contains(y, "status: running") {
			t.Errorf("-o yaml:\n%s", y)
		}
	})
	t.Run("watch", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		w := e.KubectlCmd(ctx, Admin, "get", Resource, "-w")
		stdout, err := w.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		w.Stderr = w.Stdout
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = w.Wait() }()
		lines, _ := Lines(bufio.NewReader(stdout))
		ExpectLine(t, lines, 60*time.Second, id)
		testenv.MustDocker(t, e.DockerHost, "pause", id)
		ExpectLine(t, lines, 60*time.Second, id, "(Paused)")
		testenv.MustDocker(t, e.DockerHost, "unpause", id)
		ExpectLine(t, lines, 60*time.Second, id, "Up ")
	})
	t.Run("explain", func(t *testing.T) {
		out := e.MustKubectl(t, Admin, "explain", Resource+".status")
		for _, want := range []string{"imageName", "lastAction", "conditions"} {
			if !strings.Contains(out, want) {
				t.Errorf("explain lacks %s:\n%s", want, out)
			}
		}
	})
	t.Run("annotate", func(t *testing.T) {
		e.MustKubectl(t, Admin, "annotate", Resource, id, "containers.rancherdesktop.io/action=pause", "--overwrite")
		e.MustKubectl(t, Admin, "wait", Resource+"/"+id, "--for=jsonpath={.status.lastAction.action}=pause", "--timeout=60s")
		e.MustKubectl(t, Admin, "wait", Resource+"/"+id, "--for=jsonpath={.status.lastAction.state}=Succeeded", "--timeout=60s")
		if st := testenv.MustDocker(t, e.DockerHost, "inspect", "-f", "{{.State.Status}}", id); st != "paused" {
			t.Errorf("docker state after the pause action: %s", st)
		}
		e.MustKubectl(t, Admin, "annotate", Resource, id, "containers.rancherdesktop.io/action=unpause", "--overwrite")
		e.MustKubectl(t, Admin, "wait", Resource+"/"+id, "--for=jsonpath={.status.lastAction.action}=unpause", "--timeout=60s")
		e.MustKubectl(t, Admin, "wait", Resource+"/"+id, "--for=jsonpath={.status.lastAction.state}=Succeeded", "--timeout=60s")
	})
	t.Run("delete", func(t *testing.T) {
		e.MustKubectl(t, Admin, "delete", Resource, id, "--timeout=60s")
		Eventually(t, 60*time.Second, func() (bool, string) {
			_, err := testenv.Docker(context.Background(), e.DockerHost, "inspect", id)
			return err != nil && strings.Contains(err.Error(), "No such"), "docker still has " + id
		})
		out, err := e.Kubectl(context.Background(), Admin, "get", Resource, id)
		if err == nil || !strings.Contains(out, "NotFound") {
			t.Errorf("get after delete: %v %s", err, out)
		}
	})
}
