package faults

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// burstDeadline bounds the creation of the burst, and the mirror's
// convergence after it: generous, for 500 containers on a loaded 2-core
// machine. The convergence time itself is a figure (make bench), not a test.
const burstDeadline = 5 * time.Minute

// BurstFigures is what RunBurst measured.
type BurstFigures struct {
	N int
	// Created is the time from the first create to the last one answered;
	// Converged from the first create to the mirror equal to docker ps -a.
	Created, Converged time.Duration
}

// RunBurst creates n containers at once (n concurrent creates) and waits
// until the mirror equals docker ps -a.
func RunBurst(t testing.TB, e *Env, n int) BurstFigures {
	t.Helper()
	ctx := context.Background()
	if _, err := e.waitConverged(ctx, convergeDeadline); err != nil {
		t.Fatalf("before the burst: %v", err)
	}
	prefix := testenv.UniqueName(t, "burst") + "-"
	cctx, cancel := context.WithTimeout(ctx, burstDeadline)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			_, err := e.Docker.ContainerCreate(cctx, &container.Config{Image: testenv.BusyboxImage, Cmd: stoppable},
				nil, nil, nil, fmt.Sprintf("%s%d", prefix, i))
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	fig := BurstFigures{N: n, Created: time.Since(start)}
	if len(errs) > 0 {
		t.Fatalf("%d of %d creates failed; the first: %v", len(errs), n, errs[0])
	}
	converged, err := e.waitConverged(ctx, burstDeadline)
	if err != nil {
		t.Fatalf("after the burst: %v", err)
	}
	fig.Converged = converged.Sub(start)

	// The burst is all there (not only the same on both sides).
	mirror, err := e.mirrorPS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, c := range mirror {
		if strings.HasPrefix(c.Name, prefix) {
			got++
		}
	}
	if got != n {
		t.Errorf("the mirror holds %d containers of the burst, want %d", got, n)
	}
	return fig
}
