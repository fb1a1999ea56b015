package bench

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const (
	acceptJSON  = "application/json"
	acceptTable = "application/json;as=Table;v=v1;g=meta.k8s.io"
)

// listCase is one way of listing the collection.
type listCase struct {
	name   string
	accept string
	gzip   bool // ask for gzip and count wire bytes; decompression is timed
	table  bool // the body is a meta.k8s.io Table
}

type listResult struct {
	name     string
	bytes    int64 // on the wire
	rawBytes int64 // after decompression
	stats    summary
}

var listCases = []listCase{
	{name: "JSON", accept: acceptJSON},
	{name: "Table", accept: acceptTable, table: true},
	{name: "JSON, gzip (kubectl)", accept: acceptJSON, gzip: true},
}

func measureLists(ctx context.Context, t *testing.T, s *testenv.Server, p params) []listResult {
	t.Helper()
	cfg := rest.CopyConfig(s.Config)
	// The transport must not add Accept-Encoding by itself: each case says.
	cfg.DisableCompression = true
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatalf("transport for %s: %v", s.URL, err)
	}
	hc := &http.Client{Transport: rt}
	defer hc.CloseIdleConnections()
	url := s.URL + "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/" + s.Namespace + "/containers"

	var out []listResult
	for _, c := range listCases {
		r := listResult{name: c.name}
		var samples []time.Duration
		for i := range p.listWarmup + p.listIters {
			d, wire, body, err := listOnce(ctx, hc, url, c)
			if err != nil {
				t.Fatalf("LIST %s (iteration %d): %v", c.name, i, err)
			}
			// Check what came back, outside the timing, on the first and last pass.
			if i == 0 || i == p.listWarmup+p.listIters-1 {
				if n, err := countItems(body, c.table); err != nil {
					t.Fatalf("LIST %s: %v", c.name, err)
				} else if n != p.containers {
					t.Fatalf("LIST %s returned %d items, want %d", c.name, n, p.containers)
				}
			}
			if i >= p.listWarmup {
				samples = append(samples, d)
				r.bytes, r.rawBytes = wire, int64(len(body))
			}
		}
		r.stats = summarize(samples)
		t.Logf("LIST %-22s %s: p50 %s p99 %s mean %s", c.name, humanBytes(r.bytes), ms(r.stats.P50), ms(r.stats.P99), ms(r.stats.Mean))
		out = append(out, r)
	}
	return out
}

// listOnce does one GET of the collection and reads the whole body. It
// returns the time from sending the request to the end of the body, the bytes
// on the wire and the (decompressed) body.
func listOnce(ctx context.Context, hc *http.Client, url string, c listCase) (time.Duration, int64, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, nil, err
	}
	req.Header.Set("Accept", c.accept)
	if c.gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	} else {
		req.Header.Set("Accept-Encoding", "identity")
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, 0, nil, err
	}
	defer resp.Body.Close()
	cr := &countingReader{r: resp.Body}
	var body []byte
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(cr)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("gzip body: %w", err)
		}
		body, err = io.ReadAll(zr)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("reading gzip body: %w", err)
		}
	} else {
		body, err = io.ReadAll(cr)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("reading body: %w", err)
		}
	}
	d := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		return 0, 0, nil, fmt.Errorf("HTTP %s: %.300s", resp.Status, body)
	}
	return d, cr.n, body, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// countItems decodes a list or a Table and returns its number of items or rows.
func countItems(body []byte, table bool) (int, error) {
	var v struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
		Rows  []json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return 0, fmt.Errorf("decoding the body: %w", err)
	}
	if table {
		if v.Kind != "Table" {
			return 0, fmt.Errorf("asked for a Table, got kind %q", v.Kind)
		}
		return len(v.Rows), nil
	}
	if v.Kind != "ContainerList" {
		return 0, fmt.Errorf("asked for a list, got kind %q", v.Kind)
	}
	return len(v.Items), nil
}
