// Package plugin is the kubectl plugin `kubectl container`: docker-like
// subcommands (ps, logs, exec, stats, start/stop/restart/pause/unpause, rm)
// on the containers.rancherdesktop.io API, through kubectl's config flags
// and the generated clientset. Containers are named as docker names them.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/rancher-sandbox/containers-apiserver/pkg/generated/clientset/versioned"
	clientv1alpha1 "github.com/rancher-sandbox/containers-apiserver/pkg/generated/clientset/versioned/typed/containers/v1alpha1"
)

// ExitInterrupted is the exit code after Ctrl-C (128 + SIGINT, as a shell
// reports a command the signal ended).
const ExitInterrupted = 130

// exitError ends the command with code, after printing err (if any).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit code %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// env is what every subcommand works with: kubectl's config flags, the
// streams, and (once resolved) the clients and namespace.
type env struct {
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams

	cfg       *rest.Config
	client    clientv1alpha1.ContainersV1alpha1Interface
	namespace string
}

// connect builds the clients from the flags and the kubeconfig.
func (e *env) connect() error {
	if e.client != nil {
		return nil
	}
	cfg, err := e.flags.ToRESTConfig()
	if err != nil {
		return err
	}
	ns, _, err := e.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	cs, err := versioned.NewForConfig(cfg)
	if err != nil {
		return err
	}
	e.cfg, e.client, e.namespace = cfg, cs.ContainersV1alpha1(), ns
	return nil
}

// NewCommand is `kubectl container` with its subcommands.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	e := &env{flags: genericclioptions.NewConfigFlags(true), streams: streams}
	root := &cobra.Command{
		Use:   "kubectl container",
		Short: "Docker's commands for the containers of a containers.rancherdesktop.io API server",
		Long: `kubectl container runs docker-like commands against the containers that a
containers-apiserver serves, with kubectl's configuration, authentication and
RBAC. Containers are named as docker names them: by Docker name, by full ID, or
by a prefix of the ID that only one container has.`,
		Example: `  kubectl container ps -a
  kubectl container logs -f web
  kubectl container exec -it web -- sh
  kubectl container stats
  kubectl container restart web`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return e.connect()
		},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	e.flags.AddFlags(root.PersistentFlags())
	root.AddCommand(newPsCommand(e), newLogsCommand(e), newExecCommand(e), newStatsCommand(e), newRmCommand(e))
	for _, a := range actions {
		root.AddCommand(newActionCommand(e, a))
	}
	return root
}

// Main runs the plugin with args and returns its exit code: 0, the exec'd
// command's code, ExitInterrupted after Ctrl-C, or 1 with the error printed.
func Main(ctx context.Context, args []string, streams genericiooptions.IOStreams) int {
	cmd := NewCommand(streams)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if ctx.Err() != nil {
		return ExitInterrupted
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			_, _ = fmt.Fprintln(streams.ErrOut, "error:", message(ee.err))
		}
		return ee.code
	}
	_, _ = fmt.Fprintln(streams.ErrOut, "error:", message(err))
	return 1
}

// message is err for a person: the server's own words for a refused request
// (a WebSocket handshake's refusal included), not client-go's wrapping.
func message(err error) string {
	var uf *httpstream.UpgradeFailureError
	if errors.As(err, &uf) && uf.Cause != nil {
		err = uf.Cause
	}
	var se apierrors.APIStatus
	if errors.As(err, &se) && se.Status().Message != "" {
		return se.Status().Message
	}
	return err.Error()
}

// httpClient is a client with the config's credentials, for the streams
// that need the response itself (a trailer).
func (e *env) httpClient() (*http.Client, error) { return rest.HTTPClientFor(e.cfg) }
