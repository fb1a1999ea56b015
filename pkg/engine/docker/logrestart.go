package docker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// Following restarts (followRestarts).
//
// Docker ends a follow when the container stops. To go on, the stream waits
// for the container's next start (or its removal, which ends the stream) on
// Docker's events, then follows again from just after the boundary between
// the runs: the time of the "die" event that ended the previous run.
//
// Why that time: dockerd stamps each log line when its copier reads it, and
// it sends "die" only after those copiers have drained and the log is closed;
// the next run starts after "die". So every line of the old run is older
// than the boundary and every line of the new one newer, in dockerd's clock:
// a follow from boundary+1ns replays nothing and loses nothing, however fast
// a restart policy brings the container back. (The run's FinishedAt is not
// such a boundary: it is the process's exit, before the copiers drain.)
//
// The events subscription starts with the stream, replaying from the start
// of the run being followed (or, for a stopped container, from its end), so
// no event between the two is missed. Docker replays at most its last 256
// events; a stopped container whose "die" is older than that falls back to
// FinishedAt as the boundary.

// runWatch follows a container's runs on Docker's events. Only the goroutine
// in Copy uses it after OpenLogs; Close cancels it.
type runWatch struct {
	msgs   <-chan events.Message
	errs   <-chan error // closed when the client's event goroutine ends
	cancel context.CancelFunc

	runStart time.Time // the followed run's start ("start" event or StartedAt); zero: none yet
	running  bool      // a run is being followed (its "die" not seen yet)
	boundary time.Time // after every log line of the runs so far; zero: none
	exitCode int       // the last run's exit code
}

// watchRuns subscribes to the container's start, die and destroy events,
// replaying from the state in, so that the subscription starts before the
// log is opened.
func (l *Logs) watchRuns(ctx context.Context, id string, in *container.InspectResponse) *runWatch {
	w := &runWatch{}
	since := time.Now()
	if st := in.State; st != nil {
		// To the nanosecond (parseTime keeps seconds): a start truncated
		// to its second could take the previous run's die for this run's.
		started, serr := time.Parse(time.RFC3339Nano, st.StartedAt)
		finished, ferr := time.Parse(time.RFC3339Nano, st.FinishedAt)
		w.exitCode = st.ExitCode
		switch {
		case st.Running || st.Restarting:
			w.running = st.Running
			if serr == nil && started.Year() > 1 {
				w.runStart, since = started, started
			}
		case ferr == nil && finished.Year() > 1:
			w.boundary, since = finished, finished
		}
	}
	ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	f := filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("container", id),
		filters.Arg("event", string(events.ActionStart)),
		filters.Arg("event", string(events.ActionDie)),
		filters.Arg("event", string(events.ActionDestroy)),
	)
	w.msgs, w.errs = l.d.cli.Events(ctx, events.ListOptions{Since: unixString(since), Filters: f})
	return w
}

// stop ends the subscription and waits for the client's goroutine.
func (w *runWatch) stop() {
	w.cancel()
	for range w.errs {
	}
}

// next waits for the container's next run. It returns the change between
// the runs, and false when the container was removed.
func (w *runWatch) next(ctx context.Context, id string) (engine.RunChange, bool, error) {
	for {
		select {
		case <-ctx.Done():
			return engine.RunChange{}, false, ctx.Err()
		case err, ok := <-w.errs:
			if ctx.Err() != nil {
				return engine.RunChange{}, false, ctx.Err()
			}
			if !ok || err == nil {
				err = fmt.Errorf("the event stream ended")
			}
			return engine.RunChange{}, false, engine.Errorf(engine.Unavailable,
				"the docker engine's events of container %s broke while waiting for its next run: %v", id, err)
		case m := <-w.msgs:
			t := time.Unix(0, m.TimeNano)
			switch m.Action {
			case events.ActionDestroy:
				return engine.RunChange{}, false, nil
			case events.ActionDie:
				// The followed run's end (a replayed die of an earlier run
				// is older than its start).
				if !t.After(w.runStart) {
					continue
				}
				w.running = false
				w.boundary = t
				if code, err := strconv.Atoi(m.Actor.Attributes["exitCode"]); err == nil {
					w.exitCode = code
				}
			case events.ActionStart:
				// Only a start after the followed run ended; the followed
				// run's own start event comes just after its StartedAt.
				if w.running || !t.After(w.boundary) || !t.After(w.runStart) {
					continue
				}
				change := engine.RunChange{ExitCode: w.exitCode, FinishedAt: w.boundary, StartedAt: t}
				w.runStart, w.running = t, true
				return change, true, nil
			}
		}
	}
}

// followRuns follows the container's next runs, each from just after the
// boundary with the previous one, until it is removed, ctx ends, or a copy
// fails (limitBytes reached included).
func (s *LogStream) followRuns(ctx context.Context) error {
	logCtx := WithReadHooks(ctx, s.hooks)
	for {
		change, ok, err := s.runs.next(ctx, s.id)
		if err != nil || !ok {
			return err
		}
		if s.onRunChange != nil {
			if err := s.onRunChange(change); err != nil {
				return err
			}
		}
		since := s.runs.boundary.Add(time.Nanosecond)
		if since.Before(s.window.since) {
			since = s.window.since
		}
		body, err := s.l.d.cli.ContainerLogs(logCtx, s.id, s.dockerOptions(true, "all", unixString(since), s.opts.Timestamps))
		if err != nil {
			return s.l.logError(s.id, err)
		}
		if !s.setBody(body) {
			return nil
		}
		if err := s.copyBody(); err != nil {
			return err
		}
	}
}
