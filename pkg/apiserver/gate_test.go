package apiserver

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func TestFirstSyncGate(t *testing.T) {
	g := &firstSyncGate{}
	h := g.wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	code := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	group := []string{groupPath, groupPath + "/v1alpha1", groupPath + "/v1alpha1/namespaces/x/containers"}
	others := []string{"/apis", "/readyz", "/apis/containers.rancherdesktop.io.example/v1"}

	for _, p := range group {
		if c := code(p); c != http.StatusServiceUnavailable {
			t.Errorf("before New set it, %s: %d, want 503", p, c)
		}
	}
	var synced atomic.Bool
	f := synced.Load
	g.synced.Store(&f)
	for _, p := range group {
		if c := code(p); c != http.StatusServiceUnavailable {
			t.Errorf("before the first sync, %s: %d, want 503", p, c)
		}
	}
	for _, p := range others {
		if c := code(p); c != http.StatusTeapot {
			t.Errorf("%s is not the group's and must pass: %d", p, c)
		}
	}
	synced.Store(true)
	if c := code(group[1]); c != http.StatusTeapot {
		t.Errorf("after the first sync: %d", c)
	}
	// A later outage does not close it again.
	synced.Store(false)
	if c := code(group[2]); c != http.StatusTeapot {
		t.Errorf("after an outage: %d", c)
	}
}
