package v1alpha1

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
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// TransferProgress is how far an image pull or push has got.
type TransferProgress struct {
	// Layers is the number of layers seen so far.
	Layers int32 `json:"layers"`
	// LayersDone is the number of those that are complete.
	LayersDone int32 `json:"layersDone"`
	// CurrentBytes is the sum of the bytes transferred over the layers in progress and done.
	// +optional
	CurrentBytes int64 `json:"currentBytes,omitempty"`
	// TotalBytes is the sum of the known sizes of those layers.
	// +optional
	TotalBytes int64 `json:"totalBytes,omitempty"`
	// Message is Docker's latest progress message, e.g. "Downloading".
	// +optional
	Message string `json:"message,omitempty"`
	// UpdatedAt is when this progress was reported.
	// +optional
	UpdatedAt *metav1.Time `json:"updatedAt,omitempty"`
}

// +genclient
// +genclient:onlyVerbs=create,get,list,watch,delete
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerCreateRequest asks the engine to create (and by default start) a
// container. The spec cannot change after creation.
type ContainerCreateRequest struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ContainerCreateRequestSpec `json:"spec"`
	// +optional
	Status ContainerCreateRequestStatus `json:"status,omitempty"`
}

// ContainerCreateRequestSpec is the container to create.
type ContainerCreateRequestSpec struct {
	// Name is the Docker container name; Docker picks one when unset.
	// +optional
	Name string `json:"name,omitempty"`
	// Namespace is the engine namespace; only "moby" (the default) exists.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// State is "running" (the default: create and start) or "created".
	// +optional
	State string `json:"state,omitempty"`
	// Image is the image to run, an ID or a reference present in the engine
	// (it is not pulled: use an ImagePullRequest first).
	Image string `json:"image"`
	// Path replaces the image's entrypoint.
	// +optional
	Path string `json:"path,omitempty"`
	// Args replace the image's command.
	// +optional
	// +listType=atomic
	Args []string `json:"args,omitempty"`
	// Ports are the ports to expose, e.g. "80/tcp", and the host addresses to publish them on.
	// +optional
	// +listType=map
	// +listMapKey=name
	Ports []ContainerPort `json:"ports,omitempty"`
	// Labels are the container's Docker labels.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// ContainerCreateRequestStatus reports the outcome.
type ContainerCreateRequestStatus struct {
	RequestStatus `json:",inline"`
	// ContainerID is the new container's ID, also the name of its Container object.
	// +optional
	ContainerID string `json:"containerID,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerCreateRequestList is a list of ContainerCreateRequests.
type ContainerCreateRequestList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []ContainerCreateRequest `json:"items"`
}

// +genclient
// +genclient:onlyVerbs=create,get,list,watch,delete
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ImagePullRequest asks the engine to pull an image.
type ImagePullRequest struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ImagePullRequestSpec `json:"spec"`
	// +optional
	Status ImagePullRequestStatus `json:"status,omitempty"`
}

// ImagePullRequestSpec is the image to pull.
type ImagePullRequestSpec struct {
	// Namespace is the engine namespace; only "moby" (the default) exists.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// RepoTag is the reference to pull, e.g. "registry.example:5000/app:v1"
	// (":latest" when it has no tag).
	RepoTag string `json:"repoTag"`
}

// ImagePullRequestStatus reports progress and the outcome.
type ImagePullRequestStatus struct {
	RequestStatus `json:",inline"`
	// Progress is how far the pull has got.
	// +optional
	Progress *TransferProgress `json:"progress,omitempty"`
	// ImageID is the pulled image's ID.
	// +optional
	ImageID string `json:"imageID,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ImagePullRequestList is a list of ImagePullRequests.
type ImagePullRequestList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []ImagePullRequest `json:"items"`
}

// +genclient
// +genclient:onlyVerbs=create,get,list,watch,delete
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ImagePushRequest asks the engine to push an image tag to its registry.
type ImagePushRequest struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ImagePushRequestSpec `json:"spec"`
	// +optional
	Status ImagePushRequestStatus `json:"status,omitempty"`
}

// ImagePushRequestSpec is the tag to push.
type ImagePushRequestSpec struct {
	// ImageRef is the name of the Image object (img-...) whose tag is pushed;
	// the tag names the registry, e.g. "127.0.0.1:5000/app:v1".
	ImageRef string `json:"imageRef"`
}

// ImagePushRequestStatus reports progress and the outcome.
type ImagePushRequestStatus struct {
	RequestStatus `json:",inline"`
	// Progress is how far the push has got.
	// +optional
	Progress *TransferProgress `json:"progress,omitempty"`
	// Digest is the pushed manifest's digest.
	// +optional
	Digest string `json:"digest,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ImagePushRequestList is a list of ImagePushRequests.
type ImagePushRequestList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []ImagePushRequest `json:"items"`
}

// +genclient
// +genclient:onlyVerbs=create,get,list,watch,delete
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VolumeCreateRequest asks the engine to create a volume.
type VolumeCreateRequest struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec VolumeCreateRequestSpec `json:"spec"`
	// +optional
	Status VolumeCreateRequestStatus `json:"status,omitempty"`
}

// VolumeCreateRequestSpec is the volume to create.
type VolumeCreateRequestSpec struct {
	// Name is the Docker volume name; Docker picks one when unset.
	// +optional
	Name string `json:"name,omitempty"`
	// Namespace is the engine namespace; only "moby" (the default) exists.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Driver is the volume driver; only "local" (the default) is supported.
	// +optional
	Driver string `json:"driver,omitempty"`
	// Labels are the volume's labels.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// VolumeCreateRequestStatus reports the outcome.
type VolumeCreateRequestStatus struct {
	RequestStatus `json:",inline"`
	// VolumeName is the created volume's Docker name.
	// +optional
	VolumeName string `json:"volumeName,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VolumeCreateRequestList is a list of VolumeCreateRequests.
type VolumeCreateRequestList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []VolumeCreateRequest `json:"items"`
}
