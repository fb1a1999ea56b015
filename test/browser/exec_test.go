//go:build integration

package browser

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeExecServer speaks base64.channel.k8s.io like containers/exec with a
// toy shell: an empty stdout message, a prompt, then, once a line ending in
// \r arrives on stdin, the last size it was given and the line, the status
// of `exit 5`, and a normal close.
func fakeExecServer(t *testing.T, token string) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authed := false
		for _, p := range websocket.Subprotocols(r) {
			if got, ok := strings.CutPrefix(p, bearerPrefix); ok {
				b, err := base64.RawURLEncoding.DecodeString(got)
				authed = err == nil && string(b) == token
			}
		}
		if !authed {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		r.Header.Set("Sec-WebSocket-Protocol", ExecProtocol)
		up := websocket.Upgrader{Subprotocols: []string{ExecProtocol}, CheckOrigin: func(*http.Request) bool { return true }}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Logf("fake exec server: upgrade: %v", err)
			return
		}
		defer c.Close()
		send := func(ch byte, s string) {
			_ = c.WriteMessage(websocket.TextMessage, []byte(string('0'+ch)+base64.StdEncoding.EncodeToString([]byte(s))))
		}
		send(1, "")
		send(1, "/ # ")
		size, line := "no size", ""
		for !strings.HasSuffix(line, "\r") {
			kind, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if kind != websocket.TextMessage || len(msg) == 0 {
				send(2, "not a text message\r\n")
				continue
			}
			payload, err := base64.StdEncoding.DecodeString(string(msg[1:]))
			if err != nil {
				send(2, "bad base64\r\n")
				continue
			}
			switch msg[0] {
			case '0':
				line += string(payload)
				send(1, string(payload)) // the terminal's echo
			case '4':
				var s struct{ Width, Height int }
				if err := json.Unmarshal(payload, &s); err != nil {
					send(2, "bad resize\r\n")
					continue
				}
				size = fmt.Sprintf("%d %d", s.Height, s.Width)
			}
		}
		send(1, "\n"+size+"\r\n"+strings.TrimSpace(line)+"\r\n")
		send(3, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: 5","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"5"}]}}`)
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(5*time.Second))
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestExecInBrowser(t *testing.T) {
	srv := fakeExecServer(t, "tok")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := ExecInBrowser(ctx, t, Options{URL: wsURL(srv), Token: "tok", InsecureSkipTLSVerify: true},
		ExecInput{Width: 97, Height: 31, Input: "echo héllo\r"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Opened || r.Protocol != ExecProtocol || r.Done != "closed" || r.CloseCode != 1000 || r.Other != "" || r.Stderr != "" {
		t.Fatalf("unexpected result: %v", r)
	}
	if want := "/ # echo héllo\r\n31 97\r\necho héllo\r\n"; r.Stdout != want {
		t.Errorf("stdout %q, want %q", r.Stdout, want)
	}
	if code, err := r.ExitCode(); err != nil || code != 5 {
		t.Errorf("exit code %d (%v), want 5", code, err)
	}
}

func TestExecInBrowserRefused(t *testing.T) {
	srv := fakeExecServer(t, "right")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := ExecInBrowser(ctx, t, Options{URL: wsURL(srv), Token: "wrong", InsecureSkipTLSVerify: true},
		ExecInput{Input: "echo no\r"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Opened || !r.ErrorEvent || r.CloseCode != 1006 || r.Stdout != "" {
		t.Fatalf("not refused: %v", r)
	}
}

func TestResultExitCode(t *testing.T) {
	for status, want := range map[string]int{
		`{"status":"Success"}`: 0,
		`{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"5"}]}}`: 5,
		`{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"type":"ExitCode","message":"5"}]}}`:   -1,
		`{"status":"Failure","reason":"InternalError","message":"boom"}`:                                             -1,
		``: -1,
	} {
		got, err := Result{ErrorChannel: status}.ExitCode()
		if got != want || (want < 0) != (err != nil) {
			t.Errorf("%q: %d, %v; want %d", status, got, err, want)
		}
	}
}
