package bench

// The exec benchmark (TestBenchExec): keystroke round trips through a
// terminal, and bulk stdin/stdout throughput of `cat`, straight through
// Docker's exec API and through the server's containers/exec (a WebSocket,
// v5.channel.k8s.io), same container, same run.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/cmd/server"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const (
	// execLabel marks the container the exec benchmark creates.
	execLabel = "io.rancherdesktop.bench.exec"

	targetExecAddedP99 = 2 * time.Millisecond // server p99 - Docker p99, keystroke round trip
	targetExecRatio    = 0.9                  // server MB/s over Docker MB/s, bulk cat

	execBenchDeadline = 15 * time.Minute // everything TestBenchExec does after the daemon answers
	keyTimeout        = 10 * time.Second // one keystroke until its echo
	bulkTimeout       = 5 * time.Minute  // one bulk transfer, session end included
	keyWarmup         = 20               // keystrokes per path before the measured ones
	keyGap            = 10 * time.Millisecond
	bulkRounds        = 3 // measured transfers per path, after one warm-up round
	// execChunk is what each path's client writes at a time: 32 KiB, as
	// client-go's WebSocket executor sends stdin (and the server copies it).
	execChunk = 32 << 10
	execProto = "v5.channel.k8s.io"
	// wsBufferSize is the client's WebSocket read and write buffer, as in
	// client-go's executor (its data buffer plus 1 KiB).
	wsBufferSize = 32<<10 + 1<<10
	// maxKeys keeps a path's keystrokes within the terminal's line (4,095
	// characters in canonical mode; no newline is ever sent).
	maxKeys = 4000
)

// execParams are the knobs, each from an environment variable.
type execParams struct {
	keys   int    // CA_BENCH_EXEC_KEYS (300): measured keystrokes per path, after keyWarmup
	bytes  int    // CA_BENCH_EXEC_MB (64), in MiB: the bulk transfer's size
	strict bool   // CA_BENCH_STRICT=1
	report string // CA_BENCH_EXEC_REPORT (_output/bench/issue12.txt)
}

func loadExecParams(t *testing.T) execParams {
	t.Helper()
	p := execParams{
		keys:   envInt(t, "CA_BENCH_EXEC_KEYS", 300),
		bytes:  envInt(t, "CA_BENCH_EXEC_MB", 64) << 20,
		strict: os.Getenv("CA_BENCH_STRICT") == "1",
		report: os.Getenv("CA_BENCH_EXEC_REPORT"),
	}
	if p.keys < 10 || p.keys+keyWarmup > maxKeys || p.bytes < 1<<20 || p.bytes > 1<<30 {
		t.Fatalf("exec bench parameters out of range (CA_BENCH_EXEC_KEYS 10-%d, CA_BENCH_EXEC_MB 1-1024): keys %d, %d MiB",
			maxKeys-keyWarmup, p.keys, p.bytes>>20)
	}
	if p.report == "" {
		p.report = filepath.Join(testenv.Root(), "_output", "bench", "issue12.txt")
	}
	return p
}

// TestBenchExec is the exec benchmark. It needs CA_BENCH=1 (hack/bench.sh sets it).
func TestBenchExec(t *testing.T) {
	requireBench(t)
	p := loadExecParams(t)
	host := benchDockerHost(t)
	dc := testenv.DockerClient(t, host)
	ctx, cancel := context.WithTimeout(context.Background(), execBenchDeadline)
	defer cancel()

	rep := &execReport{execParams: p, started: time.Now()}
	rep.machine = machineInfo(ctx, t, dc)
	rep.loadStart = loadAvg()
	t.Cleanup(func() { removeLabelled(t, dc, execLabel) })

	s := testenv.StartServer(t, host, testenv.ServerOptions{Mutate: func(o *server.Options) {
		o.ResyncInterval = time.Hour
	}})
	cp := loadControlPlane(t)
	rep.aggregated = cp != nil
	id := runExecContainer(ctx, t, dc)
	paths := []*execPath{{name: "Docker API (exec attach, hijacked)", dc: dc}, {name: "server", e: directEndpoint(t, s)}}
	if cp != nil {
		paths = append(paths, &execPath{name: "kube-apiserver", e: cp.aggregatedEndpoint(t)})
	}
	for _, x := range paths {
		if x.e != nil {
			x.e.waitContainer(ctx, t, id)
		}
	}
	dpid := dockerdPID(host)
	rep.dockerdKnown = dpid != 0

	rep.keys = measureKeys(ctx, t, paths, id, p.keys)
	rep.bulk = measureBulk(ctx, t, paths, id, p.bytes, dpid)

	rep.loadEnd = loadAvg()
	rep.elapsed = time.Since(rep.started)
	writeReport(t, p.report, rep.String())
	if p.strict && !rep.passed() {
		t.Errorf("CA_BENCH_STRICT=1 and an exec target was missed (see the report)")
	}
}

// runExecContainer starts the busybox container every path execs in.
func runExecContainer(ctx context.Context, t *testing.T, dc *client.Client) string {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	r, err := dc.ContainerCreate(cctx, &container.Config{
		Image:  testenv.BusyboxImage,
		Cmd:    []string{"sleep", "3600"},
		Labels: map[string]string{execLabel: "issue12", benchLabel: "issue12"},
	}, &container.HostConfig{NetworkMode: "none"}, nil, nil, "bench-exec")
	if err == nil {
		err = dc.ContainerStart(cctx, r.ID, container.StartOptions{})
	}
	if err != nil {
		t.Fatalf("docker run bench-exec: %v", err)
	}
	return r.ID
}

// execPath is one way to run a command in the container: Docker's API (dc),
// or the exec subresource on an endpoint (e).
type execPath struct {
	name string
	dc   *client.Client
	e    *endpoint
}

func (x *execPath) label() string {
	if x.e == nil {
		return x.name
	}
	return x.name + " WebSocket " + execProto
}

// execURL is the exec subresource's WebSocket URL on e.
func execURL(e *endpoint, id string, q url.Values) string {
	u := e.base + "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/" + e.ns + "/containers/" + id + "/exec?" + q.Encode()
	return strings.Replace(u, "https://", "wss://", 1)
}

// dialExec opens an exec session of cat and reads its first message (an
// empty one on stdout, which tells that the session is up).
func dialExec(ctx context.Context, e *endpoint, id string, tty bool) (*websocket.Conn, error) {
	q := url.Values{"command": {"cat"}, "stdin": {"true"}, "stdout": {"true"}}
	if tty {
		q.Set("tty", "true")
	}
	d := websocket.Dialer{
		TLSClientConfig:  e.tls.Clone(),
		Subprotocols:     []string{execProto},
		HandshakeTimeout: callTimeout,
		ReadBufferSize:   wsBufferSize,
		WriteBufferSize:  wsBufferSize,
	}
	conn, resp, err := d.DialContext(ctx, execURL(e, id, q), e.header.Clone())
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
			err = fmt.Errorf("%w: %s %s", err, resp.Status, body)
		}
		return nil, fmt.Errorf("exec WebSocket: %w", err)
	}
	if conn.Subprotocol() != execProto {
		_ = conn.Close()
		return nil, fmt.Errorf("exec WebSocket: asked for %s, got %q", execProto, conn.Subprotocol())
	}
	_ = conn.SetReadDeadline(time.Now().Add(callTimeout))
	_, first, err := conn.ReadMessage()
	if err == nil && (len(first) != 1 || first[0] != 1) {
		err = fmt.Errorf("the first message is %q, want an empty one on stdout", first)
	}
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("exec WebSocket: %w", err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn, nil
}

// closeWS closes a WebSocket politely (a close frame first).
func closeWS(conn *websocket.Conn) {
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(time.Second))
	_ = conn.Close()
}

// ---------------------------------------------------------------------------
// Keystrokes

// keySession is a terminal running cat.
type keySession interface {
	// key sends b and returns the time until its echo was read. With strict,
	// anything else read first is an error; otherwise it is skipped.
	key(b byte, strict bool) (time.Duration, error)
	close()
}

// openTTY starts cat on a terminal of 80x24.
func (x *execPath) openTTY(ctx context.Context, id string) (keySession, error) {
	if x.e == nil {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		size := &[2]uint{24, 80}
		cr, err := x.dc.ContainerExecCreate(cctx, id, container.ExecOptions{
			Tty: true, AttachStdin: true, AttachStdout: true, Cmd: []string{"cat"}, ConsoleSize: size,
		})
		if err != nil {
			return nil, fmt.Errorf("docker exec create: %w", err)
		}
		resp, err := x.dc.ContainerExecAttach(ctx, cr.ID, container.ExecAttachOptions{Tty: true, ConsoleSize: size})
		if err != nil {
			return nil, fmt.Errorf("docker exec attach: %w", err)
		}
		return &dockerTTY{resp: resp}, nil
	}
	conn, err := dialExec(ctx, x.e, id, true)
	if err != nil {
		return nil, err
	}
	if err := conn.WriteMessage(websocket.BinaryMessage, append([]byte{4}, `{"Width":80,"Height":24}`...)); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("exec WebSocket: resize: %w", err)
	}
	return &wsTTY{conn: conn}, nil
}

type dockerTTY struct {
	resp types.HijackedResponse
	buf  [256]byte
}

func (s *dockerTTY) key(b byte, strict bool) (time.Duration, error) {
	_ = s.resp.Conn.SetDeadline(time.Now().Add(keyTimeout))
	t0 := time.Now()
	if _, err := s.resp.Conn.Write([]byte{b}); err != nil {
		return 0, err
	}
	return waitEcho(t0, b, strict, func() ([]byte, error) {
		n, err := s.resp.Reader.Read(s.buf[:])
		return s.buf[:n], err
	})
}

func (s *dockerTTY) close() { s.resp.Close() }

type wsTTY struct{ conn *websocket.Conn }

func (s *wsTTY) key(b byte, strict bool) (time.Duration, error) {
	_ = s.conn.SetReadDeadline(time.Now().Add(keyTimeout))
	_ = s.conn.SetWriteDeadline(time.Now().Add(keyTimeout))
	t0 := time.Now()
	if err := s.conn.WriteMessage(websocket.BinaryMessage, []byte{0, b}); err != nil {
		return 0, err
	}
	return waitEcho(t0, b, strict, func() ([]byte, error) {
		for {
			_, m, err := s.conn.ReadMessage()
			switch {
			case err != nil:
				return nil, err
			case len(m) == 0:
				continue
			case m[0] == 1:
				return m[1:], nil
			case m[0] == 3:
				return nil, fmt.Errorf("the session ended: %s", m[1:])
			default:
				return nil, fmt.Errorf("a message on channel %d", m[0])
			}
		}
	})
}

func (s *wsTTY) close() { closeWS(s.conn) }

// waitEcho reads until b comes back and returns the time since t0. Every
// key is one letter and the terminal echoes it alone (no newline is sent,
// so cat itself writes nothing): b is the only byte expected.
func waitEcho(t0 time.Time, b byte, strict bool, read func() ([]byte, error)) (time.Duration, error) {
	for {
		p, err := read()
		if i := bytes.IndexByte(p, b); i >= 0 {
			d := time.Since(t0)
			if strict && (i != 0 || len(p) != 1) {
				return 0, fmt.Errorf("sent %q, read %q", b, p)
			}
			return d, nil
		}
		if strict && len(p) > 0 {
			return 0, fmt.Errorf("sent %q, read %q", b, p)
		}
		if err != nil {
			return 0, fmt.Errorf("waiting for the echo of %q: %w", b, err)
		}
	}
}

// keyResult is one path's keystroke round trips.
type keyResult struct {
	name   string
	lat    summary
	paired summary // round trip minus Docker's of the same key (not for Docker itself)
}

// measureKeys types on a terminal of each path, the paths taking turns key
// by key (the first path of each round rotating), keyGap between rounds.
func measureKeys(ctx context.Context, t *testing.T, paths []*execPath, id string, keys int) []keyResult {
	t.Helper()
	sessions := make([]keySession, len(paths))
	for i, x := range paths {
		s, err := x.openTTY(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", x.label(), err)
		}
		defer s.close()
		sessions[i] = s
	}
	lat := make([][]time.Duration, len(paths))
	for k := range keyWarmup + keys {
		b := 'a' + byte(k%26)
		strict := k >= keyWarmup
		for j := range paths {
			pi := (j + k) % len(paths)
			d, err := sessions[pi].key(b, strict)
			if err != nil {
				t.Fatalf("%s, key %d: %v", paths[pi].label(), k, err)
			}
			if strict {
				lat[pi] = append(lat[pi], d)
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("keystrokes: %v", ctx.Err())
		}
		time.Sleep(keyGap)
	}
	res := make([]keyResult, len(paths))
	for pi, x := range paths {
		res[pi] = keyResult{name: x.label(), lat: summarize(lat[pi])}
		if pi > 0 {
			diff := make([]time.Duration, len(lat[pi]))
			for i := range diff {
				diff[i] = lat[pi][i] - lat[0][i]
			}
			res[pi].paired = summarize(diff)
		}
		t.Logf("keystrokes %-52s p50 %s p99 %s max %s", x.label(), ms(res[pi].lat.P50), ms(res[pi].lat.P99), ms(res[pi].lat.Max))
	}
	return res
}

// ---------------------------------------------------------------------------
// Bulk

// compareWriter checks output against the input and notes when the last
// byte came.
type compareWriter struct {
	want   []byte
	n      int
	writes int64
	done   time.Time
}

func (c *compareWriter) Write(p []byte) (int, error) {
	if c.n+len(p) > len(c.want) {
		return 0, fmt.Errorf("%d bytes of output for %d of input", c.n+len(p), len(c.want))
	}
	if !bytes.Equal(p, c.want[c.n:c.n+len(p)]) {
		return 0, fmt.Errorf("the output differs from the input within bytes %d-%d", c.n, c.n+len(p))
	}
	c.n += len(p)
	c.writes++
	if c.n == len(c.want) {
		c.done = time.Now()
	}
	return len(p), nil
}

// bulkSample is one transfer: from the first byte sent to the last byte
// read back.
type bulkSample struct {
	d                  time.Duration
	pieces             int64         // output pieces: stdcopy frames, or WebSocket messages
	selfCPU, dockerdCP time.Duration // CPU used meanwhile by this process (server + client) and by dockerd
}

type bulkResult struct {
	name    string
	samples []bulkSample
}

// best is the fastest sample.
func (r *bulkResult) best() bulkSample {
	return slices.MinFunc(r.samples, func(a, b bulkSample) int { return cmp.Compare(a.d, b.d) })
}

func (r *bulkResult) cpu() (self, dockerd time.Duration) {
	var a, b []time.Duration
	for _, s := range r.samples {
		a = append(a, s.selfCPU)
		b = append(b, s.dockerdCP)
	}
	return summarize(a).P50, summarize(b).P50
}

// measureBulk pipes random bytes through cat on every path: one warm-up
// round, then bulkRounds rounds, each starting one path later.
func measureBulk(ctx context.Context, t *testing.T, paths []*execPath, id string, size, dpid int) []bulkResult {
	t.Helper()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	res := make([]bulkResult, len(paths))
	for i, x := range paths {
		res[i].name = x.label()
	}
	for round := -1; round < bulkRounds; round++ {
		for j := range paths {
			pi := (j + max(round, 0)) % len(paths)
			x := paths[pi]
			runtime.GC()
			cpu0, d0 := selfCPU(), procCPU(dpid)
			bctx, cancel := context.WithTimeout(ctx, bulkTimeout)
			var s bulkSample
			var err error
			if x.e == nil {
				s, err = x.bulkDocker(bctx, id, data)
			} else {
				s, err = x.bulkWS(bctx, id, data)
			}
			cancel()
			if err != nil {
				t.Fatalf("bulk %s: %v", x.label(), err)
			}
			s.selfCPU, s.dockerdCP = selfCPU()-cpu0, procCPU(dpid)-d0
			if round >= 0 {
				res[pi].samples = append(res[pi].samples, s)
			}
			t.Logf("bulk round %d %-52s %s %6.1f MB/s", round, x.label(), s.d.Round(time.Millisecond), float64(size)/s.d.Seconds()/1e6)
		}
	}
	return res
}

// bulkDocker: Docker's exec attach, the input written to the hijacked
// connection and half-closed, the output demultiplexed with stdcopy.
func (x *execPath) bulkDocker(ctx context.Context, id string, data []byte) (bulkSample, error) {
	cr, err := x.dc.ContainerExecCreate(ctx, id, container.ExecOptions{AttachStdin: true, AttachStdout: true, AttachStderr: true, Cmd: []string{"cat"}})
	if err != nil {
		return bulkSample{}, fmt.Errorf("docker exec create: %w", err)
	}
	resp, err := x.dc.ContainerExecAttach(ctx, cr.ID, container.ExecAttachOptions{})
	if err != nil {
		return bulkSample{}, fmt.Errorf("docker exec attach: %w", err)
	}
	defer resp.Close()
	stop := context.AfterFunc(ctx, func() { _ = resp.Conn.Close() })
	defer stop()
	out := &compareWriter{want: data}
	var stderr bytes.Buffer
	werr := make(chan error, 1)
	t0 := time.Now()
	go func() {
		for off := 0; off < len(data); off += execChunk {
			if _, err := resp.Conn.Write(data[off:min(off+execChunk, len(data))]); err != nil {
				werr <- err
				return
			}
		}
		werr <- resp.CloseWrite()
	}()
	_, err = stdcopy.StdCopy(out, &stderr, resp.Reader)
	if err != nil {
		resp.Close() // unblocks the writer
	}
	if wErr := <-werr; wErr != nil && err == nil {
		err = fmt.Errorf("writing stdin: %w", wErr)
	}
	if err == nil && out.n != len(data) {
		err = fmt.Errorf("read %d bytes back of %d", out.n, len(data))
	}
	if err == nil && stderr.Len() > 0 {
		err = fmt.Errorf("stderr: %q", stderr.Bytes())
	}
	if err != nil {
		return bulkSample{}, err
	}
	s := bulkSample{d: out.done.Sub(t0), pieces: out.writes}
	// cat's exit code, once Docker has it.
	for {
		in, err := x.dc.ContainerExecInspect(ctx, cr.ID)
		switch {
		case err != nil:
			return s, fmt.Errorf("docker exec inspect: %w", err)
		case !in.Running && in.ExitCode != 0:
			return s, fmt.Errorf("cat exited with %d", in.ExitCode)
		case !in.Running:
			return s, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// bulkWS: the exec subresource, the input sent in messages of execChunk
// bytes then closed ([255, 0]), the output read on channel 1 until the
// status on channel 3 and the server's close.
func (x *execPath) bulkWS(ctx context.Context, id string, data []byte) (bulkSample, error) {
	conn, err := dialExec(ctx, x.e, id, false)
	if err != nil {
		return bulkSample{}, err
	}
	defer func() { _ = conn.Close() }()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	out := &compareWriter{want: data}
	werr := make(chan error, 1)
	t0 := time.Now()
	go func() {
		msg := make([]byte, 1+execChunk) // msg[0] is 0: stdin
		for off := 0; off < len(data); off += execChunk {
			n := copy(msg[1:], data[off:min(off+execChunk, len(data))])
			if err := conn.WriteMessage(websocket.BinaryMessage, msg[:1+n]); err != nil {
				werr <- err
				return
			}
		}
		werr <- conn.WriteMessage(websocket.BinaryMessage, []byte{255, 0})
	}()
	var msgs int64
	err = readExecOutput(conn, out, &msgs)
	if err != nil {
		_ = conn.Close() // unblocks the writer
	}
	if wErr := <-werr; wErr != nil && err == nil {
		err = fmt.Errorf("writing stdin: %w", wErr)
	}
	if err == nil && out.n != len(data) {
		err = fmt.Errorf("read %d bytes back of %d", out.n, len(data))
	}
	if err != nil {
		return bulkSample{}, err
	}
	return bulkSample{d: out.done.Sub(t0), pieces: msgs}, nil
}

// readExecOutput copies channel 1 to out until the session ends: a Success
// status on channel 3, then the server's 1000 close.
func readExecOutput(conn *websocket.Conn, out io.Writer, msgs *int64) error {
	buf := make([]byte, 32<<10)
	var ch [1]byte
	status := false
	for {
		_, r, err := conn.NextReader()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code == websocket.CloseNormalClosure && status {
				return nil
			}
			return fmt.Errorf("exec WebSocket (status seen: %v): %w", status, err)
		}
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			continue // an empty message
		}
		switch ch[0] {
		case 1:
			*msgs++
			if _, err := io.CopyBuffer(out, r, buf); err != nil {
				return err
			}
		case 3:
			body, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			var st metav1.Status
			if err := json.Unmarshal(body, &st); err != nil || st.Status != metav1.StatusSuccess {
				return fmt.Errorf("exec status: %s", body)
			}
			status = true
		default:
			body, _ := io.ReadAll(r)
			return fmt.Errorf("a message on channel %d: %q", ch[0], body)
		}
	}
}

// ---------------------------------------------------------------------------
// Report

type execReport struct {
	execParams
	machine            machine
	started            time.Time
	aggregated         bool
	dockerdKnown       bool
	keys               []keyResult
	bulk               []bulkResult
	loadStart, loadEnd string
	elapsed            time.Duration
}

// keysOK: the server path (the second) adds at most the target at p99.
func (r *execReport) keysOK() bool {
	return len(r.keys) > 1 && r.keys[1].lat.P99-r.keys[0].lat.P99 <= targetExecAddedP99
}

func (r *execReport) ratio(pi int) float64 {
	return r.bulk[0].best().d.Seconds() / r.bulk[pi].best().d.Seconds()
}

// bulkOK: the server path (the second) reaches the target ratio.
func (r *execReport) bulkOK() bool {
	return len(r.bulk) > 1 && r.ratio(1) >= targetExecRatio
}

func (r *execReport) passed() bool { return r.keysOK() && r.bulkOK() }

func (r *execReport) String() string {
	var b bytes.Buffer
	m := r.machine
	fmt.Fprintf(&b, "containers-apiserver exec benchmark (hack/bench.sh), %s\n", r.started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "machine: %s\n", m)
	fmt.Fprintf(&b, "setup:   one busybox container (`sleep 3600`) on a test-owned dockerd; in-process standalone server\n")
	fmt.Fprintf(&b, "         (GET .../containers/ID/exec?command=cat, WebSocket %s, bearer token); all clients in the\n", execProto)
	fmt.Fprintf(&b, "         same process, over loopback (server: HTTPS), Docker over its unix socket; WebSocket client:\n")
	fmt.Fprintf(&b, "         gorilla with client-go's executor's buffers (%d bytes)\n", wsBufferSize)
	if r.aggregated {
		fmt.Fprintf(&b, "         kube-apiserver path: the e2e control plane (hack/e2e-up.sh) with a second server (its own\n")
		fmt.Fprintf(&b, "         process, no -race) behind its aggregation layer, same dockerd; client: admin certificate\n")
	} else {
		fmt.Fprintf(&b, "         (no control plane: CA_BENCH_E2E_ENV unset, the kube-apiserver path was not measured)\n")
	}
	fmt.Fprintf(&b, "         load average %s at start, %s at end\n", r.loadStart, r.loadEnd)

	fmt.Fprintf(&b, "\nKeystroke round trip: `cat` on a terminal (80x24, canonical mode: the terminal echoes each key); one\n")
	fmt.Fprintf(&b, "letter sent (Docker: a byte on the hijacked connection; WebSocket: a stdin message [0,letter]), timed\n")
	fmt.Fprintf(&b, "until its echo is read; %d keys per path after %d warm-up keys, the paths taking turns key by key\n", r.keys0N(), keyWarmup)
	fmt.Fprintf(&b, "(the first path rotating), %s between rounds; added = path figure - Docker's; same key = path's\n", ms(keyGap))
	fmt.Fprintf(&b, "round trip - Docker's for the same key:\n")
	fmt.Fprintf(&b, "  %-52s %5s %9s %9s %9s %10s %10s %9s %9s\n", "path", "keys", "p50", "p99", "max", "added p50", "added p99", "same p50", "same p99")
	for i, k := range r.keys {
		if i == 0 {
			fmt.Fprintf(&b, "  %-52s %5d %9s %9s %9s\n", k.name, k.lat.N, ms(k.lat.P50), ms(k.lat.P99), ms(k.lat.Max))
			continue
		}
		d := r.keys[0].lat
		fmt.Fprintf(&b, "  %-52s %5d %9s %9s %9s %10s %10s %9s %9s\n", k.name, k.lat.N, ms(k.lat.P50), ms(k.lat.P99), ms(k.lat.Max),
			signedMs(k.lat.P50-d.P50), signedMs(k.lat.P99-d.P99), signedMs(k.paired.P50), signedMs(k.paired.P99))
	}
	if len(r.keys) > 1 {
		fmt.Fprintf(&b, "  target: the server adds <= %s at p99 -> %s\n", ms(targetExecAddedP99), passMiss(r.keysOK()))
	}

	fmt.Fprintf(&b, "\nBulk: `cat` without a terminal, %d MiB of random bytes written to its stdin (%d KiB at a time) while\n", r.bytes>>20, execChunk>>10)
	fmt.Fprintf(&b, "its stdout is read back and compared; timed from the first byte sent to the last byte read; Docker:\n")
	fmt.Fprintf(&b, "hijacked connection, half-closed after the input, output through stdcopy; WebSocket: stdin messages,\n")
	fmt.Fprintf(&b, "then [255,0], output on channel 1 until the Success status and the close; best of %d after 1 warm-up\n", bulkRounds)
	fmt.Fprintf(&b, "round, the order rotated each round; MB = 10^6 bytes; pieces = output frames (Docker) or messages\n")
	fmt.Fprintf(&b, "(WebSocket) per transfer; dockerd, process = CPU time during one transfer (median) of dockerd and of\n")
	fmt.Fprintf(&b, "this process (in-process server + clients):\n")
	fmt.Fprintf(&b, "  %-52s %9s %20s %10s %8s %9s %8s %8s\n", "path", "best MB/s", "(all runs)", "vs Docker", "pieces", "bytes/pc", "dockerd", "process")
	for i, br := range r.bulk {
		best := br.best()
		var runs []string
		for _, s := range br.samples {
			runs = append(runs, fmt.Sprintf("%.0f", float64(r.bytes)/s.d.Seconds()/1e6))
		}
		vs := ""
		if i > 0 {
			vs = fmt.Sprintf("%.2f", r.ratio(i))
		}
		self, dcpu := br.cpu()
		dcs := "?"
		if r.dockerdKnown {
			dcs = fmt.Sprintf("%.2fs", dcpu.Seconds())
		}
		fmt.Fprintf(&b, "  %-52s %9.1f %20s %10s %8d %9.0f %8s %8s\n", br.name, float64(r.bytes)/best.d.Seconds()/1e6,
			"("+strings.Join(runs, ", ")+")", vs, best.pieces, float64(r.bytes)/float64(max(best.pieces, 1)), dcs, fmt.Sprintf("%.2fs", self.Seconds()))
	}
	if len(r.bulk) > 1 {
		fmt.Fprintf(&b, "  target: the server >= %.2f x Docker -> %s\n", targetExecRatio, passMiss(r.bulkOK()))
	}
	if r.aggregated {
		fmt.Fprintf(&b, "  (the targets apply to the server itself; the kube-apiserver figures are for information)\n")
	}
	fmt.Fprintf(&b, "\nexec bench took %s\n", r.elapsed.Round(time.Second))
	return b.String()
}

func (r *execReport) keys0N() int {
	if len(r.keys) == 0 {
		return 0
	}
	return r.keys[0].lat.N
}
