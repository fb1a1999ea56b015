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
	// mirroredContainers is the number of Container mirrors: the size of
	// Mirror.mirrored, set under Mirror.countMu on every change of that set.
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

	// containerErrorsTotal counts the failures to mirror one container (its
	// inspection, or the store write after it). Such a failure fails no sync:
	// the container keeps its last mirror and is retried with backoff.
	containerErrorsTotal = metrics.NewCounter(&metrics.CounterOpts{
		Namespace:      metricsNamespace,
		Subsystem:      metricsSubsystem,
		Name:           "container_errors_total",
		Help:           "Failures to mirror one Docker container (inspect or store write); its mirror is kept and it is retried with backoff.",
		StabilityLevel: metrics.ALPHA,
	})

	// resyncRepairsTotal counts the mirrors a periodic resync had to create,
	// update or delete although no event for the container was received or
	// pending: each one means the event stream missed a change, so the session
	// is restarted with a new subscription.
	resyncRepairsTotal = metrics.NewCounter(&metrics.CounterOpts{
		Namespace:      metricsNamespace,
		Subsystem:      metricsSubsystem,
		Name:           "resync_repairs_total",
		Help:           "Container mirrors a periodic resync repaired without a Docker event explaining the change; each resync with repairs restarts the event subscription.",
		StabilityLevel: metrics.ALPHA,
	})

	// reconnectsTotal counts the connection attempts made after a lost or failed
	// connection to Docker, or after a resync found the event stream suspect.
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
		legacyregistry.MustRegister(mirroredContainers, eventsTotal, fullSyncsTotal, containerErrorsTotal,
			resyncRepairsTotal, reconnectsTotal, eventLatency)
	})
}
