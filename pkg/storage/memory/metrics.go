package memory

// Metrics is a point-in-time view of a Store's counters, for /metrics.
type Metrics struct {
	// Objects is the number of objects stored.
	Objects int64
	// ResourceVersion is the store's current resourceVersion.
	ResourceVersion uint64
	// HistoryEvents is the number of events retained in the history ring.
	HistoryEvents int
	// EventsTotal counts committed changes (each one is a watch event in the
	// history; no-op updates are not counted). Monotonic.
	EventsTotal uint64
	// EventsDelivered counts events (including bookmarks and errors) put on
	// watcher result channels. Monotonic.
	EventsDelivered uint64
	// Watchers is the number of live watchers.
	Watchers int
	// SlowWatchersTerminated counts watchers closed because their consumer did
	// not keep up. Monotonic.
	SlowWatchersTerminated uint64
}

// Metrics returns the current counters. Cheap; safe for concurrent use.
func (s *Store) Metrics() Metrics {
	s.mu.RLock()
	m := Metrics{
		Objects:         int64(len(s.items)),
		ResourceVersion: s.rv,
		HistoryEvents:   s.hist.len(),
	}
	s.mu.RUnlock()
	s.wmu.Lock()
	m.Watchers = len(s.watchers)
	s.wmu.Unlock()
	m.EventsTotal = s.eventsTotal.Load()
	m.EventsDelivered = s.eventsDelivered.Load()
	m.SlowWatchersTerminated = s.slowTerminated.Load()
	return m
}
