// Package containers holds the internal (hub) types of the
// containers.rancherdesktop.io API group: mirrors of a Docker engine's state.
//
// +k8s:deepcopy-gen=package
// +groupName=containers.rancherdesktop.io
package containers
