package printers

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// Image is the image column: the reference the container was created from,
// or the image's short ID when it had none.
func Image(c *containers.Container) string {
	if c.Status.ImageName != "" {
		return c.Status.ImageName
	}
	id := strings.TrimPrefix(c.Status.Image, "sha256:")
	return id[:min(len(id), 12)]
}

// Status words the state the way `docker ps` does, e.g. "Up 5m (Paused)".
func Status(c *containers.Container, now time.Time) string {
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

// Ports prints "0.0.0.0:8080->80/tcp, 443/tcp" like `docker ps`.
func Ports(ports []containers.ContainerPort) string {
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

// Command is the container's command line, words with spaces or quotes
// quoted.
func Command(c *containers.Container) string {
	words := make([]string, 0, 1+len(c.Status.Args))
	for _, w := range append([]string{c.Status.Path}, c.Status.Args...) {
		if w == "" || strings.ContainsAny(w, " \t\"'") {
			w = strconv.Quote(w)
		}
		words = append(words, w)
	}
	return strings.Join(words, " ")
}

// Created is when the container was created, RFC 3339 in UTC ("" unknown).
func Created(c *containers.Container) string {
	if c.Status.CreatedAt == nil {
		return ""
	}
	return c.Status.CreatedAt.UTC().Format(time.RFC3339)
}

// Name is the container's Docker name, without Docker's leading slash.
func Name(c *containers.Container) string { return strings.TrimPrefix(c.Status.Name, "/") }
