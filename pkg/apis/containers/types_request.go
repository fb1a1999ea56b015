package containers

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types of the request kinds. Exactly one of them turns True when
// the request ends; the object is removed a while after that.
const (
	// RequestComplete is True once the request has been carried out.
	RequestComplete = "Complete"
	// RequestFailed is True once the request has failed; its reason and
	// message say why.
	RequestFailed = "Failed"
)

// RequestStatus is what every request kind reports.
type RequestStatus struct {
	// Conditions are Complete and Failed; at most one is True.
	Conditions []metav1.Condition
}

// TransferProgress is how far an image pull or push has got.
type TransferProgress struct {
	// Layers is the number of layers seen so far.
	Layers int32
	// LayersDone is the number of those that are complete.
	LayersDone int32
	// CurrentBytes is the sum of the bytes transferred over the layers in progress and done.
	CurrentBytes int64
	// TotalBytes is the sum of the known sizes of those layers.
	TotalBytes int64
	// Message is Docker's latest progress message, e.g. "Downloading".
	Message string
	// UpdatedAt is when this progress was reported.
	UpdatedAt *metav1.Time
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerCreateRequest asks the engine to create (and by default start) a
// container. The spec cannot change after creation.
type ContainerCreateRequest struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   ContainerCreateRequestSpec
	Status ContainerCreateRequestStatus
}

// ContainerCreateRequestSpec is the container to create.
type ContainerCreateRequestSpec struct {
	// Name is the Docker container name; Docker picks one when unset.
	Name string
	// Namespace is the engine namespace; only "moby" (the default) exists.
	Namespace string
	// State is "running" (the default: create and start) or "created".
	State string
	// Image is the image to run, an ID or a reference present in the engine
	// (it is not pulled: use an ImagePullRequest first).
	Image string
	// Path replaces the image's entrypoint.
	Path string
	// Args replace the image's command.
	Args []string
	// Ports are the ports to expose, e.g. "80/tcp", and the host addresses to publish them on.
	Ports []ContainerPort
	// Labels are the container's Docker labels.
	Labels map[string]string
}

// ContainerCreateRequestStatus reports the outcome.
type ContainerCreateRequestStatus struct {
	RequestStatus
	// ContainerID is the new container's ID, also the name of its Container object.
	ContainerID string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerCreateRequestList is a list of ContainerCreateRequests.
type ContainerCreateRequestList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []ContainerCreateRequest
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ImagePullRequest asks the engine to pull an image.
type ImagePullRequest struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   ImagePullRequestSpec
	Status ImagePullRequestStatus
}

// ImagePullRequestSpec is the image to pull.
type ImagePullRequestSpec struct {
	// Namespace is the engine namespace; only "moby" (the default) exists.
	Namespace string
	// RepoTag is the reference to pull, e.g. "registry.example:5000/app:v1"
	// (":latest" when it has no tag).
	RepoTag string
}

// ImagePullRequestStatus reports progress and the outcome.
type ImagePullRequestStatus struct {
	RequestStatus
	// Progress is how far the pull has got.
	Progress *TransferProgress
	// ImageID is the pulled image's ID.
	ImageID string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ImagePullRequestList is a list of ImagePullRequests.
type ImagePullRequestList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []ImagePullRequest
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ImagePushRequest asks the engine to push an image tag to its registry.
type ImagePushRequest struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   ImagePushRequestSpec
	Status ImagePushRequestStatus
}

// ImagePushRequestSpec is the tag to push.
type ImagePushRequestSpec struct {
	// ImageRef is the name of the Image object (img-...) whose tag is pushed;
	// the tag names the registry, e.g. "127.0.0.1:5000/app:v1".
	ImageRef string
}

// ImagePushRequestStatus reports progress and the outcome.
type ImagePushRequestStatus struct {
	RequestStatus
	// Progress is how far the push has got.
	Progress *TransferProgress
	// Digest is the pushed manifest's digest.
	Digest string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ImagePushRequestList is a list of ImagePushRequests.
type ImagePushRequestList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []ImagePushRequest
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VolumeCreateRequest asks the engine to create a volume.
type VolumeCreateRequest struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   VolumeCreateRequestSpec
	Status VolumeCreateRequestStatus
}

// VolumeCreateRequestSpec is the volume to create.
type VolumeCreateRequestSpec struct {
	// Name is the Docker volume name; Docker picks one when unset.
	Name string
	// Namespace is the engine namespace; only "moby" (the default) exists.
	Namespace string
	// Driver is the volume driver; only "local" (the default) is supported.
	Driver string
	// Labels are the volume's labels.
	Labels map[string]string
}

// VolumeCreateRequestStatus reports the outcome.
type VolumeCreateRequestStatus struct {
	RequestStatus
	// VolumeName is the created volume's Docker name.
	VolumeName string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VolumeCreateRequestList is a list of VolumeCreateRequests.
type VolumeCreateRequestList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []VolumeCreateRequest
}
