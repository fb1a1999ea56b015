package api

import (
	"crypto/tls"
	"net/http"
	"testing"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// TestAuthentication: no token or a wrong token gets 401, the token works,
// health endpoints answer without one.
func TestAuthentication(t *testing.T) {
	host := testenv.DockerHost(t)
	s := testenv.StartServer(t, host, testenv.ServerOptions{})
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // test
	defer hc.CloseIdleConnections()
	list := s.URL + "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/" + s.Namespace + "/containers"

	for _, tc := range []struct {
		name, url, auth string
		want            int
	}{
		{"anonymous list", list, "", http.StatusUnauthorized},
		{"wrong token", list, "Bearer not-the-token", http.StatusUnauthorized},
		{"token", list, "Bearer " + s.Token, http.StatusOK},
		{"anonymous discovery", s.URL + "/apis", "", http.StatusUnauthorized},
		{"anonymous readyz", s.URL + "/readyz", "", http.StatusOK},
		{"anonymous livez", s.URL + "/livez", "", http.StatusOK},
		{"wrong token readyz", s.URL + "/readyz", "Bearer nope", http.StatusUnauthorized},
		{"anonymous metrics", s.URL + "/metrics", "", http.StatusUnauthorized},
		{"token metrics", s.URL + "/metrics", "Bearer " + s.Token, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%s: got %d, want %d", tc.url, resp.StatusCode, tc.want)
			}
		})
	}
}
