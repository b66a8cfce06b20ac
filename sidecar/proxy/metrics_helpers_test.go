package proxy

import (
	"sort"
	"strings"
	"testing"
)

// counterValue reads a counter or gauge from the proxy's registry. sel is a
// metric name, summed over its series, or name{label="value",...} with the
// labels sorted by name, for one series.
func counterValue(t *testing.T, px *Proxy, sel string) float64 {
	t.Helper()
	families, err := px.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	name, labels, _ := strings.Cut(sel, "{")
	labels = strings.TrimSuffix(labels, "}")
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
			}
			sort.Strings(ls)
			if labels != "" && strings.Join(ls, ",") != labels {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}
