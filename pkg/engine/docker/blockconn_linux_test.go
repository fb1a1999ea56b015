package docker

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// unixPeer listens on a unix socket and returns its path and the server side
// of the first connection.
func unixPeer(t *testing.T) (string, <-chan net.Conn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	conns := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(conns)
			return
		}
		t.Cleanup(func() { _ = c.Close() })
		conns <- c
	}()
	return path, conns
}

func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// TestBlockingConnRoundTrip: bytes go both ways unchanged; CloseWrite gives
// the peer EOF while reading goes on.
func TestBlockingConnRoundTrip(t *testing.T) {
	path, conns := unixPeer(t)
	c, err := dialBlocking(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer := <-conns
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != "ping" {
		t.Fatalf("peer read %q, %v", got, err)
	}
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := peer.Read(got); !errors.Is(err, io.EOF) {
		t.Fatalf("peer after CloseWrite: %d, %v; want EOF", n, err)
	}
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	go func() { _, _ = peer.Write(big); _ = peer.Close() }()
	back, err := io.ReadAll(c)
	if err != nil || len(back) != len(big) || string(back) != string(big) {
		t.Fatalf("read back %d bytes, %v; want the %d written", len(back), err, len(big))
	}
}

// TestBlockingConnCloseWakesRead: Close ends a read blocked on an idle
// socket at once, and the descriptor is released once the read returned.
func TestBlockingConnCloseWakesRead(t *testing.T) {
	path, conns := unixPeer(t)
	before := openFDs(t)
	c, err := dialBlocking(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	<-conns
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 16))
		done <- err
	}()
	// The read may not have blocked yet; Close must end it either way.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after Close: %v, want EOF or ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not wake the blocked read")
	}
	// The accepted side is still open (closed at cleanup): ours is gone.
	if got := openFDs(t); got != before+1 {
		t.Fatalf("%d descriptors open, want %d (ours closed, the peer's open)", got, before+1)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read of a closed conn: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestBlockingConnHooks: an armed hook runs before a read blocks, not when
// data is waiting nor when disarmed; its error is returned, marked as the
// hook's; a dial with hooks in its context attaches them.
func TestBlockingConnHooks(t *testing.T) {
	path, conns := unixPeer(t)
	var calls atomic.Int32
	var fail atomic.Bool
	hooks := &ReadHooks{BeforeBlock: func() error {
		calls.Add(1)
		if fail.Load() {
			return errors.New("client gone")
		}
		return nil
	}}
	c, err := dialBlocking(WithReadHooks(context.Background(), hooks), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !hooks.Attached() {
		t.Fatal("the dial did not attach the hooks")
	}
	peer := <-conns
	buf := make([]byte, 64)

	// Disarmed: no call, even though the read blocks.
	go func() { _, _ = peer.Write([]byte("a")) }()
	if n, err := c.Read(buf); n != 1 || err != nil {
		t.Fatalf("read: %d, %v", n, err)
	}
	if calls.Load() != 0 {
		t.Fatalf("a disarmed hook ran %d times", calls.Load())
	}

	hooks.Arm()
	// Data waiting: returned without a call.
	if _, err := peer.Write([]byte("bc")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the peer's bytes to arrive", func() bool { return pending(t, c) >= 2 })
	if n, err := c.Read(buf); n != 2 || err != nil || calls.Load() != 0 {
		t.Fatalf("read with data waiting: %d, %v, %d hook calls", n, err, calls.Load())
	}
	// Nothing waiting (after the gap, the last read having returned data):
	// the hook runs, then the read blocks until the peer writes.
	go func() {
		waitFor(t, "the hook", func() bool { return calls.Load() == 1 })
		_, _ = peer.Write([]byte("d"))
	}()
	if n, err := c.Read(buf); n != 1 || err != nil || calls.Load() != 1 {
		t.Fatalf("read after idle: %d, %v, %d hook calls", n, err, calls.Load())
	}
	// A failing hook fails the read, as the hook's error.
	fail.Store(true)
	_, err = c.Read(buf)
	var he *hookError
	if !errors.As(err, &he) || err.Error() != "client gone" {
		t.Fatalf("read with a failing hook: %v", err)
	}
}

// pending is how many bytes wait on the connection's socket.
func pending(t *testing.T, c net.Conn) int {
	t.Helper()
	bc := c.(*blockingConn)
	fd, ok := bc.begin()
	if !ok {
		t.Fatal("closed")
	}
	defer bc.end()
	n, err := ioctlInq(fd)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("timed out waiting for %s", what)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func ioctlInq(fd int) (int, error) { return unix.IoctlGetInt(fd, unix.SIOCINQ) }
