package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
)

// action is one of the lifecycle subcommands and the annotation value that
// asks the server for it.
type action struct{ name, short, example string }

var actions = []action{
	{"start", "Start stopped containers", "  kubectl container start web db"},
	{"stop", "Stop running containers", "  kubectl container stop web\n  kubectl container stop --wait=false web"},
	{"restart", "Restart containers", "  kubectl container restart web"},
	{"pause", "Pause the processes of running containers", "  kubectl container pause web"},
	{"unpause", "Unpause paused containers", "  kubectl container unpause web"},
}

func newActionCommand(e *env, a action) *cobra.Command {
	wait := true
	cmd := &cobra.Command{
		Use:   a.name + " NAME...",
		Short: a.short + ", like docker " + a.name,
		Long: a.short + `. It sets the ` + v1alpha1.ActionAnnotation + ` annotation and, unless
--wait=false, waits for the server's status.lastAction, then prints each name.
A failure prints Docker's message; the exit code is then 1.`,
		Example: a.example,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return e.each(ctx, args, func(c *v1alpha1.Container) error { return e.act(ctx, c, a.name, wait) })
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", true, "Wait for the action's outcome")
	return cmd
}

// act asks for action on c and, with wait, waits for its outcome: the
// server runs it, then in one write records status.lastAction and removes
// the annotation. Its timestamps are whole seconds, so the wait looks for
// that write (a version after the request's) rather than a time.
func (e *env) act(ctx context.Context, c *v1alpha1.Container, act string, wait bool) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{v1alpha1.ActionAnnotation: act}}})
	if err != nil {
		return err
	}
	cli := e.client.Containers(e.namespace)
	got, err := cli.Patch(ctx, c.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil || !wait {
		return err
	}
	w, err := cli.Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", c.Name).String(),
		ResourceVersion: got.ResourceVersion,
	})
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		var ev watch.Event
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok = <-w.ResultChan():
		}
		if !ok {
			return errors.New("the watch of the container ended before the action did")
		}
		switch ev.Type {
		case watch.Error:
			return fmt.Errorf("watching the container: %s", message(errorOf(ev.Object)))
		case watch.Deleted:
			return errors.New("the container was removed")
		}
		cur, ok := ev.Object.(*v1alpha1.Container)
		if !ok || cur.Annotations[v1alpha1.ActionAnnotation] == act || cur.Status.LastAction == nil ||
			cur.Status.LastAction.Action != act {
			continue
		}
		if cur.Status.LastAction.State == "Failed" {
			return errors.New(cur.Status.LastAction.Error)
		}
		return nil
	}
}

// errorOf is the error a watch's Error event carries.
func errorOf(obj any) error {
	if st, ok := obj.(*metav1.Status); ok {
		return fmt.Errorf("%s", st.Message)
	}
	return fmt.Errorf("%v", obj)
}

func newRmCommand(e *env) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rm [-f] NAME...",
		Short: "Remove containers, like docker rm",
		Long: `Remove containers (their anonymous volumes stay). A running container is
refused unless -f stops it first.`,
		Example: `  kubectl container rm old-web
  kubectl container rm -f web`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return e.each(ctx, args, func(c *v1alpha1.Container) error {
				if running(c) && !force {
					return fmt.Errorf("cannot remove container %s: container is %s: stop the container before removing or force remove (-f)",
						dockerName(c), c.Status.Status)
				}
				// The container as read (its mirror's UID), not another.
				return e.client.Containers(e.namespace).Delete(ctx, c.Name, metav1.DeleteOptions{
					Preconditions: &metav1.Preconditions{UID: &c.UID},
				})
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Stop a running container and remove it")
	return cmd
}

// each resolves the containers args name (all of them, before anything is
// done), then runs do on each as docker does: the name on success, the error
// for that name otherwise, on to the next; exit code 1 if any failed. Ctrl-C
// stops at once.
func (e *env) each(ctx context.Context, args []string, do func(*v1alpha1.Container) error) error {
	cs, err := e.resolve(ctx, args)
	if err != nil {
		return err
	}
	failed := 0
	for i := range cs {
		if err := do(&cs[i]); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			_, _ = fmt.Fprintf(e.streams.ErrOut, "error: %s: %s\n", args[i], message(err))
			failed++
			continue
		}
		_, _ = fmt.Fprintln(e.streams.Out, args[i])
	}
	if failed > 0 {
		return &exitError{code: 1}
	}
	return nil
}
