package logs

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// lines prints "out N" on stdout and "err N" on stderr, N = 1..5, then exits.
var lines = []string{"sh", "-c", "for i in 1 2 3 4 5; do echo out $i; echo err $i >&2; done"}

func TestLogOptions(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run(nil, lines...)
	e.waitExited(id)

	count := func(s, sub string) int { return strings.Count(s, sub) }
	all := e.logs(id, nil)
	if count(all, "out ") != 5 || count(all, "err ") != 5 {
		t.Fatalf("default log:\n%s", all)
	}
	// The "logs" alias serves the same bytes.
	if alias := e.logsVia(id, "logs", nil); alias != all {
		t.Fatalf("logs alias differs:\n%s\nvs\n%s", alias, all)
	}

	for _, tc := range []struct {
		name  string
		q     url.Values
		check func(string) bool
	}{
		// Docker orders the two streams as it read them; the tail is the last lines of that order.
		{"tailLines", url.Values{"tailLines": {"2"}}, func(s string) bool { return s == lastLines(all, 2) }},
		{"tailLines=0", url.Values{"tailLines": {"0"}}, func(s string) bool { return s == "" }},
		{"stream=Stdout", url.Values{"stream": {"Stdout"}}, func(s string) bool {
			return s == "out 1\nout 2\nout 3\nout 4\nout 5\n"
		}},
		{"stream=Stderr", url.Values{"stream": {"Stderr"}}, func(s string) bool {
			return s == "err 1\nerr 2\nerr 3\nerr 4\nerr 5\n"
		}},
		{"stream=Stdout+tailLines", url.Values{"stream": {"Stdout"}, "tailLines": {"2"}}, func(s string) bool {
			return s == "out 4\nout 5\n"
		}},
		{"stream=Stderr+tailLines", url.Values{"stream": {"Stderr"}, "tailLines": {"3"}}, func(s string) bool {
			return s == "err 3\nerr 4\nerr 5\n"
		}},
		{"stream=All", url.Values{"stream": {"All"}}, func(s string) bool { return s == all }},
		{"timestamps", url.Values{"timestamps": {"true"}}, func(s string) bool {
			re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (out|err) \d\n$`)
			for _, l := range strings.SplitAfter(s, "\n") {
				if l != "" && !re.MatchString(l) {
					return false
				}
			}
			return count(s, "\n") == 10
		}},
		{"timestamps+stream+tailLines", url.Values{"timestamps": {"1"}, "stream": {"Stdout"}, "tailLines": {"1"}}, func(s string) bool {
			return regexp.MustCompile(`^\d{4}-\S+Z out 5\n$`).MatchString(s)
		}},
		{"limitBytes", url.Values{"limitBytes": {"7"}}, func(s string) bool { return s == all[:7] }},
		{"limitBytes+stream", url.Values{"limitBytes": {"8"}, "stream": {"Stderr"}}, func(s string) bool { return s == "err 1\ner" }},
		{"sinceSeconds", url.Values{"sinceSeconds": {"3600"}}, func(s string) bool { return s == all }},
		{"sinceTime future", url.Values{"sinceTime": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}, func(s string) bool { return s == "" }},
		{"untilTime past", url.Values{"untilTime": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}}, func(s string) bool { return s == "" }},
		{"sinceTime past+untilTime future", url.Values{
			"sinceTime": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)},
			"untilTime": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
		}, func(s string) bool { return s == all }},
		{"follow on an exited container ends", url.Values{"follow": {"true"}, "tailLines": {"1"}, "stream": {"Stdout"}}, func(s string) bool {
			return s == "out 5\n"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.logs(id, tc.q); !tc.check(got) {
				t.Fatalf("log?%s gave:\n%q", tc.q.Encode(), got)
			}
		})
	}
}

// TestLogTTY: a TTY container's output is one stream with CRLF line ends, kept as they are.
func TestLogTTY(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run([]string{"-t"}, "sh", "-c", "echo one; echo two >&2")
	e.waitExited(id)
	if got := e.logs(id, nil); got != "one\r\ntwo\r\n" {
		t.Fatalf("TTY log: %q", got)
	}
	if got := e.logs(id, url.Values{"tailLines": {"1"}}); got != "two\r\n" {
		t.Fatalf("TTY log tailLines=1: %q", got)
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	l := strings.SplitAfter(s, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return strings.Join(l[max(0, len(l)-n):], "")
}
