package containers

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Image mirrors one tag of a Docker image, or an image that has no tag. Its
// name is "img-" and the hex SHA-256 of the image ID, a NUL and the tag (of
// the ID alone for an untagged image). Deleting it removes that tag from
// Docker (`docker rmi TAG`), or the untagged image.
type Image struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	// Status is the image as the Docker engine reports it.
	Status ImageStatus
}

// ImageStatus is the observed state of a Docker image tag.
type ImageStatus struct {
	// Namespace is the engine namespace; always "moby" for Docker.
	Namespace string
	// ID is the image ID (sha256:...).
	ID string
	// RepoTag is the tag, e.g. "busybox:latest"; unset for an untagged image.
	RepoTag string
	// RepoDigests are the image's repository digests, sorted.
	RepoDigests []string
	// CreatedAt is when the image was built.
	CreatedAt *metav1.Time
	// Architecture is the CPU architecture, e.g. "amd64".
	Architecture string
	// OS is the operating system, e.g. "linux".
	OS string
	// Size is the image's size in bytes.
	Size int64
	// Labels are the image's labels.
	Labels map[string]string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ImageList is a list of Images.
type ImageList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []Image
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Volume mirrors one Docker volume. Its name is "vol-" and the hex SHA-256
// of the volume's name. Deleting it removes the volume from Docker.
type Volume struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	// Status is the volume as the Docker engine reports it.
	Status VolumeStatus
}

// VolumeStatus is the observed state of a Docker volume.
type VolumeStatus struct {
	// Name is the Docker volume name.
	Name string
	// Namespace is the engine namespace; always "moby" for Docker.
	Namespace string
	// CreatedAt is when the volume was created; unset when the driver does not say.
	CreatedAt *metav1.Time
	// Driver is the volume driver, e.g. "local".
	Driver string
	// Mountpoint is where the volume lives on the engine's host.
	Mountpoint string
	// Scope is "local" or "global".
	Scope string
	// Labels are the volume's labels.
	Labels map[string]string
	// Options are the driver options the volume was created with.
	Options map[string]string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VolumeList is a list of Volumes.
type VolumeList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []Volume
}
