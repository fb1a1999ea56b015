package logmerge

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

func TestRunMarker(t *testing.T) {
	fin := time.Date(2026, 12, 2, 10, 4, 5, 123456789, time.UTC)
	start := time.Date(2026, 12, 2, 10, 4, 6, 200000000, time.FixedZone("x", 3600))
	c := engine.RunChange{ExitCode: 137, FinishedAt: fin, StartedAt: start}
	for _, tc := range []struct {
		c          engine.RunChange
		timestamps bool
		want       string
	}{
		{c, false, "--- containers-apiserver: exited with code 137 at 2026-12-02T10:04:05.123456789Z, started again at 2026-12-02T09:04:06.2Z ---\n"},
		{c, true, "2026-12-02T09:04:06.2Z --- containers-apiserver: exited with code 137 at 2026-12-02T10:04:05.123456789Z, started again at 2026-12-02T09:04:06.2Z ---\n"},
		{engine.RunChange{ExitCode: 0, StartedAt: start}, false, "--- containers-apiserver: exited with code 0, started again at 2026-12-02T09:04:06.2Z ---\n"},
	} {
		if got := string(RunMarker(tc.c, tc.timestamps)); got != tc.want {
			t.Errorf("RunMarker(%+v, %v) = %q, want %q", tc.c, tc.timestamps, got, tc.want)
		}
	}
}

// eventSink is a stdout with an event channel, as a channel protocol's.
type eventSink struct {
	bytes.Buffer
	events []any
}

func (e *eventSink) WriteEvent(v any) error {
	e.events = append(e.events, v)
	return nil
}

func TestWriteRunChange(t *testing.T) {
	c := engine.RunChange{ExitCode: 3, FinishedAt: time.Unix(10, 5), StartedAt: time.Unix(11, 0)}
	var plain bytes.Buffer
	if err := WriteRunChange(&plain, c, false); err != nil || plain.String() != string(RunMarker(c, false)) {
		t.Errorf("plain: %q %v", plain.String(), err)
	}
	var sink eventSink
	if err := WriteRunChange(&sink, c, false); err != nil || sink.String() != string(RunMarker(c, false)) {
		t.Errorf("channels: text %q %v", sink.String(), err)
	}
	if len(sink.events) != 1 {
		t.Fatalf("events %v, want one", sink.events)
	}
	b, _ := json.Marshal(sink.events[0])
	if want := `{"type":"Restarted","exitCode":3,"finishedAt":"1970-01-01T00:00:10.000000005Z","startedAt":"1970-01-01T00:00:11Z"}`; string(b) != want {
		t.Errorf("event %s, want %s", b, want)
	}
}
