// Package metrics defines the sidecar's Prometheus metrics: the OpenTelemetry
// GenAI client metrics under their Prometheus names, and llmroute_* for what
// the sidecar itself did (attempts, retries, fallbacks, breakers, budget,
// rate limits, reloads).
//
// Labels are low-cardinality by construction: provider and rule come from the
// config, and a model is reported as configured or as "other".
package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// Metrics holds every collector, registered on its own registry.
type Metrics struct {
	Registry *prometheus.Registry

	Duration           *prometheus.HistogramVec // gen_ai_client_operation_duration_seconds
	Tokens             *prometheus.HistogramVec // gen_ai_client_token_usage
	TTFT               *prometheus.HistogramVec // gen_ai_server_time_to_first_token_seconds
	Requests           *prometheus.CounterVec   // llmroute_requests_total
	Passthrough        *prometheus.CounterVec   // llmroute_passthrough_requests_total
	Attempts           *prometheus.CounterVec   // llmroute_upstream_attempts_total
	Retries            *prometheus.CounterVec   // llmroute_retries_total
	Fallbacks          *prometheus.CounterVec   // llmroute_fallbacks_total
	Breaker            *prometheus.GaugeVec     // llmroute_circuit_breaker_state
	BreakerTransitions *prometheus.CounterVec   // llmroute_circuit_breaker_transitions_total
	BudgetExhausted    prometheus.Counter       // llmroute_retry_budget_exhausted_total
	RateLimits         *prometheus.CounterVec   // llmroute_rate_limited_total
	Reloads            *prometheus.CounterVec   // llmroute_config_reloads_total
	LoadShed           prometheus.Counter       // llmroute_load_shed_total
	InFlight           prometheus.Gauge         // llmroute_in_flight_requests
	Overhead           prometheus.Histogram     // llmroute_overhead_seconds
	CredentialState    *CredentialStates        // llmroute_credential_state
	KeyAttempts        *prometheus.CounterVec   // llmroute_key_attempts_total
	TokenFetches       *prometheus.CounterVec   // llmroute_token_fetches_total
}

// Outcomes of an upstream attempt, the values of the outcome label.
const (
	OutcomeSuccess     = "success"
	OutcomeClientErr   = "client_error" // a 4xx refusing the request itself (400, 413, 422, …)
	OutcomeRefused     = "refused"      // the provider will not serve us: 401, 402, 403, 404, 429 insufficient_quota
	OutcomeRateLimit   = "rate_limited" // 429
	OutcomeServerErr   = "server_error" // 5xx
	OutcomeConnect     = "connect_failure"
	OutcomeReset       = "reset"
	OutcomeTimeout     = "timeout"
	OutcomeStreamErr   = "stream_error"
	OutcomeCanceled    = "canceled"     // the client went away
	OutcomeBadResponse = "bad_response" // a success status with a body or event that cannot be read
)

// Outcomes lists every outcome, for pre-resolving metric children.
var Outcomes = []string{
	OutcomeSuccess, OutcomeClientErr, OutcomeRefused, OutcomeRateLimit, OutcomeServerErr, OutcomeConnect,
	OutcomeReset, OutcomeTimeout, OutcomeStreamErr, OutcomeCanceled, OutcomeBadResponse,
}

// New creates and registers the metrics, with the Go runtime and process collectors.
func New() *Metrics {
	latency := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320}
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gen_ai_client_operation_duration_seconds",
			Help:    "GenAI operation duration as the client sees it, retries and fallbacks included.",
			Buckets: latency,
		}, []string{"gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "llmroute_rule", "error_type"}),
		Tokens: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gen_ai_client_token_usage",
			Help:    "Tokens used per request, as the provider reported them.",
			Buckets: []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304},
		}, []string{"gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_token_type"}),
		TTFT: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gen_ai_server_time_to_first_token_seconds",
			Help:    "Time from the request to the first streamed content, as the client sees it.",
			Buckets: []float64{.001, .005, .01, .02, .04, .06, .08, .1, .25, .5, .75, 1, 2.5, 5, 7.5, 10},
		}, []string{"gen_ai_provider_name", "gen_ai_request_model"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmroute_requests_total",
			Help: "Client requests, by rule, the provider that served them and status class.",
		}, []string{"rule", "provider", "status_class"}),
		Passthrough: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmroute_passthrough_requests_total",
			Help: "Calls passed through to a provider unrouted (files, audio, images, stored responses, …), by provider and status class.",
		}, []string{"provider", "status_class"}),
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmroute_upstream_attempts_total",
			Help: "Upstream attempts by provider and outcome.",
		}, []string{"provider", "outcome"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmroute_retries_total",
			Help: "Retries of a request on the same provider.",
		}, []string{"provider"}),
		Fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmroute_fallbacks_total",
			Help: "Moves of a request from one provider to the next, by reason.",
		}, []string{"from", "to", "reason"}),
		Breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "llmroute_circuit_breaker_state",
			Help: "Circuit breaker state per provider: 0 closed, 1 half-open, 2 open.",
		}, []string{"provider"}),
		BreakerTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmroute_circuit_breaker_transitions_total",
			Help: "Circuit breaker state changes per provider.",
		}, []string{"provider", "from", "to"}),
		BudgetExhausted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "llmroute_retry_budget_exhausted_total",
			Help: "Retries refused because the sidecar's retry budget was spent.",
		}),
		RateLimits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmroute_rate_limited_total",
			Help: "Requests refused by the sidecar's rate limit (scope request), or providers skipped over their own per-minute caps (scope provider).",
		}, []string{"scope", "provider"}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmroute_config_reloads_total",
			Help: "Configuration reloads by result (success, failure).",
		}, []string{"result"}),
		LoadShed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "llmroute_load_shed_total",
			Help: "Requests refused with 503 because the sidecar held as many buffered bytes as --max-buffered-bytes allows.",
		}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "llmroute_in_flight_requests",
			Help: "Client requests being served.",
		}),
		Overhead: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "llmroute_overhead_seconds",
			Help:    "Time spent in the sidecar itself per request: total minus upstream time and backoff waits.",
			Buckets: []float64{.00001, .00002, .00005, .0001, .0002, .0005, .001, .002, .005, .01},
		}),
	}
	m.CredentialState = &CredentialStates{desc: prometheus.NewDesc(config.CredentialStateMetric,
		"State of each credential of a provider: 0 usable, 1 cooling down after a 429, 2 refused by the provider (401/403), "+
			"3 unavailable (no token could be obtained). key is the apiKeys name, or the source's kind (apiKey, token, oauth2, google).",
		[]string{"provider", "key"}, nil)}
	m.KeyAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "llmroute_key_attempts_total",
		Help: "Upstream attempts by provider, key (the apiKeys name, never the key) and outcome, for providers with several keys.",
	}, []string{"provider", "key", "outcome"})
	m.TokenFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "llmroute_token_fetches_total",
		Help: "Requests for an access token to a provider's token endpoint (oauth2ClientCredentials, googleExternalAccount), by result (success, failure).",
	}, []string{"provider", "result"})
	m.Registry.MustRegister(m.Duration, m.Tokens, m.TTFT, m.Requests, m.Passthrough, m.Attempts, m.Retries, m.Fallbacks,
		m.Breaker, m.BreakerTransitions, m.BudgetExhausted, m.RateLimits, m.Reloads, m.LoadShed, m.InFlight, m.Overhead,
		m.CredentialState, m.KeyAttempts, m.TokenFetches,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// CredentialStates is llmroute_credential_state, read at scrape time from
// the configuration being served: a reload that removes a key or a provider
// leaves no stale series behind, and a cool-down that ended shows as over
// without a timer to say so.
type CredentialStates struct {
	desc *prometheus.Desc
	list atomic.Pointer[func(yield func(provider, key string, state config.CredentialState))]
}

// Set installs what lists the states: it calls yield once per credential.
func (c *CredentialStates) Set(list func(yield func(provider, key string, state config.CredentialState))) {
	c.list.Store(&list)
}

// Describe implements prometheus.Collector.
func (c *CredentialStates) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *CredentialStates) Collect(ch chan<- prometheus.Metric) {
	list := c.list.Load()
	if list == nil {
		return
	}
	(*list)(func(provider, key string, state config.CredentialState) {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(state), provider, key)
	})
}
