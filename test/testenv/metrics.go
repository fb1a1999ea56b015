package testenv

import "k8s.io/component-base/metrics/legacyregistry"

// Metric sums the samples of the counter or gauge called name whose labels
// include want, from this process's legacy registry: the metrics of a server
// started by StartServer (all of them, if there are several).
func Metric(name string, want map[string]string) (float64, error) {
	mfs, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	samples:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue samples
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum, nil
}
