package containers

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerStats is the latest resource use of one running container, named
// by its ID. v1alpha1.ContainerStats documents each field.
type ContainerStats struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Status ContainerStatsStatus
}

// ContainerStatsStatus is one sample: what the containerstats object holds
// and what each line of the containers/stats history is.
type ContainerStatsStatus struct {
	Name      string
	Timestamp metav1.MicroTime
	CPU       CPUStats
	Memory    MemoryStats
	Network   NetworkStats
	BlockIO   BlockIOStats
	Pids      int64
}

// CPUStats is a container's CPU use.
type CPUStats struct {
	UsageNanoCores       int64
	UsageCoreNanoSeconds int64
}

// MemoryStats is a container's memory use.
type MemoryStats struct {
	UsageBytes      int64
	WorkingSetBytes int64
	LimitBytes      int64
}

// NetworkStats is a container's network traffic, over all its interfaces.
type NetworkStats struct {
	RxBytes int64
	TxBytes int64
}

// BlockIOStats is a container's block device traffic.
type BlockIOStats struct {
	ReadBytes  int64
	WriteBytes int64
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerStatsList is a list of ContainerStats.
type ContainerStatsList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []ContainerStats
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerStatsOptions are the query parameters of the containers/stats
// subresource (the history). v1alpha1.ContainerStatsOptions documents each
// field.
type ContainerStatsOptions struct {
	metav1.TypeMeta

	SinceSeconds *int64
	Follow       bool
}

// ContainerStatsFields are the selectable fields of a ContainerStats.
var ContainerStatsFields = map[string]func(*ContainerStats) string{
	"status.name": func(s *ContainerStats) string { return s.Status.Name },
}
