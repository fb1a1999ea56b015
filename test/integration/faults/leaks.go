package faults

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

// usage is what the process holds: goroutines and open file descriptors.
type usage struct {
	goroutines, fds int
}

func currentUsage() usage {
	u := usage{goroutines: runtime.NumGoroutine(), fds: -1}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		u.fds = len(ents)
	}
	return u
}

func (u usage) String() string {
	return fmt.Sprintf("%d goroutines, %d open files", u.goroutines, u.fds)
}

// settledUsage waits until the goroutine count has not fallen for a second
// (what ended streams and closed connections leave behind is gone), or
// timeout passes, and returns the usage then.
func settledUsage(timeout time.Duration) usage {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	u, since := currentUsage(), time.Now()
	for time.Since(since) < time.Second && time.Now().Before(deadline) {
		<-tick.C
		if n := currentUsage(); n.goroutines < u.goroutines || n.fds < u.fds {
			u, since = n, time.Now()
		}
	}
	return u
}

// waitBack waits until the process is back to base plus slack, or timeout
// passes; it returns the last usage seen and, on failure, every goroutine's
// stack.
func waitBack(base, slack usage, timeout time.Duration) (usage, string, bool) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		u := currentUsage()
		if u.goroutines <= base.goroutines+slack.goroutines && u.fds <= base.fds+slack.fds {
			return u, "", true
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 4<<20)
			return u, string(buf[:runtime.Stack(buf, true)]), false
		}
		<-tick.C
	}
}
