package volume

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// tableColumns are what `kubectl get` shows, like `docker volume ls`; Priority
// 1 columns appear with -o wide.
var tableColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "vol- and a hash of the volume name."},
	{Name: "Volume Name", Type: "string", Description: "The Docker volume name."},
	{Name: "Driver", Type: "string", Description: "The volume driver."},
	{Name: "Scope", Type: "string", Description: "local or global."},
	{Name: "Age", Type: "string", Description: "Time since the volume was created; <unknown> when the driver does not say."},
	{Name: "Mountpoint", Type: "string", Priority: 1, Description: "Where the volume lives on the engine's host."},
}

// tableConvertor renders Volumes as rows like `docker volume ls`.
type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := time.Now()
	return registry.NewTable(obj, tableOptions, tableColumns, func(o runtime.Object) ([]any, error) {
		v, ok := o.(*containers.Volume)
		if !ok {
			return nil, fmt.Errorf("cannot render %T as a volume table", o)
		}
		s := v.Status
		return []any{v.Name, s.Name, s.Driver, s.Scope, registry.Age(s.CreatedAt, now), s.Mountpoint}, nil
	})
}
