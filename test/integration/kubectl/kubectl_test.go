//go:build integration

// Package kubectl runs the installed kubectl against the built
// containers-apiserver binary, started the way `make run` starts it.
package kubectl

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const deadline = 60 * time.Second

type cluster struct {
	t          *testing.T
	kubeconfig string
}

// startBinary builds cmd/apiserver and runs it standalone, as `make run` does.
func startBinary(t *testing.T, dockerHost string) *cluster {
	return &cluster{t: t, kubeconfig: testenv.StartBinary(t, dockerHost).Kubeconfig}
}

func (c *cluster) kubectl(args ...string) string {
	c.t.Helper()
	out, err := exec.Command("kubectl", append([]string{"--kubeconfig", c.kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

const resource = "containers.containers.rancherdesktop.io"

func TestKubectl(t *testing.T) {
	host := testenv.DockerHost(t)
	c := startBinary(t, host)

	name := testenv.UniqueName(t, "kctl")
	id := testenv.MustDocker(t, host, "run", "-d", "--name", name, "--label", "com.docker.compose.project=kubectltest",
		testenv.BusyboxImage, "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done")
	t.Cleanup(func() { _, _ = testenv.Docker(context.Background(), host, "rm", "-f", id) })

	t.Run("get", func(t *testing.T) {
		waitOutput(t, func() string { return c.kubectl("get", resource) }, id, name, "Up ")
		out := c.kubectl("get", resource)
		for _, col := range []string{"NAME", "CONTAINER", "IMAGE", "STATUS", "PORTS", "AGE"} {
			if !strings.Contains(strings.SplitN(out, "\n", 2)[0], col) {
				t.Errorf("header lacks %s:\n%s", col, out)
			}
		}
		wide := c.kubectl("get", resource, "-o", "wide")
		if h := strings.SplitN(wide, "\n", 2)[0]; !strings.Contains(h, "COMMAND") || !strings.Contains(h, "CREATED") {
			t.Errorf("-o wide header lacks COMMAND/CREATED:\n%s", wide)
		}
	})
	// The server runs with the default --stats-interval: containerstats is
	// `docker stats` in kubectl.
	t.Run("stats", func(t *testing.T) {
		waitOutput(t, func() string { return c.kubectl("get", "containerstats") }, name)
		out := c.kubectl("get", "cstats", "-o", "wide")
		header := strings.SplitN(out, "\n", 2)[0]
		for _, col := range []string{"NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS", "ID"} {
			if !strings.Contains(header, col) {
				t.Errorf("header lacks %s:\n%s", col, out)
			}
		}
		var row string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, name+" ") {
				row = l
			}
		}
		// NAME, CPU %, MEM USAGE / LIMIT (binary units), MEM %, NET I/O, BLOCK I/O, PIDS, ID.
		if f := strings.Fields(row); len(f) != 14 || !strings.HasSuffix(f[1], "%") || !strings.HasSuffix(f[2], "iB") ||
			f[3] != "/" || !strings.HasSuffix(f[4], "iB") || f[12] == "0" || strings.Trim(f[12], "0123456789") != "" || f[13] != id {
			t.Errorf("the row of %s is not docker stats' (%d fields):\n%s", name, len(f), out)
		}
		if v := c.kubectl("get", "containerstats", id, "-o", "jsonpath={.status.memory.workingSetBytes}"); v == "" || v == "0" {
			t.Errorf("workingSetBytes %q", v)
		}
		// The history through kubectl: NDJSON, one sample per line.
		hist := c.kubectl("get", "--raw", "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/rancher-desktop/containers/"+id+"/stats")
		if lines := strings.Split(strings.TrimSpace(hist), "\n"); len(lines) == 0 || !strings.HasPrefix(lines[0], `{"name":"`+name+`"`) {
			t.Errorf("the history is not JSON lines of %s:\n%s", name, hist)
		}
		if ex := c.kubectl("explain", "containerstats.status.memory"); !strings.Contains(ex, "workingSetBytes") {
			t.Errorf("explain lacks workingSetBytes:\n%s", ex)
		}
	})
	// The server sets GOGC=50 unless the environment sets GOGC (README,
	// "Memory"): the Go runtime reports the percent in use.
	t.Run("gc-percent", func(t *testing.T) {
		want := "50"
		if v, ok := os.LookupEnv("GOGC"); ok {
			want = v
		}
		metrics := c.kubectl("get", "--raw", "/metrics")
		if !slices.Contains(strings.Split(metrics, "\n"), "go_gc_gogc_percent "+want) {
			t.Errorf("/metrics does not say go_gc_gogc_percent %s:\n%s", want, grepLines(metrics, "go_gc_gogc"))
		}
	})
	t.Run("yaml", func(t *testing.T) {
		out := c.kubectl("get", resource, id, "-o", "yaml")
		for _, want := range []string{"kind: Container", "name: " + name, "status: running", "imageName: " + testenv.BusyboxImage} {
			if !strings.Contains(out, want) {
				t.Errorf("-o yaml lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("field-selector", func(t *testing.T) {
		out := c.kubectl("get", resource, "--field-selector", "status.name="+name, "-o", "name")
		if strings.TrimSpace(out) != "container.containers.rancherdesktop.io/"+id {
			t.Errorf("--field-selector status.name=%s gave:\n%s", name, out)
		}
		out = c.kubectl("get", resource, "--field-selector", "status.name=no-such-container-x", "-o", "name")
		if strings.TrimSpace(out) != "" {
			t.Errorf("selector for a missing name matched:\n%s", out)
		}
	})
	t.Run("label-selector", func(t *testing.T) {
		out := c.kubectl("get", resource, "-l", "com.docker.compose.project=kubectltest", "-o", "name")
		if strings.TrimSpace(out) != "container.containers.rancherdesktop.io/"+id {
			t.Errorf("-l gave:\n%s", out)
		}
	})
	t.Run("explain", func(t *testing.T) {
		out := c.kubectl("explain", resource+".status")
		for _, want := range []string{"imageName", "lastAction", "conditions"} {
			if !strings.Contains(out, want) {
				t.Errorf("explain lacks %s:\n%s", want, out)
			}
		}
	})
	t.Run("watch", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		w := exec.CommandContext(ctx, "kubectl", "--kubeconfig", c.kubeconfig, "get", resource, "-w")
		stdout, err := w.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = w.Wait() }()
		lines := make(chan string)
		go func() {
			// Ends when kubectl exits (ctx cancel) and its output closes.
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				select {
				case lines <- sc.Text():
				case <-ctx.Done():
					return
				}
			}
		}()
		// The initial listing includes the existing container.
		expectLine(t, lines, id)
		testenv.MustDocker(t, host, "pause", id)
		expectLine(t, lines, id, "(Paused)")
		testenv.MustDocker(t, host, "unpause", id)
		expectLine(t, lines, id, "Up ", "!(Paused)")
	})
	// The documented way to drive a container: annotate, then wait for the outcome.
	t.Run("annotate-and-wait", func(t *testing.T) {
		for _, step := range []struct{ action, dockerStatus string }{{"pause", "paused"}, {"unpause", "running"}} {
			c.kubectl("annotate", resource, id, "containers.rancherdesktop.io/action="+step.action, "--overwrite")
			c.kubectl("wait", resource+"/"+id, "--for=jsonpath={.status.lastAction.action}="+step.action, "--timeout=60s")
			c.kubectl("wait", resource+"/"+id, "--for=jsonpath={.status.lastAction.state}=Succeeded", "--timeout=60s")
			if got := testenv.MustDocker(t, host, "inspect", "-f", "{{.State.Status}}", id); got != step.dockerStatus {
				t.Errorf("after %s Docker says %s, want %s", step.action, got, step.dockerStatus)
			}
		}
		out, err := exec.Command("kubectl", "--kubeconfig", c.kubeconfig, "annotate", resource, id,
			"containers.rancherdesktop.io/action=explode", "--overwrite").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "Unsupported value") || !strings.Contains(string(out), "pause") {
			t.Errorf("an invalid action was not refused with the valid values: %v\n%s", err, out)
		}
	})
	t.Run("delete", func(t *testing.T) {
		gone := testenv.MustDocker(t, host, "run", "-d", "--name", testenv.UniqueName(t, "kdel"), testenv.BusyboxImage, "sleep", "600")
		waitOutput(t, func() string { return c.kubectl("get", resource) }, gone)
		c.kubectl("delete", resource, gone)
		if out, err := testenv.Docker(context.Background(), host, "inspect", gone); err == nil {
			t.Errorf("the container is still in Docker after kubectl delete returned:\n%s", out)
		}
		if out := c.kubectl("get", resource, "--field-selector", "metadata.name="+gone, "-o", "name"); strings.TrimSpace(out) != "" {
			t.Errorf("the mirror is still listed after kubectl delete returned:\n%s", out)
		}
	})
}

// waitOutput reruns get until its output holds every word.
func waitOutput(t *testing.T, get func() string, words ...string) {
	t.Helper()
	until := time.Now().Add(deadline)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		out := get()
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(out, w)
		}
		if ok {
			return
		}
		if time.Now().After(until) {
			t.Fatalf("output never held %q:\n%s", words, out)
		}
		<-tick.C
	}
}

// expectLine reads watch output until a line holds every word; a word
// starting with "!" must be absent.
func expectLine(t *testing.T, lines <-chan string, words ...string) {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("kubectl get -w ended before a line with %q", words)
			}
			match := true
			for _, w := range words {
				if absent, ok := strings.CutPrefix(w, "!"); ok {
					match = match && !strings.Contains(l, absent)
				} else {
					match = match && strings.Contains(l, w)
				}
			}
			if match {
				return
			}
		case <-timeout:
			t.Fatalf("no kubectl get -w line with %q within %s", words, deadline)
		}
	}
}

// grepLines is the lines of s that contain substr.
func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
