//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// TestPlugin runs the kubectl plugin through kube-apiserver's aggregation,
// as each kind of user: exec works for the admin, and for a user whose RBAC
// forbids it, it fails with the server's words and a non-zero exit.
func TestPlugin(t *testing.T) {
	e := Get(t)
	p := testenv.BuildPlugin(t)
	id := e.Container(t, "plugin", TickScript)
	e.WaitMirrored(t, id)
	run := func(user string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := p.Command(ctx, e.Kubeconfigs[user], args...)
		var o, eb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &eb
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("kubectl container %s: %v", strings.Join(args, " "), err)
		}
		if ee != nil {
			code = ee.ExitCode()
		}
		return o.String(), eb.String(), code
	}

	if out, errOut, code := run(Viewer, "ps", "-o", "wide"); code != 0 || !strings.Contains(out, id) {
		t.Errorf("ps as %s: exit %d, %q %q", Viewer, code, out, errOut)
	}
	if out, errOut, code := run(Admin, "exec", id[:12], "--", "sh", "-c", "echo ok; exit 5"); code != 5 || out != "ok\n" {
		t.Errorf("exec as %s: exit %d, %q %q; want 5 and ok", Admin, code, out, errOut)
	}
	for _, user := range []string{Operator, Viewer} {
		out, errOut, code := run(user, "exec", id[:12], "--", "echo", "ok")
		want := fmt.Sprintf(`User "%s" cannot get resource "containers/exec"`, user)
		if code != 1 || out != "" || !strings.Contains(errOut, want) {
			t.Errorf("exec as %s: exit %d, stdout %q, stderr %q; want 1 and %q", user, code, out, errOut, want)
		}
	}
	// A log reader may not list containers: it names them by full ID.
	if out, errOut, code := run(LogReader, "logs", "--tail", "1", id); code != 0 || !strings.HasPrefix(out, "tick-") {
		t.Errorf("logs as %s: exit %d, %q %q", LogReader, code, out, errOut)
	}
	if _, errOut, code := run(LogReader, "logs", id[:12]); code != 1 || !strings.Contains(errOut, "cannot list resource") {
		t.Errorf("logs by prefix as %s: exit %d, %q; want 1 and the list refusal", LogReader, code, errOut)
	}
}
