//go:build integration

package hostile

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// cases is the whole table, in the order it runs: reads first, the deletes
// (which must all be refused or be dry runs) last.
func (f *fixture) cases() []hcase {
	var all []hcase
	for _, group := range [][]hcase{
		f.nameCases(), f.listCases(), f.logCases(), f.statsCases(), f.mergedLogCases(), f.webSocketCases(), f.authCases(),
		f.containerWriteCases(), f.mirrorWriteCases(), f.requestCases(), f.deleteCases(),
	} {
		all = append(all, group...)
	}
	return all
}

// badName is a name no object has, escaped for a path.
type badName struct{ label, seg string }

// badNames are names for a kind whose object named actual exists (or could): for
// hex names actual is prefix and 64 hex digits.
func badNames(actual, prefix string, hex bool) []badName {
	half := len(actual) / 2
	names := []badName{
		{"uppercase", url.PathEscape(strings.ToUpper(actual))},
		{"dot-dot", ".."},
		{"escaped slash", url.PathEscape(actual[:half] + "/" + actual[half:])},
		{"unicode", url.PathEscape(prefix + "été☃")},
		{"NUL", url.PathEscape(actual + "\x00")},
		{"10k characters", prefix + strings.Repeat("a", 10000)},
	}
	if !hex {
		return append(names, badName{"unknown", actual + "-absent"})
	}
	h := strings.TrimPrefix(actual, prefix)
	return append(names,
		badName{"non-hex", prefix + strings.Repeat("g", 64)},
		badName{"short", prefix + h[:12]},
		badName{"63 hex", prefix + h[:63]},
		badName{"65 hex", prefix + h + "0"},
	)
}

// nameCases: every kind, by names that are not, or not quite, its objects'.
// ".." is refused as a name (400), but by the log as any other name that is
// not a container ID (404); an escaped "/" matches no route (404); the rest
// are names nothing has (404).
func (f *fixture) nameCases() []hcase {
	var out []hcase
	add := func(kind string, n badName, c hcase) {
		c.name = fmt.Sprintf("name %s: %s %s", n.label, c.method, kind)
		switch n.label {
		case "dot-dot":
			c = c.want(http.StatusBadRequest, badRequest, "may not be '..'")
		case "escaped slash":
			c = c.want(http.StatusNotFound, notFound, "")
		default:
			c = c.want(http.StatusNotFound, notFound, "not found")
		}
		out = append(out, c)
	}
	for _, n := range badNames(f.plain, "", true) {
		add("container", n, get("", "containers/"+n.seg, ""))
		add("container", n, del("", "containers/"+n.seg, "", nil))
		for _, sub := range []string{"log", "logs", "stats"} {
			add("container/"+sub, n, get("", "containers/"+n.seg+"/"+sub, ""))
			if n.label != "escaped slash" {
				// The log checks the name itself (".." included), and its
				// 404 says what a container's name is.
				out[len(out)-1] = out[len(out)-1].want(http.StatusNotFound, notFound, "full 64-character lowercase hex")
			}
		}
		// Exec is not served at all: no route, whatever the name.
		add("container/exec", n, get("", "containers/"+n.seg+"/exec", ""))
		out[len(out)-1] = out[len(out)-1].want(http.StatusNotFound, notFound, "")
	}
	for _, kind := range []struct{ resource, real, prefix string }{
		{"images", f.image, "img-"},
		{"volumes", f.volume, "vol-"},
	} {
		for _, n := range badNames(kind.real, kind.prefix, true) {
			add(kind.resource, n, get("", kind.resource+"/"+n.seg, ""))
			add(kind.resource, n, del("", kind.resource+"/"+n.seg, "", nil))
		}
	}
	for _, kind := range []struct{ resource, real string }{
		{"imagepullrequests", f.pull},
		{"containercreaterequests", "hostile-create"},
		{"imagepushrequests", "hostile-push"},
		{"volumecreaterequests", "hostile-volume"},
	} {
		for _, n := range badNames(kind.real, "", false) {
			add(kind.resource, n, get("", kind.resource+"/"+n.seg, ""))
			add(kind.resource, n, del("", kind.resource+"/"+n.seg, "", nil))
		}
	}
	for _, n := range badNames("moby", "", false) {
		add("containernamespaces", n, get("", "containernamespaces/"+n.seg, ""))
	}
	for _, n := range badNames(f.plain, "", true) {
		add("containerstats", n, get("", "containerstats/"+n.seg, ""))
	}
	return out
}

// statsCases: the stats history's options, and the resource's selectors.
func (f *fixture) statsCases() []hcase {
	hist := "containers/" + f.plain + "/stats"
	// Whole JSON lines of the plain container's samples, at least one.
	samples := func(b []byte) error {
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		for _, l := range lines {
			var s struct {
				Name string `json:"name"`
				CPU  *struct {
					UsageCoreNanoSeconds *int64 `json:"usageCoreNanoSeconds"`
				} `json:"cpu"`
			}
			if err := json.Unmarshal([]byte(l), &s); err != nil || s.Name != "hostile-plain" || s.CPU == nil || s.CPU.UsageCoreNanoSeconds == nil {
				return fmt.Errorf("not a sample of hostile-plain (%v): %s", err, abbrev(l))
			}
		}
		return nil
	}
	bad := func(param, value, msg string) hcase {
		return get(fmt.Sprintf("stats %s=%q", param, value), hist, q(param, value)).want(400, badRequest, msg)
	}
	good := func(param, value string) hcase {
		return get(fmt.Sprintf("stats %s=%q", param, value), hist, q(param, value)).ok(samples)
	}
	return []hcase{
		get("stats history", hist, "").ok(samples),
		bad("sinceSeconds", "0", "sinceSeconds must be 1 or more"),
		bad("sinceSeconds", "-1", "sinceSeconds must be 1 or more"),
		bad("sinceSeconds", "abc", "must be a whole number"),
		bad("sinceSeconds", "99999999999999999999", "must be a whole number"),
		// Past anything kept, past what a duration holds: every sample.
		good("sinceSeconds", "9999999999"),
		good("sinceSeconds", "9223372036854775807"),
		bad("follow", "maybe", "must be true or false"),
		get("stats of a stopped-or-unknown container", "containers/"+strings.Repeat("0", 64)+"/stats", "").want(404, notFound, "no such container"),
		get("containerstats by a bad field", "containerstats", q("fieldSelector", "status.cpu=1")).want(400, badRequest, "status.name"),
		get("containerstats by Docker name", "containerstats", q("fieldSelector", "status.name=hostile-plain")).ok(listHas(f.plain)),
		get("containerstats, a bad label selector", "containerstats", q("labelSelector", "a b")).want(400, badRequest, ""),
		post("containerstats are read-only", "containerstats", "", []byte(`{"metadata":{"name":"x"}}`)).want(405, notAllowed, ""),
	}
}

// continueToken builds a continue token as the storage encodes them.
func continueToken(rv int64, start string) string {
	return base64.RawURLEncoding.EncodeToString(mustJSON(map[string]any{"v": "meta.k8s.io/v1", "rv": rv, "start": start}))
}

func (f *fixture) listCases() []hcase {
	manyTerms := make([]string, 2000)
	for i := range manyTerms {
		manyTerms[i] = fmt.Sprintf("hostile-%d=x", i)
	}
	huge := strings.Repeat("x", 10000)
	// A list that must hold both test containers.
	full := listHas(f.plain, f.tty)
	return []hcase{
		get("labelSelector: unclosed set", "containers", q("labelSelector", "a in (b")).want(400, badRequest, ""),
		get("labelSelector: operators only", "containers", q("labelSelector", "!!=")).want(400, badRequest, ""),
		get("labelSelector: 10k value", "containers", q("labelSelector", "a="+huge)).want(400, badRequest, "63"),
		get("labelSelector: invalid key", "containers", q("labelSelector", "bad key!=1")).want(400, badRequest, ""),
		get("labelSelector: 2000 terms match nothing", "containers", q("labelSelector", strings.Join(manyTerms, ","))).ok(listHas()),
		get("fieldSelector: unknown field", "containers", q("fieldSelector", "spec.foo=1")).want(400, badRequest, "status.name"),
		get("fieldSelector: no operator", "containers", q("fieldSelector", "status.name")).want(400, badRequest, ""),
		get("fieldSelector: set syntax", "containers", q("fieldSelector", "status.name in (a)")).want(400, badRequest, ""),
		get("fieldSelector: 10k value matches nothing", "containers", q("fieldSelector", "status.name="+huge)).ok(listHas()),
		get("fieldSelector: NUL value matches nothing", "containers", q("fieldSelector", "status.name=a\x00b")).ok(listHas()),
		get("fieldSelector: unknown image field", "images", q("fieldSelector", "status.size=1")).want(400, badRequest, "status.repoTag"),
		get("fieldSelector: unknown volume field", "volumes", q("fieldSelector", "status.driver=local")).want(400, badRequest, "status.name"),
		get("fieldSelector: unknown request field", "imagepullrequests", q("fieldSelector", "spec.repoTag=x")).want(400, badRequest, ""),
		get("fieldSelector: unknown field on a watch", "containers", q("watch", "true", "fieldSelector", "spec.foo=1")).want(400, badRequest, "status.name"),
		get("labelSelector: bad syntax on a watch", "containers", q("watch", "true", "labelSelector", "a in (")).want(400, badRequest, ""),

		get("resourceVersion=abc", "containers", q("resourceVersion", "abc")).want(400, badRequest, "resource version"),
		get("resourceVersion=abc watch", "containers", q("watch", "true", "resourceVersion", "abc")).want(400, badRequest, "resource version"),
		get("resourceVersion=abc watch images", "images", q("watch", "true", "resourceVersion", "abc")).want(400, badRequest, "resource version"),
		get("resourceVersion=abc volumes", "volumes", q("resourceVersion", "abc")).want(400, badRequest, "resource version"),
		get("resourceVersion=abc requests", "imagepullrequests", q("resourceVersion", "abc")).want(400, badRequest, "resource version"),
		get("resourceVersion=-1", "containers", q("resourceVersion", "-1")).want(400, badRequest, "resource version"),
		get("resourceVersion=abc get", "containers/"+f.plain, q("resourceVersion", "abc")).want(400, badRequest, "resource version"),
		get("resourceVersion=abc get image", "images/"+f.image, q("resourceVersion", "abc")).want(400, badRequest, "resource version"),
		get("resourceVersion=abc get request", "imagepullrequests/"+f.pull, q("resourceVersion", "abc")).want(400, badRequest, "resource version"),
		get("resourceVersion overflows", "containers", q("resourceVersion", "99999999999999999999")).want(400, badRequest, "resource version"),
		get("resourceVersionMatch without resourceVersion", "containers", q("resourceVersionMatch", "NotOlderThan")).want(422, invalid, "resourceVersionMatch"),
		get("resourceVersionMatch=Exact without resourceVersion", "containers", q("resourceVersionMatch", "Exact")).want(422, invalid, "resourceVersionMatch"),
		get("resourceVersionMatch=Bogus", "containers", q("resourceVersion", "1", "resourceVersionMatch", "Bogus")).want(422, invalid, "resourceVersionMatch"),
		get("resourceVersionMatch=Exact resourceVersion=0", "containers", q("resourceVersion", "0", "resourceVersionMatch", "Exact")).want(422, invalid, "resourceVersionMatch"),
		get("resourceVersion=1 Exact is gone", "containers", q("resourceVersion", "1", "resourceVersionMatch", "Exact")).want(410, metav1Expired, ""),
		// A resourceVersion the store has not reached: it waits a few
		// seconds for it, then gives up with 504 (as Kubernetes does).
		get("resourceVersion from the future", "containers", q("resourceVersion", "9000000000000000000", "resourceVersionMatch", "NotOlderThan")).
			want(504, "Timeout", "resource version"),

		get("limit=-1 lists everything", "containers", q("limit", "-1")).ok(full),
		get("limit=abc", "containers", q("limit", "abc")).want(400, badRequest, ""),
		get("limit overflows", "containers", q("limit", "99999999999999999999")).want(400, badRequest, ""),
		get("limit=maxint64 lists everything", "containers", q("limit", "9223372036854775807")).ok(full),
		get("limit=abc volumes", "volumes", q("limit", "abc")).want(400, badRequest, ""),

		get("continue: garbage", "containers", q("continue", "not a token!")).want(400, badRequest, "continue"),
		get("continue: base64 garbage", "containers", q("continue", base64.RawURLEncoding.EncodeToString([]byte("{garbage")))).want(400, badRequest, "continue"),
		get("continue: unknown version", "containers", q("continue", base64.RawURLEncoding.EncodeToString([]byte(`{"v":"bogus","rv":5,"start":"a"}`)))).
			want(400, badRequest, "continue"),
		get("continue: resourceVersion 0", "containers", q("continue", continueToken(0, "a"))).want(400, badRequest, "continue"),
		get("continue: key escapes the resource", "containers", q("continue", continueToken(5, "../../secrets/x"))).want(400, badRequest, "continue"),
		get("continue: with resourceVersion", "containers", q("continue", f.imagesContinue, "resourceVersion", "5")).want(400, badRequest, "continue"),
		get("continue: compacted resourceVersion", "containers", q("limit", "1", "continue", continueToken(1, "a"))).want(410, metav1Expired, ""),
		// Each resource has its own resourceVersion counter: another
		// resource's token names a version this one has passed (an
		// inconsistent 410 or a list from that key), or not reached yet (504).
		get("continue: token of another resource", "containers", q("limit", "1", "continue", f.imagesContinue)).
			ok(anyList).or(410, 504),

		get("timeoutSeconds=-1 watch ends at once", "containers", q("watch", "true", "timeoutSeconds", "-1")).ok(watchStream(nil)),
		get("timeoutSeconds=abc watch", "containers", q("watch", "true", "timeoutSeconds", "abc")).want(400, badRequest, ""),
		get("timeoutSeconds=abc list", "containers", q("timeoutSeconds", "abc")).want(400, badRequest, ""),
		get("allowWatchBookmarks=maybe", "containers", q("watch", "true", "allowWatchBookmarks", "maybe", "timeoutSeconds", "1")).
			ok(watchStream(func(evs []watchEvent) error { return hasAdded(evs, f.plain) })),
		get("sendInitialEvents without watch", "containers", q("sendInitialEvents", "true")).want(422, invalid, "sendInitialEvents"),
		get("sendInitialEvents without resourceVersionMatch", "containers", q("watch", "true", "sendInitialEvents", "true")).want(422, invalid, "sendInitialEvents"),
		// A watch from a compacted resourceVersion: 200 and one ERROR event
		// carrying 410, as Kubernetes does (client-go relists on it).
		get("watch from resourceVersion=1", "containers", q("watch", "true", "resourceVersion", "1", "timeoutSeconds", "5")).
			ok(watchStream(func(evs []watchEvent) error {
				if len(evs) == 1 && evs[0].Type == "ERROR" && jsonPath(evs[0].Object, "code") == float64(410) {
					return nil
				}
				return fmt.Errorf("events %v; want one ERROR with code 410", evs)
			})),

		get("Table includeObject=Bogus", "containers", q("includeObject", "Bogus")).with("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").
			want(400, badRequest, "includeObject"),
		// A watch from a resourceVersion not reached yet waits for it: no
		// event before the timeout (or 504, as Kubernetes' watch cache says).
		get("watch from a future resourceVersion", "containers", q("watch", "true", "resourceVersion", "9000000000000000000", "timeoutSeconds", "1")).
			ok(watchStream(func(evs []watchEvent) error {
				if len(evs) > 0 {
					return fmt.Errorf("events %v from a resourceVersion not reached yet", evs)
				}
				return nil
			})).or(504),
		get("Accept: protobuf", "containers", "").with("Accept", "application/vnd.kubernetes.protobuf").want(406, "NotAcceptable", ""),
		get("Accept: text/html", "containers/"+f.plain, "").with("Accept", "text/html").want(406, "NotAcceptable", ""),
		get("Accept: Table of an unknown version", "containers", "").with("Accept", "application/json;as=Table;v=v9;g=meta.k8s.io").
			want(406, "NotAcceptable", ""),
		get("unknown resource", "foos", "").want(404, notFound, ""),
		get("unknown subresource", "containers/"+f.plain+"/status", "").want(404, notFound, ""),
		get("another namespace's container", group+"/namespaces/default/containers/"+f.plain, "").want(404, notFound, "not found"),
	}
}

// metav1Expired is the reason of a 410.
const metav1Expired = "Expired"

// mergedLogCases: the merged log (containernamespaces/moby/log) refuses what
// containers/log refuses, and bad selectors, with a 400 that says why; huge
// numbers are no problem.
func (f *fixture) mergedLogCases() []hcase {
	merged := "containernamespaces/moby/log"
	only := "fieldSelector=metadata.name%3D" + f.plain
	plainLines := func(b []byte) error {
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if !strings.HasPrefix(line, "hostile-plain | ") {
				return fmt.Errorf("line %q is not the plain container's", line)
			}
		}
		return nil
	}
	bad := func(query, msg string) hcase {
		return get("merged log "+query, merged, query).want(400, badRequest, msg)
	}
	good := func(query string, check func([]byte) error) hcase {
		return get("merged log "+query, merged, query).ok(check)
	}
	return []hcase{
		bad("tailLines=-1", "tailLines must be 0 or more"),
		bad("tailLines=abc", "must be a whole number"),
		bad("followRestarts=yes", "must be true or false"),
		bad("followRestarts=true", "followRestarts needs follow=true"),
		bad("labelSelector=a+in+(b", "invalid selector: labelSelector"),
		bad("labelSelector="+strings.Repeat("%28", 1000), "invalid selector: labelSelector"),
		bad("fieldSelector=status.nope%3D1", "invalid selector: fieldSelector"),
		bad("fieldSelector=status.name", "invalid selector: fieldSelector"),
		bad("stream=bogus", "stream must be All, Stdout or Stderr"),
		good(only+"&tailLines=9223372036854775807", plainLines),
		good(only+"&sinceSeconds=9223372036854775807", plainLines),
		good(only+"&limitBytes=9223372036854775807", plainLines),
		good(only+"&sinceTime=9999-12-31T23:59:59Z", bodyIs("")),
		good("labelSelector=io.rancherdesktop.hostile.none%3D"+strings.Repeat("x", 60), bodyIs("")),
		get("merged log of an unknown namespace", "containernamespaces/nope/log", "").want(404, notFound, "not found"),
	}
}

func (f *fixture) logCases() []hcase {
	log := "containers/" + f.plain + "/log"
	ttyLog := "containers/" + f.tty + "/log"
	whole := bodyIs(f.plainLog)
	empty := bodyIs("")
	last := bodyIs(lastLine(f.plainLog))
	bad := func(param, value, msg string) hcase {
		return get(fmt.Sprintf("log %s=%q", param, value), log, q(param, value)).want(400, badRequest, msg)
	}
	good := func(param, value string, check func([]byte) error) hcase {
		return get(fmt.Sprintf("log %s=%q", param, value), log, q(param, value)).ok(check)
	}
	notWhole := "must be a whole number"
	notTime := "must be an RFC 3339 time"
	notBool := "must be true or false"
	return []hcase{
		bad("tailLines", "-1", "tailLines must be 0 or more"),
		good("tailLines", "0", empty),
		good("tailLines", "9223372036854775807", whole),
		bad("tailLines", "99999999999999999999", notWhole),
		bad("tailLines", "abc", notWhole),
		bad("tailLines", "", notWhole),
		bad("tailLines", "1.5", notWhole),
		bad("tailLines", " 1", notWhole),
		good("tailLines", "+1", last),

		bad("sinceSeconds", "0", "sinceSeconds must be 1 or more"),
		bad("sinceSeconds", "-1", "sinceSeconds must be 1 or more"),
		bad("sinceSeconds", "abc", notWhole),
		bad("sinceSeconds", "99999999999999999999", notWhole),
		// Since before the container: its whole log (kubectl --since=500000h sends these).
		good("sinceSeconds", "2000000000", whole),
		good("sinceSeconds", "9000000000", whole),
		good("sinceSeconds", "9999999999", whole),
		good("sinceSeconds", "9223372036854775807", whole),
		get("logs sinceSeconds=9999999999", "containers/"+f.plain+"/logs", q("sinceSeconds", "9999999999")).ok(whole),

		bad("sinceTime", "yesterday", notTime),
		bad("sinceTime", "2026-13-45T00:00:00Z", notTime),
		bad("sinceTime", "2026-01-01T00:00:00", notTime),
		bad("sinceTime", "2026-06-30T23:59:60Z", notTime),
		bad("sinceTime", "+10000-01-01T00:00:00Z", notTime),
		bad("sinceTime", "1e9", notTime),
		good("sinceTime", "1969-12-31T23:59:59Z", whole),
		good("sinceTime", "0001-01-01T00:00:00Z", whole),
		good("sinceTime", "1970-01-01T00:00:00Z", whole),
		good("sinceTime", "1970-01-01T00:00:00.1234567891234Z", whole),
		bad("sinceTime", "2026-01-01T00:00:00+99:99", notTime),
		good("sinceTime", "9999-12-31T23:59:59Z", empty),
		bad("untilTime", "tomorrow", notTime),
		bad("untilTime", "2026-02-30T00:00:00Z", notTime),
		// Until before the log: nothing.
		good("untilTime", "1969-12-31T23:59:59Z", empty),
		good("untilTime", "0001-01-01T00:00:00Z", empty),
		good("untilTime", "9999-12-31T23:59:59Z", whole),
		get("log sinceTime after untilTime", log, q("sinceTime", "2026-01-02T00:00:00Z", "untilTime", "2026-01-01T00:00:00Z")).
			want(400, badRequest, "untilTime must be after sinceTime"),
		get("log sinceTime equals untilTime", log, q("sinceTime", "2026-01-01T00:00:00Z", "untilTime", "2026-01-01T00:00:00Z")).
			want(400, badRequest, "untilTime must be after sinceTime"),
		get("log pre-1970 sinceTime after pre-1970 untilTime", log, q("sinceTime", "1969-01-02T00:00:00Z", "untilTime", "1969-01-01T00:00:00Z")).
			want(400, badRequest, "untilTime must be after sinceTime"),
		get("log sinceSeconds with sinceTime", log, q("sinceSeconds", "5", "sinceTime", "2026-01-01T00:00:00Z")).
			want(400, badRequest, "at most one of sinceSeconds and sinceTime"),

		bad("limitBytes", "0", "limitBytes must be 1 or more"),
		bad("limitBytes", "-1", "limitBytes must be 1 or more"),
		bad("limitBytes", "abc", notWhole),
		good("limitBytes", "9223372036854775807", whole),
		good("limitBytes", "1", bodyIs(f.plainLog[:1])),

		bad("stream", "bogus", "stream must be All, Stdout or Stderr"),
		bad("stream", "stdout", "stream must be All, Stdout or Stderr"),
		bad("stream", "Stdout\x00", "stream must be All, Stdout or Stderr"),
		get("log stream=Stdout on a TTY", ttyLog, q("stream", "Stdout")).want(400, badRequest, "TTY"),
		get("log stream=Stderr on a TTY", ttyLog, q("stream", "Stderr")).want(400, badRequest, "TTY"),
		get("log stream=Stdout tailLines=0 on a TTY", ttyLog, q("tailLines", "0", "stream", "Stdout")).want(400, badRequest, "TTY"),
		get("log stream=All on a TTY", ttyLog, q("stream", "All")).ok(bodyIs(f.ttyLog)),
		get("log TTY tailLines=maxint64 untilTime far future", ttyLog, q("tailLines", "9223372036854775807", "untilTime", "9999-12-31T23:59:59Z")).
			ok(bodyIs(f.ttyLog)),
		get("log TTY tailLines=1 untilTime before 1970", ttyLog, q("tailLines", "1", "untilTime", "1969-12-31T23:59:59Z")).ok(empty),

		bad("follow", "maybe", notBool),
		bad("follow", "2", notBool),
		bad("timestamps", "2", notBool),
		bad("timestamps", "yes", notBool),
		// strconv.ParseBool takes "f" and "F" for false; the query decoder
		// reads anything but "false" and "0" as true. Either refuse them
		// (400) or mean false: never follow, never timestamps.
		good("timestamps", "f", whole).or(400).within(10 * time.Second),
		good("follow", "F", whole).or(400).within(10 * time.Second),

		// Repeated parameters: the first counts, as in Kubernetes.
		get("log tailLines=-1&tailLines=1", log, q("tailLines", "-1", "tailLines", "1")).want(400, badRequest, "tailLines must be 0 or more"),
		get("log tailLines=1&tailLines=-1", log, q("tailLines", "1", "tailLines", "-1")).ok(last),
		get("log follow=maybe&follow=false", log, q("follow", "maybe", "follow", "false")).want(400, badRequest, notBool),
		get("log stream=Stdout&stream=bogus", log, q("stream", "Stdout", "stream", "bogus")).ok(bodyIs(f.stdoutLog)),
		// Unknown parameters are ignored, as in Kubernetes.
		get("log unknown parameter", log, q("foo", "bar")).ok(whole),
		get("log pods/log's container parameter", log, q("container", "x", "previous", "true")).ok(whole),
		// A follow ends after limitBytes: no hang.
		get("log follow with limitBytes", log, q("follow", "true", "limitBytes", fmt.Sprint(len(f.plainLog)))).ok(whole),
		// A since later than untilTime: an empty log (README).
		get("log sinceSeconds=1 untilTime in 2000", log, q("sinceSeconds", "1", "untilTime", "2000-01-01T00:00:00Z")).ok(empty),

		// tailLines with one stream or with untilTime is served by the
		// server's own window over Docker's log (README): at and past its limits.
		get("log tailLines=maxint64 stream=Stdout", log, q("tailLines", "9223372036854775807", "stream", "Stdout")).ok(bodyIs(f.stdoutLog)),
		get("log tailLines=2^62 stream=Stderr", log, q("tailLines", "4611686018427387904", "stream", "Stderr")).ok(bodyIs(f.stderrLog)),
		get("log tailLines=maxint64 untilTime far future", log, q("tailLines", "9223372036854775807", "untilTime", "9999-12-31T23:59:59Z")).ok(whole),
		get("log tailLines=0 stream=Stdout", log, q("tailLines", "0", "stream", "Stdout")).ok(empty),
		get("log tailLines=1 stream=Stderr", log, q("tailLines", "1", "stream", "Stderr")).ok(bodyIs(lastLine(f.stderrLog))),
		get("log tailLines=1 untilTime before 1970", log, q("tailLines", "1", "untilTime", "1969-12-31T23:59:59Z")).ok(empty),
		get("log tailLines=2 stream=Stdout untilTime year 1", log, q("tailLines", "2", "stream", "Stdout", "untilTime", "0001-01-01T00:00:00Z")).ok(empty),
		get("log tailLines=1 stream=Stderr sinceSeconds=9999999999", log, q("tailLines", "1", "stream", "Stderr", "sinceSeconds", "9999999999")).
			ok(bodyIs(lastLine(f.stderrLog))),
		get("log follow tailLines=1 stream=Stderr limitBytes", log, q("follow", "true", "tailLines", "1", "stream", "Stderr", "limitBytes", "5")).
			ok(bodyIs(lastLine(f.stderrLog))),

		{name: "log POST", method: http.MethodPost, path: log, code: 405, reason: notAllowed},
		{name: "log PUT", method: http.MethodPut, path: log, body: []byte("{}"), code: 405, reason: notAllowed},
		{name: "log DELETE", method: http.MethodDelete, path: log, code: 405, reason: notAllowed},
		patch("log PATCH", log, mergePatch, "{}").want(405, notAllowed, ""),
	}
}

// wsKey is a valid Sec-WebSocket-Key (16 bytes, base64).
const wsKey = "dGhlIHNhbXBsZSBub25jZQ=="

// bearerProtocol carries token as browsers do.
func bearerProtocol(token string) string {
	return "base64url.bearer.authorization.k8s.io." + base64.RawURLEncoding.EncodeToString([]byte(token))
}

// handshake is a WebSocket upgrade of path with the given key, version and
// subprotocols (empty ones are left out).
func handshake(name, path, key, version string, protocols ...string) hcase {
	c := get(name, path, q("follow", "true")).with("Connection", "Upgrade").with("Upgrade", "websocket")
	if key != "" {
		c = c.with("Sec-WebSocket-Key", key)
	}
	if version != "" {
		c = c.with("Sec-WebSocket-Version", version)
	}
	if len(protocols) > 0 {
		c = c.with("Sec-WebSocket-Protocol", strings.Join(protocols, ", "))
	}
	return c
}

func (f *fixture) webSocketCases() []hcase {
	log := "containers/" + f.plain + "/log"
	v5 := "v5.channel.k8s.io"
	notHandshake := "not a websocket handshake"
	return []hcase{
		handshake("WebSocket: key not base64", log, "not base64!", "13", v5).want(400, badRequest, "Sec-WebSocket-Key"),
		handshake("WebSocket: key of 4 bytes", log, base64.StdEncoding.EncodeToString([]byte("abcd")), "13", v5).want(400, badRequest, "Sec-WebSocket-Key"),
		handshake("WebSocket: no key", log, "", "13", v5).want(400, badRequest, notHandshake),
		handshake("WebSocket: no version", log, wsKey, "", v5).want(400, badRequest, "version"),
		handshake("WebSocket: version 8", log, wsKey, "8", v5).want(400, badRequest, "version"),
		handshake("WebSocket: unknown subprotocol", log, wsKey, "13", "v9.channel.k8s.io").
			want(400, badRequest, "none of the requested WebSocket subprotocols"),
		handshake("WebSocket: unknown subprotocols only", log, wsKey, "13", "channel.k8s.io", "v4.channel.k8s.io.evil").
			want(400, badRequest, "none of the requested WebSocket subprotocols"),
		handshake("WebSocket: 2000 unknown subprotocols", log, wsKey, "13", manyProtocols(2000)...).
			want(400, badRequest, "none of the requested WebSocket subprotocols"),
		handshake("WebSocket: no token", log, wsKey, "13", v5).anonymous().want(401, unauthorized, ""),
		handshake("WebSocket: wrong token", log, wsKey, "13", v5).with("Authorization", "Bearer wrong-token").want(401, unauthorized, ""),
		handshake("WebSocket: wrong bearer subprotocol", log, wsKey, "13", v5, bearerProtocol("wrong-token")).anonymous().
			want(401, unauthorized, ""),
		handshake("WebSocket: malformed bearer subprotocol", log, wsKey, "13", v5, "base64url.bearer.authorization.k8s.io.!!!").anonymous().
			want(401, unauthorized, ""),
		handshake("WebSocket: empty bearer subprotocol", log, wsKey, "13", v5, "base64url.bearer.authorization.k8s.io.").anonymous().
			want(401, unauthorized, ""),
		handshake("WebSocket: token in subprotocol, unknown protocol", log, wsKey, "13", "v9.channel.k8s.io", bearerProtocol(f.s.Token)).anonymous().
			want(400, badRequest, "none of the requested WebSocket subprotocols"),
		handshake("WebSocket: token in subprotocol, bad key", log, "short", "13", v5, bearerProtocol(f.s.Token)).anonymous().
			want(400, badRequest, "Sec-WebSocket-Key"),
		handshake("WebSocket: unknown container", "containers/"+strings.Repeat("0", 64)+"/log", wsKey, "13", v5).want(404, notFound, "no such container"),
		withQuery(handshake("WebSocket: tailLines=-1", log, wsKey, "13", v5), q("follow", "true", "tailLines", "-1")).
			want(400, badRequest, "tailLines must be 0 or more"),
		withMethod(handshake("WebSocket: POST", log, wsKey, "13", v5), http.MethodPost).want(405, notAllowed, ""),
	}
}

// manyProtocols are n subprotocols the server does not speak.
func manyProtocols(n int) []string {
	p := make([]string, n)
	for i := range p {
		p[i] = fmt.Sprintf("v%d.channel.k8s.io", i+6)
	}
	return p
}

func withQuery(c hcase, query string) hcase {
	c.query = query
	return c
}

func withMethod(c hcase, method string) hcase {
	c.method = method
	return c
}

func (f *fixture) authCases() []hcase {
	list := "containers"
	return []hcase{
		get("auth: none", list, "").anonymous().want(401, unauthorized, ""),
		get("auth: wrong token", list, "").with("Authorization", "Bearer wrong").want(401, unauthorized, ""),
		get("auth: empty bearer", list, "").with("Authorization", "Bearer ").want(401, unauthorized, ""),
		get("auth: basic", list, "").with("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("admin:admin"))).want(401, unauthorized, ""),
		get("auth: 10k token", list, "").with("Authorization", "Bearer "+strings.Repeat("t", 10000)).want(401, unauthorized, ""),
		get("auth: token prefix", list, "").with("Authorization", "Bearer "+f.s.Token[:len(f.s.Token)-1]).want(401, unauthorized, ""),
		get("auth: token with a suffix", list, "").with("Authorization", "Bearer "+f.s.Token+"x").want(401, unauthorized, ""),
		get("auth: none on a log", "containers/"+f.plain+"/log", "").anonymous().want(401, unauthorized, ""),
		del("auth: none on a delete", "containers/"+f.plain, "", nil).anonymous().want(401, unauthorized, ""),
		post("auth: none on a create", "volumecreaterequests", "", requestBody("VolumeCreateRequest",
			map[string]any{"generateName": "hostile-"}, map[string]any{})).anonymous().want(401, unauthorized, ""),
	}
}

// bodyIs accepts exactly want.
func bodyIs(want string) func([]byte) error {
	return func(b []byte) error {
		if string(b) != want {
			return fmt.Errorf("body %q, want %q", abbrev(string(b)), abbrev(want))
		}
		return nil
	}
}

// listHas accepts a list holding exactly names (in any order, none for an empty list).
func listHas(names ...string) func([]byte) error {
	return func(b []byte) error {
		var list struct {
			Kind  string
			Items []map[string]any
		}
		if err := json.Unmarshal(b, &list); err != nil || !strings.HasSuffix(list.Kind, "List") {
			return fmt.Errorf("not a list (%v): %s", err, abbrev(string(b)))
		}
		var got []string
		for _, item := range list.Items {
			got = append(got, jsonString(item, "metadata", "name"))
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(names))
		if !slices.Equal(got, want) {
			return fmt.Errorf("items %v, want %v", got, want)
		}
		return nil
	}
}

// anyList accepts any list.
func anyList(b []byte) error {
	var list struct{ Kind string }
	if err := json.Unmarshal(b, &list); err != nil || !strings.HasSuffix(list.Kind, "List") {
		return fmt.Errorf("not a list (%v): %s", err, abbrev(string(b)))
	}
	return nil
}

type watchEvent struct {
	Type   string
	Object map[string]any
}

func (e watchEvent) String() string { return e.Type + " " + jsonString(e.Object, "metadata", "name") }

// watchStream accepts a complete stream of watch events that check accepts
// (any, when check is nil).
func watchStream(check func([]watchEvent) error) func([]byte) error {
	return func(b []byte) error {
		var evs []watchEvent
		dec := json.NewDecoder(bytes.NewReader(b))
		for {
			var ev watchEvent
			err := dec.Decode(&ev)
			if err == io.EOF {
				break
			}
			if err != nil || ev.Type == "" {
				return fmt.Errorf("not a stream of watch events (%v): %s", err, abbrev(string(b)))
			}
			evs = append(evs, ev)
		}
		if check == nil {
			return nil
		}
		return check(evs)
	}
}

func hasAdded(evs []watchEvent, name string) error {
	for _, ev := range evs {
		if ev.Type == "ADDED" && jsonString(ev.Object, "metadata", "name") == name {
			return nil
		}
	}
	return fmt.Errorf("no ADDED of %s in %v", name, evs)
}

// lastLine is the last line of log, with its newline.
func lastLine(log string) string {
	lines := strings.SplitAfter(log, "\n")
	return lines[len(lines)-2]
}
