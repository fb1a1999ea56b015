// Package container serves the containers resource: Container mirrors of Docker containers.
package container

import (
	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/registry"
)

// GetAttrs returns the labels and the selectable fields of a Container.
var GetAttrs = registry.AttrsFunc(SelectableFields)

// SelectableFields are the fields a field selector on containers may use:
// metadata.name, metadata.namespace and containers.ContainerFields.
var SelectableFields = registry.FieldsSet(containers.ContainerFields)
