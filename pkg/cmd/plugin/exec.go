package plugin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/kubectl/pkg/util/term"
)

func newExecCommand(e *env) *cobra.Command {
	var stdin, tty bool
	var user, workdir string
	var envVars []string
	cmd := &cobra.Command{
		Use:   "exec [-i] [-t] NAME [--] COMMAND [ARG...]",
		Short: "Run a command in a running container, like docker exec",
		Long: `Run a command in a running container over a WebSocket (v5.channel.k8s.io).
-i passes standard input; -t gives the command a terminal: with -i the local
terminal goes raw and its size follows the window's. The command's exit code is
this command's exit code.`,
		Example: `  kubectl container exec web -- ls /
  kubectl container exec -it web -- sh
  echo hi | kubectl container exec -i web -- cat
  kubectl container exec -u 1000 -w /tmp -e DEBUG=1 web -- env`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			name, command := args[0], args[1:]
			if command[0] == "--" {
				command = command[1:]
			}
			if len(command) == 0 {
				return errors.New("no command to run: kubectl container exec NAME -- COMMAND")
			}
			id, err := e.resolveID(ctx, name)
			if err != nil {
				return err
			}
			t := term.TTY{Out: e.streams.Out}
			if stdin {
				t.In = e.streams.In
			}
			if tty && stdin && !t.IsTerminalIn() {
				// As kubectl: a pipe cannot be a terminal.
				_, _ = fmt.Fprintln(e.streams.ErrOut, "Unable to use a TTY - input is not a terminal or the right kind of file")
				tty = false
			}
			t.Raw = tty && stdin
			req := e.client.RESTClient().Get().Namespace(e.namespace).Resource("containers").
				Name(id).SubResource("exec").Param("stdout", "true")
			for _, w := range command {
				req.Param("command", w)
			}
			for _, v := range envVars {
				req.Param("env", v)
			}
			if stdin {
				req.Param("stdin", "true")
			}
			if tty {
				req.Param("tty", "true")
			} else {
				req.Param("stderr", "true")
			}
			if user != "" {
				req.Param("user", user)
			}
			if workdir != "" {
				req.Param("workingDir", workdir)
			}
			// WebSocket only: a fallback to SPDY would hide a refusal (403,
			// 404, 409) behind the server's "SPDY is not supported".
			exe, err := remotecommand.NewWebSocketExecutor(e.cfg, http.MethodGet, req.URL().String())
			if err != nil {
				return err
			}
			opts := remotecommand.StreamOptions{Stdout: e.streams.Out, Tty: tty}
			if stdin {
				opts.Stdin = e.streams.In
			}
			if !tty {
				opts.Stderr = e.streams.ErrOut
			} else if q := t.MonitorSize(t.GetSize()); q != nil {
				// Primed with the current size, so the command starts with it.
				opts.TerminalSizeQueue = sizeQueue{q}
			}
			// Safe restores the terminal before the exit code is returned.
			err = t.Safe(func() error { return exe.StreamWithContext(ctx, opts) })
			var ee utilexec.ExitError
			if errors.As(err, &ee) && ee.Exited() {
				return &exitError{code: ee.ExitStatus()}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // flags after NAME belong to the command
	f.BoolVarP(&stdin, "interactive", "i", false, "Pass standard input to the command")
	f.BoolVarP(&tty, "tty", "t", false, "Give the command a terminal")
	f.StringVarP(&user, "user", "u", "", "User to run as (name or UID[:GID])")
	f.StringVarP(&workdir, "workdir", "w", "", "Working directory inside the container")
	f.StringArrayVarP(&envVars, "env", "e", nil, "Set an environment variable (NAME=VALUE), repeatable")
	return cmd
}

// sizeQueue passes kubectl's terminal sizes to client-go's executor.
type sizeQueue struct{ q term.TerminalSizeQueue }

func (s sizeQueue) Next() *remotecommand.TerminalSize {
	n := s.q.Next()
	if n == nil {
		return nil
	}
	return &remotecommand.TerminalSize{Width: n.Width, Height: n.Height}
}
