// Package v1alpha1 is the served version of containers.rancherdesktop.io.
//
// +k8s:openapi-gen=true
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers
// +k8s:defaulter-gen=TypeMeta
// +k8s:openapi-model-package=io.rancherdesktop.containers.v1alpha1
// +groupName=containers.rancherdesktop.io
package v1alpha1
