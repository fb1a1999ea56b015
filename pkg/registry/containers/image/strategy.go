// Package image serves the images resource: Image mirrors of Docker image tags.
package image

import (
	"fmt"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// GetAttrs returns the labels and the selectable fields of an Image.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	img, ok := obj.(*containers.Image)
	if !ok {
		return nil, nil, fmt.Errorf("given object is not an Image: %T", obj)
	}
	return labels.Set(img.Labels), SelectableFields(img), nil
}

// SelectableFields are the fields a field selector on images may use; keep in
// step with v1alpha1.ImageSelectableFields.
func SelectableFields(img *containers.Image) fields.Set {
	f := generic.ObjectMetaFieldsSet(&img.ObjectMeta, true)
	f["status.id"] = img.Status.ID
	f["status.repoTag"] = img.Status.RepoTag
	return f
}

// Match returns the predicate that filters Images by label and field selectors.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
