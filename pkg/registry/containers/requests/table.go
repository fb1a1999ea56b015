package requests

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
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
	table := &metav1.Table{}
	if opts, ok := tableOptions.(*metav1.TableOptions); !ok || !opts.NoHeaders {
		table.ColumnDefinitions = tableColumns
	}
	isList := meta.IsListType(obj)
	objs, err := meta.ExtractList(obj)
	if !isList || err != nil {
		isList = false
		if _, err := meta.Accessor(obj); err != nil {
			return nil, fmt.Errorf("cannot render %T as a %s table", obj, c.kind.resource)
		}
		objs = []runtime.Object{obj}
	}
	now := time.Now()
	table.Rows = make([]metav1.TableRow, 0, len(objs))
	for _, o := range objs {
		m, err := meta.Accessor(o)
		if err != nil {
			return nil, err
		}
		s := c.kind.summary(o)
		phase, message := Phase(s.conditions, s.progress)
		age := "<unknown>"
		if ts := m.GetCreationTimestamp(); !ts.IsZero() {
			age = duration.HumanDuration(now.Sub(ts.Time))
		}
		table.Rows = append(table.Rows, metav1.TableRow{
			Object: runtime.RawExtension{Object: o},
			Cells:  []interface{}{m.GetName(), s.target, phase, age, s.result, message},
		})
	}
	if m, err := meta.ListAccessor(obj); err == nil && isList {
		table.ResourceVersion = m.GetResourceVersion()
		table.Continue = m.GetContinue()
		table.RemainingItemCount = m.GetRemainingItemCount()
	} else if m, err := meta.CommonAccessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
	}
	return table, nil
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
