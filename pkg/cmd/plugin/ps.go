package plugin

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/generated/clientset/versioned/scheme"
	dockerprint "github.com/rancher-sandbox/containers-apiserver/pkg/printers"
)

func newPsCommand(e *env) *cobra.Command {
	var all bool
	var selector, output string
	cmd := &cobra.Command{
		Use:   "ps [-a] [-l SELECTOR] [-o wide|json|yaml|name]",
		Short: "List containers, like docker ps",
		Long: `List the running containers (paused and restarting ones count), newest first,
with docker ps's columns; -a lists them all.`,
		Example: `  kubectl container ps
  kubectl container ps -a -l com.docker.compose.project=shop
  kubectl container ps -o name
  kubectl container ps -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch output {
			case "", "wide", "json", "yaml", "name":
			default:
				return fmt.Errorf("unknown output format %q: use wide, json, yaml or name", output)
			}
			items, err := e.list(cmd.Context(), selector)
			if err != nil {
				return err
			}
			shown := items[:0]
			for i := range items {
				if all || running(&items[i]) {
					shown = append(shown, items[i])
				}
			}
			sort.SliceStable(shown, func(i, j int) bool { return created(&shown[i]).After(created(&shown[j])) })
			return printPs(e.streams.Out, shown, output, time.Now())
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "Label selector on the containers' labels, e.g. app=web")
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: wide (full IDs and commands), json, yaml or name (Docker names)")
	return cmd
}

func created(c *v1alpha1.Container) time.Time {
	if c.Status.CreatedAt != nil {
		return c.Status.CreatedAt.Time
	}
	return c.CreationTimestamp.Time
}

// printPs prints items as docker ps does, or as kubectl's json/yaml.
func printPs(out io.Writer, items []v1alpha1.Container, output string, now time.Time) error {
	switch output {
	case "name":
		for i := range items {
			if _, err := fmt.Fprintln(out, dockerName(&items[i])); err != nil {
				return err
			}
		}
		return nil
	case "json", "yaml":
		var p printers.ResourcePrinter = &printers.JSONPrinter{}
		if output == "yaml" {
			p = &printers.YAMLPrinter{}
		}
		list := &v1alpha1.ContainerList{Items: items}
		// The typed client leaves the kinds empty; print them as kubectl does.
		return printers.NewTypeSetter(scheme.Scheme).ToPrinter(p).PrintObj(list, out)
	}
	wide := output == "wide"
	w := tabwriter.NewWriter(out, 3, 8, 3, ' ', 0)
	_, _ = fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
	for i := range items {
		var c containers.Container
		if err := v1alpha1.Convert_v1alpha1_Container_To_containers_Container(&items[i], &c, nil); err != nil {
			return err
		}
		id, command := c.Name, dockerprint.Command(&c)
		if !wide {
			id = id[:min(len(id), 12)]
			command = truncate(command, 20)
		}
		_, _ = fmt.Fprintf(w, "%s\t%s\t%q\t%s ago\t%s\t%s\t%s\n", id, dockerprint.Image(&c), command,
			duration.HumanDuration(now.Sub(created(&items[i]))), dockerprint.Status(&c, now),
			dockerprint.Ports(c.Status.Ports), dockerprint.Name(&c))
	}
	return w.Flush()
}

// truncate cuts s to n runes with an ellipsis, as docker ps does.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
