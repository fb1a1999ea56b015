package requests

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

var tableColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "The request's name."},
	{Name: "Target", Type: "string", Description: "What the request is about: image, reference or name."},
	{Name: "Status", Type: "string", Description: "Pending, Running, Complete or Failed."},
	{Name: "Age", Type: "string", Description: "Time since the request was created."},
	{Name: "Result", Type: "string", Priority: 1, Description: "Container ID, image ID, digest or volume name."},
	{Name: "Message", Type: "string", Priority: 1, Description: "Why the request failed, or its latest progress."},
}

// tableConvertor renders requests for `kubectl get`.
type tableConvertor struct{ kind *kind }

func (c tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := time.Now()
	return registry.NewTable(obj, tableOptions, tableColumns, func(o runtime.Object) ([]any, error) {
		m, err := meta.Accessor(o)
		if err != nil {
			return nil, fmt.Errorf("cannot render %T as a %s table", o, c.kind.resource)
		}
		s := c.kind.summary(o)
		phase, message := Phase(s.conditions, s.progress)
		created := m.GetCreationTimestamp()
		return []any{m.GetName(), s.target, phase, registry.Age(&created, now), s.result, message}, nil
	})
}

// Phase words a request's state: Complete or Failed once a condition says
// so, Running while progress is reported, else Pending; and the message to
// show with it.
func Phase(conds []metav1.Condition, progress *containers.TransferProgress) (phase, message string) {
	for _, c := range conds {
		if c.Status == metav1.ConditionTrue && (c.Type == containers.RequestComplete || c.Type == containers.RequestFailed) {
			return c.Type, c.Message
		}
	}
	if progress != nil {
		return "Running", progress.Message
	}
	return "Pending", ""
}
