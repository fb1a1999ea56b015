package container_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers/v1alpha1"
	"github.com/rancher-sandbox/containers-apiserver/pkg/apiserver"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry/containers/container"
)

// logQuery is what a log query must decode to, worked out from the
// documented rules (README, Log protocol) rather than from the decoder.
type logQuery struct {
	// problems name the parameters whose (first) value is malformed: the
	// decoding must fail and name each.
	problems []string
	// doubtful name the parameters whose value strconv.ParseBool reads as
	// false while Kubernetes' query decoder reads it as true ("f", "F"):
	// refusing it is as right as reading false.
	doubtful []string
	opts     containers.ContainerLogOptions
	// invalid name what ValidateLogOptions must refuse in opts.
	invalid []string
}

// expectLogQuery applies the rules to q. The first value of a parameter
// counts. Booleans are true, false, 1, 0 and the other spellings of
// strconv.ParseBool, and an empty value means true (as `?follow`); numbers are
// decimal int64; times are RFC 3339.
func expectLogQuery(q url.Values) logQuery {
	var e logQuery
	first := func(name string) (string, bool) {
		v, ok := q[name]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	boolean := func(name string, out *bool) {
		v, ok := first(name)
		if !ok {
			return
		}
		if v == "" {
			*out = true
			return
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			e.problems = append(e.problems, name)
		}
		if v == "f" || v == "F" {
			e.doubtful = append(e.doubtful, name)
		}
		*out = b
	}
	integer := func(name string, out **int64) {
		if v, ok := first(name); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				e.problems = append(e.problems, name)
			}
			*out = &n
		}
	}
	moment := func(name string, out **metav1.Time) {
		if v, ok := first(name); ok {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				e.problems = append(e.problems, name)
			}
			*out = &metav1.Time{Time: t}
		}
	}
	o := &e.opts
	boolean("follow", &o.Follow)
	boolean("timestamps", &o.Timestamps)
	integer("tailLines", &o.TailLines)
	integer("sinceSeconds", &o.SinceSeconds)
	integer("limitBytes", &o.LimitBytes)
	moment("sinceTime", &o.SinceTime)
	moment("untilTime", &o.UntilTime)
	o.Stream, _ = first("stream")

	if o.TailLines != nil && *o.TailLines < 0 {
		e.invalid = append(e.invalid, "tailLines")
	}
	if o.SinceSeconds != nil && o.SinceTime != nil {
		e.invalid = append(e.invalid, "sinceSeconds and sinceTime")
	}
	if o.SinceSeconds != nil && *o.SinceSeconds < 1 {
		e.invalid = append(e.invalid, "sinceSeconds")
	}
	if o.LimitBytes != nil && *o.LimitBytes < 1 {
		e.invalid = append(e.invalid, "limitBytes")
	}
	if o.SinceTime != nil && o.UntilTime != nil && !o.UntilTime.After(o.SinceTime.Time) {
		e.invalid = append(e.invalid, "untilTime")
	}
	switch o.Stream {
	case "", containers.LogStreamAll, containers.LogStreamStdout, containers.LogStreamStderr:
	default:
		e.invalid = append(e.invalid, "stream")
	}
	return e
}

// logSeeds are queries at and past every option's limits.
var logSeeds = []string{
	"",
	"follow=true&tailLines=10&sinceSeconds=5&timestamps=1&limitBytes=100&stream=Stdout",
	"follow=maybe", "follow=", "follow=FALSE", "follow=0&follow=1", "follow=maybe&follow=true",
	"timestamps=2", "timestamps=t",
	// strconv.ParseBool reads these as false: the decoder must too, or refuse them.
	"follow=f", "timestamps=F",
	"tailLines=-1", "tailLines=0", "tailLines=9223372036854775807", "tailLines=9223372036854775808",
	"tailLines=+5", "tailLines=%2B5", "tailLines=%205", "tailLines=1.5", "tailLines=", "tailLines=1&tailLines=-1",
	"sinceSeconds=0", "sinceSeconds=-1", "sinceSeconds=2000000000", "sinceSeconds=9999999999",
	"sinceSeconds=-9223372036854775808", "sinceSeconds=9223372036854775807",
	"sinceTime=1969-12-31T23:59:59Z", "sinceTime=0001-01-01T00:00:00Z", "untilTime=0001-01-01T00:00:00Z",
	"sinceTime=2026-01-02T00:00:00Z&untilTime=2026-01-01T00:00:00Z",
	"sinceTime=2026-01-01T00:00:00Z&untilTime=2026-01-01T00:00:00Z",
	"sinceTime=2026-01-01T00:00:00.5Z&untilTime=2026-01-01T00:00:00.6Z",
	"sinceTime=2026-01-01T00:00:00%2B23:59&untilTime=2026-01-01T00:00:00-23:59",
	"untilTime=9999-12-31T23:59:59Z", "sinceTime=null", "sinceTime=", "sinceTime=2026-06-30T23:59:60Z",
	"sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z",
	"limitBytes=0", "limitBytes=1", "limitBytes=-9223372036854775808",
	"stream=All", "stream=stdout", "stream=", "stream=%00", "stream=Stdout&stream=bogus",
	"%zz=1&tailLines=1", "tailLines=1;follow=true", "foo=bar&container=x&previous=true",
}

// FuzzLogOptions decodes arbitrary log queries as the API server does (the
// query as net/http parses it, then the scheme's parameter codec from
// v1alpha1, with its strict check, to the internal options) and validates
// them. It must never panic; a query with a malformed value must fail to
// decode, naming the parameter; any other must decode to exactly the
// options the query says, and validation must refuse them (with a 400
// naming each reason) exactly when the documented rules do.
func FuzzLogOptions(f *testing.F) {
	for _, s := range logSeeds {
		f.Add(s)
	}
	codec := runtime.NewParameterCodec(apiserver.Scheme)
	f.Fuzz(func(t *testing.T, rawQuery string) {
		q, _ := url.ParseQuery(rawQuery) // as req.URL.Query(): malformed pairs are dropped
		want := expectLogQuery(q)
		var got containers.ContainerLogOptions
		err := codec.DecodeParameters(q, v1alpha1.SchemeGroupVersion, &got)
		if len(want.problems) > 0 {
			if err == nil {
				t.Fatalf("%q decoded to %s; want an error about %v", rawQuery, describe(&got), want.problems)
			}
			for _, p := range want.problems {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("%q: the error %q does not name %s", rawQuery, err, p)
				}
			}
			return
		}
		if err != nil {
			for _, p := range want.doubtful {
				if strings.Contains(err.Error(), p) {
					return
				}
			}
			t.Fatalf("%q: %v; want %s", rawQuery, err, describe(&want.opts))
		}
		if g, w := describe(&got), describe(&want.opts); g != w {
			t.Fatalf("%q decoded to %s; want %s", rawQuery, g, w)
		}
		err = container.ValidateLogOptions(&got)
		if (err != nil) != (len(want.invalid) > 0) {
			t.Fatalf("%q (%s): validation says %v; the rules refuse %v", rawQuery, describe(&got), err, want.invalid)
		}
		if err != nil && !apierrors.IsBadRequest(err) {
			t.Errorf("%q: validation error %v is not a 400", rawQuery, err)
		}
		for _, p := range want.invalid {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("%q: the validation error %q does not name %s", rawQuery, err, p)
			}
		}
	})
}

// describe writes options out in full, times as instants, for comparison.
func describe(o *containers.ContainerLogOptions) string {
	num := func(p *int64) string {
		if p == nil {
			return "nil"
		}
		return strconv.FormatInt(*p, 10)
	}
	moment := func(t *metav1.Time) string {
		if t == nil {
			return "nil"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return "follow=" + strconv.FormatBool(o.Follow) + " timestamps=" + strconv.FormatBool(o.Timestamps) +
		" tailLines=" + num(o.TailLines) + " sinceSeconds=" + num(o.SinceSeconds) + " limitBytes=" + num(o.LimitBytes) +
		" sinceTime=" + moment(o.SinceTime) + " untilTime=" + moment(o.UntilTime) + " stream=" + strconv.Quote(o.Stream)
}
