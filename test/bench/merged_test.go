package bench

// The merged-log benchmark (issue 13): a merged follow
// (containernamespaces/moby/log) of 50 containers that each print about 100
// lines a second; the latency of each line from Docker's timestamp (when
// dockerd logged it) to the client, and the CPU the follow costs the server.

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const (
	mergedLabel    = "io.rancherdesktop.bench.merged"
	mergedDeadline = 10 * time.Minute
	// mergedSettle is how long the containers print before anything is measured.
	mergedSettle = 3 * time.Second
)

// TestBenchMergedFollow is the merged-log benchmark. It needs CA_BENCH=1.
func TestBenchMergedFollow(t *testing.T) {
	requireBench(t)
	n := envInt(t, "CA_BENCH_MERGED_CONTAINERS", 50)
	secs := envInt(t, "CA_BENCH_MERGED_SECONDS", 20)
	report := os.Getenv("CA_BENCH_MERGED_REPORT")
	if report == "" {
		report = filepath.Join(testenv.Root(), "_output", "bench", "issue13.txt")
	}
	host := benchDockerHost(t)
	dc := testenv.DockerClient(t, host)
	ctx, cancel := context.WithTimeout(context.Background(), mergedDeadline)
	defer cancel()
	started := time.Now()
	mach := machineInfo(ctx, t, dc)
	loadStart := loadAvg()
	t.Cleanup(func() { removeLabelled(t, dc, mergedLabel) })
	s := testenv.StartServer(t, host, testenv.ServerOptions{})
	e := directEndpoint(t, s)

	// n printers, 100 lines a second each. The pause is the shell's own
	// `read -t 0.01` on a FIFO nobody writes: busybox's sleep is a program,
	// and 5,000 forks a second would be the whole machine's load.
	for i := range n {
		r, err := dc.ContainerCreate(ctx, &container.Config{
			Image:  testenv.BusyboxImage,
			Cmd:    []string{"sh", "-c", "mkfifo /p; exec 3<>/p; i=0; while :; do i=$((i+1)); echo line $i; read -t 0.01 -u 3 x; done"},
			Labels: map[string]string{mergedLabel: "issue13", benchLabel: "issue13"},
		}, &container.HostConfig{NetworkMode: "none"}, nil, nil, fmt.Sprintf("bench-merged-%02d", i))
		if err == nil {
			err = dc.ContainerStart(ctx, r.ID, container.StartOptions{})
		}
		if err != nil {
			t.Fatalf("docker run bench-merged-%02d: %v", i, err)
		}
	}
	waitMirrorCount(ctx, t, s, n)
	dpid := dockerdPID(host)
	// Quiet until they all print; then the cost without a follow.
	time.Sleep(mergedSettle) // a measuring window, not a wait for an event
	d := time.Duration(secs) * time.Second
	idleSelf, idleDockerd := cpuOver(d, dpid)
	heapIdle, rssIdle := heapAndRSS(t)

	q := url.Values{"labelSelector": {mergedLabel + "=issue13"}, "follow": {"true"}, "timestamps": {"true"}, "tailLines": {"0"}}
	u := e.base + "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/" + e.ns + "/containernamespaces/moby/log?" + q.Encode()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	req.Header = e.header.Clone()
	resp, err := e.h1.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("merged follow: %d", resp.StatusCode)
	}
	var (
		mu    sync.Mutex // guards lat, names, bad
		lat   []time.Duration
		names = map[string]int{}
		bad   string
	)
	measuring := make(chan struct{})
	readDone := make(chan struct{})
	go func() { // ends when the body is closed
		defer close(readDone)
		r := bufio.NewReaderSize(resp.Body, 64<<10)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			now := time.Now()
			name, rest, ok := strings.Cut(line, " | ")
			stamp, _, _ := strings.Cut(rest, " ")
			ts, perr := time.Parse(time.RFC3339Nano, stamp)
			select {
			case <-measuring:
			default:
				continue // warming up
			}
			mu.Lock()
			if !ok || perr != nil {
				bad = line
			} else {
				lat = append(lat, now.Sub(ts))
				names[strings.TrimSpace(name)]++
			}
			mu.Unlock()
		}
	}()
	time.Sleep(mergedSettle) // the follow's warm-up window
	close(measuring)
	followSelf, followDockerd := cpuOver(d, dpid)
	heapFollow, rssFollow := heapAndRSS(t)
	_ = resp.Body.Close()
	<-readDone

	mu.Lock()
	defer mu.Unlock()
	if bad != "" {
		t.Fatalf("a line without a name prefix and a timestamp: %q", bad)
	}
	if len(names) != n {
		t.Fatalf("lines from %d containers, want %d", len(names), n)
	}
	sum := summarize(lat)
	pct := func(c time.Duration) float64 { return 100 * c.Seconds() / d.Seconds() }
	var b strings.Builder
	fmt.Fprintf(&b, "containers-apiserver merged-log benchmark (hack/bench.sh), %s\n", started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "machine: %s\n", mach)
	fmt.Fprintf(&b, "setup:   %d busybox containers printing `line N` every 10 ms (read -t 0.01) on a test-owned dockerd;\n", n)
	fmt.Fprintf(&b, "         in-process standalone server; one merged follow (containernamespaces/moby/log?labelSelector=...&follow=true\n")
	fmt.Fprintf(&b, "         &timestamps=true&tailLines=0) over HTTP/1.1 from this process; load average %s at start, %s at end\n\n", loadStart, loadAvg())
	fmt.Fprintf(&b, "Latency of each line, from Docker's timestamp (dockerd logged it) to the client reading it, over %s:\n", d)
	fmt.Fprintf(&b, "  lines %d (%.0f/s)  p50 %s  p99 %s  max %s\n\n", sum.N, float64(sum.N)/d.Seconds(),
		sum.P50.Round(10*time.Microsecond), sum.P99.Round(10*time.Microsecond), sum.Max.Round(10*time.Microsecond))
	fmt.Fprintf(&b, "CPU over %s (%% of one core): this process is the server and the reading client\n", d)
	fmt.Fprintf(&b, "  no follow (the server mirroring %d running containers):  process %5.1f%%  dockerd %5.1f%%\n", n, pct(idleSelf), pct(idleDockerd))
	fmt.Fprintf(&b, "  merged follow:                                           process %5.1f%%  dockerd %5.1f%%\n", pct(followSelf), pct(followDockerd))
	fmt.Fprintf(&b, "  the follow's cost:                                       process %+5.1f%%  dockerd %+5.1f%%\n",
		pct(followSelf-idleSelf), pct(followDockerd-idleDockerd))
	fmt.Fprintf(&b, "\nMemory of this process (live heap after a GC; resident): no follow %.1f MiB / %.1f MiB, during the\n",
		float64(heapIdle)/(1<<20), float64(rssIdle)/1024)
	fmt.Fprintf(&b, "follow %.1f MiB / %.1f MiB: the follow holds %+.1f MiB of heap (%.0f KiB per container; the client's latency samples, 8 bytes a line, included)\n",
		float64(heapFollow)/(1<<20), float64(rssFollow)/1024, float64(heapFollow-heapIdle)/(1<<20), float64(heapFollow-heapIdle)/1024/float64(n))
	fmt.Fprintf(&b, "\nmerged bench took %s\n", time.Since(started).Round(time.Second))
	writeReport(t, report, b.String())
}

// cpuOver measures this process's and dockerd's CPU time over d.
func cpuOver(d time.Duration, dpid int) (self, dockerd time.Duration) {
	s0, d0 := selfCPU(), procCPU(dpid)
	time.Sleep(d) // the measuring window
	return selfCPU() - s0, procCPU(dpid) - d0
}

// heapAndRSS is this process's live heap after a GC, in bytes, and its
// resident memory in KiB.
func heapAndRSS(t *testing.T) (int64, int64) {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	kb, err := procStatusKB(os.Getpid(), "VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	return int64(ms.HeapAlloc), kb
}
