package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// TestStatusError: each engine error kind gets its one API status, with the
// engine's message; API statuses and nil pass through.
func TestStatusError(t *testing.T) {
	res := containers.Resource("containers")
	for _, tc := range []struct {
		err  error
		code int32
	}{
		{engine.Errorf(engine.NotFound, "no such container"), http.StatusNotFound},
		{engine.Errorf(engine.Conflict, "in use by 5d1e"), http.StatusConflict},
		{engine.Errorf(engine.Unavailable, "docker engine at unix:///x not reachable"), http.StatusServiceUnavailable},
		{engine.Errorf(engine.InvalidArgument, "bad option"), http.StatusBadRequest},
		{engine.Errorf(engine.NotImplemented, "log driver none"), http.StatusNotImplemented},
		{engine.Errorf(engine.Deadline, "too slow"), http.StatusGatewayTimeout},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), http.StatusGatewayTimeout},
		{fmt.Errorf("outer: %w", engine.Errorf(engine.Conflict, "inner")), http.StatusConflict},
		{errors.New("something else"), http.StatusInternalServerError},
		{apierrors.NewBadRequest("already a status"), http.StatusBadRequest},
	} {
		got := StatusError(tc.err, res, "x")
		var st apierrors.APIStatus
		if !errors.As(got, &st) || st.Status().Code != tc.code {
			t.Errorf("StatusError(%v) = %v, want code %d", tc.err, got, tc.code)
			continue
		}
		if tc.code != http.StatusInternalServerError && tc.code != http.StatusGatewayTimeout && !strings.Contains(st.Status().Message, tc.err.Error()) {
			t.Errorf("StatusError(%v): message %q lost the engine's words", tc.err, st.Status().Message)
		}
	}
	if StatusError(nil, res, "x") != nil {
		t.Error("StatusError(nil) is not nil")
	}
}
