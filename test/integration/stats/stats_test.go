//go:build integration

// Package stats tests the containerstats resource and the containers/stats
// history against a real dockerd: the figures against `docker stats`, the
// objects' lifecycle, the watch, and the history over HTTP and WebSocket.
package stats

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	units "github.com/docker/go-units"
	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/cmd/server"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const deadline = 60 * time.Second

// env is one server on the shared engine, sampling every interval.
type env struct {
	t        *testing.T
	host     string
	s        *testenv.Server
	hc       *http.Client
	interval time.Duration
	label    string // on every container the test runs: test=<label>
	// pending are the watch events read while waiting for another
	// container's, by container ID (only the test goroutine uses it).
	pending map[string][]event
}

type event struct {
	typ watch.EventType
	cs  *v1alpha1.ContainerStats
}

func newEnv(t *testing.T, interval time.Duration) *env {
	host := testenv.DockerHost(t)
	s := testenv.StartServer(t, host, testenv.ServerOptions{Mutate: func(o *server.Options) { o.StatsInterval = interval }})
	return &env{t: t, host: host, s: s, hc: testenv.HTTPClient(t), interval: interval, label: testenv.UniqueName(t, "stats"),
		pending: map[string][]event{}}
}

// run starts a container labelled with the env's label and returns its ID
// and name.
func (e *env) run(dockerArgs []string, cmd ...string) (id, name string) {
	e.t.Helper()
	name = testenv.UniqueName(e.t, "stats")
	args := append([]string{"run", "-d", "--name", name, "--label", "test=" + e.label}, dockerArgs...)
	args = append(append(args, testenv.BusyboxImage), cmd...)
	id = testenv.MustDocker(e.t, e.host, args...)
	e.t.Cleanup(func() { _, _ = testenv.Docker(context.Background(), e.host, "rm", "-f", id) })
	return id, name
}

// watch watches the env's containers' stats.
func (e *env) watch() watch.Interface {
	e.t.Helper()
	w, err := e.s.Client.ContainersV1alpha1().ContainerStats(e.s.Namespace).Watch(context.Background(),
		metav1.ListOptions{LabelSelector: "test=" + e.label})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(w.Stop)
	return w
}

// next waits for the watch's next event about id; events about other
// containers are kept for later calls.
func (e *env) next(w watch.Interface, id string) (watch.EventType, *v1alpha1.ContainerStats) {
	e.t.Helper()
	if p := e.pending[id]; len(p) > 0 {
		e.pending[id] = p[1:]
		return p[0].typ, p[0].cs
	}
	timeout := time.After(deadline)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				e.t.Fatal("the watch ended")
			}
			cs, ok := ev.Object.(*v1alpha1.ContainerStats)
			if !ok {
				e.t.Fatalf("watch event %s with %T", ev.Type, ev.Object)
			}
			if cs.Name == id {
				return ev.Type, cs
			}
			e.pending[cs.Name] = append(e.pending[cs.Name], event{ev.Type, cs})
		case <-timeout:
			e.t.Fatalf("no event about %s within %s", id, deadline)
		}
	}
}

// startedAt is the container's start time, as Docker records it.
func (e *env) startedAt(id string) time.Time {
	e.t.Helper()
	out := testenv.MustDocker(e.t, e.host, "inspect", "-f", "{{.State.StartedAt}}", id)
	t, err := time.Parse(time.RFC3339Nano, out)
	if err != nil {
		e.t.Fatal(err)
	}
	return t
}

func (e *env) statsURL(id string, q url.Values) string {
	u := e.s.URL + "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/" + e.s.Namespace + "/containers/" + id + "/stats"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func (e *env) get(ctx context.Context, u string) *http.Response {
	e.t.Helper()
	return testenv.Get(ctx, e.t, e.hc, u, e.s.Token)
}

// history reads a container's whole history (no follow).
func (e *env) history(id string, q url.Values) []v1alpha1.ContainerStatsStatus {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	resp := e.get(ctx, e.statsURL(id, q))
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET stats: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		e.t.Errorf("Content-Type %q, want application/x-ndjson", ct)
	}
	return parseLines(e.t, body)
}

func parseLines(t *testing.T, body []byte) []v1alpha1.ContainerStatsStatus {
	t.Helper()
	var out []v1alpha1.ContainerStatsStatus
	for _, line := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var s v1alpha1.ContainerStatsStatus
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out = append(out, s)
	}
	return out
}

// TestStatsBusyAndIdle: at the default interval, a busy container shows
// above 0.2 cores and an idle one below 0.05 from their first samples, each
// object carrying the Docker name and labels, and selectable by them.
//
// The busy container runs two loops and may be judged on the best of its
// first three samples: on a loaded 2-core machine (go test runs packages in
// parallel) one loop's first window measured 0.15 cores, which was right.
func TestStatsBusyAndIdle(t *testing.T) {
	e := newEnv(t, server.NewOptions().StatsInterval) // the default, 2s
	w := e.watch()
	busy, busyName := e.run(nil, "sh", "-c", "while :; do :; done & while :; do :; done")
	idle, idleName := e.run(nil, "sleep", "3600")

	for _, c := range []struct {
		id, name string
		check    func(int64) bool
		want     string
	}{
		{busy, busyName, func(n int64) bool { return n > 200_000_000 }, "> 0.2 cores"},
		{idle, idleName, func(n int64) bool { return n < 50_000_000 }, "< 0.05 cores"},
	} {
		typ, cs := e.next(w, c.id)
		if typ != watch.Added {
			t.Fatalf("%s: first event %s, want ADDED", c.name, typ)
		}
		st := cs.Status
		rates := []int64{st.CPU.UsageNanoCores}
		for c.id == busy && !c.check(rates[len(rates)-1]) && len(rates) < 3 {
			_, next := e.next(w, c.id)
			rates = append(rates, next.Status.CPU.UsageNanoCores)
		}
		if !c.check(rates[len(rates)-1]) {
			t.Errorf("%s: usageNanoCores of the first samples %v, want %s", c.name, rates, c.want)
		}
		if st.Name != c.name || cs.Labels["test"] != e.label {
			t.Errorf("%s: status.name %q, labels %v", c.name, st.Name, cs.Labels)
		}
		// Created within one interval of the start (plus the baseline sample's
		// gap and the mirror's own delay): well under the deadline below.
		after := st.Timestamp.Sub(e.startedAt(c.id))
		t.Logf("%s: first sample %s after the start, usageNanoCores %v", c.name, after, rates)
		if after > 10*time.Second {
			t.Errorf("%s: first sample %s after the start", c.name, after)
		}
		if st.Memory.UsageBytes <= 0 || st.Memory.WorkingSetBytes <= 0 || st.Memory.LimitBytes < st.Memory.UsageBytes ||
			st.Pids < 1 || st.CPU.UsageCoreNanoSeconds <= 0 {
			t.Errorf("%s: implausible status %+v", c.name, st)
		}
	}

	cli := e.s.Client.ContainersV1alpha1().ContainerStats(e.s.Namespace)
	for sel, want := range map[[2]string]string{
		{"status.name=" + busyName, ""}:   busy,
		{"metadata.name=" + idle, ""}:     idle,
		{"", "test=" + e.label + ",x!=y"}: busy + "," + idle,
	} {
		l, err := cli.List(context.Background(), metav1.ListOptions{FieldSelector: sel[0], LabelSelector: sel[1]})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range l.Items {
			if it.Labels["test"] == e.label {
				got = append(got, it.Name)
			}
		}
		if strings.Join(got, ",") != want && strings.Join(reverse(got), ",") != want {
			t.Errorf("selector %q: got %v, want %s", sel, got, want)
		}
	}
	// Read-only: no create, update or delete.
	err := e.s.Client.ContainersV1alpha1().RESTClient().Delete().Namespace(e.s.Namespace).Resource("containerstats").
		Name(busy).Do(context.Background()).Error()
	if !apierrors.IsMethodNotSupported(err) {
		t.Errorf("delete: %v, want a MethodNotSupported error", err)
	}
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// dockerStats is one line of `docker stats --no-stream --format '{{json .}}'`.
type dockerStats struct {
	MemUsage, NetIO, BlockIO, PIDs string
}

// TestStatsMatchDockerStats compares memory, pids and network with `docker
// stats --no-stream` for the same container.
func TestStatsMatchDockerStats(t *testing.T) {
	e := newEnv(t, 500*time.Millisecond)
	w := e.watch()
	// Some memory in use and some traffic (its own ARP and IPv6 chatter).
	id, _ := e.run(nil, "sh", "-c", "head -c 20000000 /dev/zero > /dev/shm/x; sleep 3600")
	e.next(w, id)
	out := testenv.MustDocker(t, e.host, "stats", "--no-stream", "--format", "{{json .}}", id)
	var ds dockerStats
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		t.Fatalf("docker stats %q: %v", out, err)
	}
	asked := time.Now()
	var st v1alpha1.ContainerStatsStatus
	for st.Timestamp.Time.Before(asked) { // a sample taken after docker's
		_, cs := e.next(w, id)
		st = cs.Status
	}
	t.Logf("docker stats: %+v; ours: %+v", ds, st)

	usage, limit := pair(t, ds.MemUsage, units.RAMInBytes)
	if !near(st.Memory.WorkingSetBytes, usage, max(1<<20, usage/5)) {
		t.Errorf("workingSetBytes %d, docker stats %s (%d)", st.Memory.WorkingSetBytes, ds.MemUsage, usage)
	}
	if st.Memory.WorkingSetBytes < 20_000_000 {
		t.Errorf("workingSetBytes %d, want the 20 MB in /dev/shm", st.Memory.WorkingSetBytes)
	}
	if !near(st.Memory.LimitBytes, limit, limit/100) {
		t.Errorf("limitBytes %d, docker stats %s (%d)", st.Memory.LimitBytes, ds.MemUsage, limit)
	}
	if fmt.Sprint(st.Pids) != ds.PIDs {
		t.Errorf("pids %d, docker stats %s", st.Pids, ds.PIDs)
	}
	rx, tx := pair(t, ds.NetIO, units.FromHumanSize)
	// Counters only grow; docker's figure has 3-4 significant digits.
	for _, c := range []struct {
		name       string
		ours, them int64
	}{{"rxBytes", st.Network.RxBytes, rx}, {"txBytes", st.Network.TxBytes, tx}} {
		if c.ours < c.them*99/100 || c.ours > c.them+100_000 {
			t.Errorf("network.%s %d, docker stats %s (%d)", c.name, c.ours, ds.NetIO, c.them)
		}
	}
}

// pair parses "A / B" with parse.
func pair(t *testing.T, s string, parse func(string) (int64, error)) (int64, int64) {
	t.Helper()
	a, b, ok := strings.Cut(s, " / ")
	if !ok {
		t.Fatalf("%q is not A / B", s)
	}
	x, err := parse(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return x, y
}

func near(a, b, tolerance int64) bool { return a >= b-tolerance && a <= b+tolerance }

// TestStatsBlockIOWrite: 50 MB written to a file show in blockIO.writeBytes.
//
// Recent kernels keep cgroup v1 blkio counters only for devices with a
// throttle rule (`docker stats` then shows 0B too), so the container gets a
// high write limit on the device under Docker's data root; on cgroup v2 the
// rule is harmless.
func TestStatsBlockIOWrite(t *testing.T) {
	e := newEnv(t, 500*time.Millisecond)
	dev := dataRootDevice(t, e.host)
	w := e.watch()
	id, _ := e.run([]string{"--device-write-bps", dev + ":10gb"},
		"sh", "-c", "dd if=/dev/zero of=/f bs=1M count=50 conv=fsync; sleep 3600")
	for {
		_, cs := e.next(w, id)
		if cs.Status.BlockIO.WriteBytes >= 50<<20 {
			t.Logf("blockIO %+v", cs.Status.BlockIO)
			break
		}
	}
}

// dataRootDevice is a block device node for the device that holds Docker's
// data root, made for the test under /dev (docker run takes only paths there;
// a machine without udev has no /dev/block).
func dataRootDevice(t *testing.T, host string) string {
	t.Helper()
	root := testenv.MustDocker(t, host, "info", "-f", "{{.DockerRootDir}}")
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		t.Fatal(err)
	}
	if unix.Major(st.Dev) == 0 {
		t.Skipf("Docker's data root %s is not on a block device (device 0:%d): nothing counts block I/O", root, unix.Minor(st.Dev))
	}
	node := "/dev/" + testenv.UniqueName(t, "ca-disk")
	t.Cleanup(func() { _ = os.Remove(node) })
	if err := unix.Mknod(node, unix.S_IFBLK|0o600, int(st.Dev)); err != nil {
		t.Fatalf("making a node for device %d:%d: %v", unix.Major(st.Dev), unix.Minor(st.Dev), err)
	}
	return node
}

// TestStatsLifecycleAndHistory: the object is updated every interval and
// deleted on stop; the history holds every sample since the start, oldest
// first; follow streams new samples over HTTP and WebSocket and ends when
// the container stops; refusals are Statuses.
func TestStatsLifecycleAndHistory(t *testing.T) {
	e := newEnv(t, 500*time.Millisecond)
	w := e.watch()
	id, name := e.run(nil, "sleep", "3600")
	start := e.startedAt(id)

	typ, cs := e.next(w, id)
	if typ != watch.Added {
		t.Fatalf("first event %s", typ)
	}
	first := cs.Status.Timestamp.Time
	last := first
	const updates = 6
	for range updates {
		typ, cs := e.next(w, id)
		ts := cs.Status.Timestamp.Time
		if typ != watch.Modified || !ts.After(last) {
			t.Fatalf("event %s at %v after %v, want MODIFIED with a later sample", typ, ts, last)
		}
		last = ts
	}
	// Every interval: the samples' own clock, not this test's.
	if mean := last.Sub(first) / updates; mean < e.interval*8/10 || mean > 3*e.interval {
		t.Errorf("samples %s apart on average, want about %s", mean, e.interval)
	}

	hist := e.history(id, nil)
	if len(hist) < updates+1 {
		t.Fatalf("history of %d samples, want at least %d", len(hist), updates+1)
	}
	if !hist[0].Timestamp.Equal(&metav1.MicroTime{Time: first}) || hist[0].Name != name {
		t.Errorf("history starts at %v (%s), want the first sample %v", hist[0].Timestamp, hist[0].Name, first)
	}
	if d := hist[0].Timestamp.Sub(start); d > 10*time.Second {
		t.Errorf("the first sample is %s after the start", d)
	}
	for i := 1; i < len(hist); i++ {
		if !hist[i].Timestamp.After(hist[i-1].Timestamp.Time) {
			t.Fatalf("history out of order at line %d", i)
		}
	}
	recent := e.history(id, url.Values{"sinceSeconds": {"1"}})
	if len(recent) == 0 || len(recent) >= len(hist) {
		t.Errorf("sinceSeconds=1: %d samples of %d", len(recent), len(hist))
	}

	// Follow over HTTP and over a WebSocket, both open when the container stops.
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	resp := e.get(ctx, e.statsURL(id, url.Values{"follow": {"true"}}))
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("follow: %d %s", resp.StatusCode, b)
	}
	lines := bufio.NewScanner(resp.Body)
	for range len(hist) + 2 { // the history, then new samples
		if !lines.Scan() {
			t.Fatalf("follow ended early: %v", lines.Err())
		}
	}
	conn := e.dial(e.statsURL(id, url.Values{"follow": {"true"}}), "v5.channel.k8s.io")
	wsLines := 0
	for wsLines < len(hist)+2 {
		_ = conn.SetReadDeadline(time.Now().Add(deadline))
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 || data[0] != 1 {
			t.Fatalf("message on channel %v: %q", data[:min(1, len(data))], data)
		}
		parseLines(t, data[1:])
		wsLines += bytes.Count(data[1:], []byte("\n"))
	}

	testenv.MustDocker(t, e.host, "stop", "-t", "0", id)
	for {
		typ, _ := e.next(w, id)
		if typ == watch.Deleted {
			break
		}
	}
	for lines.Scan() {
	}
	if err := lines.Err(); err != nil {
		t.Errorf("the HTTP follow did not end cleanly: %v", err)
	}
	if v := resp.Trailer.Get("X-Stream-Error"); v != "" {
		t.Errorf("the HTTP follow ended with %s", v)
	}
	for {
		_ = conn.SetReadDeadline(time.Now().Add(deadline))
		if _, _, err := conn.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Errorf("the WebSocket follow ended with %v, want a normal close", err)
			}
			break
		}
	}

	// Refusals: a stopped container, an unknown one, a bad option.
	for _, c := range []struct {
		id    string
		q     url.Values
		code  int
		words string
	}{
		{id, nil, http.StatusNotFound, "not running"},
		{strings.Repeat("ab", 32), nil, http.StatusNotFound, "no such container"},
		{"nope", nil, http.StatusNotFound, "64-character"},
		{id, url.Values{"sinceSeconds": {"0"}}, http.StatusBadRequest, "sinceSeconds must be 1 or more"},
		{id, url.Values{"follow": {"maybe"}}, http.StatusBadRequest, "follow"},
	} {
		resp := e.get(ctx, e.statsURL(c.id, c.q))
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var st metav1.Status
		if err := json.Unmarshal(body, &st); err != nil || resp.StatusCode != c.code || int(st.Code) != c.code ||
			!strings.Contains(st.Message, c.words) {
			t.Errorf("GET stats of %s?%s: %d %s; want a %d Status saying %q", c.id, c.q.Encode(), resp.StatusCode, body, c.code, c.words)
		}
	}
}

// dial opens a WebSocket to an https URL.
func (e *env) dial(u string, protocols ...string) *websocket.Conn {
	e.t.Helper()
	return testenv.DialWebSocket(e.t, u, e.s.Token, protocols...)
}
