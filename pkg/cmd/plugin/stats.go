package plugin

import (
	"context"

	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/kubectl/pkg/util/term"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	dockerprint "github.com/rancher-sandbox/containers-apiserver/pkg/printers"
)

const (
	// statsRedraw is the least time between two tables of a live view: the
	// samples of all containers come together once an interval.
	statsRedraw = 500 * time.Millisecond
	// statsFirstWait bounds the wait for a named container's first sample
	// (the server publishes it within one interval of the start).
	statsFirstWait = 10 * time.Second
	// clearScreen moves to the top of a cleared terminal, as docker stats does.
	clearScreen = "\033[2J\033[H"
)

func newStatsCommand(e *env) *cobra.Command {
	var noStream bool
	cmd := &cobra.Command{
		Use:   "stats [NAME...]",
		Short: "Show live resource use of running containers, like docker stats",
		Long: `Show CPU, memory, network, block I/O and PIDs of the running containers (or the
named ones), updated as the server samples them (every --stats-interval, 2 s by
default), from a watch on containerstats. --no-stream prints one table.`,
		Example: `  kubectl container stats
  kubectl container stats web db
  kubectl container stats --no-stream`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var only map[string]bool
			if len(args) > 0 {
				cs, err := e.resolve(ctx, args)
				if err != nil {
					return err
				}
				only = map[string]bool{}
				for i := range cs {
					if !running(&cs[i]) {
						return &exitError{code: 1, err: fmt.Errorf("container %s is not running", dockerName(&cs[i]))}
					}
					only[cs[i].Name] = true
				}
			}
			v := &statsView{e: e, only: only, rows: map[string]*v1alpha1.ContainerStats{}, tty: term.TTY{Out: e.streams.Out}.IsTerminalOut()}
			if noStream {
				return v.once(ctx)
			}
			return v.live(ctx)
		},
	}
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "Print one table and exit")
	return cmd
}

// statsView is the table of a stats command: the latest sample of each
// container shown. Only its command's goroutine uses it.
type statsView struct {
	e       *env
	only    map[string]bool // container IDs to show; nil: all
	rows    map[string]*v1alpha1.ContainerStats
	tty     bool
	printed bool // a table is out: the next one goes after a blank line
}

func (v *statsView) shown(id string) bool { return v.only == nil || v.only[id] }

// load lists the samples and returns the list's resourceVersion.
func (v *statsView) load(ctx context.Context) (string, error) {
	l, err := v.e.client.ContainerStats(v.e.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	clear(v.rows)
	for i := range l.Items {
		if v.shown(l.Items[i].Name) {
			v.rows[l.Items[i].Name] = &l.Items[i]
		}
	}
	return l.ResourceVersion, nil
}

// once prints one table; named containers without a sample yet (just
// started) are waited for, a while.
func (v *statsView) once(ctx context.Context) error {
	rv, err := v.load(ctx)
	if err != nil {
		return err
	}
	if v.only != nil && len(v.rows) < len(v.only) {
		ctx, cancel := context.WithTimeout(ctx, statsFirstWait)
		defer cancel()
		w, err := v.e.client.ContainerStats(v.e.namespace).Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
		if err != nil {
			return err
		}
		defer w.Stop()
		for len(v.rows) < len(v.only) {
			ev, ok := <-w.ResultChan()
			if !ok {
				break // timed out: print what there is
			}
			v.apply(ev)
		}
	}
	return v.print(v.e.streams.Out)
}

// live prints a table, then a new one whenever samples change, until ctx
// ends (Ctrl-C). A watch that ends (the server's timeout) is started again.
func (v *statsView) live(ctx context.Context) error {
	tick := time.NewTicker(statsRedraw)
	defer tick.Stop()
	for {
		rv, err := v.load(ctx)
		if err != nil {
			return err
		}
		if err := v.print(v.e.streams.Out); err != nil {
			return err
		}
		w, err := v.e.client.ContainerStats(v.e.namespace).Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
		if err != nil {
			return err
		}
		err = v.follow(ctx, w, tick.C)
		w.Stop()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return err
		}
	}
}

// follow applies w's events, printing at most once per tick, until w ends
// (nil: list and watch again) or fails.
func (v *statsView) follow(ctx context.Context, w watch.Interface, tick <-chan time.Time) error {
	dirty := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			if ev.Type == watch.Error {
				if st, ok := ev.Object.(*metav1.Status); ok && st.Code == http.StatusGone {
					return nil // too old: list again
				}
				return fmt.Errorf("watching containerstats: %v", ev.Object)
			}
			dirty = v.apply(ev) || dirty
		case <-tick:
			if dirty {
				if err := v.print(v.e.streams.Out); err != nil {
					return err
				}
				dirty = false
			}
		}
	}
}

// apply takes one watch event; it says whether the table changed.
func (v *statsView) apply(ev watch.Event) bool {
	s, ok := ev.Object.(*v1alpha1.ContainerStats)
	if !ok || !v.shown(s.Name) {
		return false
	}
	if ev.Type == watch.Deleted {
		delete(v.rows, s.Name)
	} else {
		v.rows[s.Name] = s
	}
	return true
}

// print writes the table, sorted by name; on a terminal it replaces the
// previous one.
func (v *statsView) print(out io.Writer) error {
	ids := make([]string, 0, len(v.rows))
	for id := range v.rows {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return v.rows[ids[i]].Status.Name < v.rows[ids[j]].Status.Name })
	var b strings.Builder
	switch {
	case v.tty:
		b.WriteString(clearScreen)
	case v.printed:
		b.WriteString("\n")
	}
	v.printed = true
	w := tabwriter.NewWriter(&b, 3, 8, 3, ' ', 0)
	_, _ = fmt.Fprintln(w, "CONTAINER ID\t"+strings.Join(dockerprint.StatsHeader, "\t"))
	for _, id := range ids {
		var s containers.ContainerStatsStatus
		if err := v1alpha1.Convert_v1alpha1_ContainerStatsStatus_To_containers_ContainerStatsStatus(&v.rows[id].Status, &s, nil); err != nil {
			return err
		}
		cells := dockerprint.StatsRow(&s)
		_, _ = fmt.Fprintf(w, "%s", id[:min(len(id), 12)])
		for _, c := range cells {
			_, _ = fmt.Fprintf(w, "\t%v", c)
		}
		_, _ = fmt.Fprintln(w)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(out, b.String())
	return err
}
