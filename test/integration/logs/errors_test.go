//go:build integration

package logs

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// TestLogErrors: every bad request is a metav1.Status with the right code and
// a message a person can act on, before any byte of log is sent.
func TestLogErrors(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	plain := e.run(nil, lines...)
	tty := e.run([]string{"-t"}, "echo", "hi")
	none := e.run([]string{"--log-driver", "none"}, "echo", "hi")
	unknown := strings.Repeat("ab", 32)

	for _, tc := range []struct {
		name, id, sub string
		q             url.Values
		code          int
		msg           string
	}{
		{"bad boolean", plain, "log", url.Values{"follow": {"maybe"}}, 400, "follow must be true or false"},
		{"bad timestamps boolean", plain, "log", url.Values{"timestamps": {"yes please"}}, 400, "timestamps must be true or false"},
		{"negative tailLines", plain, "log", url.Values{"tailLines": {"-1"}}, 400, "tailLines must be 0 or more"},
		{"non-numeric tailLines", plain, "log", url.Values{"tailLines": {"ten"}}, 400, "tailLines"},
		{"sinceSeconds and sinceTime", plain, "log", url.Values{"sinceSeconds": {"5"}, "sinceTime": {"2025-01-01T00:00:00Z"}}, 400, "at most one of sinceSeconds and sinceTime"},
		{"zero sinceSeconds", plain, "log", url.Values{"sinceSeconds": {"0"}}, 400, "sinceSeconds must be 1 or more"},
		{"unparsable sinceTime", plain, "log", url.Values{"sinceTime": {"yesterday"}}, 400, "yesterday"},
		{"unparsable untilTime", plain, "log", url.Values{"untilTime": {"2025-13-45"}}, 400, "2025-13-45"},
		{"limitBytes zero", plain, "log", url.Values{"limitBytes": {"0"}}, 400, "limitBytes must be 1 or more"},
		{"unknown stream", plain, "log", url.Values{"stream": {"Both"}}, 400, "stream must be All, Stdout or Stderr"},
		{"TTY with stream=Stdout", tty, "log", url.Values{"stream": {"Stdout"}}, 400, "has a TTY"},
		{"TTY with stream=Stderr on logs", tty, "logs", url.Values{"stream": {"Stderr"}}, 400, "has a TTY"},
		{"short ID", plain[:12], "log", nil, 404, "--field-selector status.name="},
		{"uppercase ID", strings.ToUpper(plain), "log", nil, 404, "full 64-character lowercase hex"},
		{"non-hex ID", strings.Repeat("g", 64), "log", nil, 404, "full 64-character lowercase hex"},
		{"Docker name", "no-such-name", "logs", nil, 404, "--field-selector status.name="},
		{"unknown ID", unknown, "log", nil, 404, "no such container"},
		{"log driver none", none, "log", nil, 501, "does not support reading"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.get(context.Background(), e.logURL(tc.id, tc.sub, tc.q))
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code {
				t.Fatalf("got %d, want %d: %s", resp.StatusCode, tc.code, body)
			}
			var st metav1.Status
			if err := json.Unmarshal(body, &st); err != nil || st.Kind != "Status" {
				t.Fatalf("body is not a Status: %s", body)
			}
			if int(st.Code) != tc.code || !strings.Contains(st.Message, tc.msg) {
				t.Fatalf("status %d %q, want %d containing %q", st.Code, st.Message, tc.code, tc.msg)
			}
		})
	}

	t.Run("unauthenticated", func(t *testing.T) {
		resp, err := e.hc.Get(e.logURL(plain, "log", nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("got %d, want 401", resp.StatusCode)
		}
	})
}

// TestLogEngineDown: with the engine unreachable, a log request is a 503 that says why.
func TestLogEngineDown(t *testing.T) {
	const name = "logsdown"
	out, err := testenv.Script("start-test-dockerd.sh", name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = testenv.Script("stop-test-dockerd.sh", name, "--purge") })
	outLines := strings.Split(strings.TrimSpace(out), "\n")
	host := outLines[len(outLines)-1]
	if _, err := testenv.Script("build-busybox-image.sh", "-H", host); err != nil {
		t.Fatal(err)
	}
	s := testenv.StartServer(t, host, testenv.ServerOptions{})
	e := &env{t: t, host: host, s: s, hc: httpClient(t)}
	id := e.run(nil, lines...)
	if _, err := testenv.Script("stop-test-dockerd.sh", name); err != nil {
		t.Fatal(err)
	}
	resp := e.get(context.Background(), e.logURL(id, "log", nil))
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "docker engine") {
		t.Fatalf("with the engine down: %d %s", resp.StatusCode, body)
	}
}
