// Package container serves the containers resource: Container mirrors of Docker containers.
package container

import (
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// GetAttrs returns the labels and the selectable fields of a Container.
var GetAttrs = registry.AttrsFunc(SelectableFields)

// SelectableFields are the fields a field selector on containers may use; keep
// in step with v1alpha1.ContainerSelectableFields.
func SelectableFields(c *containers.Container) fields.Set {
	f := generic.ObjectMetaFieldsSet(&c.ObjectMeta, true)
	f["status.name"] = c.Status.Name
	f["status.status"] = c.Status.Status
	f["status.image"] = c.Status.Image
	return f
}
