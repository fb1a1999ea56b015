package apiserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// groupPath prefixes every path this server's API group serves, discovery
// included.
const groupPath = "/apis/containers.rancherdesktop.io"

// firstSyncGate answers 503 for the API group until every mirror has done its
// first full sync with Docker. kube-aggregator marks the APIService Available
// as soon as group-version discovery answers 2xx; before the first sync the
// group would serve empty lists as if Docker had nothing, and kube-apiserver
// would announce it. Later outages do not close the gate: the mirrors are
// kept as last seen and /readyz says why (see README, the mirror).
type firstSyncGate struct {
	// synced reports whether every mirror has synced once; set by New
	// before serving, nil until then (closed).
	synced atomic.Pointer[func() bool]
	// open latches once synced has said true.
	open atomic.Bool
}

func (g *firstSyncGate) isOpen() bool {
	if g.open.Load() {
		return true
	}
	if f := g.synced.Load(); f != nil && (*f)() {
		g.open.Store(true)
		return true
	}
	return false
}

// wrap guards h, the API handler (inside authentication and authorization).
func (g *firstSyncGate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if g.isOpen() || (req.URL.Path != groupPath && !strings.HasPrefix(req.URL.Path, groupPath+"/")) {
			h.ServeHTTP(w, req)
			return
		}
		st := apierrors.NewServiceUnavailable("containers-apiserver has not finished its first sync with the docker engine yet; see /readyz").Status()
		st.Kind, st.APIVersion = "Status", "v1"
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(st)
	})
}
