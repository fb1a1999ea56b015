package container

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/printers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// tableColumns are what `kubectl get` shows; Priority 1 columns appear with -o wide.
var tableColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "The full Docker container ID."},
	{Name: "Container", Type: "string", Description: "The Docker container name."},
	{Name: "Image", Type: "string", Description: "The image reference the container was created from."},
	{Name: "Status", Type: "string", Description: "The container state, as `docker ps` words it."},
	{Name: "Ports", Type: "string", Description: "Published and exposed ports."},
	{Name: "Age", Type: "string", Description: "Time since the container was created."},
	{Name: "Command", Type: "string", Priority: 1, Description: "The command the container runs."},
	{Name: "Created", Type: "string", Format: "date-time", Priority: 1, Description: "When the container was created."},
}

// tableConvertor renders Containers as rows like `docker ps`.
type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := time.Now()
	return registry.NewTable(obj, tableOptions, tableColumns, func(o runtime.Object) ([]any, error) {
		c, ok := o.(*containers.Container)
		if !ok {
			return nil, fmt.Errorf("cannot render %T as a container table", o)
		}
		return []any{
			c.Name, c.Status.Name, printers.Image(c), printers.Status(c, now), printers.Ports(c.Status.Ports),
			registry.Age(&c.CreationTimestamp, now), printers.Command(c), printers.Created(c),
		}, nil
	})
}
