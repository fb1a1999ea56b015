package registry

import "net/http"

// LogSubresource is what the log subresources (containers/log,
// containernamespaces/log) have in common as rest.Connecter and
// rest.StorageMetadata: GET only, producing text (the raw output).
type LogSubresource struct{}

func (LogSubresource) Destroy() {}

func (LogSubresource) ConnectMethods() []string { return []string{http.MethodGet} }

func (LogSubresource) ProducesMIMETypes(string) []string {
	return []string{"text/plain", "application/octet-stream"}
}

func (LogSubresource) ProducesObject(string) interface{} { return "" }
