package containerstats

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/printers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// tableColumns are what `kubectl get containerstats` shows: the columns of
// `docker stats`, in its units (binary for memory, decimal for traffic).
var tableColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Description: "The container's Docker name."},
	{Name: "CPU %", Type: "string", Description: "CPU use over the last interval; 100% is one core."},
	{Name: "Mem Usage / Limit", Type: "string", Description: "Working set and memory limit."},
	{Name: "Mem %", Type: "string", Description: "Working set as a share of the limit."},
	{Name: "Net I/O", Type: "string", Description: "Bytes received / sent since the start."},
	{Name: "Block I/O", Type: "string", Description: "Bytes read / written since the start."},
	{Name: "PIDs", Type: "integer", Description: "Processes and threads."},
	{Name: "ID", Type: "string", Format: "name", Priority: 1, Description: "The container's ID (the object's name)."},
}

type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return registry.NewTable(obj, tableOptions, tableColumns, func(o runtime.Object) ([]any, error) {
		cs, ok := o.(*containers.ContainerStats)
		if !ok {
			return nil, fmt.Errorf("cannot render %T as a containerstats table", o)
		}
		return append(printers.StatsRow(&cs.Status), cs.Name), nil
	})
}
