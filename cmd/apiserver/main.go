// Command containers-apiserver serves a Docker engine's containers as
// Kubernetes resources in the group containers.rancherdesktop.io.
package main

import (
	"os"
	"runtime/debug"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"

	"github.com/rancher-sandbox/containers-apiserver/pkg/cmd/server"
)

// gcPercent is the garbage collector's GOGC unless the environment sets one.
// The server stays resident on a desktop with a live heap of 10-15 MiB, and
// Go's default of 100 lets the heap grow to twice that between collections:
// resident memory that any steady work (the stats collector, a GUI's
// watches) keeps. At 50 the headroom halves, for collections twice as often
// of a heap that small (a few milliseconds each).
const gcPercent = 50

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	ctx := genericapiserver.SetupSignalContext()
	os.Exit(cli.Run(server.NewCommand(ctx)))
}
