package bench

// The backward-paging benchmark (issue 13): the cost of one page
// (untilTime=T&tailLines=1000) against how far T lies from the end of a
// large json-file log (1 GB by default).

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const (
	pagingLabel    = "io.rancherdesktop.bench.paging"
	pagingDeadline = 40 * time.Minute
	pagingPage     = 1000
	// pagingLine is each line's content: 99 bytes and the newline.
	pagingLine = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzA"
)

// TestBenchBackwardPaging is the paging benchmark. It needs CA_BENCH=1.
func TestBenchBackwardPaging(t *testing.T) {
	requireBench(t)
	mb := envInt(t, "CA_BENCH_PAGING_MB", 1000)
	report := os.Getenv("CA_BENCH_PAGING_REPORT")
	if report == "" {
		report = filepath.Join(testenv.Root(), "_output", "bench", "issue13-paging.txt")
	}
	host := benchDockerHost(t)
	dc := testenv.DockerClient(t, host)
	ctx, cancel := context.WithTimeout(context.Background(), pagingDeadline)
	defer cancel()
	started := time.Now()
	mach := machineInfo(ctx, t, dc)
	loadStart := loadAvg()
	t.Cleanup(func() { removeLabelled(t, dc, pagingLabel) })
	s := testenv.StartServer(t, host, testenv.ServerOptions{})
	e := directEndpoint(t, s)

	lines := int64(mb) * 1_000_000 / int64(len(pagingLine)+1)
	r, err := dc.ContainerCreate(ctx, &container.Config{
		Image:  testenv.BusyboxImage,
		Cmd:    []string{"sh", "-c", fmt.Sprintf("yes %s | head -n %d", pagingLine, lines)},
		Labels: map[string]string{pagingLabel: "issue13", benchLabel: "issue13"},
	}, &container.HostConfig{NetworkMode: "none"}, nil, nil, "bench-paging")
	if err == nil {
		err = dc.ContainerStart(ctx, r.ID, container.StartOptions{})
	}
	if err != nil {
		t.Fatalf("docker run bench-paging: %v", err)
	}
	wrote := time.Now()
	waitC, errC := dc.ContainerWait(ctx, r.ID, container.WaitConditionNotRunning)
	select {
	case <-waitC:
	case err := <-errC:
		t.Fatalf("docker wait: %v", err)
	}
	writeTook := time.Since(wrote)
	waitMirrorCount(ctx, t, s, 1)

	// The timestamps at a few positions, from one read of the whole log.
	fractions := []float64{0.999, 0.9, 0.75, 0.5, 0.25, 0.001} // of the lines, from the start
	at := make([]int64, len(fractions))
	for i, f := range fractions {
		at[i] = int64(f * float64(lines))
	}
	stamps, total, readTook := stampsAt(ctx, t, dc, r.ID, at)
	if total != lines {
		t.Fatalf("Docker's log holds %d lines, want %d", total, lines)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "containers-apiserver backward-paging benchmark (hack/bench.sh), %s\n", started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "machine: %s\n", mach)
	fmt.Fprintf(&b, "setup:   one json-file log of %d lines of 100 bytes (%d MB), written in %s; in-process server, HTTP/1.1;\n",
		lines, mb, writeTook.Round(time.Second))
	fmt.Fprintf(&b, "         Docker's API read the whole log with timestamps in %s; load average %s at start\n\n", readTook.Round(time.Second), loadStart)
	fmt.Fprintf(&b, "One page: GET .../log?untilTime=T&tailLines=%d&timestamps=true, T the timestamp of the line at the\n", pagingPage)
	fmt.Fprintf(&b, "position; first byte and whole page (the page's last line must be the one at T):\n")
	fmt.Fprintf(&b, "  %-28s %12s %12s %10s\n", "position (from the end)", "first byte", "page", "lines")
	for i, f := range fractions {
		u := e.logURL(r.ID, url.Values{"untilTime": {stamps[i].Format(time.RFC3339Nano)}, "tailLines": {fmt.Sprint(pagingPage)}, "timestamps": {"true"}})
		first, took, got, last := timePage(ctx, t, e, u)
		// A page near the start of a small log has fewer lines before it.
		if want := min(pagingPage, at[i]+1); int64(got) != want || !last.Equal(stamps[i]) {
			t.Fatalf("page at %.1f%%: %d lines ending at %s, want %d ending at %s", 100*f, got, last, want, stamps[i])
		}
		fromEnd := float64(lines-at[i]) * float64(len(pagingLine)+1) / 1e6
		fmt.Fprintf(&b, "  %-28s %12s %12s %10d\n", fmt.Sprintf("%.0f MB (%.1f%%)", fromEnd, 100*(1-f)),
			first.Round(time.Millisecond), took.Round(time.Millisecond), got)
	}
	fmt.Fprintf(&b, "\nload average %s at end; paging bench took %s\n", loadAvg(), time.Since(started).Round(time.Second))
	writeReport(t, report, b.String())
}

// stampsAt reads the container's whole log from Docker with timestamps and
// returns the timestamps of the lines at the given indices (in any order),
// the number of lines, and how long the read took.
func stampsAt(ctx context.Context, t *testing.T, dc interface {
	ContainerLogs(context.Context, string, container.LogsOptions) (io.ReadCloser, error)
}, id string, at []int64) ([]time.Time, int64, time.Duration) {
	t.Helper()
	t0 := time.Now()
	rc, err := dc.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	go func() { // ends with the log (or when the reader below stops)
		_, err := stdcopy.StdCopy(pw, pw, rc)
		pw.CloseWithError(err)
	}()
	defer func() { _ = pr.Close() }()
	out := make([]time.Time, len(at))
	slot := make(map[int64]int, len(at)) // line index -> its place in out
	for i, a := range at {
		slot[a] = i
	}
	br := bufio.NewReaderSize(pr, 64<<10)
	var n int64
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			break
		}
		if i, ok := slot[n]; ok {
			stamp, _, _ := strings.Cut(string(line), " ")
			ts, perr := time.Parse(time.RFC3339Nano, stamp)
			if perr != nil {
				t.Fatalf("line %d: %v", n, perr)
			}
			out[i] = ts
		}
		n++
	}
	return out, n, time.Since(t0)
}

// timePage reads one page: time to the first byte and to the end, its lines
// and the last line's timestamp.
func timePage(ctx context.Context, t *testing.T, e *endpoint, u string) (first, took time.Duration, lines int, last time.Time) {
	t.Helper()
	req, err := e.request(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	resp, err := e.h1.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	if _, err := br.Peek(1); err != nil {
		_, _ = io.Copy(io.Discard, br)
		t.Fatalf("page %s: %v (status %d, X-Stream-Error %q)", u, err, resp.StatusCode, resp.Trailer.Get("X-Stream-Error"))
	}
	first = time.Since(t0)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			break
		}
		lines++
		stamp, _, _ := strings.Cut(string(line), " ")
		if ts, perr := time.Parse(time.RFC3339Nano, stamp); perr == nil {
			last = ts
		}
	}
	return first, time.Since(t0), lines, last
}
