// Package volume serves the volumes resource: Volume mirrors of Docker volumes.
package volume

import (
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// GetAttrs returns the labels and the selectable fields of a Volume.
var GetAttrs = registry.AttrsFunc(SelectableFields)

// SelectableFields are the fields a field selector on volumes may use; keep in
// step with v1alpha1.VolumeSelectableFields.
func SelectableFields(v *containers.Volume) fields.Set {
	f := generic.ObjectMetaFieldsSet(&v.ObjectMeta, true)
	f["status.name"] = v.Status.Name
	return f
}
