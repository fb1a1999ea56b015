package docker

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// The mirror's metrics, on the server's /metrics. They are process-wide: every
// Mirror of the process adds to the same series.
const (
	metricsNamespace = "containers_apiserver"
	metricsSubsystem = "docker_mirror"
)

var (
	// mirroredContainers is the number of Container mirrors. It is set after every
	// full sync and moved by one on every create and delete between syncs.
	mirroredContainers = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace:      metricsNamespace,
		Subsystem:      metricsSubsystem,
		Name:           "containers",
		Help:           "Number of Docker containers mirrored as Container objects.",
		StabilityLevel: metrics.ALPHA,
	})

	// eventsTotal counts the container events read from the Docker event stream,
	// by action (the part before ":" for exec_* and health_status actions), the
	// ignored ones included.
	eventsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      metricsNamespace,
		Subsystem:      metricsSubsystem,
		Name:           "events_total",
		Help:           "Docker container events received, by action.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"action"})

	// fullSyncsTotal counts full syncs: trigger "connect" (after every
	// (re)connect) or "resync" (periodic); result "success" or "error".
	fullSyncsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      metricsNamespace,
		Subsystem:      metricsSubsystem,
		Name:           "full_syncs_total",
		Help:           "Full syncs of the Container mirrors with Docker, by trigger (connect, resync) and result (success, error).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"trigger", "result"})

	// reconnectsTotal counts the connection attempts made after a lost or failed
	// connection to Docker.
	reconnectsTotal = metrics.NewCounter(&metrics.CounterOpts{
		Namespace:      metricsNamespace,
		Subsystem:      metricsSubsystem,
		Name:           "reconnects_total",
		Help:           "Attempts to reconnect to the Docker engine after the connection failed or was lost.",
		StabilityLevel: metrics.ALPHA,
	})

	// eventLatency is the time from reading a Docker event to the store holding
	// the container's new state (coalesced events count from the first one).
	eventLatency = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace:      metricsNamespace,
		Subsystem:      metricsSubsystem,
		Name:           "event_to_store_seconds",
		Help:           "Time from receiving a Docker container event to the Container mirror being stored.",
		Buckets:        metrics.ExponentialBuckets(0.001, 2, 15),
		StabilityLevel: metrics.ALPHA,
	})

	registerMetricsOnce sync.Once
)

// registerMetrics registers the metrics with the legacy registry once per
// process, so creating several Mirrors (tests) does not panic.
func registerMetrics() {
	registerMetricsOnce.Do(func() {
		legacyregistry.MustRegister(mirroredContainers, eventsTotal, fullSyncsTotal, reconnectsTotal, eventLatency)
	})
}
