package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ActionAnnotation asks for a one-shot action on a container:
// start, stop, pause, unpause or restart.
const ActionAnnotation = "containers.rancherdesktop.io/action"

// ConditionStatus is "True", "False" or "Unknown".
type ConditionStatus string

const (
	ConditionTrue    ConditionStatus = "True"
	ConditionFalse   ConditionStatus = "False"
	ConditionUnknown ConditionStatus = "Unknown"
)

// +genclient
// +genclient:onlyVerbs=get,list,watch,update,patch,delete
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Container mirrors one Docker container. The object's name is the full
// 64-character lowercase hex container ID; the Docker name is status.name.
// The engine owns everything in status; the spec is empty.
type Container struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata. Docker labels that are valid Kubernetes labels
	// are copied into metadata.labels.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is empty: containers are driven through the action annotation.
	// +optional
	Spec ContainerSpec `json:"spec,omitempty"`
	// Status is the container's state as the Docker engine reports it.
	// +optional
	Status ContainerStatus `json:"status,omitempty"`
}

// ContainerSpec is empty: the engine owns the state, users drive it with actions.
type ContainerSpec struct{}

// ContainerStatus is the observed state of the Docker container.
type ContainerStatus struct {
	// Name is the Docker container name, without the leading slash.
	Name string `json:"name"`
	// Namespace is the engine namespace (a ContainerNamespace); always "moby" for Docker.
	Namespace string `json:"namespace"`
	// Path is the executable the container runs.
	// +optional
	Path string `json:"path,omitempty"`
	// Args are the arguments given to path.
	// +optional
	// +listType=atomic
	Args []string `json:"args,omitempty"`
	// Image is the ID of the image the container was created from (sha256:...).
	Image string `json:"image"`
	// ImageName is the image reference given to `docker run`, e.g. "nginx:latest".
	// +optional
	ImageName string `json:"imageName,omitempty"`
	// Ports are the container's exposed ports and the host addresses they are published on.
	// +optional
	// +listType=map
	// +listMapKey=name
	Ports []ContainerPort `json:"ports,omitempty"`
	// Labels are all the Docker labels of the container, including those that
	// are not valid Kubernetes labels.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// Status is Docker's state: created, running, paused, restarting, removing, exited or dead.
	Status string `json:"status"`
	// Pid is the main process ID on the host, 0 when not running.
	// +optional
	Pid int64 `json:"pid,omitempty"`
	// ExitCode is the exit code of the last run.
	// +optional
	ExitCode int64 `json:"exitCode,omitempty"`
	// Error is Docker's error message for the last start, if any.
	// +optional
	Error string `json:"error,omitempty"`
	// CreatedAt is when the container was created.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
	// StartedAt is when the container last started; unset if it never started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// FinishedAt is when the container last stopped; unset if it never stopped.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// Conditions are Running, Paused, Restarting, OOMKilled and Dead, and
	// Healthy when the container has a health check.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []ContainerCondition `json:"conditions,omitempty"`
	// LastAction is the outcome of the most recent action annotation. It stays
	// until the next action, whatever happens to the container in between.
	// +optional
	LastAction *ContainerAction `json:"lastAction,omitempty"`
}

// ContainerPort is one exposed port and where it is published.
type ContainerPort struct {
	// Name is the port and protocol, e.g. "80/tcp".
	Name string `json:"name"`
	// Bindings are the host addresses the port is published on; empty when only exposed.
	// +optional
	// +listType=atomic
	Bindings []PortBinding `json:"bindings,omitempty"`
}

// PortBinding is one host address a container port is published on.
type PortBinding struct {
	// HostIP is the host address, e.g. "0.0.0.0" or "::".
	// +optional
	HostIP string `json:"hostIP,omitempty"`
	// HostPort is the host port.
	// +optional
	HostPort int32 `json:"hostPort,omitempty"`
}

// ContainerCondition is one facet of the container's state.
type ContainerCondition struct {
	// Type is Running, Paused, Restarting, OOMKilled, Dead or Healthy.
	Type string `json:"type"`
	// Status is True, False or Unknown.
	Status ConditionStatus `json:"status"`
	// Reason is a one-word reason, e.g. Docker's health status for Healthy.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message is a human-readable detail, e.g. the health check output at the last status change.
	// +optional
	Message string `json:"message,omitempty"`
	// LastTransitionTime is when status last changed, as observed by this server.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
}

// ContainerAction is the outcome of the most recent action annotation.
type ContainerAction struct {
	// Action is start, stop, pause, unpause or restart.
	Action string `json:"action"`
	// State is Succeeded or Failed.
	State string `json:"state"`
	// Error is Docker's message when state is Failed.
	// +optional
	Error string `json:"error,omitempty"`
	// ObservedAt is when the server picked up the action.
	// +optional
	ObservedAt *metav1.Time `json:"observedAt,omitempty"`
	// CompletedAt is when the action ended.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerList is a list of Containers.
type ContainerList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []Container `json:"items"`
}

// +genclient
// +genclient:onlyVerbs=get
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerNamespace is an engine namespace. A Docker engine has exactly one, "moby".
// The generated client offers only get: a lister for it would collide with the
// per-namespace ContainerNamespaceLister that lister-gen makes for Container.
type ContainerNamespace struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerNamespaceList is a list of ContainerNamespaces.
type ContainerNamespaceList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []ContainerNamespace `json:"items"`
}

// Values of ContainerLogOptions.Stream.
const (
	LogStreamAll    = "All"
	LogStreamStdout = "Stdout"
	LogStreamStderr = "Stderr"
)

// +k8s:conversion-gen:explicit-from=net/url.Values
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerLogOptions are the query parameters of the containers/log
// subresource, as kubectl sends them for pods/log.
type ContainerLogOptions struct {
	metav1.TypeMeta `json:",inline"`

	// Follow keeps streaming until the container stops or the client leaves.
	// +optional
	Follow bool `json:"follow,omitempty"`
	// FollowRestarts, with follow, goes on through stops, starts and
	// restarts of the container, and ends only when it is removed or the
	// client leaves. Between runs the stream carries one marker line (and,
	// on WebSocket channel protocols, an event on channel 5); after a restart
	// only the new run's output follows.
	// +optional
	FollowRestarts bool `json:"followRestarts,omitempty"`
	// TailLines shows only the last N lines (N >= 0) before following.
	// +optional
	TailLines *int64 `json:"tailLines,omitempty"`
	// SinceSeconds shows only lines newer than this many seconds (>= 1).
	// At most one of sinceSeconds and sinceTime.
	// +optional
	SinceSeconds *int64 `json:"sinceSeconds,omitempty"`
	// SinceTime shows only lines newer than this time (RFC 3339).
	// +optional
	SinceTime *metav1.Time `json:"sinceTime,omitempty"`
	// UntilTime shows only lines older than this time (RFC 3339).
	// +optional
	UntilTime *metav1.Time `json:"untilTime,omitempty"`
	// Timestamps prefixes each line with its RFC 3339 nano timestamp.
	// +optional
	Timestamps bool `json:"timestamps,omitempty"`
	// LimitBytes stops the stream after this many bytes (>= 1).
	// +optional
	LimitBytes *int64 `json:"limitBytes,omitempty"`
	// Stream is All (default), Stdout or Stderr. It may be combined with tailLines.
	// A container with a TTY has one merged stream and accepts only All.
	// +optional
	Stream string `json:"stream,omitempty"`
}

// +k8s:conversion-gen:explicit-from=net/url.Values
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerNamespaceLogOptions are the query parameters of the
// containernamespaces/log subresource: the logs of every container the
// selectors match, merged, each line prefixed with the container's Docker
// name and " | " (compose style). The other fields mean what they mean for
// containers/log, per container (tailLines: the last N lines of each).
type ContainerNamespaceLogOptions struct {
	metav1.TypeMeta `json:",inline"`

	// LabelSelector selects containers by their labels, e.g.
	// com.docker.compose.project=web.
	// +optional
	LabelSelector string `json:"labelSelector,omitempty"`
	// FieldSelector selects containers by the fields containers support,
	// e.g. status.name=web-db-1.
	// +optional
	FieldSelector string `json:"fieldSelector,omitempty"`
	// Follow keeps streaming: containers that start matching (and running)
	// later join, removed ones leave. Without follow the lines of all
	// containers come in timestamp order.
	// +optional
	Follow bool `json:"follow,omitempty"`
	// FollowRestarts, with follow, keeps each container in the stream
	// through its stops and restarts, with a marker line between runs.
	// +optional
	FollowRestarts bool `json:"followRestarts,omitempty"`
	// TailLines shows only the last N lines (N >= 0) of each container.
	// +optional
	TailLines *int64 `json:"tailLines,omitempty"`
	// SinceSeconds shows only lines newer than this many seconds (>= 1).
	// +optional
	SinceSeconds *int64 `json:"sinceSeconds,omitempty"`
	// SinceTime shows only lines newer than this time (RFC 3339).
	// +optional
	SinceTime *metav1.Time `json:"sinceTime,omitempty"`
	// Timestamps puts each line's RFC 3339 nano timestamp after the prefix.
	// +optional
	Timestamps bool `json:"timestamps,omitempty"`
	// LimitBytes stops the stream after this many bytes (>= 1) in all.
	// +optional
	LimitBytes *int64 `json:"limitBytes,omitempty"`
	// Stream is All (default), Stdout or Stderr.
	// +optional
	Stream string `json:"stream,omitempty"`
}

// +k8s:conversion-gen:explicit-from=net/url.Values
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerExecOptions are the query parameters of the containers/exec
// subresource: a command to run in a running container (docker exec). The
// parameters carry pods/exec's names (PodExecOptions), so kubectl's and
// client-go's exec clients can send them unchanged; user, workingDir and env
// are Docker's additions.
type ContainerExecOptions struct {
	metav1.TypeMeta `json:",inline"`

	// Stdin attaches the client's input to the command's standard input; the
	// command sees end of file when the client closes it.
	// +optional
	Stdin bool `json:"stdin,omitempty"`
	// Stdout streams the command's standard output to the client.
	// +optional
	Stdout bool `json:"stdout,omitempty"`
	// Stderr streams the command's standard error to the client. With tty
	// there is no separate standard error: the terminal merges it into
	// stdout, so ask for stdout only (kubectl sends stderr=false with tty).
	// +optional
	Stderr bool `json:"stderr,omitempty"`
	// TTY runs the command in a pseudo-terminal (docker exec -t), for
	// interactive programs; the client can then resize it.
	// +optional
	TTY bool `json:"tty,omitempty"`
	// Command is the program and its arguments, run without a shell; it is
	// required. One query parameter per element (command=ls&command=-l). No
	// omitempty: an empty argument is still an argument and must reach the
	// command.
	// +listType=atomic
	Command []string `json:"command"`
	// User runs the command as this user (name or UID, optionally :group),
	// instead of the container's user.
	// +optional
	User string `json:"user,omitempty"`
	// WorkingDir is the absolute directory the command starts in, instead of
	// the container's working directory.
	// +optional
	WorkingDir string `json:"workingDir,omitempty"`
	// Env adds NAME=value variables to the command's environment, one query
	// parameter per variable (env=A=1&env=B=2). No omitempty, like command,
	// so that an element is never dropped on the way.
	// +optional
	// +listType=atomic
	Env []string `json:"env"`
}
