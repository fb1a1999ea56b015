// Command kubectl-container is a kubectl plugin (`kubectl container ...`)
// that speaks Docker names to the containers.rancherdesktop.io API: ps,
// logs, exec, stats and the lifecycle actions, with kubectl's config flags.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/rancher-sandbox/containers-apiserver/pkg/cmd/plugin"
)

func main() {
	// Ctrl-C or a TERM cancels the command's context: a log follow or a
	// stats view ends cleanly (exit code 130) rather than dying mid-line.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := plugin.Main(ctx, os.Args[1:], genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(code)
}
