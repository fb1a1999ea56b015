package mirror

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// The reconcilers' metrics, on the server's /metrics, labelled by the
// resource a reconciler fills (containers, images, volumes). They are
// process-wide: every Reconciler of the process adds to the same series.
const (
	metricsNamespace = "containers_apiserver"
	metricsSubsystem = "mirror"
)

var (
	// objectsGauge is the number of mirrors a reconciler has stored: the size
	// of Reconciler.mirrored, set under its countMu on every change.
	objectsGauge = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace:      metricsNamespace,
		Subsystem:      metricsSubsystem,
		Name:           "objects",
		Help:           "Number of engine objects mirrored, by resource.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"resource"})

	// eventsTotal counts the changes read from the engine's event stream, by
	// resource and the engine's action (the part before ":").
	eventsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      metricsNamespace,
		Subsystem:      metricsSubsystem,
		Name:           "events_total",
		Help:           "Engine events received that may change a mirror, by resource and action.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"resource", "action"})

	// fullSyncsTotal counts full syncs: trigger "connect" (after every
	// (re)connect), "resync" (periodic) or "event" (a change of a listed
	// resource); result "success" or "error".
	fullSyncsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      metricsNamespace,
		Subsystem:      metricsSubsystem,
		Name:           "full_syncs_total",
		Help:           "Full syncs of the mirrors with the engine, by resource, trigger (connect, resync, event) and result (success, error).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"resource", "trigger", "result"})

	// objectErrorsTotal counts the failures to mirror one object (reading it
	// from the engine, or the store write after it). Such a failure fails no
	// sync: the object keeps its last mirror and is retried with backoff.
	objectErrorsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      metricsNamespace,
		Subsystem:      metricsSubsystem,
		Name:           "object_errors_total",
		Help:           "Failures to mirror one engine object (read or store write); its mirror is kept and it is retried with backoff.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"resource"})

	// resyncRepairsTotal counts the mirrors a periodic resync had to create,
	// update or delete although no event for the object was received or
	// pending: each one means the event stream missed a change, so the session
	// is restarted with a new subscription.
	resyncRepairsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      metricsNamespace,
		Subsystem:      metricsSubsystem,
		Name:           "resync_repairs_total",
		Help:           "Mirrors a periodic resync repaired without an engine event explaining the change; each resync with repairs restarts the event subscription.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"resource"})

	// reconnectsTotal counts the connection attempts made after a lost or
	// failed connection to the engine, or after a resync found the event
	// stream suspect.
	reconnectsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      metricsNamespace,
		Subsystem:      metricsSubsystem,
		Name:           "reconnects_total",
		Help:           "Attempts to reconnect to the engine after the connection failed or was lost, by resource.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"resource"})

	// eventLatency is the time from reading an engine event to the store
	// holding the object's new state (coalesced events count from the first).
	eventLatency = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Namespace:      metricsNamespace,
		Subsystem:      metricsSubsystem,
		Name:           "event_to_store_seconds",
		Help:           "Time from receiving an engine event to the mirror being stored, by resource.",
		Buckets:        metrics.ExponentialBuckets(0.001, 2, 15),
		StabilityLevel: metrics.ALPHA,
	}, []string{"resource"})

	registerMetricsOnce sync.Once
)

// registerMetrics registers the metrics with the legacy registry once per
// process, so creating several Reconcilers (tests) does not panic.
func registerMetrics() {
	registerMetricsOnce.Do(func() {
		legacyregistry.MustRegister(objectsGauge, eventsTotal, fullSyncsTotal, objectErrorsTotal,
			resyncRepairsTotal, reconnectsTotal, eventLatency)
	})
}
