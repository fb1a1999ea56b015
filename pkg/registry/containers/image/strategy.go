// Package image serves the images resource: Image mirrors of Docker image tags.
package image

import (
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// GetAttrs returns the labels and the selectable fields of an Image.
var GetAttrs = registry.AttrsFunc(SelectableFields)

// SelectableFields are the fields a field selector on images may use; keep in
// step with v1alpha1.ImageSelectableFields.
func SelectableFields(img *containers.Image) fields.Set {
	f := generic.ObjectMetaFieldsSet(&img.ObjectMeta, true)
	f["status.id"] = img.Status.ID
	f["status.repoTag"] = img.Status.RepoTag
	return f
}
