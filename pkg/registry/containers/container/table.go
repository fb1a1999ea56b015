package container

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// tableColumns are what `kubectl get` shows; Priority 1 columns appear with -o wide.
var tableColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "The full Docker container ID."},
	{Name: "Container", Type: "string", Description: "The Docker container name."},
	{Name: "Image", Type: "string", Description: "The image reference the container was created from."},
	{Name: "Status", Type: "string", Description: "The container state, as `docker ps` words it."},
	{Name: "Ports", Type: "string", Description: "Published and exposed ports."},
	{Name: "Age", Type: "string", Description: "Time since the container was created."},
	{Name: "Command", Type: "string", Priority: 1, Description: "The command the container runs."},
	{Name: "Created", Type: "string", Format: "date-time", Priority: 1, Description: "When the container was created."},
}

// tableConvertor renders Containers as rows like `docker ps`.
type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := time.Now()
	return registry.NewTable(obj, tableOptions, tableColumns, func(o runtime.Object) ([]any, error) {
		c, ok := o.(*containers.Container)
		if !ok {
			return nil, fmt.Errorf("cannot render %T as a container table", o)
		}
		return []any{
			c.Name, c.Status.Name, imageColumn(c), statusColumn(c, now), portsColumn(c.Status.Ports),
			registry.Age(&c.CreationTimestamp, now), commandColumn(c), createdColumn(c),
		}, nil
	})
}

func imageColumn(c *containers.Container) string {
	if c.Status.ImageName != "" {
		return c.Status.ImageName
	}
	return engine.ShortID(c.Status.Image)
}

// statusColumn words the state the way `docker ps` does, e.g. "Up 5m (Paused)".
func statusColumn(c *containers.Container, now time.Time) string {
	s := c.Status
	since := func(t *metav1.Time) string {
		if t == nil {
			return "?"
		}
		return duration.HumanDuration(now.Sub(t.Time))
	}
	switch s.Status {
	case "running":
		out := "Up " + since(s.StartedAt)
		for _, cond := range s.Conditions {
			if cond.Type == containers.ContainerHealthy && cond.Reason != "" {
				out += " (" + cond.Reason + ")"
			}
		}
		return out
	case "paused":
		return "Up " + since(s.StartedAt) + " (Paused)"
	case "restarting":
		return "Restarting (" + strconv.FormatInt(s.ExitCode, 10) + ") " + since(s.FinishedAt) + " ago"
	case "exited":
		return "Exited (" + strconv.FormatInt(s.ExitCode, 10) + ") " + since(s.FinishedAt) + " ago"
	case "created":
		return "Created"
	case "":
		return "Unknown"
	default:
		// removing, dead: Docker capitalises the state word.
		return strings.ToUpper(s.Status[:1]) + s.Status[1:]
	}
}

// portsColumn prints "0.0.0.0:8080->80/tcp, 443/tcp" like `docker ps`.
func portsColumn(ports []containers.ContainerPort) string {
	var parts []string
	for _, p := range ports {
		if len(p.Bindings) == 0 {
			parts = append(parts, p.Name)
			continue
		}
		for _, b := range p.Bindings {
			host := b.HostIP
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
			parts = append(parts, fmt.Sprintf("%s:%d->%s", host, b.HostPort, p.Name))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func commandColumn(c *containers.Container) string {
	words := make([]string, 0, 1+len(c.Status.Args))
	for _, w := range append([]string{c.Status.Path}, c.Status.Args...) {
		if w == "" || strings.ContainsAny(w, " \t\"'") {
			w = strconv.Quote(w)
		}
		words = append(words, w)
	}
	return strings.Join(words, " ")
}

func createdColumn(c *containers.Container) string {
	if c.Status.CreatedAt == nil {
		return ""
	}
	return c.Status.CreatedAt.UTC().Format(time.RFC3339)
}
