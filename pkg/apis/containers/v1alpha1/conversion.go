package v1alpha1

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
)

func init() {
	localSchemeBuilder.Register(addStrictQueryConversion)
}

// addStrictQueryConversion checks the query parameters of the log and exec
// options before the generated decoders run. Those decoders read any word but
// "false" and "0" as true, and report a bad number without naming the
// parameter; a person typing a URL deserves "follow must be true or false"
// instead, and tty=yes must not quietly mean a terminal.
// A conversion function added by hand takes precedence over the generated one.
func addStrictQueryConversion(scheme *runtime.Scheme) error {
	err := scheme.AddConversionFunc((*url.Values)(nil), (*ContainerLogOptions)(nil),
		func(a, b interface{}, scope conversion.Scope) error {
			in, out := a.(*url.Values), b.(*ContainerLogOptions)
			if err := checkLogQuery(*in); err != nil {
				return err
			}
			if err := Convert_url_Values_To_v1alpha1_ContainerLogOptions(in, out, scope); err != nil {
				return err
			}
			setBools(*in, map[string]*bool{"follow": &out.Follow, "followRestarts": &out.FollowRestarts, "timestamps": &out.Timestamps})
			return nil
		})
	if err != nil {
		return err
	}
	err = scheme.AddConversionFunc((*url.Values)(nil), (*ContainerNamespaceLogOptions)(nil),
		func(a, b interface{}, scope conversion.Scope) error {
			in, out := a.(*url.Values), b.(*ContainerNamespaceLogOptions)
			if err := checkLogQuery(*in); err != nil {
				return err
			}
			if err := Convert_url_Values_To_v1alpha1_ContainerNamespaceLogOptions(in, out, scope); err != nil {
				return err
			}
			setBools(*in, map[string]*bool{"follow": &out.Follow, "followRestarts": &out.FollowRestarts, "timestamps": &out.Timestamps})
			return nil
		})
	if err != nil {
		return err
	}
	err = scheme.AddConversionFunc((*url.Values)(nil), (*ContainerStatsOptions)(nil),
		func(a, b interface{}, scope conversion.Scope) error {
			in, out := a.(*url.Values), b.(*ContainerStatsOptions)
			problems := checkBools(*in, "follow")
			if v := (*in)["sinceSeconds"]; len(v) > 0 {
				if _, err := strconv.ParseInt(v[0], 10, 64); err != nil {
					problems = append(problems, fmt.Sprintf("sinceSeconds must be a whole number, got %q", v[0]))
				}
			}
			if len(problems) > 0 {
				return fmt.Errorf("invalid stats options: %s", strings.Join(problems, "; "))
			}
			if err := Convert_url_Values_To_v1alpha1_ContainerStatsOptions(in, out, scope); err != nil {
				return err
			}
			setBools(*in, map[string]*bool{"follow": &out.Follow})
			return nil
		})
	if err != nil {
		return err
	}
	return scheme.AddConversionFunc((*url.Values)(nil), (*ContainerExecOptions)(nil),
		func(a, b interface{}, scope conversion.Scope) error {
			in, out := a.(*url.Values), b.(*ContainerExecOptions)
			if problems := checkBools(*in, "stdin", "stdout", "stderr", "tty"); len(problems) > 0 {
				return fmt.Errorf("invalid exec options: %s", strings.Join(problems, "; "))
			}
			if err := Convert_url_Values_To_v1alpha1_ContainerExecOptions(in, out, scope); err != nil {
				return err
			}
			setBools(*in, map[string]*bool{"stdin": &out.Stdin, "stdout": &out.Stdout, "stderr": &out.Stderr, "tty": &out.TTY})
			return nil
		})
}

// checkBools returns a problem for each of the named boolean parameters whose
// value strconv.ParseBool refuses. Like the generated decoder it reads only
// the first value of a parameter, and it lets an empty one (?follow, or
// follow=) through: the generated decoder reads that as true, as Kubernetes
// does.
func checkBools(q url.Values, names ...string) []string {
	var problems []string
	for _, name := range names {
		if v := q[name]; len(v) > 0 && v[0] != "" {
			if _, err := strconv.ParseBool(v[0]); err != nil {
				problems = append(problems, fmt.Sprintf("%s must be true or false (or 1 or 0), got %q", name, v[0]))
			}
		}
	}
	return problems
}

// setBools overwrites what the generated decoder made of the named boolean
// parameters, which reads "f" and "F" as true, with strconv.ParseBool's
// reading, the one checkBools accepted. Empty values keep the decoder's true.
func setBools(q url.Values, fields map[string]*bool) {
	for name, field := range fields {
		if v := q[name]; len(v) > 0 && v[0] != "" {
			*field, _ = strconv.ParseBool(v[0])
		}
	}
}

func checkLogQuery(q url.Values) error {
	first := func(name string) (string, bool) {
		v, ok := q[name]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	problems := checkBools(q, "follow", "followRestarts", "timestamps")
	for _, name := range []string{"tailLines", "sinceSeconds", "limitBytes"} {
		if v, ok := first(name); ok {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				problems = append(problems, fmt.Sprintf("%s must be a whole number, got %q", name, v))
			}
		}
	}
	for _, name := range []string{"sinceTime", "untilTime"} {
		if v, ok := first(name); ok {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				problems = append(problems, fmt.Sprintf("%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", name, v))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid log options: %s", strings.Join(problems, "; "))
	}
	return nil
}
