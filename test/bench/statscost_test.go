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
	rssMeanKB, rssMaxKB, anonMeanKB int64
}

// minus is r's cost beyond base's.
func (r statsRun) minus(base statsRun) statsRun {
	return statsRun{
		server: r.server - base.server, dockerd: r.dockerd - base.dockerd,
		rssMeanKB: r.rssMeanKB - base.rssMeanKB, rssMaxKB: r.rssMaxKB - base.rssMaxKB,
		anonMeanKB: r.anonMeanKB - base.anonMeanKB,
	}
}

// sampleRSS reads pid's VmRSS and RssAnon once a second for window (the
// measuring window itself, not a wait for an event) and sets run's figures.
func sampleRSS(t *testing.T, pid int, window time.Duration, run *statsRun) {
	t.Helper()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.After(window)
	var rssSum, anonSum, n int64
	read := func() {
		rss, err := procStatusKB(pid, "VmRSS")
		if err != nil {
			t.Fatal(err)
		}
		anon, err := procStatusKB(pid, "RssAnon")
		if err != nil {
			t.Fatal(err)
		}
		rssSum, anonSum, n = rssSum+rss, anonSum+anon, n+1
		run.rssMaxKB = max(run.rssMaxKB, rss)
	}
	for {
		select {
		case <-tick.C:
			read()
		case <-end:
			read()
			run.rssMeanKB, run.anonMeanKB = rssSum/n, anonSum/n
			return
		}
	}
}

// TestBenchStatsCollector measures the stats collector's cost: the server
// binary (no race detector, its own process) with n running containers, run
// in pairs, once with --stats-interval=0 and once with the default 2 s; the
// CPU of the server and of dockerd over the same window, and the server's
// resident memory.
func TestBenchStatsCollector(t *testing.T) {
	requireBench(t)
	n := envInt(t, "CA_BENCH_STATS_CONTAINERS", 50)
	secs := envInt(t, "CA_BENCH_STATS_SECONDS", 60)
	pairs := envInt(t, "CA_BENCH_STATS_PAIRS", 3)
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

	// measure runs the server with flag until its containerstats are
	// wantObjects, then, when window is not zero, measures it over window.
	measure := func(flag string, wantObjects int, window time.Duration) statsRun {
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
		var run statsRun
		if window > 0 {
			time.Sleep(statsSettle) // a settling window, not a wait for an event
			s0, d0 := procCPU(b.PID()), procCPU(dpid)
			sampleRSS(t, b.PID(), window, &run)
			run.server, run.dockerd = procCPU(b.PID())-s0, procCPU(dpid)-d0
		}
		// One server at a time: the next measures alone.
		if err := b.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Wait(time.Minute); err != nil {
			t.Fatalf("%s: stopping the server: %v", flag, err)
		}
		return run
	}
	// Pairs of runs, off then on: a server's RSS depends on what its start
	// left in the heap, which varies by several MiB from one start to the
	// next, so one pair can mislead either way.
	// A first run, not measured, reads the binary's pages into the page
	// cache: a process maps the cached pages around each page it faults in,
	// so the first run after a build has fewer file pages resident.
	onFlag := "--stats-interval=" + interval.String()
	measure(onFlag, n, 0)
	var offs, ons, costs []statsRun
	for range pairs {
		off := measure("--stats-interval=0", 0, window)
		on := measure(onFlag, n, window)
		offs, ons, costs = append(offs, off), append(ons, on), append(costs, on.minus(off))
	}

	pct := func(c time.Duration) float64 { return 100 * c.Seconds() / window.Seconds() }
	mib := func(kb int64) float64 { return float64(kb) / 1024 }
	ring := stats.Capacity(interval, stats.DefaultHistory) * stats.PointBytes
	var b strings.Builder
	fmt.Fprintf(&b, "containers-apiserver stats-collector benchmark (hack/bench.sh), %s\n", started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "machine: %s\n", mach)
	fmt.Fprintf(&b, "setup:   %d running busybox containers (sleep, default bridge) on a test-owned dockerd; the server binary\n", n)
	fmt.Fprintf(&b, "         (no race detector) as its own process, %d times with --stats-interval=0 then with %s; each measured\n", pairs, interval)
	fmt.Fprintf(&b, "         over %s after %s of settling; load average %s at start, %s at end\n\n", window, statsSettle, loadStart, loadAvg())
	fmt.Fprintf(&b, "CPU (%% of one core) over the window; the server's memory read once a second (VmRSS mean and max, RssAnon mean):\n")
	line := func(what string, r statsRun, sign string) {
		f := "  %-16s server %" + sign + "5.2f%%  dockerd %" + sign + "5.2f%%  RSS %" + sign + "6.1f  max %" + sign + "6.1f  anon %" + sign + "6.1f MiB\n"
		fmt.Fprintf(&b, f, what, pct(r.server), pct(r.dockerd), mib(r.rssMeanKB), mib(r.rssMaxKB), mib(r.anonMeanKB))
	}
	for i := range pairs {
		fmt.Fprintf(&b, "pair %d\n", i+1)
		line("collector off:", offs[i], "")
		line("collector on:", ons[i], "")
		line("the collector:", costs[i], "+")
	}
	med := statsRun{
		server:     time.Duration(medianOf(costs, func(r statsRun) int64 { return int64(r.server) })),
		dockerd:    time.Duration(medianOf(costs, func(r statsRun) int64 { return int64(r.dockerd) })),
		rssMeanKB:  medianOf(costs, func(r statsRun) int64 { return r.rssMeanKB }),
		rssMaxKB:   medianOf(costs, func(r statsRun) int64 { return r.rssMaxKB }),
		anonMeanKB: medianOf(costs, func(r statsRun) int64 { return r.anonMeanKB }),
	}
	fmt.Fprintf(&b, "median of the %d pairs' costs (each figure on its own)\n", pairs)
	line("the collector:", med, "+")
	fmt.Fprintf(&b, "  (target: server <= 2%% of a core, RSS <= 10 MiB)\n")
	fmt.Fprintf(&b, "\nThe history ring of one container, full (15 min at %s: %d samples of %d B): %.1f KiB; %d containers: %.2f MiB\n",
		interval, stats.Capacity(interval, stats.DefaultHistory), stats.PointBytes, float64(ring)/1024, n, float64(ring*n)/(1<<20))
	fmt.Fprintf(&b, "(allocated when the container is first seen; its pages become resident as the ring fills)\n")
	fmt.Fprintf(&b, "\nstats bench took %s\n", time.Since(started).Round(time.Second))
	writeReport(t, report, b.String())
}

// medianOf is the median of f over runs.
func medianOf(runs []statsRun, f func(statsRun) int64) int64 {
	v := make([]int64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	return median(v)
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
