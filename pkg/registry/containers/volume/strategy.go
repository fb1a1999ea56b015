// Package volume serves the volumes resource: Volume mirrors of Docker volumes.
package volume

import (
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// GetAttrs returns the labels and the selectable fields of a Volume.
var GetAttrs = registry.AttrsFunc(SelectableFields)

// SelectableFields are the fields a field selector on volumes may use:
// metadata.name, metadata.namespace and containers.VolumeFields.
var SelectableFields = registry.FieldsSet(containers.VolumeFields)
