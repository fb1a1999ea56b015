package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:onlyVerbs=get,list,watch
// +resourceName=containerstats
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerStats is the latest resource use of one running container, like
// a row of `docker stats`. The object's name is the container's ID; its
// labels are the container's (those that are valid Kubernetes labels). It
// exists while the container runs: the server creates it within one
// --stats-interval of the start, updates it every interval and deletes it
// when the container stops. Read-only.
type ContainerStats struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Status is the latest sample.
	// +optional
	Status ContainerStatsStatus `json:"status,omitempty"`
}

// ContainerStatsStatus is one sample of a container's resource use. Counters
// (usageCoreNanoSeconds, network, blockIO) are totals since the container
// started; the others are values at timestamp.
type ContainerStatsStatus struct {
	// Name is the container's Docker name.
	Name string `json:"name"`
	// Timestamp is when the engine read the sample (RFC 3339, microseconds).
	Timestamp metav1.MicroTime `json:"timestamp"`
	// CPU is the container's CPU use.
	CPU CPUStats `json:"cpu"`
	// Memory is the container's memory use.
	Memory MemoryStats `json:"memory"`
	// Network is the traffic of all the container's network interfaces.
	Network NetworkStats `json:"network"`
	// BlockIO is the container's block device traffic.
	BlockIO BlockIOStats `json:"blockIO"`
	// Pids is the number of processes and threads in the container.
	Pids int64 `json:"pids"`
}

// CPUStats is a container's CPU use.
type CPUStats struct {
	// UsageNanoCores is the CPU rate between this sample and the one before
	// (for the first sample: since the container started), in billionths of
	// a core: 1000000000 is one core busy.
	UsageNanoCores int64 `json:"usageNanoCores"`
	// UsageCoreNanoSeconds is the CPU time used since the container started,
	// in nanoseconds, all cores together.
	UsageCoreNanoSeconds int64 `json:"usageCoreNanoSeconds"`
}

// MemoryStats is a container's memory use.
type MemoryStats struct {
	// UsageBytes is the container's memory cgroup usage, page cache included.
	UsageBytes int64 `json:"usageBytes"`
	// WorkingSetBytes is usageBytes minus the inactive file cache, as kubelet
	// computes it; `docker stats` shows this as MEM USAGE.
	WorkingSetBytes int64 `json:"workingSetBytes"`
	// LimitBytes is the container's memory limit; the host's memory when it
	// has none.
	LimitBytes int64 `json:"limitBytes"`
}

// NetworkStats is a container's network traffic since it started, over all
// its interfaces (0 for a container on the host's network or none).
type NetworkStats struct {
	// RxBytes is the bytes received.
	RxBytes int64 `json:"rxBytes"`
	// TxBytes is the bytes sent.
	TxBytes int64 `json:"txBytes"`
}

// BlockIOStats is a container's block device traffic since it started, over
// all devices. Writes count once the kernel writes them to the device, not
// when they enter the page cache.
type BlockIOStats struct {
	// ReadBytes is the bytes read from block devices.
	ReadBytes int64 `json:"readBytes"`
	// WriteBytes is the bytes written to block devices.
	WriteBytes int64 `json:"writeBytes"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerStatsList is a list of ContainerStats.
type ContainerStatsList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []ContainerStats `json:"items"`
}

// +k8s:conversion-gen:explicit-from=net/url.Values
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ContainerStatsOptions are the query parameters of the containers/stats
// subresource: the samples the server keeps of a running container (the
// last 15 minutes by default), as newline-delimited JSON, one
// ContainerStatsStatus per line, oldest first.
type ContainerStatsOptions struct {
	metav1.TypeMeta `json:",inline"`

	// SinceSeconds returns only the samples of the last N seconds (N >= 1);
	// without it, every sample kept.
	// +optional
	SinceSeconds *int64 `json:"sinceSeconds,omitempty"`
	// Follow goes on streaming each new sample until the container stops or
	// the client leaves.
	// +optional
	Follow bool `json:"follow,omitempty"`
}
