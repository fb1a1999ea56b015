package apiserver_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"k8s.io/client-go/tools/remotecommand"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine/fake"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// TestExecOnFakeEngine: containers/exec is wired to the engine, through
// client-go's WebSocket executor, with each refusal before the upgrade.
func TestExecOnFakeEngine(t *testing.T) {
	f := fake.New()
	f.PutContainer(fake.Container{ID: id(1), Name: "web", Image: "sha256:1", Status: "running"})
	f.PutContainer(fake.Container{ID: id(2), Name: "db", Image: "sha256:2", Status: "exited"})
	s := startOnFake(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	run := func(r testenv.ExecRequest) (int, string, string, error) {
		var stdout, stderr bytes.Buffer
		r.Namespace = s.Namespace
		if r.Container == "" {
			r.Container = id(1)
		}
		r.Stdout = &stdout
		if !r.TTY {
			r.Stderr = &stderr
		}
		code, err := testenv.Exec(ctx, s.Config, r)
		return code, stdout.String(), stderr.String(), err
	}

	t.Run("streams and exit codes", func(t *testing.T) {
		if code, out, errOut, err := run(testenv.ExecRequest{Command: []string{"echo", "hi", "there"}}); err != nil || code != 0 || out != "hi there\n" || errOut != "" {
			t.Errorf("echo: %d %q %q %v", code, out, errOut, err)
		}
		if code, out, errOut, err := run(testenv.ExecRequest{Command: []string{"err", "oops"}}); err != nil || code != 0 || out != "" || errOut != "oops\n" {
			t.Errorf("err: %d %q %q %v", code, out, errOut, err)
		}
		if code, _, _, err := run(testenv.ExecRequest{Command: []string{"exit", "3"}}); err != nil || code != 3 {
			t.Errorf("exit 3: %d %v", code, err)
		}
		if code, _, errOut, err := run(testenv.ExecRequest{Command: []string{"nope"}}); err != nil || code != 127 || !strings.Contains(errOut, "not found") {
			t.Errorf("unknown command: %d %q %v", code, errOut, err)
		}
		in := strings.Repeat("0123456789", 100000)
		if code, out, _, err := run(testenv.ExecRequest{Command: []string{"cat"}, Stdin: strings.NewReader(in)}); err != nil || code != 0 || out != in {
			t.Errorf("cat: %d, %d bytes out of %d, %v", code, len(out), len(in), err)
		}
	})

	t.Run("tty size", func(t *testing.T) {
		sizes := make(testenv.SizeQueue, 2)
		sizes <- remotecommand.TerminalSize{Width: 100, Height: 40}
		close(sizes)
		code, out, _, err := run(testenv.ExecRequest{Command: []string{"size"}, TTY: true, Sizes: sizes})
		if err != nil || code != 0 || !strings.HasPrefix(out, "40 100\n") {
			t.Errorf("size: %d %q %v", code, out, err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for name, tc := range map[string]struct {
			r    testenv.ExecRequest
			want string
		}{
			"no command":      {testenv.ExecRequest{}, "command is required"},
			"no stream":       {testenv.ExecRequest{Command: []string{"echo"}, Stdin: nil}, ""},
			"bad env":         {testenv.ExecRequest{Command: []string{"echo"}, Env: []string{"NOEQUALS"}}, "NAME=value"},
			"relative dir":    {testenv.ExecRequest{Command: []string{"echo"}, WorkingDir: "tmp"}, "absolute"},
			"unknown":         {testenv.ExecRequest{Container: id(9), Command: []string{"echo"}}, "not found"},
			"not running":     {testenv.ExecRequest{Container: id(2), Command: []string{"echo"}}, "not running"},
			"not a container": {testenv.ExecRequest{Container: "web", Command: []string{"echo"}}, "64-character"},
		} {
			if name == "no stream" {
				continue // Exec always asks for stdout; see the raw request below
			}
			if _, _, _, err := run(tc.r); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
			}
		}
		// A plain GET (what a client without WebSocket sends) is a 400
		// that names the subprotocols.
		code, body := get(t, s, "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/"+s.Namespace+"/containers/"+id(1)+"/exec?command=echo&stdout=true")
		if code != http.StatusBadRequest || !strings.Contains(body, "v5.channel.k8s.io") {
			t.Errorf("plain GET: %d %s", code, body)
		}
		code, body = get(t, s, "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/"+s.Namespace+"/containers/"+id(1)+"/exec?command=echo")
		if code != http.StatusBadRequest || !strings.Contains(body, "at least one of stdin") {
			t.Errorf("no stream: %d %s", code, body)
		}
		code, body = get(t, s, "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/"+s.Namespace+"/containers/"+id(1)+"/exec?command=echo&stdout=yes")
		if code != http.StatusBadRequest || !strings.Contains(body, "stdout") {
			t.Errorf("bad bool: %d %s", code, body)
		}
		f.SetDown(true)
		defer f.SetDown(false)
		if _, _, _, err := run(testenv.ExecRequest{Command: []string{"echo"}}); err == nil || !strings.Contains(err.Error(), "not connected") && !strings.Contains(err.Error(), "unavailable") {
			t.Errorf("engine down: %v", err)
		}
	})
}
