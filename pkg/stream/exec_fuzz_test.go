package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// FuzzExecClientMessages sends any v5 client messages to an exec session
// whose command copies stdin to stdout: the session never panics nor hangs,
// stdin arrives byte-exact up to the client's [255, 0], and it ends with the
// command's Success and 1000, or with 1007 when a resize did not decode.
//
// script is a list of messages, each a length byte and that many bytes (the
// first of which is the channel).
func FuzzExecClientMessages(f *testing.F) {
	for _, seed := range [][]byte{
		nil,
		{3, 0, 'h', 'i'},
		{1, 0, 2, 255, 0, 3, 0, 'n', 'o'},
		{18, 4, '{', '"', 'W', 'i', 'd', 't', 'h', '"', ':', '8', '0', ',', '"', 'H', '"', ':', '2', '}'},
		{3, 4, '{', '{'},
		{2, 255, 1, 2, 9, 9},
		{0, 1, 7},
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, script []byte, tty bool) {
		var msgs [][]byte
		for len(script) > 0 {
			n := min(int(script[0]), len(script)-1)
			msgs = append(msgs, script[1:1+n])
			script = script[1+n:]
		}
		// What the server must make of them.
		var want bytes.Buffer
		bad, closed := false, false
		for _, m := range msgs {
			if len(m) == 0 || closed || bad {
				continue
			}
			switch m[0] {
			case channelStdin:
				want.Write(m[1:])
			case channelResize:
				var size struct{ Width, Height uint16 }
				bad = len(m[1:]) > maxResizeMessage || json.Unmarshal(m[1:], &size) != nil
			case channelClose:
				closed = len(m) > 1 && m[1] == channelStdin
			}
		}
		s := execServer(t, ExecSession{Stdin: true, Stdout: true, TTY: tty,
			Run: func(ctx context.Context, st engine.ExecStreams) (int, error) {
				_, err := io.Copy(st.Stdout, st.Stdin)
				if ctx.Err() != nil {
					return 0, ctx.Err()
				}
				return 0, err
			}})
		c := dialExec(t, s, "v5.channel.k8s.io")
		for _, m := range msgs {
			// The server may have closed already (a bad message).
			if c.c.WriteMessage(websocket.BinaryMessage, m) != nil {
				break
			}
		}
		if !closed && !bad {
			_ = c.c.WriteMessage(websocket.BinaryMessage, []byte{channelClose, channelStdin})
		}
		r := c.readToEnd()
		switch {
		case bad:
			if r.closeCode != websocket.CloseInvalidFramePayloadData {
				t.Fatalf("close %d after an undecodable resize, want 1007", r.closeCode)
			}
		case r.closeCode != websocket.CloseNormalClosure || r.status == nil || r.status.Status != metav1.StatusSuccess:
			t.Fatalf("close %d, status %+v; want Success and 1000", r.closeCode, r.status)
		case !bytes.Equal(r.stdout.Bytes(), want.Bytes()):
			t.Fatalf("stdout %q, want the stdin sent %q", r.stdout.Bytes(), want.Bytes())
		}
		if p := s.waitServed(t); p != nil {
			t.Fatalf("ServeExec panicked: %v", p)
		}
	})
}
