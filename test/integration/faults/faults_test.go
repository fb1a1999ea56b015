//go:build integration

package faults

import (
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// convergeWithin is the figure: after each restart, the mirror equals
// docker ps -a within 5 s of dockerd answering again.
const convergeWithin = 5 * time.Second

// TestDockerdKilled20Times kills a test-owned dockerd with SIGKILL and
// restarts it 20 times while containers churn and 20 follows and 20 watches
// are open (RunRestarts checks the streams, the watches and the leaks); here,
// every restart must have converged within 5 s.
func TestDockerdKilled20Times(t *testing.T) {
	d := testenv.StartDockerd(t, "faults")
	s := testenv.StartServer(t, d.Host, testenv.ServerOptions{})
	e := NewEnv(t, d, s)
	fig := RunRestarts(t, e, DefaultRestartOptions())
	for i, c := range fig.Convergence {
		if c > convergeWithin {
			t.Errorf("restart %d (outage %s, long %v): the mirror equalled docker ps -a %s after dockerd answered, want <= %s",
				i+1, fig.Outage[i].Round(time.Millisecond), fig.Long[i], c.Round(time.Millisecond), convergeWithin)
		}
	}
	if fig.ChurnFailed == 0 {
		t.Errorf("the churn loop never met a Docker that was down (%d calls succeeded)", fig.ChurnOK)
	}
	t.Logf("%d restarts in %s; %d follows ended cleanly at the kills; churn: %d calls, %d failed while Docker was down; "+
		"watchers: %d lists, %d re-watches; %s at the end, %s at the baseline",
		len(fig.Convergence), fig.Elapsed.Round(time.Second), fig.FollowsChecked, fig.ChurnOK, fig.ChurnFailed,
		fig.Relists, fig.Rewatches, fig.After, fig.Before)
}

// TestBurst500 creates 500 containers at once against a test-owned dockerd:
// the mirror converges to docker ps -a (how fast is make bench's figure).
func TestBurst500(t *testing.T) {
	d := testenv.StartDockerd(t, "faultsburst")
	s := testenv.StartServer(t, d.Host, testenv.ServerOptions{})
	fig := RunBurst(t, NewEnv(t, d, s), 500)
	t.Logf("%d containers created in %s; the mirror equalled docker ps -a %s after the first create",
		fig.N, fig.Created.Round(time.Millisecond), fig.Converged.Round(time.Millisecond))
}

// shutdownTimeout is the server's: --request-timeout, 60 s by default.
const shutdownTimeout = 60 * time.Second

// serverTrouble matches what a panic, a fatal error or a data race prints,
// and what apiserver's crash handler logs for a recovered panic.
var serverTrouble = regexp.MustCompile(`(?m)^panic:|^fatal error:|WARNING: DATA RACE|Observed a panic`)

// TestSIGTERMEndsFollows sends SIGTERM to the server binary while 50 follows
// are open: every one ends cleanly with the reason (a 503 Status: HTTP in its
// trailer, WebSocket 1001) within the shutdown timeout, and the server exits
// with status 0 without a panic.
func TestSIGTERMEndsFollows(t *testing.T) {
	d := testenv.StartDockerd(t, "faultsterm")
	b := testenv.StartBinary(t, d.Host)
	e := NewBinaryEnv(t, d, b)
	targets := startTargets(t, e, 5)
	if _, err := e.waitConverged(t.Context(), convergeDeadline); err != nil {
		t.Fatal(err)
	}
	fw := NewFollowers(e.Server)
	defer fw.CloseIdle()
	follows := openFollows(t, fw, targets, 50).Take()

	term := time.Now()
	if err := b.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var last time.Duration
	for _, fl := range follows {
		if err := fl.WaitEnd(shutdownTimeout - time.Since(term)); err != nil {
			t.Fatalf("within the shutdown timeout: %v", err)
		}
		if err := fl.CheckFailed(1001, func(code int32) bool { return code == 503 }); err != nil {
			t.Error(err)
		}
		last = max(last, fl.End.At.Sub(term))
	}
	code, err := b.Wait(shutdownTimeout - time.Since(term))
	if err != nil {
		t.Fatal(err)
	}
	exited := time.Since(term)
	if code != 0 {
		t.Errorf("the server exited with status %d", code)
	}
	if m := serverTrouble.FindString(b.Output()); m != "" {
		t.Errorf("the server's output shows %q (log: %s)", m, b.Log)
	}
	t.Logf("SIGTERM: %d follows ended within %s, the server exited after %s", len(follows),
		last.Round(time.Millisecond), exited.Round(time.Millisecond))
}
