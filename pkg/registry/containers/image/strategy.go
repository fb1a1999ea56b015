// Package image serves the images resource: Image mirrors of Docker image tags.
package image

import (
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// GetAttrs returns the labels and the selectable fields of an Image.
var GetAttrs = registry.AttrsFunc(SelectableFields)

// SelectableFields are the fields a field selector on images may use:
// metadata.name, metadata.namespace and containers.ImageFields.
var SelectableFields = registry.FieldsSet(containers.ImageFields)
