//go:build integration

package logs

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// mergedURL is the merged log of the moby ContainerNamespace.
func (e *env) mergedURL(q url.Values) string {
	u := e.s.URL + "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/" + e.s.Namespace + "/containernamespaces/moby/log"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// runLabeled starts a named container with a label and returns its ID and name.
func (e *env) runLabeled(label string, cmd ...string) (string, string) {
	e.t.Helper()
	name := testenv.UniqueName(e.t, "merge")
	args := append([]string{"run", "-d", "--name", name, "--label", label, testenv.BusyboxImage}, cmd...)
	id := testenv.MustDocker(e.t, e.host, args...)
	e.t.Cleanup(func() { _, _ = testenv.Docker(context.Background(), e.host, "rm", "-f", id) })
	e.waitMirrored(id)
	return id, name
}

// splitPrefixed cuts "name | rest" lines apart, checking every line has a prefix.
func splitPrefixed(t *testing.T, body string) (names, rests []string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if line == "" {
			continue
		}
		name, rest, ok := strings.Cut(line, " | ")
		if !ok {
			t.Fatalf("line %q has no name prefix", line)
		}
		names = append(names, strings.TrimRight(name, " "))
		rests = append(rests, rest)
	}
	return names, rests
}

// TestMergedLogs: the logs of the containers a label selects, merged, each
// line prefixed, in timestamp order without follow; every line of each, in
// its order; over HTTP and every WebSocket protocol.
func TestMergedLogs(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	label := "io.rancherdesktop.test.merge=" + testenv.UniqueName(t, "m")
	script := func(tag string) []string {
		return []string{"sh", "-c", fmt.Sprintf("i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo %s $i; [ $((i %% 20)) = 0 ] && sleep 0.05; done; echo %s done; sleep 3600", tag, tag)}
	}
	a, an := e.runLabeled(label, script("a")...)
	b, bn := e.runLabeled(label, script("b")...)
	_, _ = e.runLabeled("io.rancherdesktop.test.other=1", "sh", "-c", "echo other; sleep 3600") // not selected
	e.waitLogged(a, "a done")
	e.waitLogged(b, "b done")

	body := e.mergedGet(url.Values{"labelSelector": {label}, "timestamps": {"true"}})
	names, rests := splitPrefixed(t, body)
	var prev time.Time
	per := map[string][]string{}
	for i, rest := range rests {
		stamp, text, _ := strings.Cut(rest, " ")
		ts, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			t.Fatalf("line %d %q: %v", i, rest, err)
		}
		if ts.Before(prev) {
			t.Fatalf("line %d (%s) is older than the line before it (%s): not in timestamp order", i, ts, prev)
		}
		prev = ts
		per[names[i]] = append(per[names[i]], stamp+" "+text)
	}
	if len(per) != 2 {
		t.Fatalf("lines from %v, want %s and %s only", slices.Collect(mapsKeys(per)), an, bn)
	}
	for id, name := range map[string]string{a: an, b: bn} {
		want := strings.Split(strings.TrimSuffix(e.logs(id, url.Values{"timestamps": {"true"}}), "\n"), "\n")
		sameSlices(t, name, per[name], want)
	}

	// Without timestamps, per container tails, on every protocol.
	q := url.Values{"labelSelector": {label}, "tailLines": {"3"}}
	plain := e.mergedGet(q)
	_, rests = splitPrefixed(t, plain)
	slices.Sort(rests)
	if fmt.Sprint(rests) != "[a 199 a 200 a done b 199 b 200 b done]" {
		t.Errorf("tailLines=3 per container: %q", plain)
	}
	for _, proto := range []string{"v5.channel.k8s.io", "v4.channel.k8s.io", "binary.k8s.io", "base64.binary.k8s.io", ""} {
		got := e.mergedWS(q, proto)
		if got != plain {
			t.Errorf("%q: %q, want %q", proto, got, plain)
		}
	}
}

func mapsKeys(m map[string][]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// mergedGet fetches a merged log over HTTP and fails unless it is a 200.
func (e *env) mergedGet(q url.Values) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	resp := e.get(ctx, e.mergedURL(q))
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("merged log %v: %d %s", q, resp.StatusCode, body)
	}
	return string(body)
}

// mergedWS reads a merged log over a WebSocket with one subprotocol (or
// none): stdout's messages, decoded.
func (e *env) mergedWS(q url.Values, proto string) string {
	e.t.Helper()
	var protos []string
	if proto != "" {
		protos = []string{proto}
	}
	conn, got := e.dialURL(e.mergedURL(q), protos...)
	if got != proto {
		e.t.Fatalf("negotiated %q, want %q", got, proto)
	}
	channels := strings.Contains(proto, "channel")
	b64 := strings.HasPrefix(proto, "base64")
	var out []byte
	_ = conn.SetReadDeadline(time.Now().Add(deadline))
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			expectClose(e.t, err, websocket.CloseNormalClosure)
			return string(out)
		}
		if channels {
			if len(data) == 0 {
				continue
			}
			ch := data[0]
			if b64 {
				ch -= '0'
			}
			if ch != 1 {
				e.t.Fatalf("%q: a message on channel %d: %q", proto, ch, data)
			}
			data = data[1:]
		}
		if b64 {
			dec, err := base64.StdEncoding.DecodeString(string(data))
			if err != nil {
				e.t.Fatalf("%q: base64: %v", proto, err)
			}
			data = dec
		}
		out = append(out, data...)
	}
}

// TestMergedLogsFollow: a follow of a label that matches nothing at first
// stays open; a container that starts matching joins with its whole log, a
// second one too, and a removed one leaves while the stream goes on.
func TestMergedLogsFollow(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	label := "io.rancherdesktop.test.merge=" + testenv.UniqueName(t, "f")
	ctx, cancel := context.WithTimeout(context.Background(), 3*deadline)
	defer cancel()
	resp := e.get(ctx, e.mergedURL(url.Values{"labelSelector": {label}, "follow": {"true"}}))
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("follow: %d %s", resp.StatusCode, body)
	}
	lr := newLineReader(t, bufio.NewReader(resp.Body))

	a, an := e.runLabeled(label, waiter...)
	lr.until(an + " | start")
	_, bn := e.runLabeled(label, "sh", "-c", "echo one; echo two; sleep 3600")
	lr.until(bn + " | two")
	// a leaves: removed; b goes on.
	testenv.MustDocker(t, e.host, "rm", "-f", a)
	_, cn := e.runLabeled(label, "sh", "-c", "echo three; sleep 3600")
	lr.until(cn + " | three")
	for _, line := range lr.all {
		if !strings.Contains(line, " | ") {
			t.Errorf("line without a prefix: %q", line)
		}
	}
	if !slices.Contains(lr.all, bn+" | one") {
		t.Errorf("the late container's first line is missing: %q", lr.all)
	}
}

// TestMergedLogsRefusals: a bad selector, an unknown container namespace
// and bad options are refused before the stream with a Status; a selector
// that matches nothing gives an empty 200.
func TestMergedLogsRefusals(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	for _, tc := range []struct {
		u    string
		code int
	}{
		{e.mergedURL(url.Values{"labelSelector": {"a in (b"}}), http.StatusBadRequest},
		{e.mergedURL(url.Values{"fieldSelector": {"status.nope=1"}}), http.StatusBadRequest},
		{e.mergedURL(url.Values{"fieldSelector": {"status.name"}}), http.StatusBadRequest},
		{e.mergedURL(url.Values{"tailLines": {"-1"}}), http.StatusBadRequest},
		{e.mergedURL(url.Values{"followRestarts": {"true"}}), http.StatusBadRequest},
		{strings.Replace(e.mergedURL(nil), "/moby/", "/nope/", 1), http.StatusNotFound},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		resp := e.get(ctx, tc.u)
		var st struct {
			Code    int
			Message string
		}
		_ = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		cancel()
		if resp.StatusCode != tc.code || st.Code != tc.code || st.Message == "" {
			t.Errorf("%s: %d (Status %d %q), want %d", tc.u, resp.StatusCode, st.Code, st.Message, tc.code)
		}
	}
	if body := e.mergedGet(url.Values{"labelSelector": {"io.rancherdesktop.test.none=" + testenv.UniqueName(t, "n")}}); body != "" {
		t.Errorf("no match: %q, want an empty log", body)
	}
}

// TestMergedLogsFollowRuns: in a merged follow, a container that stops
// leaves and, started again, comes back from just after its last line
// (nothing replayed); with followRestarts it stays, with a prefixed marker
// between its runs.
func TestMergedLogsFollowRuns(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	for _, restarts := range []bool{false, true} {
		t.Run(fmt.Sprintf("followRestarts=%v", restarts), func(t *testing.T) {
			label := "io.rancherdesktop.test.merge=" + testenv.UniqueName(t, "r")
			id, name := e.runLabeled(label, waiter...)
			ctx, cancel := context.WithTimeout(context.Background(), 3*deadline)
			defer cancel()
			q := url.Values{"labelSelector": {label}, "follow": {"true"}}
			if restarts {
				q.Set("followRestarts", "true")
			}
			resp := e.get(ctx, e.mergedURL(q))
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("follow: %d", resp.StatusCode)
			}
			lr := newLineReader(t, bufio.NewReader(resp.Body))
			lr.until(name + " | start")
			testenv.MustDocker(t, e.host, "stop", "-t", "10", id)
			lr.until(name + " | bye")
			testenv.MustDocker(t, e.host, "start", id)
			lr.until(name + " | start")
			testenv.MustDocker(t, e.host, "kill", "-s", "USR1", id)
			lr.until(name + " | later")
			var got []string
			for _, line := range lr.all {
				_, rest, _ := strings.Cut(line, " | ")
				if markerRE.MatchString(rest) {
					rest = "MARKER"
				}
				got = append(got, rest)
			}
			want := "[start bye start later]"
			if restarts {
				want = "[start bye MARKER start later]"
			}
			if fmt.Sprint(got) != want {
				t.Errorf("lines %q, want %s (each line once, in order)", lr.all, want)
			}
		})
	}
}
