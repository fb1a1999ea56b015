package server

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/component-base/logs"
	logsapi "k8s.io/component-base/logs/api/v1"
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

// Run builds the server from the options and serves until ctx ends.
func Run(ctx context.Context, o *Options) error {
	cfg, err := o.Config()
	if err != nil {
		return err
	}
	srv, err := cfg.Complete().New()
	if err != nil {
		return fmt.Errorf("building the server: %w", err)
	}
	return srv.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}
