package proxy

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/osmen-ai/llmroute/sidecar/metrics"
	"github.com/osmen-ai/llmroute/sidecar/resilience"
)

// providerStats are a provider's counters and pre-resolved metric children,
// so the request path never hashes label values. They survive reloads with the
// provider's breaker.
type providerStats struct {
	name     string
	attempts map[string]prometheus.Counter // by outcome
	retries  prometheus.Counter
	// served and failed count requests for /debug/providers.
	served, failed atomic.Int64
	// byModel caches per-model children: model → *modelStats.
	byModel sync.Map
}

type modelStats struct {
	ttft                prometheus.Observer
	inTokens, outTokens map[string]prometheus.Observer // by operation
}

func (px *Proxy) newProviderStats(name string) *providerStats {
	s := &providerStats{name: name, attempts: map[string]prometheus.Counter{}}
	m := px.metrics
	for _, o := range metrics.Outcomes {
		s.attempts[o] = m.Attempts.WithLabelValues(name, o)
	}
	s.retries = m.Retries.WithLabelValues(name)
	m.Breaker.WithLabelValues(name).Set(0)
	return s
}

func (s *providerStats) model(m *metrics.Metrics, model string) *modelStats {
	if v, ok := s.byModel.Load(model); ok {
		return v.(*modelStats)
	}
	ms := &modelStats{
		ttft:      m.TTFT.WithLabelValues(s.name, model),
		inTokens:  map[string]prometheus.Observer{},
		outTokens: map[string]prometheus.Observer{},
	}
	for _, op := range operations {
		ms.inTokens[op] = m.Tokens.WithLabelValues(op, s.name, model, "input")
		ms.outTokens[op] = m.Tokens.WithLabelValues(op, s.name, model, "output")
	}
	v, _ := s.byModel.LoadOrStore(model, ms)
	return v.(*modelStats)
}

// onBreakerChange logs a breaker's transitions and reports them as metrics.
// It runs under the breaker's lock, so it only records.
func (px *Proxy) onBreakerChange(s *providerStats) func(string, gobreaker.State, gobreaker.State) {
	gauge := px.metrics.Breaker.WithLabelValues(s.name)
	return func(name string, from, to gobreaker.State) {
		gauge.Set(resilience.StateValue(to))
		px.metrics.BreakerTransitions.WithLabelValues(name, stateName(from), stateName(to)).Inc()
		px.log.Info("Circuit breaker changed state", "provider", name, "from", stateName(from), "to", stateName(to))
	}
}

// requestSeries caches the children of the two series every routed request
// updates, llmroute_requests_total and the operation duration, by their
// label values: finish finds them in one map lookup instead of having each
// vector validate and hash five or three label values on every request.
// The labels are low-cardinality by construction, so the map stays small.
type requestSeries struct {
	mu sync.RWMutex
	m  map[seriesLabels]seriesChildren
}

type seriesLabels struct{ op, provider, model, rule, statusClass, errType string }

type seriesChildren struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func (c *requestSeries) get(m *metrics.Metrics, l seriesLabels) seriesChildren {
	c.mu.RLock()
	s, ok := c.m[l]
	c.mu.RUnlock()
	if ok {
		return s
	}
	s = seriesChildren{
		requests: m.Requests.WithLabelValues(l.rule, l.provider, l.statusClass),
		duration: m.Duration.WithLabelValues(l.op, l.provider, l.model, l.rule, l.errType),
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[seriesLabels]seriesChildren{}
	}
	c.m[l] = s
	c.mu.Unlock()
	return s
}
