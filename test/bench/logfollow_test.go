package bench

// Follow latency of the log benchmark (TestBenchLogs).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
)

// follower is one client following the ticker's log. Its stamper records
// when each line arrived.
type follower struct {
	name   string
	follow func(ctx context.Context, w io.Writer) error
	st     *stamper
	err    error     // set when the stream ended (read under st.mu before)
	ended  time.Time // when its stream ended
}

// stamper splits what it is given into lines "<seq> <sec> <usec>" and records
// when each line was complete, and the container's time in it.
type stamper struct {
	mu      sync.Mutex
	partial []byte
	got     map[int]time.Time // seq -> read by the client
	wrote   map[int]time.Time // seq -> the container's clock just before it wrote the line
	first   int               // first seq seen, 0 before
	last    int               // highest seq seen
	bad     string            // the first line that did not parse
}

func newStamper() *stamper {
	return &stamper{got: map[int]time.Time{}, wrote: map[int]time.Time{}}
}

func (s *stamper) Write(p []byte) (int, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		line := string(s.partial[:i])
		s.partial = append(s.partial[:0], s.partial[i+1:]...)
		f := strings.Fields(line)
		var seq int
		var sec, usec int64
		var err error
		if len(f) == 3 {
			seq, err = strconv.Atoi(f[0])
			if err == nil {
				sec, err = strconv.ParseInt(f[1], 10, 64)
			}
			if err == nil {
				usec, err = strconv.ParseInt(f[2], 10, 64)
			}
		}
		if len(f) != 3 || err != nil || seq < 1 {
			if s.bad == "" {
				s.bad = line
			}
			continue
		}
		s.got[seq] = now
		s.wrote[seq] = time.Unix(sec, usec*1000)
		if s.first == 0 {
			s.first = seq
		}
		s.last = max(s.last, seq)
	}
	return len(p), nil
}

func (s *stamper) progress() (first, last int, bad string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, s.last, s.bad
}

// followResult is one follower's figures over the lines every follower saw.
type followResult struct {
	name   string
	lat    summary // client read - container write
	paired summary // this follower's read - the direct follower's read, same line
}

type followReport struct {
	lines, warm int
	interval    string
	results     []followResult // [0] is Docker direct
}

// tickerScript prints "<seq> <sec> <usec>" every interval seconds; the time
// is adjtimex(2)'s CLOCK_REALTIME (busybox's date has no %N), read just
// before the line is written, parsed with shell builtins only.
func tickerScript(interval string) string {
	return `i=0; while :; do i=$((i+1)); t=$(adjtimex); ` +
		`s=${t#*tv_sec:}; s=${s%%[!0-9 ]*}; u=${t#*tv_usec:}; u=${u%%[!0-9 ]*}; ` +
		`echo $i $s $u; sleep ` + interval + `; done`
}

func (b *logBench) measureFollow(ctx context.Context, p logParams) followReport {
	t := b.t
	t.Helper()
	id := b.run(ctx, "bench-logs-ticker", false, p.driver, "sh", "-c", tickerScript(p.interval))
	b.waitMirrored(ctx, id)

	// From now on: tail=0, so each follower starts with the next line.
	tail0 := url.Values{"follow": {"true"}, "tailLines": {"0"}}
	fs := []*follower{
		{name: "Docker API (ContainerLogs follow + stdcopy)", follow: func(ctx context.Context, w io.Writer) error {
			return b.readDocker(ctx, id, false, container.LogsOptions{Follow: true, Tail: "0"}, w)
		}},
	}
	for _, e := range b.endpoints() {
		fs = append(fs,
			&follower{name: e.name + " HTTP/1.1 chunked", follow: func(ctx context.Context, w io.Writer) error {
				return b.readHTTP(ctx, e, 1, id, tail0, w)
			}},
			&follower{name: e.name + " HTTP/2", follow: func(ctx context.Context, w io.Writer) error {
				return b.readHTTP(ctx, e, 2, id, tail0, w)
			}},
			&follower{name: e.name + " WebSocket v5.channel.k8s.io", follow: func(ctx context.Context, w io.Writer) error {
				return b.readWS(ctx, e, id, tail0, "v5.channel.k8s.io", w, w, nil)
			}})
	}
	fctx, fcancel := context.WithCancel(ctx)
	defer fcancel()
	var wg sync.WaitGroup
	for _, f := range fs {
		f.st = newStamper()
		wg.Go(func() {
			err := f.follow(fctx, f.st)
			f.st.mu.Lock()
			f.err, f.ended = err, time.Now()
			f.st.mu.Unlock()
		})
	}

	// Every follower has its first line: the measured lines are the ones after
	// the latest first line, and warm-up.
	iv, _ := strconv.ParseFloat(p.interval, 64)
	linePeriod := time.Duration(iv*float64(time.Second)) + 20*time.Millisecond // + the fork of adjtimex and sleep
	start := 0
	waitAll := func(what string, limit time.Duration, ok func(first, last int) bool) {
		until := time.Now().Add(limit)
		for {
			done := true
			for _, f := range fs {
				first, last, bad := f.st.progress()
				if bad != "" {
					t.Fatalf("follow, %s: unexpected line %q (does adjtimex work in the container?)", f.name, bad)
				}
				if !ok(first, last) {
					done = false
				}
			}
			if done {
				return
			}
			if time.Now().After(until) || ctx.Err() != nil {
				var st []string
				for _, f := range fs {
					first, last, _ := f.st.progress()
					f.st.mu.Lock()
					err := f.err
					f.st.mu.Unlock()
					st = append(st, fmt.Sprintf("%s: lines %d..%d, error %v", f.name, first, last, err))
				}
				t.Fatalf("follow: %s not within %s: %s", what, limit, strings.Join(st, "; "))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitAll("a first line on every follower", callTimeout, func(first, _ int) bool {
		start = max(start, first)
		return first > 0
	})
	from, to := start+p.warm, start+p.warm+p.lines // [from, to)
	waitAll(fmt.Sprintf("line %d on every follower", to-1), time.Duration(p.warm+p.lines+50)*linePeriod+callTimeout,
		func(_, last int) bool { return last >= to-1 })

	// Stopping the ticker ends every follow.
	kctx, kcancel := context.WithTimeout(ctx, callTimeout)
	stopped := time.Now()
	if err := b.dc.ContainerKill(kctx, id, "KILL"); err != nil {
		t.Fatalf("docker kill the ticker: %v", err)
	}
	kcancel()
	ended := make(chan struct{})
	go func() { wg.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(callTimeout):
		fcancel()
		<-ended
		var open []string
		for _, f := range fs {
			if f.ended.Sub(stopped) >= callTimeout {
				open = append(open, f.name)
			}
		}
		t.Fatalf("follow: streams still open %s after the container was killed: %v", callTimeout, open)
	}
	for _, f := range fs {
		if f.err != nil {
			t.Fatalf("follow, %s: %v", f.name, f.err)
		}
		t.Logf("follow, %s: ended %s after the kill", f.name, f.ended.Sub(stopped).Round(time.Millisecond))
	}

	rep := followReport{lines: p.lines, warm: p.warm, interval: p.interval}
	direct := fs[0].st
	for _, f := range fs {
		var lat, paired []time.Duration
		for seq := from; seq < to; seq++ {
			got, ok := f.st.got[seq]
			dgot, dok := direct.got[seq]
			if !ok || !dok {
				t.Fatalf("follow, %s: line %d missing (seen by the direct follower: %v)", f.name, seq, dok)
			}
			lat = append(lat, got.Sub(f.st.wrote[seq]))
			paired = append(paired, got.Sub(dgot))
		}
		r := followResult{name: f.name, lat: summarize(lat), paired: summarize(paired)}
		t.Logf("follow, %-40s p50 %s p99 %s max %s; vs direct, same line: p50 %s p99 %s", f.name,
			ms(r.lat.P50), ms(r.lat.P99), ms(r.lat.Max), ms(r.paired.P50), ms(r.paired.P99))
		rep.results = append(rep.results, r)
	}
	return rep
}
