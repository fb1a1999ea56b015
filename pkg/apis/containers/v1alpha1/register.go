package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of every resource this server serves.
const GroupName = "containers.rancherdesktop.io"

// SchemeGroupVersion is the served group version.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// Resource takes an unqualified resource and returns a group-qualified GroupResource.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

var (
	SchemeBuilder      runtime.SchemeBuilder
	localSchemeBuilder = &SchemeBuilder
	AddToScheme        = localSchemeBuilder.AddToScheme
)

func init() {
	// Generated conversions and defaulters register themselves through localSchemeBuilder.
	localSchemeBuilder.Register(addKnownTypes, RegisterDefaults, addFieldLabelConversions)
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion,
		&Container{}, &ContainerList{},
		&ContainerNamespace{}, &ContainerNamespaceList{},
		&ContainerLogOptions{}, &ContainerExecOptions{}, &ContainerNamespaceLogOptions{},
		&ContainerStats{}, &ContainerStatsList{}, &ContainerStatsOptions{},
		&Image{}, &ImageList{},
		&Volume{}, &VolumeList{},
		&ContainerCreateRequest{}, &ContainerCreateRequestList{},
		&ImagePullRequest{}, &ImagePullRequestList{},
		&ImagePushRequest{}, &ImagePushRequestList{},
		&VolumeCreateRequest{}, &VolumeCreateRequestList{},
	)
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}
