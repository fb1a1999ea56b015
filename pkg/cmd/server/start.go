package server

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/component-base/logs"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/klog/v2"

	"github.com/rancher-sandbox/containers-apiserver/pkg/stream"
)

// NewCommand returns the containers-apiserver command.
func NewCommand(ctx context.Context) *cobra.Command {
	o := NewOptions()
	logOpts := logs.NewOptions()
	cmd := &cobra.Command{
		Use:   "containers-apiserver",
		Short: "Serve a Docker engine's containers as Kubernetes resources (containers.rancherdesktop.io)",
		Long: "containers-apiserver mirrors a Docker engine into an in-memory registry and serves it as the\n" +
			"Kubernetes API group containers.rancherdesktop.io, either behind kube-apiserver's aggregation\n" +
			"layer (default) or on its own with --standalone.",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := logsapi.ValidateAndApply(logOpts, nil); err != nil {
				return err
			}
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return Run(cmd.Context(), o)
		},
	}
	cmd.SetContext(ctx)

	fs := cmd.Flags()
	nfs := cliflag.NamedFlagSets{}
	o.AddFlags(nfs.FlagSet("containers-apiserver"))
	logsapi.AddFlags(logOpts, nfs.FlagSet("logs"))
	for _, f := range nfs.FlagSets {
		fs.AddFlagSet(f)
	}
	// Standalone defaults depend on which flags the user set, so keep the
	// set that holds them all.
	o.flags = fs
	cols := 100
	cliflag.SetUsageAndHelpFunc(cmd, nfs, cols)
	return cmd
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
