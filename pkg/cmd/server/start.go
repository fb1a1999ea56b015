package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/component-base/logs"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/klog/v2"

	"github.com/rancher-sandbox/containers-apiserver/pkg/stream"
)

// NewCommand returns the containers-apiserver command.
func NewCommand(ctx context.Context) *cobra.Command {
	return newCommand(ctx, NewOptions())
}

// newCommand returns the command that parses its flags into o; the tests
// pass their own o to see what a command line gives.
func newCommand(ctx context.Context, o *Options) *cobra.Command {
	logOpts := logs.NewOptions()
	cmd := &cobra.Command{
		Use:   "containers-apiserver",
		Short: "Serve a Docker engine's containers as Kubernetes resources (containers.rancherdesktop.io)",
		Long: "containers-apiserver mirrors a Docker engine into an in-memory registry and serves it as the\n" +
			"Kubernetes API group containers.rancherdesktop.io, either behind kube-apiserver's aggregation\n" +
			"layer (default) or on its own with --standalone.",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The server's flags are checked before logging is applied: a
			// refused command line then changes no process-wide state.
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return invalidFlags(err)
			}
			if err := logsapi.ValidateAndApply(logOpts, nil); err != nil {
				return err
			}
			return Run(cmd.Context(), o)
		},
	}
	cmd.SetContext(ctx)

	// The command parses the very flags the named sets hold, so the options
	// see which ones the user set (Complete's standalone defaults).
	fs := cmd.Flags()
	nfs := o.Flags()
	logsapi.AddFlags(logOpts, nfs.FlagSet("logs"))
	for _, name := range nfs.Order {
		fs.AddFlagSet(nfs.FlagSets[name])
	}
	cols := 100
	cliflag.SetUsageAndHelpFunc(cmd, nfs, cols)
	return cmd
}

// invalidFlags puts each of Validate's problems on its own line: the
// aggregate's one-line "[a, b]" is hard to read when messages hold commas.
func invalidFlags(err error) error {
	var agg utilerrors.Aggregate
	if !errors.As(err, &agg) {
		return err
	}
	var b strings.Builder
	b.WriteString("invalid flags:")
	for _, e := range agg.Errors() {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return errors.New(b.String())
}

// sessionDrainTimeout bounds how long a stopping server waits for its
// WebSocket streams to close: each writes its close frame at once, then
// waits for the client's reply (up to the stream write timeout, 30 s by
// default), which a client that has gone silent never sends.
const sessionDrainTimeout = 15 * time.Second

// Run builds the server from the options and serves until ctx ends.
func Run(ctx context.Context, o *Options) error {
	cfg, err := o.Config()
	if err != nil {
		return err
	}
	sessions := &stream.Sessions{}
	cfg.ExtraConfig.Stream.Sessions = sessions
	srv, err := cfg.Complete().New()
	if err != nil {
		return fmt.Errorf("building the server: %w", err)
	}
	err = srv.GenericAPIServer.PrepareRun().RunWithContext(ctx)
	// Shutdown does not wait for hijacked (WebSocket) connections; the
	// shutdown already told each to close, so give them the time to do it.
	wctx, cancel := context.WithTimeout(context.Background(), sessionDrainTimeout)
	defer cancel()
	if werr := sessions.Wait(wctx); werr != nil {
		klog.FromContext(ctx).Info("Exiting with WebSocket streams not yet closed", "err", werr)
	}
	return err
}
