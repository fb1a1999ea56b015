package browser

// pageHTML is the test page. Its parameters come in the URL fragment (never
// sent to any server): url, proto (may be empty: no channel subprotocol),
// token (absent: no bearer subprotocol), lines, bytes, timeoutMs, probe
// (repeatable). It reports progress to /event and the outcome, once, to
// /result, both on the origin that served it.
const pageHTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>log WebSocket test</title></head>
<body><pre id="out"></pre>
<script>
"use strict";
(async () => {
  const p = new URLSearchParams(location.hash.slice(1));
  const url = p.get("url");
  const proto = p.get("proto") || "";
  const maxLines = parseInt(p.get("lines") || "0", 10);
  const maxBytes = parseInt(p.get("bytes") || "0", 10);
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

  let reported = false;
  const report = async (done) => {
    if (reported) return;
    reported = true;
    r.done = done;
    ev("report " + done);
    for (const k of ["stdout", "stderr", "errorChannel", "other"]) r[k] += dec[k].decode();
    // Probes run last: they must not delay the WebSocket.
    for (const u of p.getAll("probe")) {
      try {
        const ctl = new AbortController();
        const timer = setTimeout(() => ctl.abort(), 5000);
        await fetch(u, {mode: "no-cors", cache: "no-store", signal: ctl.signal});
        clearTimeout(timer);
        r.probes[u] = "reachable";
      } catch (e) {
        r.probes[u] = "failed: " + e;
      }
    }
    await post("/result", r);
    document.getElementById("out").textContent = JSON.stringify(r, null, 2);
  };

  const b64url = (s) => {
    let bin = "";
    for (const b of new TextEncoder().encode(s)) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const dec = {stdout: new TextDecoder(), stderr: new TextDecoder(), errorChannel: new TextDecoder(), other: new TextDecoder()};
  const channels = proto === "v5.channel.k8s.io" || proto === "v4.channel.k8s.io";

  try {
    const protocols = [];
    if (proto) protocols.push(proto);
    if (p.has("token")) protocols.push("base64url.bearer.authorization.k8s.io." + b64url(p.get("token")));
    r.requestedProtocols = protocols.map((s) => s.startsWith("base64url.bearer.") ? "base64url.bearer.authorization.k8s.io.<token>" : s);
    if (timeoutMs > 0) setTimeout(() => report("timeout"), timeoutMs);

    const ws = new WebSocket(url, protocols);
    ws.binaryType = "arraybuffer";
    let firstData = true;
    let stopping = false;
    const add = (key, bytes) => {
      r[key] += dec[key].decode(bytes, {stream: true});
      if (key !== "errorChannel") {
        r.bytes += bytes.length;
        for (const b of bytes) if (b === 10) r.lines++;
      }
    };
    ws.onopen = () => {
      r.opened = true;
      r.protocol = ws.protocol;
      ev("open " + ws.protocol);
      post("/event", {type: "open", protocol: ws.protocol});
    };
    ws.onerror = () => { r.errorEvent = true; ev("error"); };
    ws.onclose = (e) => {
      r.closed = true;
      r.closeCode = e.code;
      r.closeReason = e.reason;
      r.wasClean = e.wasClean;
      ev("close " + e.code + " " + e.reason);
      report(stopping ? "limit" : "closed");
    };
    ws.onmessage = (e) => {
      r.frames++;
      let bytes;
      if (typeof e.data === "string") {
        // base64.binary.k8s.io: each text frame is the base64 of one piece.
        const bin = atob(e.data);
        bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      } else {
        bytes = new Uint8Array(e.data);
      }
      if (channels) {
        if (bytes.length === 0) return;
        const ch = bytes[0], rest = bytes.subarray(1);
        if (ch === 1) add("stdout", rest);
        else if (ch === 2) add("stderr", rest);
        else if (ch === 3) add("errorChannel", rest);
        else add("other", rest);
      } else {
        add("stdout", bytes);
      }
      if (firstData && r.bytes > 0) {
        firstData = false;
        ev("first data");
        post("/event", {type: "data"});
      }
      if (!stopping && ((maxLines > 0 && r.lines >= maxLines) || (maxBytes > 0 && r.bytes >= maxBytes))) {
        stopping = true;
        ev("limit reached, closing");
        ws.close(1000, "enough");
        // Do not depend on the server's close frame.
        setTimeout(() => report("limit"), 3000);
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
