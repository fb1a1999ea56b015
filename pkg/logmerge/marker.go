// Package logmerge writes container logs for clients beyond what one
// engine stream gives: the marker between two runs of a container
// (followRestarts), and the merged logs of many containers, in timestamp
// order or as they come, each line prefixed with the container's name.
package logmerge

import (
	"fmt"
	"io"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/pkg/stream"
)

// RunEvent is a log's event between two runs of a container
// (followRestarts), as channel 5 of the WebSocket channel protocols carries
// it: {"type":"Restarted","exitCode":137,"finishedAt":"...","startedAt":"..."}.
// Times are RFC 3339 with nanoseconds, in the engine's clock.
type RunEvent struct {
	Type string `json:"type"` // "Restarted"
	// Container and Name say whose run changed, in merged logs.
	Container  string     `json:"container,omitempty"`
	Name       string     `json:"name,omitempty"`
	ExitCode   int        `json:"exitCode"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"` // when the previous run's output ended
	StartedAt  time.Time  `json:"startedAt"`
}

// markerPrefix starts every marker line, so a reader can tell it from the
// container's own output.
const markerPrefix = "--- containers-apiserver: "

// RunMarker is the text line written between two runs, e.g.
//
//	--- containers-apiserver: exited with code 137 at 2026-12-02T10:04:05.123456789Z, started again at 2026-12-02T10:04:06.2Z ---
//
// prefixed with the start time and a space when the client asked for
// timestamps, as Docker prefixes lines.
func RunMarker(c engine.RunChange, timestamps bool) []byte {
	var b []byte
	if timestamps {
		b = append(c.StartedAt.UTC().AppendFormat(b, time.RFC3339Nano), ' ')
	}
	b = fmt.Appendf(b, "%sexited with code %d", markerPrefix, c.ExitCode)
	if !c.FinishedAt.IsZero() {
		b = append(b, " at "...)
		b = c.FinishedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b, ", started again at "...)
	b = c.StartedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, " ---\n"...)
}

// WriteRunChange passes a change between runs to the client: the marker
// line on stdout, and the event on an event channel when there is one.
func WriteRunChange(stdout io.Writer, c engine.RunChange, timestamps bool) error {
	return writeRunChange(stdout, nil, c, "", "", timestamps)
}

// writeRunChange writes the event, and the marker line after prefix.
func writeRunChange(stdout io.Writer, prefix []byte, c engine.RunChange, id, name string, timestamps bool) error {
	if ew, ok := stdout.(stream.EventWriter); ok {
		ev := RunEvent{Type: "Restarted", Container: id, Name: name, ExitCode: c.ExitCode, StartedAt: c.StartedAt.UTC()}
		if !c.FinishedAt.IsZero() {
			t := c.FinishedAt.UTC()
			ev.FinishedAt = &t
		}
		if err := ew.WriteEvent(ev); err != nil {
			return err
		}
	}
	_, err := stdout.Write(append(prefix, RunMarker(c, timestamps)...))
	return err
}
