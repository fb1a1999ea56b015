package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:onlyVerbs=get,list,watch,delete
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Image mirrors one tag of a Docker image, or an image that has no tag. Its
// name is "img-" and the hex SHA-256 of the image ID, a NUL and the tag (of
// the ID alone for an untagged image). Deleting it removes that tag from
// Docker (`docker rmi TAG`), or the untagged image.
type Image struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Status is the image as the Docker engine reports it.
	// +optional
	Status ImageStatus `json:"status,omitempty"`
}

// ImageStatus is the observed state of a Docker image tag.
type ImageStatus struct {
	// Namespace is the engine namespace; always "moby" for Docker.
	Namespace string `json:"namespace"`
	// ID is the image ID (sha256:...).
	ID string `json:"id"`
	// RepoTag is the tag, e.g. "busybox:latest"; unset for an untagged image.
	// +optional
	RepoTag string `json:"repoTag,omitempty"`
	// RepoDigests are the image's repository digests, sorted.
	// +optional
	// +listType=atomic
	RepoDigests []string `json:"repoDigests,omitempty"`
	// CreatedAt is when the image was built.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
	// Architecture is the CPU architecture, e.g. "amd64".
	// +optional
	Architecture string `json:"architecture,omitempty"`
	// OS is the operating system, e.g. "linux".
	// +optional
	OS string `json:"os,omitempty"`
	// Size is the image's size in bytes.
	// +optional
	Size int64 `json:"size,omitempty"`
	// Labels are the image's labels.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ImageList is a list of Images.
type ImageList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []Image `json:"items"`
}

// +genclient
// +genclient:onlyVerbs=get,list,watch,delete
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Volume mirrors one Docker volume. Its name is "vol-" and the hex SHA-256
// of the volume's name. Deleting it removes the volume from Docker.
type Volume struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Status is the volume as the Docker engine reports it.
	// +optional
	Status VolumeStatus `json:"status,omitempty"`
}

// VolumeStatus is the observed state of a Docker volume.
type VolumeStatus struct {
	// Name is the Docker volume name.
	Name string `json:"name"`
	// Namespace is the engine namespace; always "moby" for Docker.
	Namespace string `json:"namespace"`
	// CreatedAt is when the volume was created; unset when the driver does not say.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
	// Driver is the volume driver, e.g. "local".
	// +optional
	Driver string `json:"driver,omitempty"`
	// Mountpoint is where the volume lives on the engine's host.
	// +optional
	Mountpoint string `json:"mountpoint,omitempty"`
	// Scope is "local" or "global".
	// +optional
	Scope string `json:"scope,omitempty"`
	// Labels are the volume's labels.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// Options are the driver options the volume was created with.
	// +optional
	Options map[string]string `json:"options,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VolumeList is a list of Volumes.
type VolumeList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []Volume `json:"items"`
}
