package containers

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ActionAnnotation asks for a one-shot action on a container.
const ActionAnnotation = "containers.rancherdesktop.io/action"

// Values of the action annotation.
const (
	ActionStart   = "start"
	ActionStop    = "stop"
	ActionPause   = "pause"
	ActionUnpause = "unpause"
	ActionRestart = "restart"
)

// Actions are the valid values of the action annotation.
var Actions = []string{ActionStart, ActionStop, ActionPause, ActionUnpause, ActionRestart}

// States of status.lastAction.
const (
	ActionSucceeded = "Succeeded"
	ActionFailed    = "Failed"
)

// MobyNamespace is the only engine namespace a Docker engine has.
const MobyNamespace = "moby"

// ConditionStatus is "True", "False" or "Unknown".
type ConditionStatus string

const (
	ConditionTrue    ConditionStatus = "True"
	ConditionFalse   ConditionStatus = "False"
	ConditionUnknown ConditionStatus = "Unknown"
)

// Condition types set on every Container.
const (
	ContainerRunning    = "Running"
	ContainerPaused     = "Paused"
	ContainerRestarting = "Restarting"
	ContainerOOMKilled  = "OOMKilled"
	ContainerDead       = "Dead"
	// ContainerHealthy is present only when the container has a health check.
	ContainerHealthy = "Healthy"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Container mirrors one Docker container. Its name is the full container ID.
type Container struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   ContainerSpec
	Status ContainerStatus
}

// ContainerSpec is empty: the engine owns the state, users drive it with actions.
type ContainerSpec struct{}

// ContainerStatus is the observed state of the Docker container.
type ContainerStatus struct {
	Name       string
	Namespace  string
	Path       string
	Args       []string
	Image      string
	ImageName  string
	Ports      []ContainerPort
	Labels     map[string]string
	Status     string
	Pid        int64
	ExitCode   int64
	Error      string
	CreatedAt  *metav1.Time
	StartedAt  *metav1.Time
	FinishedAt *metav1.Time
	Conditions []ContainerCondition
	LastAction *ContainerAction
}

// ContainerPort is one exposed port and where it is published.
type ContainerPort struct {
	Name     string
	Bindings []PortBinding
}

// PortBinding is one host address a container port is published on.
type PortBinding struct {
	HostIP   string
	HostPort int32
}

// ContainerCondition is one facet of the container's state.
type ContainerCondition struct {
	Type               string
	Status             ConditionStatus
	Reason             string
	Message            string
	LastTransitionTime metav1.Time
}

// ContainerAction is the outcome of the most recent action annotation.
type ContainerAction struct {
	Action      string
	State       string
	Error       string
	ObservedAt  *metav1.Time
	CompletedAt *metav1.Time
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerList is a list of Containers.
type ContainerList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []Container
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerNamespace is an engine namespace; a Docker engine has only "moby".
type ContainerNamespace struct {
	metav1.TypeMeta
	metav1.ObjectMeta
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerNamespaceList is a list of ContainerNamespaces.
type ContainerNamespaceList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []ContainerNamespace
}

// Values of ContainerLogOptions.Stream.
const (
	LogStreamAll    = "All"
	LogStreamStdout = "Stdout"
	LogStreamStderr = "Stderr"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerLogOptions are the query parameters of the containers/log subresource.
type ContainerLogOptions struct {
	metav1.TypeMeta

	Follow         bool
	FollowRestarts bool
	TailLines      *int64
	SinceSeconds   *int64
	SinceTime      *metav1.Time
	UntilTime      *metav1.Time
	Timestamps     bool
	LimitBytes     *int64
	Stream         string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerNamespaceLogOptions are the query parameters of the
// containernamespaces/log subresource: the merged logs of the containers
// the selectors match. v1alpha1.ContainerNamespaceLogOptions documents each
// field.
type ContainerNamespaceLogOptions struct {
	metav1.TypeMeta

	LabelSelector  string
	FieldSelector  string
	Follow         bool
	FollowRestarts bool
	TailLines      *int64
	SinceSeconds   *int64
	SinceTime      *metav1.Time
	Timestamps     bool
	LimitBytes     *int64
	Stream         string
}

// LogOptions are the options of one matched container's log.
func (o *ContainerNamespaceLogOptions) LogOptions() *ContainerLogOptions {
	return &ContainerLogOptions{
		Follow: o.Follow, FollowRestarts: o.FollowRestarts, TailLines: o.TailLines,
		SinceSeconds: o.SinceSeconds, SinceTime: o.SinceTime, Timestamps: o.Timestamps,
		LimitBytes: o.LimitBytes, Stream: o.Stream,
	}
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerExecOptions are the query parameters of the containers/exec
// subresource. v1alpha1.ContainerExecOptions documents each field.
type ContainerExecOptions struct {
	metav1.TypeMeta

	Stdin      bool
	Stdout     bool
	Stderr     bool
	TTY        bool
	Command    []string
	User       string
	WorkingDir string
	Env        []string
}
