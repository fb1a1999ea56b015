package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/gorilla/websocket"

	"github.com/rancher-sandbox/containers-apiserver/pkg/cmd/server"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// The log benchmark (TestBenchLogs): throughput of a whole log, and follow
// latency, read straight from Docker and through the server, same container,
// same bytes, same run.

const (
	// logsLabel marks every container the log benchmark creates.
	logsLabel = "io.rancherdesktop.bench.logs"

	targetLogRatio = 0.95                 // server MB/s over Docker MB/s, on every path
	targetAddedP99 = 2 * time.Millisecond // server p99 - Docker p99, following, on every path

	logsDeadline  = 15 * time.Minute // everything TestBenchLogs does after the daemon answers
	readTimeout   = 5 * time.Minute  // one whole-log read
	writeDeadline = 5 * time.Minute  // the writers of the throughput logs, until they exit
	lineBytes     = 100              // every line of the throughput logs, newline included
)

// logParams are the knobs, each from an environment variable.
type logParams struct {
	bytes    int64  // CA_BENCH_LOG_MB (12), in 10^6 bytes: the size of each throughput log
	reps     int    // CA_BENCH_LOG_REPS (7): measured reads per path, after one warm-up round
	lines    int    // CA_BENCH_LOG_FOLLOW_LINES (300): lines measured while following
	warm     int    // CA_BENCH_LOG_FOLLOW_WARMUP (20): lines skipped first
	interval string // CA_BENCH_LOG_FOLLOW_INTERVAL (0.05): seconds between lines (sleep's argument)
	driver   string // CA_BENCH_LOG_DRIVER (json-file): Docker log driver of the containers
	strict   bool   // CA_BENCH_STRICT=1
	report   string // CA_BENCH_LOGS_REPORT (_output/bench/issue3.txt)
}

func loadLogParams(t *testing.T) logParams {
	t.Helper()
	p := logParams{
		bytes:    int64(envInt(t, "CA_BENCH_LOG_MB", 12)) * 1_000_000,
		reps:     envInt(t, "CA_BENCH_LOG_REPS", 7),
		lines:    envInt(t, "CA_BENCH_LOG_FOLLOW_LINES", 300),
		warm:     envInt(t, "CA_BENCH_LOG_FOLLOW_WARMUP", 20),
		interval: os.Getenv("CA_BENCH_LOG_FOLLOW_INTERVAL"),
		driver:   os.Getenv("CA_BENCH_LOG_DRIVER"),
		strict:   os.Getenv("CA_BENCH_STRICT") == "1",
		report:   os.Getenv("CA_BENCH_LOGS_REPORT"),
	}
	if p.interval == "" {
		p.interval = "0.05"
	}
	if f, err := strconv.ParseFloat(p.interval, 64); err != nil || f < 0 || f > 5 {
		t.Fatalf("CA_BENCH_LOG_FOLLOW_INTERVAL=%q: want seconds between 0 and 5", p.interval)
	}
	if p.driver == "" {
		p.driver = "json-file"
	}
	if p.bytes < 1_000_000 || p.reps < 1 || p.lines < 10 || p.warm < 0 {
		t.Fatalf("log bench parameters out of range: %+v", p)
	}
	if p.report == "" {
		p.report = filepath.Join(testenv.Root(), "_output", "bench", "issue3.txt")
	}
	return p
}

// TestBenchLogs is the log benchmark. It needs CA_BENCH=1 (hack/bench.sh sets it).
func TestBenchLogs(t *testing.T) {
	requireBench(t)
	p := loadLogParams(t)
	host := benchDockerHost(t)
	dc := testenv.DockerClient(t, host)
	ctx, cancel := context.WithTimeout(context.Background(), logsDeadline)
	defer cancel()

	rep := &logReport{logParams: p, started: time.Now()}
	rep.machine = machineInfo(ctx, t, dc)
	rep.loadStart = loadAvg()
	t.Cleanup(func() { removeLabelled(t, dc, logsLabel) })

	s := testenv.StartServer(t, host, testenv.ServerOptions{Mutate: func(o *server.Options) {
		o.ResyncInterval = time.Hour
	}})
	cp := loadControlPlane(t)
	rep.aggregated = cp != nil
	b := newLogBench(t, s, dc, host, cp)
	rep.dockerdPID = b.dockerdPID

	rep.tput = b.measureThroughput(ctx, p)
	rep.follow = b.measureFollow(ctx, p)
	if cp != nil {
		ids := b.idleContainers(ctx, 10)
		rep.idle = append(rep.idle, b.measureIdle(ctx, cp, cp.serverEndpoint(t), ids), b.measureIdle(ctx, cp, b.agg, ids))
	}

	rep.loadEnd = loadAvg()
	rep.elapsed = time.Since(rep.started)
	text := rep.String()
	writeReport(t, p.report, text)
	if p.strict && !rep.passed() {
		t.Errorf("CA_BENCH_STRICT=1 and a log target was missed (see the report)")
	}
}

// removeLabelled force-removes the containers carrying label.
func removeLabelled(t *testing.T, dc *client.Client, label string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*callTimeout)
	defer cancel()
	cs, err := listDocker(ctx, dc, label)
	if err != nil {
		t.Logf("listing the log bench's containers for removal: %v", err)
		return
	}
	for _, c := range cs {
		if err := dc.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil {
			t.Logf("removing %.12s: %v", c.ID, err)
		}
	}
}

// logBench holds the clients of every path to a log.
type logBench struct {
	t          *testing.T
	dc         *client.Client
	direct     *endpoint
	agg        *endpoint // nil without a control plane
	dockerdPID int       // 0 when unknown: no dockerd CPU figures
}

func newLogBench(t *testing.T, s *testenv.Server, dc *client.Client, host string, cp *controlPlane) *logBench {
	t.Helper()
	b := &logBench{t: t, dc: dc, direct: directEndpoint(t, s), dockerdPID: dockerdPID(host)}
	if cp != nil {
		b.agg = cp.aggregatedEndpoint(t)
	}
	return b
}

// endpoints are the server and, with a control plane, kube-apiserver.
func (b *logBench) endpoints() []*endpoint {
	if b.agg == nil {
		return []*endpoint{b.direct}
	}
	return []*endpoint{b.direct, b.agg}
}

// dockerdPID reads the pidfile next to a test-owned daemon's socket.
func dockerdPID(host string) int {
	sock, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(sock), "docker.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// run creates and starts a container of the log bench.
func (b *logBench) run(ctx context.Context, name string, tty bool, driver string, cmd ...string) string {
	b.t.Helper()
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	r, err := b.dc.ContainerCreate(cctx, &container.Config{
		Image:  testenv.BusyboxImage,
		Cmd:    cmd,
		Tty:    tty,
		Labels: map[string]string{logsLabel: "issue3", benchLabel: "issue3"},
	}, &container.HostConfig{
		NetworkMode: "none",
		LogConfig:   container.LogConfig{Type: driver},
	}, nil, nil, name)
	if err == nil {
		err = b.dc.ContainerStart(cctx, r.ID, container.StartOptions{})
	}
	if err != nil {
		b.t.Fatalf("docker run %s: %v", name, err)
	}
	return r.ID
}

// waitMirrored waits until every endpoint serves the container (the log
// endpoint 404s before).
func (b *logBench) waitMirrored(ctx context.Context, id string) {
	b.t.Helper()
	for _, e := range b.endpoints() {
		e.waitContainer(ctx, b.t, id)
	}
}

// ---------------------------------------------------------------------------
// Throughput

// logPath is one way of reading a whole log; read returns the log's bytes
// (payload only: no stdcopy headers, channel bytes or framing).
type logPath struct {
	name  string
	proto string // WebSocket subprotocol, for the report
	read  func(ctx context.Context, id string, tty bool, w io.Writer) error
	msgs  *int64 // WebSocket messages of the last read
}

func (b *logBench) paths(tty bool) []logPath {
	direct := "Docker API (ContainerLogs + stdcopy)"
	if tty {
		direct = "Docker API (ContainerLogs, raw)"
	}
	paths := []logPath{{name: direct, read: func(ctx context.Context, id string, tty bool, w io.Writer) error {
		return b.readDocker(ctx, id, tty, container.LogsOptions{}, w)
	}}}
	for _, e := range b.endpoints() {
		ws := logPath{name: e.name + " WebSocket", proto: "v5.channel.k8s.io", msgs: new(int64)}
		if tty {
			ws.proto = "binary.k8s.io"
		}
		ws.read = func(ctx context.Context, id string, _ bool, w io.Writer) error {
			*ws.msgs = 0
			return b.readWS(ctx, e, id, nil, ws.proto, w, w, ws.msgs)
		}
		paths = append(paths,
			logPath{name: e.name + " HTTP/1.1 chunked", read: func(ctx context.Context, id string, _ bool, w io.Writer) error {
				return b.readHTTP(ctx, e, 1, id, nil, w)
			}},
			logPath{name: e.name + " HTTP/2", read: func(ctx context.Context, id string, _ bool, w io.Writer) error {
				return b.readHTTP(ctx, e, 2, id, nil, w)
			}},
			ws)
	}
	return paths
}

// readDocker copies a container's log straight from Docker to w; the
// options' stream flags are set here.
func (b *logBench) readDocker(ctx context.Context, id string, tty bool, o container.LogsOptions, w io.Writer) error {
	o.ShowStdout, o.ShowStderr = true, true
	rc, err := b.dc.ContainerLogs(ctx, id, o)
	if err != nil {
		return fmt.Errorf("docker logs: %w", err)
	}
	defer rc.Close()
	if tty {
		_, err = io.Copy(w, rc)
	} else {
		_, err = stdcopy.StdCopy(w, w, rc)
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("docker logs: %w", err)
	}
	return nil
}

// readHTTP copies the log endpoint's body to w; proto is the HTTP major
// version the client must have used.
func (b *logBench) readHTTP(ctx context.Context, e *endpoint, proto int, id string, q url.Values, w io.Writer) error {
	req, err := e.request(ctx, e.logURL(id, q))
	if err != nil {
		return err
	}
	hc := e.h1
	if proto == 2 {
		hc = e.h2
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return fmt.Errorf("GET log: %s: %s", resp.Status, body)
	}
	if resp.ProtoMajor != proto {
		return fmt.Errorf("GET log: wanted HTTP/%d, got %s", proto, resp.Proto)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" || resp.Uncompressed {
		return fmt.Errorf("GET log: the body is compressed (%q); the benchmark counts plain bytes", ce)
	}
	if _, err := io.Copy(w, resp.Body); err != nil && ctx.Err() == nil {
		return fmt.Errorf("GET log body: %w", err)
	}
	return nil
}

// readWS reads the log endpoint over a WebSocket with one subprotocol until
// the server closes it (1000 expected, or any close once ctx is done).
// Channel protocols: channel 1 goes to stdout, 2 to stderr, 3 is an error.
// msgs, if not nil, counts the data messages.
func (b *logBench) readWS(ctx context.Context, e *endpoint, id string, q url.Values, proto string, stdout, stderr io.Writer, msgs *int64) error {
	d := websocket.Dialer{
		TLSClientConfig:  e.tls.Clone(),
		Subprotocols:     []string{proto},
		HandshakeTimeout: callTimeout,
	}
	u := strings.Replace(e.logURL(id, q), "https://", "wss://", 1)
	conn, resp, err := d.DialContext(ctx, u, e.header.Clone())
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
			err = fmt.Errorf("%w: %s %s", err, resp.Status, body)
		}
		return fmt.Errorf("WebSocket %s: %w", proto, err)
	}
	defer conn.Close()
	if conn.Subprotocol() != proto {
		return fmt.Errorf("WebSocket: asked for %s, got %q", proto, conn.Subprotocol())
	}
	// Unblock the reads when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	channels := strings.HasSuffix(proto, ".channel.k8s.io")
	var ch [1]byte
	// One buffer for all messages: io.Copy would allocate 32 KiB per message,
	// and the garbage would cost this client (and so the shared CPUs) more
	// than reading the message does.
	buf := make([]byte, 32<<10)
	for {
		_, r, err := conn.NextReader()
		if err != nil {
			var ce *websocket.CloseError
			if (errors.As(err, &ce) && ce.Code == websocket.CloseNormalClosure) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("WebSocket %s: %w", proto, err)
		}
		if msgs != nil {
			*msgs++
		}
		if !channels {
			if _, err := io.CopyBuffer(stdout, r, buf); err != nil {
				return err
			}
			continue
		}
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			continue // an empty message
		}
		switch ch[0] {
		case 1:
			_, err = io.CopyBuffer(stdout, r, buf)
		case 2:
			_, err = io.CopyBuffer(stderr, r, buf)
		case 3:
			msg, _ := io.ReadAll(r)
			return fmt.Errorf("WebSocket %s: error channel: %s", proto, msg)
		default:
			return fmt.Errorf("WebSocket %s: unexpected channel %d", proto, ch[0])
		}
		if err != nil {
			return err
		}
	}
}

// countWriter counts and discards.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// tputSample is one timed read of a whole log.
type tputSample struct {
	d                 time.Duration
	selfCPU, dockerdC time.Duration // CPU used meanwhile by this process (server + client) and by dockerd
}

type tputPath struct {
	name, proto string
	msgs        int64 // WebSocket messages per read
	samples     []tputSample
}

// tputMode is one container (TTY or not) and every path's reads of its log.
type tputMode struct {
	tty      bool
	id       string
	written  time.Duration // docker start -> exit of the writer
	bytes    int64         // bytes in the log, as every path read them
	expected int64         // bytes the writer wrote (after the TTY's \n -> \r\n)
	paths    []tputPath
}

func (m *tputMode) rate(pi int) (median, lo, hi float64) {
	var r []float64
	for _, s := range m.paths[pi].samples {
		r = append(r, float64(m.bytes)/s.d.Seconds()/1e6)
	}
	slices.Sort(r)
	return medianF(r), r[0], r[len(r)-1]
}

// pairedRatio is the median over the rounds of path pi's rate over Docker's
// in the same round: less sensitive than the ratio of medians to a change of
// the machine's load between rounds.
func (m *tputMode) pairedRatio(pi int) float64 {
	var r []float64
	for i, s := range m.paths[pi].samples {
		r = append(r, m.paths[0].samples[i].d.Seconds()/s.d.Seconds())
	}
	slices.Sort(r)
	return medianF(r)
}

func (m *tputMode) cpu(pi int) (self, dockerd time.Duration) {
	var a, b []time.Duration
	for _, s := range m.paths[pi].samples {
		a = append(a, s.selfCPU)
		b = append(b, s.dockerdC)
	}
	return summarize(a).P50, summarize(b).P50
}

func medianF(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// benchLine is the 99 characters of every throughput line (the 100th is the newline).
var benchLine = strings.Repeat("abcdefghij", 10)[:lineBytes-1]

func (b *logBench) measureThroughput(ctx context.Context, p logParams) []*tputMode {
	t := b.t
	t.Helper()
	n := p.bytes / lineBytes * lineBytes
	cmd := []string{"sh", "-c", fmt.Sprintf("yes %s | head -c %d", benchLine, n)}
	modes := []*tputMode{{tty: false, expected: n}, {tty: true, expected: n + n/lineBytes}}
	// Both writers at once; each read starts only after both exited.
	starts := make([]time.Time, len(modes))
	for i, m := range modes {
		starts[i] = time.Now()
		m.id = b.run(ctx, fmt.Sprintf("bench-logs-tput-tty-%v", m.tty), m.tty, p.driver, cmd...)
	}
	for i, m := range modes {
		wctx, cancel := context.WithTimeout(ctx, writeDeadline)
		okc, errc := b.dc.ContainerWait(wctx, m.id, container.WaitConditionNotRunning)
		select {
		case r := <-okc:
			if r.StatusCode != 0 {
				t.Fatalf("throughput writer (tty=%v) exited with %d", m.tty, r.StatusCode)
			}
		case err := <-errc:
			t.Fatalf("waiting for the throughput writer (tty=%v): %v", m.tty, err)
		}
		cancel()
		m.written = time.Since(starts[i])
		b.waitMirrored(ctx, m.id)
		t.Logf("throughput log tty=%v: %d bytes written in %s", m.tty, n, m.written.Round(time.Millisecond))
	}

	for _, m := range modes {
		paths := b.paths(m.tty)
		m.paths = make([]tputPath, len(paths))
		for i, lp := range paths {
			m.paths[i] = tputPath{name: lp.name, proto: lp.proto}
		}
		// Round -1 warms every path up, Docker's first: its count is the
		// reference. Then each round starts one path later.
		for round := -1; round < p.reps; round++ {
			order := make([]int, len(paths))
			for i := range order {
				order[i] = (i + max(round, 0)) % len(paths)
			}
			for _, pi := range order {
				lp := paths[pi]
				runtime.GC()
				var c countWriter
				cpu0, d0 := selfCPU(), procCPU(b.dockerdPID)
				rctx, cancel := context.WithTimeout(ctx, readTimeout)
				t0 := time.Now()
				err := lp.read(rctx, m.id, m.tty, &c)
				d := time.Since(t0)
				cancel()
				cpu1, d1 := selfCPU(), procCPU(b.dockerdPID)
				if err != nil {
					t.Fatalf("tty=%v, %s: %v", m.tty, lp.name, err)
				}
				if m.bytes == 0 {
					m.bytes = c.n
					if !m.tty && m.bytes != m.expected {
						t.Fatalf("Docker's log of the non-TTY writer has %d bytes, want %d", m.bytes, m.expected)
					}
				}
				if c.n != m.bytes {
					t.Fatalf("tty=%v, %s: read %d bytes, Docker's log has %d", m.tty, lp.name, c.n, m.bytes)
				}
				if lp.msgs != nil {
					m.paths[pi].msgs = *lp.msgs
				}
				if round < 0 {
					continue
				}
				m.paths[pi].samples = append(m.paths[pi].samples, tputSample{d: d, selfCPU: cpu1 - cpu0, dockerdC: d1 - d0})
				t.Logf("tty=%v round %d %-38s %s %6.1f MB/s", m.tty, round, lp.name, d.Round(time.Millisecond), float64(c.n)/d.Seconds()/1e6)
			}
		}
	}
	return modes
}

// selfCPU is the user+system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the user+system CPU time of pid so far (0 if unknown).
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after "(comm)": state is field 3, utime 14 and stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(u+s) * time.Second / clkTck
}
