//go:build integration

// Package hostile sends a table of malformed, out-of-range and malicious
// requests to a real standalone server on a real (private) dockerd. Each must
// be answered with the right 4xx metav1.Status (or a documented 501, 503 or
// 504; a few are valid requests that must succeed, and say what they must
// return), never a 500, a panic or a hang. Afterwards Docker and every mirror
// must be exactly as before, and the server must still serve.
package hostile

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apiserver"
)

// minCases is the least number of distinct requests the table must hold.
const minCases = 150

// hcase is one hostile request and the answer it must get.
type hcase struct {
	name   string
	method string
	// path is below the namespace ("containers/ID/log"), or from the root
	// when it starts with "/"; names in it are already escaped.
	path string
	// query is sent as is (see q).
	query string
	// header is added to the request; the bearer token is sent unless
	// noAuth, or header sets Authorization.
	header http.Header
	noAuth bool
	body   []byte
	// code is the answer; alt are other acceptable ones (each case says why).
	code int
	alt  []int
	// msg must be in the Status message (for code and alt), reason is the
	// Status reason (for code).
	msg    string
	reason metav1.StatusReason
	// check judges a successful answer's body; every 2xx case has one.
	check func(body []byte) error
	// timeout replaces reqDeadline.
	timeout time.Duration
}

// get, post, put, patch and del start a case.
func get(name, path, query string) hcase {
	return hcase{name: name, method: http.MethodGet, path: path, query: query}
}

func post(name, path, query string, body []byte) hcase {
	return hcase{name: name, method: http.MethodPost, path: path, query: query, body: body,
		header: http.Header{"Content-Type": {"application/json"}}}
}

func put(name, path string, body []byte) hcase {
	return hcase{name: name, method: http.MethodPut, path: path, body: body,
		header: http.Header{"Content-Type": {"application/json"}}}
}

// Patch content types.
const (
	mergePatch     = "application/merge-patch+json"
	strategicPatch = "application/strategic-merge-patch+json"
	jsonPatch      = "application/json-patch+json"
	applyPatch     = "application/apply-patch+yaml"
)

func patch(name, path, contentType, body string) hcase {
	return hcase{name: name, method: http.MethodPatch, path: path, body: []byte(body),
		header: http.Header{"Content-Type": {contentType}}}
}

func del(name, path, query string, body []byte) hcase {
	return hcase{name: name, method: http.MethodDelete, path: path, query: query, body: body}
}

// want sets the expected answer.
func (c hcase) want(code int, reason metav1.StatusReason, msg string) hcase {
	c.code, c.reason, c.msg = code, reason, msg
	return c
}

// or accepts other codes too.
func (c hcase) or(codes ...int) hcase {
	c.alt = append(slices.Clone(c.alt), codes...)
	return c
}

// ok expects 200 and a body that check accepts.
func (c hcase) ok(check func([]byte) error) hcase {
	c.code, c.check = http.StatusOK, check
	return c
}

// created expects 201 and an object that check accepts.
func (c hcase) created(check func(obj map[string]any) error) hcase {
	c.code = http.StatusCreated
	c.check = func(b []byte) error {
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			return fmt.Errorf("not an object (%v): %s", err, abbrev(string(b)))
		}
		return check(obj)
	}
	return c
}

func (c hcase) with(key string, values ...string) hcase {
	h := c.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h[http.CanonicalHeaderKey(key)] = values
	c.header = h
	return c
}

func (c hcase) anonymous() hcase {
	c.noAuth = true
	return c
}

func (c hcase) within(d time.Duration) hcase {
	c.timeout = d
	return c
}

// q encodes key-value pairs in order, keeping repeated keys (url.Values sorts them).
func q(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[i]) + "=" + url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

// Reasons used by the table.
const (
	badRequest   = metav1.StatusReasonBadRequest
	notFound     = metav1.StatusReasonNotFound
	invalid      = metav1.StatusReasonInvalid
	notAllowed   = metav1.StatusReasonMethodNotAllowed
	conflict     = metav1.StatusReasonConflict
	unauthorized = metav1.StatusReasonUnauthorized
)

// documented5xx are the only server errors a hostile request may get (see README).
var documented5xx = []int{http.StatusNotImplemented, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

func TestHostileRequests(t *testing.T) {
	f := newFixture(t)
	cases := f.cases()
	checkDistinct(t, cases)
	before := f.state()

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { f.run(t, c) })
	}
	t.Run("huge client frame on a log WebSocket", f.hugeClientFrame)

	// The fixture's helpers fail t itself: they run here, not in subtests.
	if diff := before.changes(f.state()); len(diff) > 0 {
		t.Errorf("the hostile requests changed Docker or the API:\n%s", strings.Join(diff, "\n"))
	}
	// Still serving.
	f.send(http.MethodGet, "/readyz", "", nil, http.StatusOK)
	if got := f.mustText("containers/"+f.plain+"/log", nil); got != f.plainLog {
		t.Errorf("the log now reads %q, was %q", got, f.plainLog)
	}
	if name := jsonString(f.getJSON("containers/"+f.plain, ""), "metadata", "name"); name != f.plain {
		t.Errorf("GET the container: name %q", name)
	}
}

// checkDistinct fails unless the table has at least minCases cases, with
// distinct names and distinct requests.
func checkDistinct(t *testing.T, cases []hcase) {
	names := map[string]bool{}
	requests := map[[32]byte]string{}
	for _, c := range cases {
		if names[c.name] {
			t.Fatalf("two cases are called %q", c.name)
		}
		names[c.name] = true
		var hdr []string
		for k, v := range c.header {
			hdr = append(hdr, k+": "+strings.Join(v, ", "))
		}
		sort.Strings(hdr)
		key := sha256.Sum256(fmt.Appendf(nil, "%s %s?%s\n%s\n%v\n%s", c.method, c.path, c.query, strings.Join(hdr, "\n"), c.noAuth, c.body))
		if other, dup := requests[key]; dup {
			t.Fatalf("cases %q and %q send the same request", other, c.name)
		}
		requests[key] = c.name
		if c.code/100 == 2 && c.check == nil {
			t.Fatalf("case %q expects success without checking the answer", c.name)
		}
	}
	if len(cases) < minCases {
		t.Fatalf("%d cases; want at least %d", len(cases), minCases)
	}
	t.Logf("%d distinct hostile requests", len(cases))
}

// run sends c and judges the answer.
func (f *fixture) run(t *testing.T, c hcase) {
	timeout := cmp.Or(c.timeout, reqDeadline)
	start := time.Now()
	resp, body, err := f.doCase(c, timeout)
	if err != nil {
		t.Fatalf("%s %s: no complete answer after %s: %v", c.method, abbrev(c.path+"?"+c.query), time.Since(start).Round(time.Millisecond), err)
	}
	code := resp.StatusCode
	if code >= 500 && !slices.Contains(documented5xx, code) {
		t.Errorf("server error %d: %s", code, abbrev(string(body)))
	}
	if code != c.code && !slices.Contains(c.alt, code) {
		t.Fatalf("answered %d, want %d%s: %s", code, c.code, altText(c.alt), abbrev(string(body)))
	}
	if code/100 == 2 {
		if err := c.check(body); err != nil {
			t.Errorf("answer %d: %v", code, err)
		}
		return
	}
	st, err := decodeStatus(resp, body)
	if err != nil {
		t.Fatalf("answer %d is not a Status: %v: %s", code, err, abbrev(string(body)))
	}
	if int(st.Code) != code || st.Status != metav1.StatusFailure {
		t.Errorf("Status code %d status %q in an answer %d", st.Code, st.Status, code)
	}
	if !strings.Contains(st.Message, c.msg) {
		t.Errorf("Status message %q does not contain %q", abbrev(st.Message), c.msg)
	}
	if code == c.code && c.reason != "" && st.Reason != c.reason {
		t.Errorf("Status reason %q, want %q (message %q)", st.Reason, c.reason, abbrev(st.Message))
	}
}

func (f *fixture) doCase(c hcase, timeout time.Duration) (*http.Response, []byte, error) {
	header := c.header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if c.noAuth {
		header["Authorization"] = nil
	}
	return f.doWithin(timeout, c.method, c.path, c.query, c.body, header)
}

// decodeStatus decodes a failure answer as a metav1.Status, in the media type
// the request asked for (JSON unless it asked for protobuf).
func decodeStatus(resp *http.Response, body []byte) (*metav1.Status, error) {
	want := "application/json"
	if strings.Contains(resp.Request.Header.Get("Accept"), "protobuf") {
		want = "application/vnd.kubernetes.protobuf"
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != want {
		return nil, fmt.Errorf("Content-Type %q, want %s", resp.Header.Get("Content-Type"), want)
	}
	obj, _, err := apiserver.Codecs.UniversalDeserializer().Decode(body, nil, nil)
	if err != nil {
		return nil, err
	}
	st, ok := obj.(*metav1.Status)
	if !ok {
		return nil, fmt.Errorf("a %T", obj)
	}
	return st, nil
}

func altText(alt []int) string {
	if len(alt) == 0 {
		return ""
	}
	return fmt.Sprintf(" (or %v)", alt)
}

func abbrev(s string) string {
	if len(s) > 600 {
		return s[:600] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

// hugeClientFrame: a client message far over the 4 KiB limit on an open log
// follow closes the WebSocket with 1009; the server goes on serving.
func (f *fixture) hugeClientFrame(t *testing.T) {
	d := websocket.Dialer{
		TLSClientConfig:  &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the test server
		Subprotocols:     []string{"v5.channel.k8s.io"},
		HandshakeTimeout: reqDeadline,
	}
	u := strings.Replace(f.url("containers/"+f.plain+"/log", "follow=true"), "https://", "wss://", 1)
	conn, resp, err := d.Dial(u, http.Header{"Authorization": {"Bearer " + f.s.Token}})
	if err != nil {
		t.Fatalf("handshake: %v (%v)", err, resp)
	}
	defer conn.Close()
	// Written while reading: the server closes before it has read it all,
	// so the write may well fail; the close frame must still arrive.
	written := make(chan error, 1)
	go func() { written <- conn.WriteMessage(websocket.BinaryMessage, bytes.Repeat([]byte{'x'}, 1<<20)) }()
	_ = conn.SetReadDeadline(time.Now().Add(reqDeadline))
	var got []byte
	for {
		_, data, err := conn.ReadMessage()
		if err == nil {
			got = append(got, data...)
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
			t.Errorf("the stream ended with %v; want close 1009 (message too big)", err)
		}
		break
	}
	if werr := <-written; werr != nil {
		t.Logf("the 1 MiB write failed, as it may: %v", werr)
	}
	t.Logf("read %d bytes of log before the close", len(got))
}
