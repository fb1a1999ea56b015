package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// ExecProtocol is the subprotocol a browser uses for containers/exec: its
// messages are text, a channel digit followed by the base64 of the payload.
const ExecProtocol = "base64.channel.k8s.io"

// ExecInput is what the exec page sends once the WebSocket is open: a
// terminal size (channel 4, at once), then Input (channel 0), as typed.
type ExecInput struct {
	// Width and Height, when both are set, are sent as the resize message
	// {"Width":W,"Height":H} right after the socket opens.
	Width, Height int
	// Input is sent on stdin when the command's first output arrives (a
	// shell's prompt), or after InputDelay without output, whichever is
	// first. Empty sends nothing.
	Input string
	// InputDelay bounds the wait for the first output before Input is sent
	// (zero: 2 s).
	InputDelay time.Duration
}

// ExecInBrowser opens the exec page: Chromium connects to opts.URL (an exec
// URL, its query included) with opts.Protocol (ExecProtocol when empty) and
// the bearer subprotocol, sends in, and reports what came back: stdout and
// stderr (channels 1 and 2) in Result.Stdout and Result.Stderr, the status
// (channel 3) in Result.ErrorChannel, and the close. It waits for the report
// (bounded by ctx and opts.Timeout) and stops Chromium; the error is non-nil
// only when no report arrived. MaxLines and MaxBytes are ignored.
func ExecInBrowser(ctx context.Context, t testing.TB, opts Options, in ExecInput) (Result, error) {
	t.Helper()
	if opts.Protocol == "" {
		opts.Protocol = ExecProtocol
	}
	extra := url.Values{"input": {in.Input}}
	if in.Width > 0 && in.Height > 0 {
		extra.Set("cols", strconv.Itoa(in.Width))
		extra.Set("rows", strconv.Itoa(in.Height))
	}
	delay := in.InputDelay
	if delay <= 0 {
		delay = 2 * time.Second
	}
	extra.Set("inputDelayMs", strconv.FormatInt(delay.Milliseconds(), 10))
	s, err := start(ctx, t, opts, execPageHTML, extra)
	if err != nil {
		return Result{}, err
	}
	defer s.Close()
	return s.Wait(ctx)
}

// ExitCode reads the exec status the page received on channel 3: 0 for
// Success, N for a NonZeroExitCode Failure with an ExitCode cause N (in
// JSON {"reason":"ExitCode","message":"N"}, as kubelet sends it). Any
// other status (or none) is an error.
func (r Result) ExitCode() (int, error) {
	if r.ErrorChannel == "" {
		return -1, fmt.Errorf("no status on channel 3")
	}
	var st struct {
		Status, Reason, Message string
		Details                 *struct {
			// metav1.StatusCause's Type is "reason" in JSON.
			Causes []struct {
				Type    string `json:"reason"`
				Message string `json:"message"`
			}
		}
	}
	if err := json.Unmarshal([]byte(r.ErrorChannel), &st); err != nil {
		return -1, fmt.Errorf("status %q: %w", r.ErrorChannel, err)
	}
	switch {
	case st.Status == "Success":
		return 0, nil
	case st.Status == "Failure" && st.Reason == "NonZeroExitCode" && st.Details != nil:
		for _, c := range st.Details.Causes {
			if c.Type == "ExitCode" {
				return strconv.Atoi(c.Message)
			}
		}
	}
	return -1, fmt.Errorf("status without an exit code: %s", r.ErrorChannel)
}

// execPageHTML is the exec test page. Parameters in the URL fragment: url,
// proto (base64.channel.k8s.io, v5.channel.k8s.io or v4.channel.k8s.io),
// token, cols and rows, input, inputDelayMs, timeoutMs. It reports to /event
// and /result like the log page, with the same result fields.
const execPageHTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>exec WebSocket test</title></head>
<body><pre id="out"></pre>
<script>
"use strict";
(async () => {
  const p = new URLSearchParams(location.hash.slice(1));
  const url = p.get("url");
  const proto = p.get("proto") || "";
  const cols = parseInt(p.get("cols") || "0", 10);
  const rows = parseInt(p.get("rows") || "0", 10);
  const input = p.get("input") || "";
  const inputDelayMs = parseInt(p.get("inputDelayMs") || "2000", 10);
  const timeoutMs = parseInt(p.get("timeoutMs") || "0", 10);
  const t0 = performance.now();
  const r = {
    url: url, requestedProtocols: [], protocol: "", opened: false, errorEvent: false,
    closed: false, closeCode: 0, closeReason: "", wasClean: false,
    stdout: "", stderr: "", errorChannel: "", other: "",
    frames: 0, bytes: 0, lines: 0, done: "", events: [], probes: {}, exception: ""
  };
  const ev = (s) => r.events.push(Math.round(performance.now() - t0) + "ms " + s);
  const post = (path, body) => fetch(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  const dec = {stdout: new TextDecoder(), stderr: new TextDecoder(), errorChannel: new TextDecoder(), other: new TextDecoder()};

  let reported = false;
  const report = async (done) => {
    if (reported) return;
    reported = true;
    r.done = done;
    ev("report " + done);
    for (const k of ["stdout", "stderr", "errorChannel", "other"]) r[k] += dec[k].decode();
    await post("/result", r);
    document.getElementById("out").textContent = JSON.stringify(r, null, 2);
  };

  const bytesToBinary = (bytes) => {
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return bin;
  };
  const b64url = (s) => btoa(bytesToBinary(new TextEncoder().encode(s))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const text = proto === "base64.channel.k8s.io";

  try {
    const protocols = [];
    if (proto) protocols.push(proto);
    if (p.has("token")) protocols.push("base64url.bearer.authorization.k8s.io." + b64url(p.get("token")));
    r.requestedProtocols = protocols.map((s) => s.startsWith("base64url.bearer.") ? "base64url.bearer.authorization.k8s.io.<token>" : s);
    if (timeoutMs > 0) setTimeout(() => report("timeout"), timeoutMs);

    const ws = new WebSocket(url, protocols);
    ws.binaryType = "arraybuffer";
    // send writes payload (a Uint8Array) on channel ch.
    const send = (ch, payload) => {
      if (text) ws.send(String.fromCharCode(48 + ch) + btoa(bytesToBinary(payload)));
      else { const m = new Uint8Array(payload.length + 1); m[0] = ch; m.set(payload, 1); ws.send(m); }
    };
    let inputSent = false;
    const sendInput = (why) => {
      if (inputSent || !input) return;
      inputSent = true;
      send(0, new TextEncoder().encode(input));
      ev("sent input (" + why + ")");
    };
    const add = (key, bytes) => {
      r[key] += dec[key].decode(bytes, {stream: true});
      if (key === "stdout" || key === "stderr") {
        r.bytes += bytes.length;
        for (const b of bytes) if (b === 10) r.lines++;
      }
    };
    ws.onopen = () => {
      r.opened = true;
      r.protocol = ws.protocol;
      ev("open " + ws.protocol);
      post("/event", {type: "open", protocol: ws.protocol});
      if (cols > 0 && rows > 0) {
        send(4, new TextEncoder().encode(JSON.stringify({Width: cols, Height: rows})));
        ev("sent resize " + cols + "x" + rows);
      }
      setTimeout(() => sendInput("no output after " + inputDelayMs + "ms"), inputDelayMs);
    };
    ws.onerror = () => { r.errorEvent = true; ev("error"); };
    ws.onclose = (e) => {
      r.closed = true;
      r.closeCode = e.code;
      r.closeReason = e.reason;
      r.wasClean = e.wasClean;
      ev("close " + e.code + " " + e.reason);
      report("closed");
    };
    ws.onmessage = (e) => {
      r.frames++;
      let ch, bytes;
      if (typeof e.data === "string") {
        if (!text || e.data.length === 0) { r.other += "[unexpected text message]"; return; }
        ch = e.data.charCodeAt(0) - 48;
        const bin = atob(e.data.slice(1));
        bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      } else {
        const all = new Uint8Array(e.data);
        if (text || all.length === 0) { r.other += "[unexpected binary message]"; return; }
        ch = all[0];
        bytes = all.subarray(1);
      }
      if (ch === 1) add("stdout", bytes);
      else if (ch === 2) add("stderr", bytes);
      else if (ch === 3) { add("errorChannel", bytes); ev("status"); }
      else add("other", bytes);
      if ((ch === 1 || ch === 2) && bytes.length > 0 && !inputSent) {
        ev("first output");
        post("/event", {type: "data"});
        sendInput("after the first output");
      }
    };
  } catch (e) {
    r.exception = String(e);
    ev("exception " + e);
    report("exception");
  }
})();
</script></body></html>
`
