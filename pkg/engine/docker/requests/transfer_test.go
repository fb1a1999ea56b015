package requests

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func trackLines(t *testing.T, lines string) (*transferTracker, error) {
	t.Helper()
	tr := newTransferTracker()
	dec := json.NewDecoder(strings.NewReader(lines))
	for dec.More() {
		var m transferMessage
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if err := m.err(); err != nil {
			return tr, err
		}
		tr.add(&m)
	}
	return tr, nil
}

func TestTransferTrackerPull(t *testing.T) {
	tr, err := trackLines(t, `
{"status":"Pulling from x/bb","id":"v1"}
{"status":"Pulling fs layer","progressDetail":{},"id":"aaa"}
{"status":"Pulling fs layer","progressDetail":{},"id":"bbb"}
{"status":"Downloading","progressDetail":{"current":100,"total":1000},"id":"aaa"}
{"status":"Downloading","progressDetail":{"current":50,"total":500},"id":"bbb"}`)
	if err != nil {
		t.Fatal(err)
	}
	p := tr.progress(time.Now())
	if p.Layers != 2 || p.LayersDone != 0 || p.CurrentBytes != 150 || p.TotalBytes != 1500 || p.Message != "Downloading" {
		t.Fatalf("mid-pull progress = %+v", p)
	}
	// Extracting reports its own counter; the byte count must not go back.
	tr2, _ := trackLines(t, `
{"status":"Downloading","progressDetail":{"current":100,"total":1000},"id":"aaa"}
{"status":"Download complete","progressDetail":{},"id":"aaa"}
{"status":"Extracting","progressDetail":{"current":10,"total":1000},"id":"aaa"}`)
	if p := tr2.progress(time.Now()); p.CurrentBytes != 1000 || p.LayersDone != 0 {
		t.Fatalf("extracting progress = %+v", p)
	}
	tr3, _ := trackLines(t, `
{"status":"Downloading","progressDetail":{"current":100,"total":1000},"id":"aaa"}
{"status":"Pull complete","progressDetail":{},"id":"aaa"}
{"status":"Already exists","progressDetail":{},"id":"ccc"}
{"status":"Digest: sha256:abc"}
{"status":"Status: Downloaded newer image for x/bb:v1"}`)
	p = tr3.progress(time.Now())
	if p.Layers != 2 || p.LayersDone != 2 || p.CurrentBytes != 1000 || p.TotalBytes != 1000 {
		t.Fatalf("final progress = %+v", p)
	}
	if tr3.summary != "Status: Downloaded newer image for x/bb:v1" || p.Message != tr3.summary {
		t.Fatalf("summary %q, message %q", tr3.summary, p.Message)
	}
}

func TestTransferTrackerPush(t *testing.T) {
	tr, err := trackLines(t, `
{"status":"The push refers to repository [127.0.0.1:5000/bb]"}
{"status":"Preparing","progressDetail":{},"id":"aaa"}
{"status":"Pushing","progressDetail":{"current":512,"total":2048},"id":"aaa"}
{"status":"Pushed","progressDetail":{},"id":"aaa"}
{"status":"Mounted from other/repo","progressDetail":{},"id":"bbb"}
{"status":"v1: digest: sha256:0123 size: 527"}
{"progressDetail":{},"aux":{"Tag":"v1","Digest":"sha256:0123","Size":527}}`)
	if err != nil {
		t.Fatal(err)
	}
	p := tr.progress(time.Now())
	if p.Layers != 2 || p.LayersDone != 2 || p.CurrentBytes != 2048 || tr.digest != "sha256:0123" {
		t.Fatalf("push progress = %+v, digest %q", p, tr.digest)
	}
}

func TestTransferMessageError(t *testing.T) {
	_, err := trackLines(t, `
{"status":"The push refers to repository [127.0.0.1:5000/nonexist]"}
{"errorDetail":{"message":"An image does not exist locally with the tag: 127.0.0.1:5000/nonexist"},"error":"An image does not exist locally with the tag: 127.0.0.1:5000/nonexist"}`)
	if err == nil || !strings.Contains(err.Error(), "does not exist locally") {
		t.Fatalf("err = %v", err)
	}
}
