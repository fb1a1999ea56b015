package testenv

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strconv"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
)

// ExecRequest is one command run through containers/exec.
type ExecRequest struct {
	Namespace, Container string
	Command              []string
	TTY                  bool
	User, WorkingDir     string
	Env                  []string
	// Streams: a nil one is not asked for.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Sizes feeds the terminal's sizes (TTY): the first is the initial size.
	Sizes remotecommand.TerminalSizeQueue
}

// ExecURL is the exec subresource's URL for r on cfg's server.
func ExecURL(cfg *rest.Config, r ExecRequest) (*url.URL, error) {
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, err
	}
	u = u.JoinPath("/apis/containers.rancherdesktop.io/v1alpha1/namespaces", r.Namespace, "containers", r.Container, "exec")
	q := url.Values{"command": r.Command, "env": r.Env}
	q.Set("stdin", strconv.FormatBool(r.Stdin != nil))
	q.Set("stdout", strconv.FormatBool(r.Stdout != nil))
	q.Set("stderr", strconv.FormatBool(r.Stderr != nil && !r.TTY))
	q.Set("tty", strconv.FormatBool(r.TTY))
	if r.User != "" {
		q.Set("user", r.User)
	}
	if r.WorkingDir != "" {
		q.Set("workingDir", r.WorkingDir)
	}
	u.RawQuery = q.Encode()
	return u, nil
}

// Exec runs r with client-go's WebSocket executor (what kubectl 1.31+ uses)
// and returns the command's exit code; err is anything else that went wrong.
func Exec(ctx context.Context, cfg *rest.Config, r ExecRequest) (exitCode int, err error) {
	u, err := ExecURL(cfg, r)
	if err != nil {
		return -1, err
	}
	ex, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	if err != nil {
		return -1, err
	}
	opts := remotecommand.StreamOptions{Stdin: r.Stdin, Stdout: r.Stdout, Tty: r.TTY, TerminalSizeQueue: r.Sizes}
	if !r.TTY {
		opts.Stderr = r.Stderr
	}
	err = ex.StreamWithContext(ctx, opts)
	var exit utilexec.CodeExitError
	if errors.As(err, &exit) {
		return exit.Code, nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

// SizeQueue is a TerminalSizeQueue fed by a channel; closing it ends the
// queue.
type SizeQueue chan remotecommand.TerminalSize

// Next implements remotecommand.TerminalSizeQueue.
func (q SizeQueue) Next() *remotecommand.TerminalSize {
	s, ok := <-q
	if !ok {
		return nil
	}
	return &s
}
