package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// mergedNamespace is the ContainerNamespace of a Docker engine's containers,
// whose log subresource merges them.
const mergedNamespace = "moby"

// maxErrorBody bounds the error document read from a refused request.
const maxErrorBody = 64 << 10

// logsOptions are the flags of `logs`.
type logsOptions struct {
	follow, followRestarts, timestamps, stdout, stderr bool
	tail, limitBytes                                   int64
	since                                              time.Duration
	sinceTime, untilTime, selector                     string
}

func newLogsCommand(e *env) *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs NAME | -l SELECTOR",
		Short: "Print a container's logs, or several containers' merged, like docker logs",
		Long: `Print the logs of one container, or with -l the merged logs of every container
the selector matches, each line prefixed with the container's name (docker
compose logs). -f follows until the container stops (Ctrl-C ends it);
--follow-restarts goes on through restarts, with a marker line between runs,
until the container is removed.`,
		Example: `  kubectl container logs web
  kubectl container logs -f --tail 20 web
  kubectl container logs --since 10m --timestamps web
  kubectl container logs --follow-restarts web
  kubectl container logs -f -l com.docker.compose.project=shop`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case o.selector == "" && len(args) != 1:
				return errors.New("name one container, or give -l SELECTOR for merged logs")
			case o.selector != "" && len(args) != 0:
				return errors.New("give a container name or -l SELECTOR, not both")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var req *rest.Request
			if o.selector != "" {
				if o.untilTime != "" {
					return errors.New("--until-time works on one container's log, not with -l")
				}
				req = e.client.RESTClient().Get().Namespace(e.namespace).Resource("containernamespaces").
					Name(mergedNamespace).SubResource("log").Param("labelSelector", o.selector)
			} else {
				id, err := e.resolveID(ctx, args[0])
				if err != nil {
					return err
				}
				req = e.client.RESTClient().Get().Namespace(e.namespace).Resource("containers").
					Name(id).SubResource("log")
			}
			if err := o.params(req); err != nil {
				return err
			}
			return e.stream(ctx, req)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "Follow the log until the container stops")
	f.BoolVar(&o.followRestarts, "follow-restarts", false, "Follow through stops and restarts until the container is removed (implies -f)")
	f.Int64Var(&o.tail, "tail", -1, "Lines from the end of the log to show (-1: all)")
	f.DurationVar(&o.since, "since", 0, "Only lines newer than this, e.g. 10m")
	f.StringVar(&o.sinceTime, "since-time", "", "Only lines at or after this RFC 3339 time (nanoseconds honoured)")
	f.StringVar(&o.untilTime, "until-time", "", "Only lines at or before this RFC 3339 time; with --tail, the last lines up to it")
	f.BoolVarP(&o.timestamps, "timestamps", "t", false, "Show each line's timestamp (RFC 3339, nanoseconds)")
	f.BoolVar(&o.stdout, "stdout", false, "Only the container's standard output")
	f.BoolVar(&o.stderr, "stderr", false, "Only the container's standard error")
	f.Int64Var(&o.limitBytes, "limit-bytes", 0, "Stop after this many bytes (0: no limit)")
	f.StringVarP(&o.selector, "selector", "l", "", "Merge the logs of the containers this label selector matches")
	cmd.MarkFlagsMutuallyExclusive("stdout", "stderr")
	cmd.MarkFlagsMutuallyExclusive("since", "since-time")
	return cmd
}

// params puts o on req as the log subresource's query parameters. The times
// go as given (checked here), with their fraction: metav1.Time would cut
// them to seconds.
func (o *logsOptions) params(req *rest.Request) error {
	if o.follow || o.followRestarts {
		req.Param("follow", "true")
	}
	if o.followRestarts {
		req.Param("followRestarts", "true")
	}
	if o.tail >= 0 {
		req.Param("tailLines", strconv.FormatInt(o.tail, 10))
	} else if o.tail != -1 {
		return fmt.Errorf("--tail %d: give a number of lines, or -1 for all", o.tail)
	}
	if o.since < 0 {
		return fmt.Errorf("--since %s: give a positive duration, e.g. 10m", o.since)
	}
	if o.since > 0 {
		req.Param("sinceSeconds", strconv.FormatInt(int64(math.Ceil(o.since.Seconds())), 10))
	}
	for _, t := range []struct{ flag, param, value string }{
		{"--since-time", "sinceTime", o.sinceTime}, {"--until-time", "untilTime", o.untilTime},
	} {
		if t.value == "" {
			continue
		}
		if _, err := time.Parse(time.RFC3339Nano, t.value); err != nil {
			return fmt.Errorf("%s %q: give an RFC 3339 time, e.g. 2026-12-02T10:00:00.123456789Z", t.flag, t.value)
		}
		req.Param(t.param, t.value)
	}
	if o.timestamps {
		req.Param("timestamps", "true")
	}
	switch {
	case o.stdout:
		req.Param("stream", "Stdout")
	case o.stderr:
		req.Param("stream", "Stderr")
	}
	if o.limitBytes < 0 {
		return fmt.Errorf("--limit-bytes %d: give a positive number of bytes", o.limitBytes)
	}
	if o.limitBytes > 0 {
		req.Param("limitBytes", strconv.FormatInt(o.limitBytes, 10))
	}
	return nil
}

// stream copies the body of GET req to the output as it comes. It reads the
// response itself (not through rest.Request.Stream) for the X-Stream-Error
// trailer, which tells a log cut short from a complete one.
func (e *env) stream(ctx context.Context, req *rest.Request) error {
	hc, err := e.httpClient()
	if err != nil {
		return err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, req.URL().String(), nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return statusError(resp)
	}
	if _, err := io.Copy(e.streams.Out, resp.Body); err != nil {
		return err
	}
	if s := resp.Trailer.Get("X-Stream-Error"); s != "" {
		var st metav1.Status
		if json.Unmarshal([]byte(s), &st) == nil && st.Message != "" {
			return fmt.Errorf("the stream was cut: %s", st.Message)
		}
		return fmt.Errorf("the stream was cut: %s", s)
	}
	return nil
}

// statusError is the error a refused request's body (a metav1.Status) says.
func statusError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var st metav1.Status
	if json.Unmarshal(body, &st) == nil && st.Kind == "Status" {
		return &apierrors.StatusError{ErrStatus: st}
	}
	text := strings.TrimSpace(string(body))
	if text == "" {
		text = http.StatusText(resp.StatusCode)
	}
	return fmt.Errorf("the server answered %d: %s", resp.StatusCode, text)
}
