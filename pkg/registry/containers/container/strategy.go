// Package container serves the containers resource: Container mirrors of Docker containers.
package container

import (
	"fmt"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// GetAttrs returns the labels and the selectable fields of a Container.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	c, ok := obj.(*containers.Container)
	if !ok {
		return nil, nil, fmt.Errorf("given object is not a Container: %T", obj)
	}
	return labels.Set(c.Labels), SelectableFields(c), nil
}

// SelectableFields are the fields a field selector on containers may use; keep
// in step with v1alpha1.ContainerSelectableFields.
func SelectableFields(c *containers.Container) fields.Set {
	f := generic.ObjectMetaFieldsSet(&c.ObjectMeta, true)
	f["status.name"] = c.Status.Name
	f["status.status"] = c.Status.Status
	f["status.image"] = c.Status.Image
	return f
}

// Match returns the predicate that filters Containers by label and field selectors.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
