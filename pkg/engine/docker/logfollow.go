package docker

import (
	"io"
	"sync"
	"time"
)

// untilIdle is how long a read must wait for Docker, after untilTime has
// passed, before a follow with untilTime ends.
const untilIdle = 250 * time.Millisecond

// untilWatch ends a follow that has an untilTime. Docker (20.10) stops
// sending lines after untilTime but never ends such a follow. Once the clock
// has passed untilTime, the stream ends at the first read that has waited
// for Docker longer than untilIdle: by then Docker has sent every line up to
// untilTime (a backlog still being caught up arrives without such waits, and
// a slow client delays the next read, not a pending one).
//
// Its goroutine belongs to LogStream.Copy, which ends it by calling stop.
type untilWatch struct {
	until time.Time
	end   func() // closes the Docker body, so the pending read returns
	done  chan struct{}

	// mu guards readingSince and ended: the copying goroutine and the
	// watch's own goroutine use them.
	mu           sync.Mutex
	readingSince time.Time // when the pending read began; zero when none is
	ended        bool
}

func newUntilWatch(until time.Time, end func()) *untilWatch {
	u := &untilWatch{until: until, end: end, done: make(chan struct{})}
	go u.run()
	return u
}

func (u *untilWatch) run() {
	timer := time.NewTimer(time.Until(u.until))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-u.done:
		return
	}
	tick := time.NewTicker(untilIdle / 5)
	defer tick.Stop()
	for {
		u.mu.Lock()
		idle := !u.readingSince.IsZero() && time.Since(u.readingSince) > untilIdle
		if idle {
			u.ended = true
		}
		u.mu.Unlock()
		if idle {
			u.end()
			return
		}
		select {
		case <-tick.C:
		case <-u.done:
			return
		}
	}
}

// restartWait restarts the clock of a pending read: time the reader spent on
// its own output (a flush to a slow client) is not Docker being idle.
func (u *untilWatch) restartWait() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.readingSince.IsZero() {
		u.readingSince = time.Now()
	}
}

// stop ends the goroutine; Copy calls it once, when it returns.
func (u *untilWatch) stop() { close(u.done) }

// reached reports whether the watch ended the stream.
func (u *untilWatch) reached() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.ended
}

// reader marks every read of r as pending while it waits.
func (u *untilWatch) reader(r io.Reader) io.Reader { return untilReader{u, r} }

type untilReader struct {
	u *untilWatch
	r io.Reader
}

func (ur untilReader) Read(p []byte) (int, error) {
	ur.u.mu.Lock()
	ur.u.readingSince = time.Now()
	ur.u.mu.Unlock()
	n, err := ur.r.Read(p)
	ur.u.mu.Lock()
	ur.u.readingSince = time.Time{}
	ur.u.mu.Unlock()
	return n, err
}
