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

// addStrictQueryConversion checks the log query parameters before the
// generated decoder runs. That decoder reads any word but "false" and "0" as
// true, and reports a bad number without naming the parameter; a person
// typing a URL deserves "follow must be true or false" instead.
// A conversion function added by hand takes precedence over the generated one.
func addStrictQueryConversion(scheme *runtime.Scheme) error {
	return scheme.AddConversionFunc((*url.Values)(nil), (*ContainerLogOptions)(nil),
		func(a, b interface{}, scope conversion.Scope) error {
			in, out := a.(*url.Values), b.(*ContainerLogOptions)
			if err := checkLogQuery(*in); err != nil {
				return err
			}
			if err := Convert_url_Values_To_v1alpha1_ContainerLogOptions(in, out, scope); err != nil {
				return err
			}
			// The generated decoder reads "f" and "F" as true; take the
			// booleans as checkLogQuery understood them.
			for name, field := range map[string]*bool{"follow": &out.Follow, "timestamps": &out.Timestamps} {
				if v := (*in)[name]; len(v) > 0 && v[0] != "" {
					*field, _ = strconv.ParseBool(v[0])
				}
			}
			return nil
		})
}

func checkLogQuery(q url.Values) error {
	var problems []string
	first := func(name string) (string, bool) {
		v, ok := q[name]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	for _, name := range []string{"follow", "timestamps"} {
		if v, ok := first(name); ok && v != "" {
			if _, err := strconv.ParseBool(v); err != nil {
				problems = append(problems, fmt.Sprintf("%s must be true or false, got %q", name, v))
			}
		}
	}
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
