package apiserver

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"

	"github.com/rancher-sandbox/containers-apiserver/pkg/storage/memory"
)

// Storage figures on /metrics, read from the stores when scraped.
var (
	storageObjectsDesc = metrics.NewDesc("containers_apiserver_storage_objects",
		"Objects held in the in-memory storage.", []string{"resource"}, nil, metrics.ALPHA, "")
	storageEventsDesc = metrics.NewDesc("containers_apiserver_storage_events_total",
		"Changes committed to the in-memory storage (each one a watch event).", []string{"resource"}, nil, metrics.ALPHA, "")
	storageWatchersDesc = metrics.NewDesc("containers_apiserver_storage_watchers",
		"Open watches on the in-memory storage.", []string{"resource"}, nil, metrics.ALPHA, "")
	storageSlowWatchersDesc = metrics.NewDesc("containers_apiserver_storage_slow_watchers_terminated_total",
		"Watches ended because their client did not keep up.", []string{"resource"}, nil, metrics.ALPHA, "")
	storageHistoryDesc = metrics.NewDesc("containers_apiserver_storage_history_events",
		"Events kept in the watch history.", []string{"resource"}, nil, metrics.ALPHA, "")
)

// storageCollector reports the stores of every running server in this
// process (one in production; tests start several). The registry is global,
// so the collector is registered once and servers join and leave it.
type storageCollector struct {
	metrics.BaseStableCollector

	// mu guards getters.
	mu      sync.Mutex
	getters map[*memory.RESTOptionsGetter]struct{}
}

var (
	collector         = &storageCollector{getters: map[*memory.RESTOptionsGetter]struct{}{}}
	registerCollector sync.Once
)

func (c *storageCollector) add(g *memory.RESTOptionsGetter) {
	registerCollector.Do(func() { legacyregistry.CustomMustRegister(collector) })
	c.mu.Lock()
	defer c.mu.Unlock()
	c.getters[g] = struct{}{}
}

func (c *storageCollector) remove(g *memory.RESTOptionsGetter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.getters, g)
}

func (c *storageCollector) DescribeWithStability(ch chan<- *metrics.Desc) {
	for _, d := range []*metrics.Desc{storageObjectsDesc, storageEventsDesc, storageWatchersDesc, storageSlowWatchersDesc, storageHistoryDesc} {
		ch <- d
	}
}

func (c *storageCollector) CollectWithStability(ch chan<- metrics.Metric) {
	c.mu.Lock()
	getters := make([]*memory.RESTOptionsGetter, 0, len(c.getters))
	for g := range c.getters {
		getters = append(getters, g)
	}
	c.mu.Unlock()

	// Sum per resource: each label set may be reported only once.
	sums := map[string]*memory.Metrics{}
	for _, g := range getters {
		for gr, m := range g.Metrics() {
			s := sums[gr.Resource]
			if s == nil {
				s = &memory.Metrics{}
				sums[gr.Resource] = s
			}
			s.Objects += m.Objects
			s.EventsTotal += m.EventsTotal
			s.Watchers += m.Watchers
			s.SlowWatchersTerminated += m.SlowWatchersTerminated
			s.HistoryEvents += m.HistoryEvents
		}
	}
	for res, m := range sums {
		ch <- metrics.NewLazyConstMetric(storageObjectsDesc, metrics.GaugeValue, float64(m.Objects), res)
		ch <- metrics.NewLazyConstMetric(storageEventsDesc, metrics.CounterValue, float64(m.EventsTotal), res)
		ch <- metrics.NewLazyConstMetric(storageWatchersDesc, metrics.GaugeValue, float64(m.Watchers), res)
		ch <- metrics.NewLazyConstMetric(storageSlowWatchersDesc, metrics.CounterValue, float64(m.SlowWatchersTerminated), res)
		ch <- metrics.NewLazyConstMetric(storageHistoryDesc, metrics.GaugeValue, float64(m.HistoryEvents), res)
	}
}
