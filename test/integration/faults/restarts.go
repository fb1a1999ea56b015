package faults

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// Deadlines of the restart scenario. None is a figure of the issue (that one
// is asserted by the test on what RunRestarts measures): they only keep a
// broken run from hanging, generous for a loaded 2-core machine.
const (
	followDeadline   = time.Minute     // a follow's first byte; its end after the kill
	restartDeadline  = 2 * time.Minute // dockerd answering again; a long outage's backoff growth
	convergeDeadline = time.Minute     // the mirror and the watches equal to docker ps -a
	leakDeadline     = time.Minute     // goroutines and files back to the baseline
	// LongBackoffAttempts is how many reconnects a long outage waits for:
	// the mirror's backoff is then 8-16 s (initialBackoff 500 ms << 5, with
	// jitter), far past the 5 s the mirror has to converge in.
	LongBackoffAttempts = 5
	reconnectsMetric    = "containers_apiserver_mirror_reconnects_total"
)

// leakSlack is how far above the baseline goroutines and open files may stay.
// The baseline is taken once the server's Docker clients are warmed up (the
// mirrors synced, a follow of every kind opened and ended), the idle
// connections of the test's own clients closed, and the counts settled; at
// the end, the same clients' idle connections are closed and the counts have
// a minute to come back. What may differ is the idle keep-alive
// connections of the server's Docker clients (at most 2 per client, net/http's
// default, kept while dockerd lives): the log client's, and those of the
// image and volume mirrors' clients and of the container mirror's session
// client, which the restarts replaced. Each is one file and two goroutines
// (its read and write loops): 4 clients x 2 connections = 8 files and 16
// goroutines (measured: 3 and 6). A leak of anything per follow (420 of
// them) or per restart (20) shows above that.
var leakSlack = usage{goroutines: 16, fds: 8}

// logLoop writes a numbered line to stdout and one to stderr five times a
// second, and obeys SIGTERM at once.
var logLoop = []string{"sh", "-c",
	`trap 'exit 0' TERM; i=0; while :; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); sleep 0.2; done`}

// RestartOptions tune RunRestarts.
type RestartOptions struct {
	Restarts int // dockerd is killed with SIGKILL and restarted this often
	Follows  int // log follows open at each kill, over FollowKinds
	Watches  int // watches open throughout, one of them an informer
	Targets  int // running containers the follows read
	// LongOutageEvery makes every n-th outage last until the mirror has failed
	// LongBackoffAttempts reconnects (0: never), so that its backoff has grown.
	LongOutageEvery int
	// ChurnCalls is how many successful churn calls come between restarts.
	ChurnCalls int
	// Logf reports progress; default t.Logf.
	Logf func(format string, args ...any)
}

// DefaultRestartOptions are the issue's: 20 restarts, 20 follows, 20 watches.
func DefaultRestartOptions() RestartOptions {
	return RestartOptions{Restarts: 20, Follows: 20, Watches: 20, Targets: 4, LongOutageEvery: 5, ChurnCalls: 4}
}

// RestartFigures is what RunRestarts measured.
type RestartFigures struct {
	// Convergence is, per restart, the time from dockerd answering again
	// (its first successful Ping) to the mirror equal to docker ps -a.
	Convergence []time.Duration
	// Outage is, per restart, the time from the SIGKILL to dockerd answering.
	Outage []time.Duration
	// Long marks the outages that outlasted the mirror's backoff growth.
	Long []bool
	// FollowsChecked counts the follows that ended at a kill, all checked.
	FollowsChecked       int
	ChurnOK, ChurnFailed int
	// Relists and Rewatches are the watchers' (not the informer's).
	Relists, Rewatches int
	Before, After      usage
	Elapsed            time.Duration
}

// RunRestarts kills e's dockerd with SIGKILL and restarts it o.Restarts
// times while a churn loop changes containers and follows and watches are
// open, and checks after each restart that the mirror equals docker ps -a,
// that every follow ended cleanly with the reason, and that every watch
// equals docker ps -a; after the run, that goroutines and open files are
// back to the baseline. It measures the figures; it does not judge them.
func RunRestarts(t testing.TB, e *Env, o RestartOptions) RestartFigures {
	t.Helper()
	logf := o.Logf
	if logf == nil {
		logf = t.Logf
	}
	ctx := context.Background()
	started := time.Now()
	var fig RestartFigures

	targets := startTargets(t, e, o.Targets)
	if _, err := e.waitConverged(ctx, convergeDeadline); err != nil {
		t.Fatalf("before the first restart: the mirror is not docker ps -a: %v", err)
	}
	fw := NewFollowers(e.Server)
	defer fw.CloseIdle()
	// Warm-up: one follow of each kind, so that the pools of connections
	// hold at the baseline what they hold at the end.
	warm := openFollows(t, fw, targets, len(FollowKinds))
	warm.CancelAll()
	e.CloseIdle()
	fw.CloseIdle()
	fig.Before = settledUsage(leakDeadline)

	ws, err := StartWatches(ctx, e.Client, e.Server.Namespace, o.Watches)
	if err != nil {
		t.Fatal(err)
	}
	ch := startChurn(e.Docker)
	follows := &FollowSet{}
	defer func() { // also when a check fails the test: nothing outlives it
		follows.CancelAll()
		ch.stop()
		ws.Stop()
	}()

	for i := 1; i <= o.Restarts; i++ {
		for _, fl := range openFollows(t, fw, targets, o.Follows).Take() {
			follows.Add(fl)
		}
		cctx, cancel := context.WithTimeout(ctx, convergeDeadline)
		err := ch.waitCalls(cctx, o.ChurnCalls)
		cancel()
		if err != nil {
			t.Fatalf("restart %d: the churn loop made no progress: %v", i, err)
		}

		long := o.LongOutageEvery > 0 && i%o.LongOutageEvery == 0
		reconnects, err := testenv.Metric(reconnectsMetric, map[string]string{"resource": "containers"})
		if err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		if err := e.Dockerd.Kill(); err != nil {
			t.Fatalf("restart %d: killing dockerd: %v", i, err)
		}
		for _, fl := range follows.Take() {
			if err := fl.WaitEnd(followDeadline); err != nil {
				t.Fatalf("restart %d: a follow hangs after dockerd was killed: %v", i, err)
			}
			// 503: the engine's log stream broke; the client may follow again.
			if err := fl.CheckFailed(1011, func(code int32) bool { return code == http.StatusServiceUnavailable }); err != nil {
				t.Errorf("restart %d: %v", i, err)
			}
			fig.FollowsChecked++
		}
		if long {
			if _, err := poll(ctx, restartDeadline, func(context.Context) error {
				n, err := testenv.Metric(reconnectsMetric, map[string]string{"resource": "containers"})
				if err == nil && n-reconnects < LongBackoffAttempts {
					err = fmt.Errorf("%v reconnect attempts since the kill", n-reconnects)
				}
				return err
			}); err != nil {
				t.Fatalf("restart %d: long outage: %v", i, err)
			}
		}

		restarted := make(chan error, 1)
		go func() { restarted <- e.Dockerd.Start() }()
		back, err := e.waitDockerAnswers(ctx, restartDeadline)
		if err != nil {
			t.Fatalf("restart %d: dockerd does not answer: %v (start: %v)", i, err, <-restarted)
		}
		// Docker is back: one churn call lands while the mirror reconnects,
		// then the loop waits, so that there is a state to converge to.
		cctx, cancel = context.WithTimeout(ctx, convergeDeadline)
		err = ch.pause(cctx)
		cancel()
		if err != nil {
			t.Fatalf("restart %d: the churn loop did not get a call through: %v", i, err)
		}
		converged, err := e.waitConverged(ctx, convergeDeadline)
		if err != nil {
			t.Fatalf("restart %d: the mirror does not equal docker ps -a: %v", i, err)
		}
		if err := <-restarted; err != nil {
			t.Fatalf("restart %d: %v", i, err)
		}
		fig.Convergence = append(fig.Convergence, converged.Sub(back))
		fig.Outage = append(fig.Outage, back.Sub(killed))
		fig.Long = append(fig.Long, long)

		if err := e.waitWatches(ctx, ws); err != nil {
			t.Fatalf("restart %d: the watches: %v", i, err)
		}
		if err := e.waitReady(ctx, convergeDeadline); err != nil {
			t.Fatalf("restart %d: the server is not ready: %v", i, err)
		}
		targetsStarted := time.Now()
		restartTargets(t, e, targets)
		ch.resume()
		// The stats collector lives through the restart: it samples the
		// targets' new runs.
		if err := e.waitStatsAfter(ctx, targets, targetsStarted, convergeDeadline); err != nil {
			t.Fatalf("restart %d: containerstats: %v", i, err)
		}
		logf("restart %d/%d: outage %s%s, mirror equal to docker ps -a %s after dockerd answered",
			i, o.Restarts, fig.Outage[i-1].Round(time.Millisecond), map[bool]string{true: " (long)"}[long],
			fig.Convergence[i-1].Round(time.Millisecond))
	}

	// A last round of follows, ended by the client this time.
	last := openFollows(t, fw, targets, o.Follows)
	last.CancelAll()

	ch.stop()
	fig.ChurnOK, fig.ChurnFailed = ch.counts()
	if _, err := e.waitConverged(ctx, convergeDeadline); err != nil {
		t.Errorf("at the end: the mirror does not equal docker ps -a: %v", err)
	}
	if err := e.waitWatches(ctx, ws); err != nil {
		t.Errorf("at the end: the watches: %v", err)
	}
	fig.Relists, fig.Rewatches = ws.Counts()
	ws.Stop()

	e.CloseIdle()
	fw.CloseIdle()
	after, stacks, ok := waitBack(fig.Before, leakSlack, leakDeadline)
	fig.After = after
	if !ok {
		t.Errorf("after the run: %s, at the baseline %s (slack %s):\n%s", after, fig.Before, leakSlack, stacks)
	}
	fig.Elapsed = time.Since(started)
	return fig
}

// startTargets runs n containers that log without end, for the follows.
func startTargets(t testing.TB, e *Env, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	ids := make([]string, n)
	for i := range ids {
		resp, err := e.Docker.ContainerCreate(ctx, &container.Config{
			Image: testenv.BusyboxImage, Cmd: logLoop, Labels: map[string]string{targetLabel: "1"},
		}, nil, nil, nil, testenv.UniqueName(t, "target"))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = resp.ID
	}
	restartTargets(t, e, ids)
	return ids
}

// restartTargets starts the targets (a restarted dockerd stopped them). A
// dockerd that answers pings may still be reconnecting to its containerd
// ("transport is closing"): such a start is tried again, within a deadline.
func restartTargets(t testing.TB, e *Env, ids []string) {
	t.Helper()
	deadline := time.Now().Add(convergeDeadline)
	for _, id := range ids {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			err := e.Docker.ContainerStart(ctx, id, container.StartOptions{})
			cancel()
			if err == nil {
				break
			}
			transient := cerrdefs.IsUnavailable(err) || strings.Contains(err.Error(), "transport is closing")
			if !transient || time.Now().After(deadline) {
				t.Fatalf("starting target %s: %v", id[:12], err)
			}
			time.Sleep(pollEvery) // dockerd reconnecting to containerd; bounded by the deadline
		}
	}
}

// openFollows opens n follows of the targets, every kind in turn, and waits
// until each has received its first byte.
func openFollows(t testing.TB, fw *Followers, targets []string, n int) *FollowSet {
	t.Helper()
	set := &FollowSet{}
	for i := range n {
		set.Add(fw.Open(FollowKinds[i%len(FollowKinds)], targets[i%len(targets)]))
	}
	opened := set.Take()
	for _, fl := range opened {
		set.Add(fl)
	}
	for _, fl := range opened {
		if err := fl.WaitFirst(followDeadline); err != nil {
			set.CancelAll()
			t.Fatal(err)
		}
	}
	return set
}
