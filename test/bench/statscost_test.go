package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rancher-sandbox/containers-apiserver/pkg/controller/stats"
	"github.com/rancher-sandbox/containers-apiserver/pkg/generated/clientset/versioned"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const (
	statsLabel    = "io.rancherdesktop.bench.stats"
	statsDeadline = 20 * time.Minute
	// statsSettle lets a server's start (first list, first samples, its
	// heap's growth) pass before the measuring window.
	statsSettle = 15 * time.Second
)

// statsRun is what one server process cost over the window.
type statsRun struct {
	server, dockerd time.Duration // CPU time
	// The server's resident memory, read once a second over the window: a
	// Go heap swings between collections, so one reading is luck.
	rssMeanKB, rssMaxKB, rssEndKB int64
}

// sampleRSS reads pid's VmRSS once a second for window (the measuring
// window itself, not a wait for an event) and sets run's RSS figures.
func sampleRSS(t *testing.T, pid int, window time.Duration, run *statsRun) {
	t.Helper()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.After(window)
	var sum, n int64
	read := func() {
		kb, err := procStatusKB(pid, "VmRSS")
		if err != nil {
			t.Fatal(err)
		}
		sum, n = sum+kb, n+1
		run.rssMaxKB, run.rssEndKB = max(run.rssMaxKB, kb), kb
	}
	for {
		select {
		case <-tick.C:
			read()
		case <-end:
			read()
			run.rssMeanKB = sum / n
			return
		}
	}
}

// TestBenchStatsCollector measures the stats collector's cost: the server
// binary (no race detector, its own process) with n running containers, once
// with --stats-interval=0 and once with the default 2 s; the CPU of the
// server and of dockerd over the same window, and the server's RSS.
func TestBenchStatsCollector(t *testing.T) {
	requireBench(t)
	n := envInt(t, "CA_BENCH_STATS_CONTAINERS", 50)
	secs := envInt(t, "CA_BENCH_STATS_SECONDS", 60)
	report := os.Getenv("CA_BENCH_STATS_REPORT")
	if report == "" {
		report = filepath.Join(testenv.Root(), "_output", "bench", "issue14.txt")
	}
	host := benchDockerHost(t)
	dc := testenv.DockerClient(t, host)
	ctx, cancel := context.WithTimeout(context.Background(), statsDeadline)
	defer cancel()
	started := time.Now()
	mach := machineInfo(ctx, t, dc)
	loadStart := loadAvg()
	t.Cleanup(func() { removeLabelled(t, dc, statsLabel) })

	// Idle containers on the default bridge: each sample reads the network
	// counters in the container's namespace, as for a real one.
	for i := range n {
		r, err := dc.ContainerCreate(ctx, &container.Config{
			Image: testenv.BusyboxImage, Cmd: []string{"sleep", "86400"},
			Labels: map[string]string{statsLabel: "issue14", benchLabel: "issue14"},
		}, nil, nil, nil, fmt.Sprintf("bench-stats-%02d", i))
		if err == nil {
			err = dc.ContainerStart(ctx, r.ID, container.StartOptions{})
		}
		if err != nil {
			t.Fatalf("docker run bench-stats-%02d: %v", i, err)
		}
	}
	dpid := dockerdPID(host)
	window := time.Duration(secs) * time.Second
	interval := stats.DefaultInterval

	measure := func(flag string, wantObjects int) statsRun {
		b := testenv.StartBinaryWith(t, host, testenv.BinaryOptions{}, flag)
		cs := binaryClient(t, b)
		// Every container sampled (or, collector off, none) before the window.
		testenv.Eventually(t, 2*time.Minute, flag+": containerstats", func() error {
			l, err := cs.ContainersV1alpha1().ContainerStats("rancher-desktop").List(ctx, metav1.ListOptions{LabelSelector: statsLabel})
			if err == nil && len(l.Items) != wantObjects {
				err = fmt.Errorf("%d objects, want %d", len(l.Items), wantObjects)
			}
			return err
		})
		time.Sleep(statsSettle) // a settling window, not a wait for an event
		s0, d0 := procCPU(b.PID()), procCPU(dpid)
		var run statsRun
		sampleRSS(t, b.PID(), window, &run)
		run.server, run.dockerd = procCPU(b.PID())-s0, procCPU(dpid)-d0
		// One server at a time: the next measures alone.
		if err := b.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Wait(time.Minute); err != nil {
			t.Fatalf("%s: stopping the server: %v", flag, err)
		}
		return run
	}
	off := measure("--stats-interval=0", 0)
	on := measure("--stats-interval="+interval.String(), n)

	pct := func(c time.Duration) float64 { return 100 * c.Seconds() / window.Seconds() }
	ring := stats.Capacity(interval, stats.DefaultHistory) * stats.PointBytes
	var b strings.Builder
	fmt.Fprintf(&b, "containers-apiserver stats-collector benchmark (hack/bench.sh), %s\n", started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "machine: %s\n", mach)
	fmt.Fprintf(&b, "setup:   %d running busybox containers (sleep, default bridge) on a test-owned dockerd; the server binary\n", n)
	fmt.Fprintf(&b, "         (no race detector) as its own process, once with --stats-interval=0 and once with %s; each measured\n", interval)
	fmt.Fprintf(&b, "         over %s after %s of settling; load average %s at start, %s at end\n\n", window, statsSettle, loadStart, loadAvg())
	mib := func(kb int64) float64 { return float64(kb) / 1024 }
	fmt.Fprintf(&b, "CPU (%% of one core) over the window; the server's RSS read once a second (mean, max, last):\n")
	fmt.Fprintf(&b, "  collector off:  server %5.2f%%  dockerd %5.2f%%  RSS %6.1f  %6.1f  %6.1f MiB\n",
		pct(off.server), pct(off.dockerd), mib(off.rssMeanKB), mib(off.rssMaxKB), mib(off.rssEndKB))
	fmt.Fprintf(&b, "  collector on:   server %5.2f%%  dockerd %5.2f%%  RSS %6.1f  %6.1f  %6.1f MiB\n",
		pct(on.server), pct(on.dockerd), mib(on.rssMeanKB), mib(on.rssMaxKB), mib(on.rssEndKB))
	fmt.Fprintf(&b, "  the collector:  server %+5.2f%%  dockerd %+5.2f%%  RSS %+6.1f %+6.1f %+6.1f MiB   (target: server <= 2%%, RSS <= 10 MiB)\n",
		pct(on.server-off.server), pct(on.dockerd-off.dockerd),
		mib(on.rssMeanKB-off.rssMeanKB), mib(on.rssMaxKB-off.rssMaxKB), mib(on.rssEndKB-off.rssEndKB))
	fmt.Fprintf(&b, "\nThe history ring of one container, full (15 min at %s: %d samples of %d B): %.1f KiB; %d containers: %.2f MiB\n",
		interval, stats.Capacity(interval, stats.DefaultHistory), stats.PointBytes, float64(ring)/1024, n, float64(ring*n)/(1<<20))
	fmt.Fprintf(&b, "(allocated when the container is first seen; its pages become resident as the ring fills)\n")
	fmt.Fprintf(&b, "\nstats bench took %s\n", time.Since(started).Round(time.Second))
	writeReport(t, report, b.String())
}

// binaryClient is a clientset of the server binary b.
func binaryClient(t *testing.T, b *testenv.Binary) versioned.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", b.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return versioned.NewForConfigOrDie(cfg)
}
