//go:build integration

package hostile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/pkg/cmd/server"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const (
	// reqDeadline bounds every request of the table: an answer that does not
	// come (or end) by then is a hang.
	reqDeadline = 30 * time.Second
	// setupDeadline bounds each wait of the setup (mirrors, logs, requests).
	setupDeadline = 60 * time.Second
	// group is the API group and version every path of the table is under.
	group = "/apis/containers.rancherdesktop.io/v1alpha1"
)

// fixture is the server under attack and the throwaway objects the cases
// aim at, all on a private dockerd that nothing else touches.
type fixture struct {
	t    *testing.T
	host string
	s    *testenv.Server
	hc   *http.Client

	// plain is a running container that wrote plainLines then sleeps; tty
	// one with a TTY that wrote one line.
	plain, tty string
	// plainLog is the plain container's log as the server serves it, read
	// once it wrote everything (Docker decides how the two streams
	// interleave); stdoutLog and stderrLog are its two streams, ttyLog the
	// TTY container's log.
	plainLog, stdoutLog, stderrLog, ttyLog string
	// container is the plain Container as JSON, to build PUT bodies from.
	container map[string]any
	// image and volume name the Image of the tag hostileTag and the Volume
	// hostileVolume.
	image, volume string
	// pull is an ImagePullRequest that has failed (its registry does not
	// exist); it stays for the whole test.
	pull string
	// imagesContinue is a continue token of a list of images.
	imagesContinue string
}

const (
	hostileTag    = "hostile/tag:v1"
	hostileVolume = "hostile-vol"
	// absentRegistry refuses connections, so a pull or push fails at once
	// and changes nothing.
	absentRegistry = "127.0.0.1:1"
)

// plainLines is what the plain container writes, in order (stderr: to its stderr).
var plainLines = []struct {
	stderr bool
	line   string
}{{false, "out1"}, {true, "err1"}, {false, "out2"}, {true, "err2"}}

func newFixture(t *testing.T) *fixture {
	host := testenv.StartDockerd(t, "hostile").Host
	f := &fixture{t: t, host: host, hc: testenv.HTTPClient(t)}

	var script strings.Builder
	for _, l := range plainLines {
		if l.stderr {
			fmt.Fprintf(&script, "echo %s >&2; ", l.line)
			f.stderrLog += l.line + "\n"
		} else {
			fmt.Fprintf(&script, "echo %s; ", l.line)
			f.stdoutLog += l.line + "\n"
		}
	}
	script.WriteString("exec sleep 1000000")
	f.plain = f.docker("run", "-d", "--name", "hostile-plain", testenv.BusyboxImage, "sh", "-c", script.String())
	f.tty = f.docker("run", "-d", "-t", "--name", "hostile-tty", testenv.BusyboxImage, "sh", "-c", "echo tty-line; exec sleep 1000000")
	f.docker("volume", "create", hostileVolume)
	f.docker("tag", testenv.BusyboxImage, hostileTag)

	// Ended requests stay for the whole test (the default TTL is a minute).
	f.s = testenv.StartServer(t, host, testenv.ServerOptions{Mutate: func(o *server.Options) { o.RequestTTL = time.Hour }})

	f.image = f.waitOne("images", "status.repoTag="+hostileTag)
	f.volume = f.waitOne("volumes", "status.name="+hostileVolume)
	f.waitOne("containers", "metadata.name="+f.plain)
	f.waitOne("containers", "metadata.name="+f.tty)
	// Sampled by the stats collector (the server's default interval).
	f.waitOne("containerstats", "metadata.name="+f.plain)
	testenv.Eventually(t, setupDeadline, "the plain container's log", func() error {
		got, err := f.text("containers/"+f.plain+"/log", nil)
		if err != nil {
			return err
		}
		lines := strings.SplitAfter(got, "\n")
		slices.Sort(lines)
		if want := slices.Sorted(slices.Values(strings.SplitAfter(f.stdoutLog+f.stderrLog, "\n"))); !slices.Equal(lines, want) {
			return fmt.Errorf("the log so far: %q", got)
		}
		f.plainLog = got
		return nil
	})
	testenv.Eventually(t, setupDeadline, "the TTY container's log", func() error {
		got, err := f.text("containers/"+f.tty+"/log", nil)
		if err == nil && got != "tty-line\r\n" {
			err = fmt.Errorf("log %q", got)
		}
		return err
	})
	f.ttyLog = "tty-line\r\n"
	f.container = f.getJSON("containers/"+f.plain, "")
	f.imagesContinue = jsonString(f.getJSON("images", "limit=1"), "metadata", "continue")
	if f.imagesContinue == "" {
		t.Fatal("a list of images with limit=1 has no continue token: too few images")
	}

	f.pull = "hostile-pull"
	f.send(http.MethodPost, "imagepullrequests", "", requestBody("ImagePullRequest", map[string]any{"name": f.pull},
		map[string]any{"repoTag": absentRegistry + "/hostile/absent:v1"}), http.StatusCreated)
	testenv.Eventually(t, setupDeadline, "the pull from a registry that does not exist to fail", func() error {
		obj := f.getJSON("imagepullrequests/"+f.pull, "")
		conds, _ := jsonPath(obj, "status", "conditions").([]any)
		for _, c := range conds {
			if m, _ := c.(map[string]any); m["type"] == "Failed" && m["status"] == "True" {
				return nil
			}
		}
		return fmt.Errorf("conditions %v", conds)
	})
	return f
}

func (f *fixture) docker(args ...string) string {
	f.t.Helper()
	return testenv.MustDocker(f.t, f.host, args...)
}

// url is path (below the namespace, or from the root when it starts with
// "/") with the raw query q.
func (f *fixture) url(path, q string) string {
	u := f.s.URL
	if strings.HasPrefix(path, "/") {
		u += path
	} else {
		u += group + "/namespaces/" + f.s.Namespace + "/" + path
	}
	if q != "" {
		u += "?" + q
	}
	return u
}

// do sends one authenticated request and reads the whole answer.
func (f *fixture) do(method, path, q string, body []byte, header http.Header) (*http.Response, []byte, error) {
	return f.doWithin(reqDeadline, method, path, q, body, header)
}

// doWithin is do with a deadline for the whole exchange. The request carries
// the bearer token, and Content-Type application/json when it has a body;
// header replaces those and adds others (a nil value removes the header).
func (f *fixture) doWithin(timeout time.Duration, method, path, q string, body []byte, header http.Header) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, f.url(path, q), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+f.s.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		if v == nil {
			req.Header.Del(k)
		} else {
			req.Header[http.CanonicalHeaderKey(k)] = v
		}
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// An upgraded connection: its body never ends.
		return resp, nil, nil
	}
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// send is do for the setup and the checks: anything but code fails the test.
func (f *fixture) send(method, path, q string, body []byte, code int) []byte {
	f.t.Helper()
	resp, b, err := f.do(method, path, q, body, nil)
	if err != nil {
		f.t.Fatalf("%s %s?%s: %v", method, path, q, err)
	}
	if resp.StatusCode != code {
		f.t.Fatalf("%s %s?%s: %d %s; want %d", method, path, q, resp.StatusCode, b, code)
	}
	return b
}

func (f *fixture) getJSON(path, q string) map[string]any {
	f.t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(f.send(http.MethodGet, path, q, nil, http.StatusOK), &obj); err != nil {
		f.t.Fatalf("GET %s: %v", path, err)
	}
	return obj
}

// text GETs a log; an answer other than 200 is an error.
func (f *fixture) text(path string, q url.Values) (string, error) {
	resp, b, err := f.do(http.MethodGet, path, q.Encode(), nil, nil)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%d %s", resp.StatusCode, b)
	}
	return string(b), err
}

func (f *fixture) mustText(path string, q url.Values) string {
	f.t.Helper()
	s, err := f.text(path, q)
	if err != nil {
		f.t.Fatalf("GET %s: %v", path, err)
	}
	return s
}

// waitOne waits until the field selector sel finds exactly one object of
// resource, and returns its name.
func (f *fixture) waitOne(resource, sel string) string {
	f.t.Helper()
	var name string
	testenv.Eventually(f.t, setupDeadline, resource+" "+sel+" mirrored", func() error {
		items, _ := f.getJSON(resource, "fieldSelector="+url.QueryEscape(sel))["items"].([]any)
		if len(items) != 1 {
			return fmt.Errorf("%d objects", len(items))
		}
		name = jsonString(items[0], "metadata", "name")
		return nil
	})
	return name
}

// jsonPath walks the keys of decoded JSON; nil when one is missing.
func jsonPath(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func jsonString(v any, keys ...string) string {
	s, _ := jsonPath(v, keys...).(string)
	return s
}

// state is what no hostile request may change: Docker's containers (ID, name,
// state), images (ID and tag) and volumes, and every mirrored object as the
// API serves it (resourceVersion, metadata and status included).
type state struct {
	docker []string
	api    map[string]string
}

func (f *fixture) state() state {
	f.t.Helper()
	var st state
	for _, args := range [][]string{
		{"ps", "-a", "--no-trunc", "--format", "container {{.ID}} {{.Names}} {{.State}} {{.Image}}"},
		{"images", "-a", "--no-trunc", "--format", "image {{.ID}} {{.Repository}}:{{.Tag}}"},
		{"volume", "ls", "--format", "volume {{.Name}} {{.Driver}} {{.Labels}}"},
	} {
		st.docker = append(st.docker, strings.Split(f.docker(args...), "\n")...)
	}
	slices.Sort(st.docker)
	st.api = map[string]string{}
	for _, resource := range []string{"containers", "images", "volumes", "containernamespaces"} {
		items, _ := f.getJSON(resource, "")["items"].([]any)
		for _, item := range items {
			b, err := json.Marshal(item)
			if err != nil {
				f.t.Fatal(err)
			}
			st.api[resource+"/"+jsonString(item, "metadata", "name")] = string(b)
		}
	}
	return st
}

// changes lists how after differs from before.
func (before state) changes(after state) []string {
	var out []string
	for _, l := range before.docker {
		if !slices.Contains(after.docker, l) {
			out = append(out, "docker: gone or changed: "+l)
		}
	}
	for _, l := range after.docker {
		if !slices.Contains(before.docker, l) {
			out = append(out, "docker: new or changed: "+l)
		}
	}
	for k, v := range before.api {
		switch w, ok := after.api[k]; {
		case !ok:
			out = append(out, "API: gone: "+k)
		case w != v:
			out = append(out, fmt.Sprintf("API: changed: %s\n  before: %s\n  after:  %s", k, v, w))
		}
	}
	for k := range after.api {
		if _, ok := before.api[k]; !ok {
			out = append(out, "API: new: "+k)
		}
	}
	slices.Sort(out)
	return out
}

// requestBody is the JSON of a request object of kind with the given
// metadata and spec.
func requestBody(kind string, meta, spec map[string]any) []byte {
	return mustJSON(map[string]any{
		"apiVersion": "containers.rancherdesktop.io/v1alpha1",
		"kind":       kind,
		"metadata":   meta,
		"spec":       spec,
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
