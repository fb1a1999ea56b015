//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// concurrentStreams is how many follow streams are open at once.
const concurrentStreams = 300

// streamsPerConnection: the client spreads its streams over several HTTP/2
// connections (kube-apiserver allows 1000 streams per connection; Go's client
// would open more connections anyway). kube-apiserver → server is the
// aggregator's own transport, HTTP/2 to this server (1000 streams per
// connection, --http2-max-streams-per-connection).
const streamsPerConnection = 50

// TestConcurrentFollows: 300 follow streams through kube-apiserver at once;
// each gets the container's first line (so all are open end to end), then
// every one gets a line written after all of them were open.
func TestConcurrentFollows(t *testing.T) {
	e := Get(t)
	id := e.Container(t, "many", TriggeredScript)
	e.WaitMirrored(t, id)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var transports []*http.Transport
	for range (concurrentStreams + streamsPerConnection - 1) / streamsPerConnection {
		transports = append(transports, e.Transport(t, LogReader))
	}

	type stream struct {
		opened, marked chan struct{}
		err            error
	}
	streams := make([]*stream, concurrentStreams)
	var wg sync.WaitGroup
	var openedCount, markedCount atomic.Int32
	sem := make(chan struct{}, 50) // open at most 50 at a time
	start := time.Now()
	for i := range streams {
		s := &stream{opened: make(chan struct{}), marked: make(chan struct{})}
		streams[i] = s
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			released := false
			release := func() {
				if !released {
					released = true
					<-sem
				}
			}
			defer release()
			req := e.Request(ctx, LogReader, http.MethodGet, e.ContainerPath(id, "log")+"?follow=true", nil)
			resp, err := (&http.Client{Transport: transports[i%len(transports)]}).Do(req)
			if err != nil {
				s.err = fmt.Errorf("stream %d: %w", i, err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				s.err = fmt.Errorf("stream %d: HTTP %d", i, resp.StatusCode)
				return
			}
			lines, errc := Lines(resp.Body)
			for l := range lines {
				switch {
				case strings.Contains(l, "ready"):
					openedCount.Add(1)
					close(s.opened)
					release()
				case strings.Contains(l, "marker"):
					markedCount.Add(1)
					close(s.marked)
					return
				}
			}
			s.err = fmt.Errorf("stream %d ended: %v", i, <-errc)
		}(i)
	}

	waitAll := func(what string, ch func(*stream) chan struct{}, count *atomic.Int32, timeout time.Duration) {
		t.Helper()
		deadline := time.After(timeout)
		for i, s := range streams {
			select {
			case <-ch(s):
			case <-deadline:
				var errs []string
				for _, s := range streams {
					if s.err != nil && len(errs) < 5 {
						errs = append(errs, s.err.Error())
					}
				}
				cancel()
				wg.Wait()
				t.Fatalf("%d of %d streams %s within %s (stream %d not); first errors: %v",
					count.Load(), concurrentStreams, what, timeout, i, errs)
			}
		}
	}
	waitAll("opened", func(s *stream) chan struct{} { return s.opened }, &openedCount, 3*time.Minute)
	t.Logf("%d follow streams open through kube-apiserver after %s", concurrentStreams, time.Since(start).Round(time.Millisecond))
	e.Trigger(t, id)
	marked := time.Now()
	waitAll("got the marker", func(s *stream) chan struct{} { return s.marked }, &markedCount, 60*time.Second)
	t.Logf("all %d got the line written after they opened, within %s", concurrentStreams, time.Since(marked).Round(time.Millisecond))
	cancel()
	wg.Wait()
}
