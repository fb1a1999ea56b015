package requests

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// transferMessage is one line of Docker's pull or push stream; the fields
// of github.com/docker/docker/pkg/jsonmessage.JSONMessage we use (that
// package pulls terminal libraries this module does not otherwise need).
type transferMessage struct {
	Status   string `json:"status"`
	ID       string `json:"id"`
	Progress *struct {
		Current int64 `json:"current"`
		Total   int64 `json:"total"`
	} `json:"progressDetail"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	Error string          `json:"error"`
	Aux   json.RawMessage `json:"aux"`
}

// err returns the error a message carries: Docker reports failures after the
// stream has started as a message, not as an HTTP status.
func (m *transferMessage) err() error {
	switch {
	case m.ErrorDetail != nil && m.ErrorDetail.Message != "":
		return errors.New(m.ErrorDetail.Message)
	case m.Error != "":
		return errors.New(m.Error)
	}
	return nil
}

// Per-layer statuses of pulls and pushes; others ("Pulling from x", "Digest:
// ...", "Status: ...", "The push refers to ...") describe the whole transfer,
// even when they carry an id (a pull's "Pulling from" has the tag as id).
var (
	transferLayerDone = map[string]bool{
		"Pull complete": true, "Already exists": true, "Pushed": true, "Layer already exists": true,
	}
	transferLayerActive = map[string]bool{
		"Pulling fs layer": true, "Waiting": true, "Downloading": true, "Verifying Checksum": true,
		"Download complete": true, "Extracting": true, "Preparing": true, "Pushing": true,
	}
	// After these the layer's bytes are all transferred; Extracting's own
	// counter would otherwise make the byte count go back.
	transferLayerBytesDone = map[string]bool{"Download complete": true, "Extracting": true, "Verifying Checksum": true}
)

type transferLayer struct {
	current, total int64
	done           bool
}

// transferTracker sums a pull's or push's per-layer messages into one
// TransferProgress. It is used by one goroutine at a time.
type transferTracker struct {
	layers  map[string]*transferLayer
	message string
	// summary is Docker's last whole-transfer status, e.g. "Status:
	// Downloaded newer image for busybox:latest".
	summary string
	// digest is the pushed manifest's digest, from the push's aux message.
	digest string
}

func newTransferTracker() *transferTracker {
	return &transferTracker{layers: map[string]*transferLayer{}}
}

// add takes in one message and reports whether the progress changed.
func (t *transferTracker) add(m *transferMessage) bool {
	if len(m.Aux) > 0 {
		var aux struct{ Digest string }
		if json.Unmarshal(m.Aux, &aux) == nil && aux.Digest != "" {
			t.digest = aux.Digest
		}
	}
	if m.Status == "" {
		return false
	}
	isLayer := m.ID != "" && (transferLayerDone[m.Status] || transferLayerActive[m.Status] ||
		strings.HasPrefix(m.Status, "Mounted from ") || strings.HasPrefix(m.Status, "Retrying in "))
	if !isLayer {
		changed := t.message != m.Status
		t.message, t.summary = m.Status, m.Status
		return changed
	}
	l := t.layers[m.ID]
	if l == nil {
		l = &transferLayer{}
		t.layers[m.ID] = l
	}
	before := *l
	switch {
	case transferLayerDone[m.Status] || strings.HasPrefix(m.Status, "Mounted from "):
		l.done = true
		l.current = l.total
	case transferLayerBytesDone[m.Status]:
		l.current = l.total
	case m.Progress != nil && (m.Status == "Downloading" || m.Status == "Pushing"):
		if m.Progress.Total > 0 {
			l.total = m.Progress.Total
		}
		l.current = m.Progress.Current
	}
	changed := *l != before || t.message != m.Status
	t.message = m.Status
	return changed
}

// progress returns the sums as of now.
func (t *transferTracker) progress(now time.Time) *containers.TransferProgress {
	p := &containers.TransferProgress{Message: t.message, UpdatedAt: &metav1.Time{Time: now}}
	for _, l := range t.layers {
		p.Layers++
		if l.done {
			p.LayersDone++
		}
		p.CurrentBytes += l.current
		p.TotalBytes += l.total
	}
	return p
}
