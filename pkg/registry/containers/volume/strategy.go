// Package volume serves the volumes resource: Volume mirrors of Docker volumes.
package volume

import (
	"fmt"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// GetAttrs returns the labels and the selectable fields of a Volume.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	v, ok := obj.(*containers.Volume)
	if !ok {
		return nil, nil, fmt.Errorf("given object is not a Volume: %T", obj)
	}
	return labels.Set(v.Labels), SelectableFields(v), nil
}

// SelectableFields are the fields a field selector on volumes may use; keep in
// step with v1alpha1.VolumeSelectableFields.
func SelectableFields(v *containers.Volume) fields.Set {
	f := generic.ObjectMetaFieldsSet(&v.ObjectMeta, true)
	f["status.name"] = v.Status.Name
	return f
}

// Match returns the predicate that filters Volumes by label and field selectors.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
