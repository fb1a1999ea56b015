package stream

import (
	"bytes"
	"encoding/base64"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// maxFuzzOutput bounds the output of one FuzzWebSocketFraming input.
const maxFuzzOutput = 256 << 10

// fuzzPieces turns a fuzz input into the copier's writes. Each 3 bytes of
// cuts are one write: the first byte's bit 2 sends it to stderr, its low two
// bits and the next two bytes (little-endian) give its size, 0 to 256 KiB;
// with no cuts, data is one write. The bytes written are data repeated (a
// counter when data is empty), at most maxFuzzOutput in all.
func fuzzPieces(data, cuts []byte) []piece {
	sizes, stderr := []int{len(data)}, []bool{false}
	if len(cuts) >= 3 {
		sizes, stderr = nil, nil
		for i := 0; i+2 < len(cuts); i += 3 {
			sizes = append(sizes, int(cuts[i]&3)<<16|int(cuts[i+2])<<8|int(cuts[i+1]))
			stderr = append(stderr, cuts[i]&4 != 0)
		}
	}
	var pieces []piece
	total := 0
	for i, n := range sizes {
		n = min(n, maxFuzzOutput-total)
		p := piece{stderr: stderr[i], data: make([]byte, n)}
		for j := range p.data {
			if len(data) == 0 {
				p.data[j] = byte(total + j)
			} else {
				p.data[j] = data[(total+j)%len(data)]
			}
		}
		total += n
		pieces = append(pieces, p)
	}
	return pieces
}

// cut is the cuts encoding of one write of n bytes (see fuzzPieces).
func cut(n int, toStderr bool) []byte {
	flags := byte(n>>16) & 3
	if toStderr {
		flags |= 4
	}
	return []byte{flags, byte(n), byte(n >> 8)}
}

// FuzzWebSocketFraming writes arbitrary output in arbitrary pieces through
// the real WebSocket writer of every subprotocol to a real client. Each
// stream must arrive byte-exact, in messages of at most MaxMessageSize bytes
// of output, framed as the package doc says (channel byte 1 or 2, base64
// text, or raw binary; one message per write of up to 32 KiB, empty writes
// sending nothing), and end with a normal close.
func FuzzWebSocketFraming(f *testing.F) {
	utf8Split := append(append(cut(2, false), cut(3, true)...), cut(4, false)...)
	for _, seed := range []struct{ data, cuts []byte }{
		{nil, nil},
		{[]byte("hello\n"), nil},
		{[]byte("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\n"), utf8Split},
		{[]byte{0, 0xff, '\r', '\n', 0x1b, '['}, append(cut(0, false), cut(7, true)...)},
		{nil, cut(MaxMessageSize, false)},
		{nil, cut(MaxMessageSize+1, true)},
		{[]byte("x"), append(cut(MaxMessageSize-1, false), cut(2*MaxMessageSize+100, true)...)},
		{[]byte("abc"), append(append(cut(1, true), cut(3*MaxMessageSize, false)...), cut(1, true)...)},
	} {
		f.Add(seed.data, seed.cuts)
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		pieces := fuzzPieces(data, cuts)
		s := newServer(t, Options{}, scripted(pieces, nil))
		for _, proto := range allProtocols {
			c := s.mustDial(t, protoRequest(proto)...)
			msgs, err := readAll(t, c)
			if code, _ := closeCode(err); code != websocket.CloseNormalClosure {
				t.Fatalf("%s: the stream ended with %v, want close 1000", protoName(proto), err)
			}
			for i, m := range msgs {
				if n := outputBytes(t, proto, m); n < 1 || n > MaxMessageSize {
					t.Fatalf("%s: message %d carries %d bytes of output; want 1 to %d", protoName(proto), i, n, MaxMessageSize)
				}
			}
			gotOut, gotErr := streams(t, proto, msgs)
			wantOut, wantErr := joinPieces(pieces, !isChannel(proto))
			if !bytes.Equal(gotOut, wantOut) || !bytes.Equal(gotErr, wantErr) {
				t.Fatalf("%s: stdout %d bytes (want %d), stderr %d (want %d), or their bytes differ",
					protoName(proto), len(gotOut), len(wantOut), len(gotErr), len(wantErr))
			}
			compareMessages(t, msgs, expectedMessages(proto, pieces))
			if p := s.waitServed(t); p != nil {
				t.Fatalf("%s: Serve panicked: %v", protoName(proto), p)
			}
		}
	})
}

// outputBytes is how many bytes of output message m carries under proto.
func outputBytes(t *testing.T, proto string, m message) int {
	switch {
	case isChannel(proto):
		return len(m.data) - 1
	case proto == b64:
		n, err := base64.StdEncoding.DecodeString(string(m.data))
		if err != nil {
			t.Fatalf("a base64 message does not decode: %v", err)
		}
		return len(n)
	default:
		return len(m.data)
	}
}

// fuzzReadLimit is the servers' ReadLimit in FuzzWebSocketClientMessages:
// small, so that inputs cross it often.
const fuzzReadLimit = 64

// clientMessage is one message a fuzzed client sends.
type clientMessage struct {
	kind int
	data []byte
}

// clientMessages decodes script: each message is a byte whose two low bits
// pick the kind (text, binary, ping, pong) and whose two high bits scale the
// size, a byte of size, then the payload taken from the rest of script
// (repeated as needed). Control payloads are cut to 125 bytes, the
// protocol's limit.
func clientMessages(script []byte) []clientMessage {
	kinds := []int{websocket.TextMessage, websocket.BinaryMessage, websocket.PingMessage, websocket.PongMessage}
	var msgs []clientMessage
	for i := 0; i+1 < len(script) && len(msgs) < 64; i += 2 {
		op := script[i]
		m := clientMessage{kind: kinds[op&3], data: make([]byte, int(script[i+1])*(1+int(op>>6)))}
		if m.kind == websocket.PingMessage || m.kind == websocket.PongMessage {
			m.data = m.data[:min(len(m.data), 125)]
		}
		rest := script[i+2:]
		for j := range m.data {
			if len(rest) > 0 {
				m.data[j] = rest[j%len(rest)]
			}
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// FuzzWebSocketClientMessages feeds arbitrary client input to the server's
// reader during a stream. As messages: data messages up to ReadLimit, pings
// and pongs are taken in and ignored (the server still answers a ping and
// the stream ends normally); the first data message over the limit closes
// the connection with 1009 and cancels the copier. As raw bytes on the
// connection (any frames, masked or not, or none): the server must not
// panic, and once the client is gone the copier is cancelled and Serve
// returns.
func FuzzWebSocketClientMessages(f *testing.F) {
	for _, seed := range []struct {
		script []byte
		raw    bool
	}{
		{nil, false},
		{[]byte{0, 2, 'h', 'i'}, false},
		{[]byte{1, fuzzReadLimit}, false},
		{[]byte{1, fuzzReadLimit + 1}, false},
		{[]byte{2, 5, 3, 5, 0, 1, 0xc1, 255}, false},
		{[]byte{0, 3, 0xff, 0xfe, 0xfd}, false},
		{[]byte("GET / HTTP/1.1\r\n\r\n"), true},
		{[]byte{0x81, 0x02, 'h', 'i'}, true},
		{[]byte{0xf1, 0x80, 0, 0, 0, 0}, true},
		{[]byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}, true},
		{[]byte{0x89, 0xfe, 0x01, 0x00, 1, 2, 3, 4}, true},
		{[]byte{0x88, 0x81, 1, 2, 3, 4, 5}, true},
	} {
		f.Add(seed.script, seed.raw)
	}
	f.Fuzz(func(t *testing.T, script []byte, raw bool) {
		w := newWaiter("hello")
		s := newServer(t, Options{ReadLimit: fuzzReadLimit}, w.copy)
		c := s.mustDial(t, v5)
		_ = c.SetReadDeadline(time.Now().Add(wait))
		if _, data, err := c.ReadMessage(); err != nil || string(data) != "\x01hello" {
			t.Fatalf("first message %q, %v", data, err)
		}
		if raw {
			// The server may close first (a protocol error): the write may fail.
			_, _ = c.NetConn().Write(script)
			_ = c.NetConn().Close()
			w.waitCancelled(t)
			if p := s.waitServed(t); p != nil {
				t.Fatalf("Serve panicked: %v", p)
			}
			return
		}

		barrier := make(chan struct{})
		c.SetPongHandler(func(data string) error {
			if data == "barrier" {
				close(barrier)
			}
			return nil
		})
		done := readInBackground(t, c)
		tooBig := false
		for _, m := range clientMessages(script) {
			var err error
			if m.kind == websocket.PingMessage || m.kind == websocket.PongMessage {
				err = c.WriteControl(m.kind, m.data, time.Now().Add(wait))
			} else {
				err = c.WriteMessage(m.kind, m.data)
				tooBig = len(m.data) > fuzzReadLimit
			}
			if err != nil {
				t.Fatalf("writing a %d-byte message of kind %d: %v", len(m.data), m.kind, err)
			}
			if tooBig {
				break
			}
		}
		if tooBig {
			w.waitCancelled(t)
			if code, _ := closeCode(waitErr(t, done)); code != websocket.CloseMessageTooBig {
				t.Fatalf("a message over the limit closed with %d, want 1009", code)
			}
		} else {
			if err := c.WriteControl(websocket.PingMessage, []byte("barrier"), time.Now().Add(wait)); err != nil {
				t.Fatal(err)
			}
			select {
			case <-barrier:
			case err := <-done:
				t.Fatalf("the stream ended before the server answered a ping: %v", err)
			case <-time.After(wait):
				t.Fatal("no answer to a ping")
			}
			w.notCancelled(t)
			close(w.release)
			if code, _ := closeCode(waitErr(t, done)); code != websocket.CloseNormalClosure {
				t.Fatalf("ended with %d, want 1000", code)
			}
		}
		if p := s.waitServed(t); p != nil {
			t.Fatalf("Serve panicked: %v", p)
		}
	})
}
