package bench

// The tail memory benchmark (TestBenchTailMemory, issue 9): the server's peak
// memory while it serves a 40 MB log with the options that once held lines in
// memory (stream with tailLines, untilTime with tailLines), next to a plain
// read of the same log. The server runs as its own process (built without
// the race detector), so its resident memory is its own. Written to
// _output/bench/issue9-memory.txt.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const (
	// tailMemLabel marks the benchmark's container.
	tailMemLabel = "io.rancherdesktop.bench.tailmem"
	// targetTailGrowth is what "a few MiB per stream" means here: the peak
	// resident memory added while one stream is served.
	targetTailGrowth = 8 << 20
	tailMemReps      = 3
	tailMemDeadline  = 15 * time.Minute
)

// tailCase is one request of the benchmark; want checks the body's size.
type tailCase struct {
	name string
	q    url.Values
	want func(n int64) bool
}

type tailResult struct {
	tailCase
	bytes        int64
	first, total []time.Duration
	growth       []int64 // peak RSS minus RSS before, per repetition
}

// TestBenchTailMemory needs CA_BENCH=1 (hack/bench.sh sets it).
func TestBenchTailMemory(t *testing.T) {
	requireBench(t)
	mb := envInt(t, "CA_BENCH_TAIL_MB", 40)
	report := os.Getenv("CA_BENCH_TAILMEM_REPORT")
	if report == "" {
		report = filepath.Join(testenv.Root(), "_output", "bench", "issue9-memory.txt")
	}
	host := benchDockerHost(t)
	dc := testenv.DockerClient(t, host)
	ctx, cancel := context.WithTimeout(context.Background(), tailMemDeadline)
	defer cancel()
	started, loadStart := time.Now(), loadAvg()
	mach := machineInfo(ctx, t, dc)

	// mb MB of 100-byte stdout lines; one stderr line per 100 of them.
	lines := int64(mb) * 1_000_000 / lineBytes
	script := fmt.Sprintf(`BEGIN { for (i = 0; i < %d; i++) { printf "%%099d\n", i; if (i %% 100 == 0) printf "e%%098d\n", i > "/dev/stderr" } }`, lines)
	cctx, ccancel := context.WithTimeout(ctx, callTimeout)
	r, err := dc.ContainerCreate(cctx, &container.Config{Image: testenv.BusyboxImage, Cmd: []string{"awk", script},
		Labels: map[string]string{tailMemLabel: "issue9", benchLabel: "issue9"}}, &container.HostConfig{NetworkMode: "none"}, nil, nil, "bench-tailmem")
	if err == nil {
		err = dc.ContainerStart(cctx, r.ID, container.StartOptions{})
	}
	ccancel()
	if err != nil {
		t.Fatalf("docker run: %v", err)
	}
	t.Cleanup(func() { removeLabelled(t, dc, tailMemLabel) })
	wctx, wcancel := context.WithTimeout(ctx, writeDeadline)
	waitC, errC := dc.ContainerWait(wctx, r.ID, container.WaitConditionNotRunning)
	select {
	case <-waitC:
	case err := <-errC:
		t.Fatalf("waiting for the log writer: %v", err)
	}
	wcancel()

	// untilTime in the middle of the log, from Docker's own timestamps.
	mid := midTimestamp(ctx, t, dc, r.ID)

	b := testenv.StartBinaryWith(t, host, testenv.BinaryOptions{}, "--resync-interval=1h")
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // test server
	defer hc.CloseIdleConnections()
	logURL := b.URL + "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/rancher-desktop/containers/" + r.ID + "/log"

	stdoutBytes, stderrBytes := lines*lineBytes, (lines+99)/100*lineBytes
	exactly := func(n int64) func(int64) bool { return func(got int64) bool { return got == n } }
	cases := []tailCase{
		{"whole log (Docker's filters, streamed)", nil, exactly(stdoutBytes + stderrBytes)},
		{"tailLines=100000000 (Docker's tail)", url.Values{"tailLines": {"100000000"}}, exactly(stdoutBytes + stderrBytes)},
		{"stream=Stdout&tailLines=100000000", url.Values{"stream": {"Stdout"}, "tailLines": {"100000000"}}, exactly(stdoutBytes)},
		{"stream=Stdout&tailLines=1000", url.Values{"stream": {"Stdout"}, "tailLines": {"1000"}}, exactly(1000 * lineBytes)},
		{"stream=Stderr&tailLines=100 (rare lines)", url.Values{"stream": {"Stderr"}, "tailLines": {"100"}}, exactly(100 * lineBytes)},
		{"untilTime=<middle>&tailLines=100000000", url.Values{"untilTime": {mid}, "tailLines": {"100000000"}},
			func(n int64) bool { return n > 0 && n < stdoutBytes+stderrBytes }},
		{"untilTime=<middle>&tailLines=1000", url.Values{"untilTime": {mid}, "tailLines": {"1000"}}, exactly(1000 * lineBytes)},
	}
	var results []tailResult
	for _, c := range cases {
		res := tailResult{tailCase: c}
		for range tailMemReps {
			rss, err := procStatusKB(b.PID(), "VmRSS")
			if err != nil {
				t.Fatal(err)
			}
			// Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS.
			if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", b.PID()), []byte("5"), 0); err != nil {
				t.Fatalf("resetting the server's peak RSS: %v", err)
			}
			n, first, total := readTimed(ctx, t, hc, logURL, c.q, b.Token)
			hwm, err := procStatusKB(b.PID(), "VmHWM")
			if err != nil {
				t.Fatal(err)
			}
			if !c.want(n) {
				t.Fatalf("%s: %d bytes: not the expected log", c.name, n)
			}
			res.bytes = n
			res.first, res.total = append(res.first, first), append(res.total, total)
			res.growth = append(res.growth, (hwm-rss)<<10)
		}
		t.Logf("%s: %d bytes, growth %v", c.name, res.bytes, res.growth)
		results = append(results, res)
	}

	var out bytes.Buffer
	fmt.Fprintf(&out, "containers-apiserver tail memory benchmark (hack/bench.sh), %s\n", started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&out, "machine: nproc=%s, %s, kernel %s; Docker %s; %s\n", mach.nproc, mach.cpu, mach.kernel, mach.docker, mach.goVersion)
	fmt.Fprintf(&out, "log: %d MB json-file, %d stdout lines of %d bytes, one stderr line per 100; the server as its own process\n",
		mb, lines, lineBytes)
	fmt.Fprintf(&out, "(no race detector); HTTP/1.1 client; %d reads per case; load average %s at start, %s at end\n\n", tailMemReps, loadStart, loadAvg())
	fmt.Fprintf(&out, "  %-42s %10s %10s %10s %12s\n", "request", "bytes", "1st byte", "total", "peak RSS +")
	pass := true
	for _, r := range results {
		worst := slices.Max(r.growth)
		pass = pass && worst <= targetTailGrowth
		fmt.Fprintf(&out, "  %-42s %10s %10s %10s %12s\n", r.name, humanBytes(r.bytes), ms(median(r.first)), ms(median(r.total)), humanBytes(worst))
	}
	fmt.Fprintf(&out, "  (times: median; peak RSS +: the largest rise of the server's VmHWM over its RSS before the read)\n")
	fmt.Fprintf(&out, "  target: every request's peak RSS rise <= %s -> %s\n", humanBytes(targetTailGrowth), passMiss(pass))
	fmt.Fprintf(&out, "\nbench took %s\n", time.Since(started).Round(time.Second))
	writeReport(t, report, out.String())
	if os.Getenv("CA_BENCH_STRICT") == "1" && !pass {
		t.Errorf("CA_BENCH_STRICT=1 and the memory target was missed (see the report)")
	}
}

// midTimestamp is the timestamp of the log's middle line, from Docker.
func midTimestamp(ctx context.Context, t *testing.T, dc *client.Client, id string) string {
	t.Helper()
	rc, err := dc.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	// stdcopy writes one message per Write: keep its timestamp only.
	var stamps []string
	keep := frameFunc(func(p []byte) {
		ts, _, _ := bytes.Cut(p, []byte(" "))
		stamps = append(stamps, string(ts))
	})
	if _, err := stdcopy.StdCopy(keep, keep, rc); err != nil {
		t.Fatal(err)
	}
	return stamps[len(stamps)/2]
}

// frameFunc is an io.Writer that hands each write to the func.
type frameFunc func([]byte)

func (f frameFunc) Write(p []byte) (int, error) {
	f(p)
	return len(p), nil
}

// readTimed reads a log to its end and returns its size, the time to the
// first byte and the total time.
func readTimed(ctx context.Context, t *testing.T, hc *http.Client, u string, q url.Values, token string) (int64, time.Duration, time.Duration) {
	t.Helper()
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	rctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	t0 := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		t.Fatalf("GET %s: %s %s", u, resp.Status, body)
	}
	buf := make([]byte, 64<<10)
	var n int64
	var first time.Duration
	for {
		k, err := resp.Body.Read(buf)
		if k > 0 && n == 0 {
			first = time.Since(t0)
		}
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
	}
	return n, first, time.Since(t0)
}

// procStatus reads a field of /proc/PID/status.
func procStatus(pid int, field string) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// procStatusKB reads a "kB" field of /proc/PID/status.
func procStatusKB(pid int, field string) (int64, error) {
	v, err := procStatus(pid, field)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
}

// median is the middle value of d (the upper one of an even count); d is
// left as it is.
func median[T cmp.Ordered](d []T) T {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// writeReport prints a benchmark report and writes it to path.
func writeReport(t *testing.T, path, text string) {
	t.Helper()
	fmt.Print("\n" + text)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("report written to %s", path)
}
