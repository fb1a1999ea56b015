package docker

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// blockingConn is a connection to Docker's unix socket that is read and
// written with blocking system calls, outside Go's network poller.
//
// Why: dockerd writes a log as one small HTTP chunk per line, tens of
// thousands a second. With the socket in Go's poller every one of them wakes
// the poller (and, while the reader waits, the reader), which costs more CPU
// than copying the bytes. A thread blocked in recv(2) costs nothing while it
// waits, and a reader that pauses for readGap between reads of a busy stream
// (see Read) finds many lines waiting and takes them in one call.
//
// The price is one OS thread per connection while a read blocks: an idle
// follow holds one thread parked in the kernel (no CPU, a few KiB of stack).
//
// Cancellation: Close shuts the socket down (shutdown(2)), which wakes a
// blocked read (it returns io.EOF) or write at once; the descriptor itself is
// closed by the last system call still using it, so it is never reused under
// a read in flight.
//
// Deadlines are not supported (Set*Deadline return an error): net/http and
// the Docker client cancel by closing the connection.
type blockingConn struct {
	path string
	// hooks, from the dial context, may flush a reader's output before a
	// read blocks; nil when the dial had none.
	hooks *ReadHooks
	// busy: the last read returned data. Only the reading goroutine uses it
	// (net/http reads a connection from one goroutine at a time).
	busy bool

	// mu guards fd's life: closed, and the system calls in flight on it.
	mu       sync.Mutex
	fd       int
	closed   bool
	inflight int
}

// readGap is how long a read of a busy stream waits for more data before it
// gives up on it and flushes what it has: long enough for dockerd to send
// several lines, short enough that its socket buffer (about 200 KiB, charged
// about 1 KiB per chunk) does not fill and stall it, and well under the 1 ms
// a quiet follow may add to a line. A nanosleep, not a Go timer: Go's timers
// round waits below a millisecond up to one.
const readGap = 250 * time.Microsecond

// blockingDialer returns a dialer of blocking connections for a unix
// socket host, or nil for other hosts (TCP, TLS), which keep net/http's.
func blockingDialer(host string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok || path == "" {
		return nil
	}
	// The Docker client dials "unix" at the socket for every request; its
	// network and address arguments are net/http's placeholders.
	return func(ctx context.Context, _, _ string) (net.Conn, error) { return dialBlocking(ctx, path) }
}

// dialBlocking connects to the unix socket at path.
func dialBlocking(ctx context.Context, path string) (net.Conn, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("socket", err)}
	}
	// A unix socket connects at once or fails (ECONNREFUSED, ENOENT); it
	// blocks only for a listener whose backlog is full, where the ctx check
	// below is the best a blocking connect allows.
	if err := ignoringEINTR(func() error { return unix.Connect(fd, &unix.SockaddrUnix{Name: path}) }); err != nil {
		_ = unix.Close(fd)
		return nil, &net.OpError{Op: "dial", Net: "unix", Addr: &net.UnixAddr{Name: path, Net: "unix"}, Err: os.NewSyscallError("connect", err)}
	}
	if err := ctx.Err(); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	c := &blockingConn{path: path, fd: fd}
	if h, ok := ctx.Value(readHooksKey{}).(*ReadHooks); ok && h != nil {
		h.mu.Lock()
		h.attached = true
		h.mu.Unlock()
		c.hooks = h
	}
	return c, nil
}

func ignoringEINTR(f func() error) error {
	for {
		if err := f(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// begin registers a system call on fd; false once the connection is closed.
func (c *blockingConn) begin() (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return -1, false
	}
	c.inflight++
	return c.fd, true
}

// end unregisters it, closing fd when it was the last one after Close.
func (c *blockingConn) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight--
	if c.closed && c.inflight == 0 {
		_ = unix.Close(c.fd)
	}
}

// recv reads into p; flags 0 blocks, unix.MSG_DONTWAIT does not.
func recv(fd int, p []byte, flags int) (int, error) {
	for {
		n, _, err := unix.Recvfrom(fd, p, flags)
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}

// Read returns what is waiting on the socket. When nothing is, and the last
// read returned data (a busy stream), it waits readGap once for more; when
// still nothing is, it runs the hooks' BeforeBlock and then blocks.
func (c *blockingConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	fd, ok := c.begin()
	if !ok {
		return 0, net.ErrClosed
	}
	defer c.end()
	n, err := recv(fd, p, unix.MSG_DONTWAIT)
	if errors.Is(err, unix.EAGAIN) && c.busy {
		_ = ignoringEINTR(func() error {
			ts := unix.NsecToTimespec(readGap.Nanoseconds())
			return unix.Nanosleep(&ts, nil)
		})
		n, err = recv(fd, p, unix.MSG_DONTWAIT)
	}
	if errors.Is(err, unix.EAGAIN) {
		c.busy = false
		if c.hooks != nil {
			if herr := c.hooks.beforeBlock(); herr != nil {
				return 0, herr
			}
		}
		n, err = recv(fd, p, 0)
	}
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case n == 0:
		// The peer closed, or Close shut the socket down.
		return 0, io.EOF
	}
	c.busy = true
	return n, nil
}

func (c *blockingConn) Write(p []byte) (int, error) {
	fd, ok := c.begin()
	if !ok {
		return 0, net.ErrClosed
	}
	defer c.end()
	written := 0
	for written < len(p) {
		n, err := unix.Write(fd, p[written:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return written, c.opError("write", err)
		}
		written += n
	}
	return written, nil
}

func (c *blockingConn) opError(op string, err error) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		err = net.ErrClosed
	} else {
		err = os.NewSyscallError(op, err)
	}
	return &net.OpError{Op: op, Net: "unix", Addr: c.RemoteAddr(), Err: err}
}

// Close shuts the socket down, waking any blocked read or write.
func (c *blockingConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	_ = unix.Shutdown(c.fd, unix.SHUT_RDWR)
	if c.inflight == 0 {
		return unix.Close(c.fd)
	}
	return nil
}

// CloseWrite half-closes the connection (a hijacked stream's stdin EOF).
func (c *blockingConn) CloseWrite() error {
	fd, ok := c.begin()
	if !ok {
		return net.ErrClosed
	}
	defer c.end()
	return unix.Shutdown(fd, unix.SHUT_WR)
}

func (c *blockingConn) LocalAddr() net.Addr  { return &net.UnixAddr{Net: "unix"} }
func (c *blockingConn) RemoteAddr() net.Addr { return &net.UnixAddr{Name: c.path, Net: "unix"} }

var errNoDeadlines = errors.New("blocking Docker connection: deadlines are not supported; close it to cancel")

func (c *blockingConn) SetDeadline(time.Time) error      { return errNoDeadlines }
func (c *blockingConn) SetReadDeadline(time.Time) error  { return errNoDeadlines }
func (c *blockingConn) SetWriteDeadline(time.Time) error { return errNoDeadlines }
