// Package config is the sidecar's configuration file schema: the contract between
// the operator, which renders it from an LLMRoute, and llmroute-sidecar, which
// loads it. It also serves people who run the sidecar by hand from a plain file.
//
// The life of a Config is Load (or Parse) → Default → Validate, once; the request
// path never re-checks it.
package config

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Version is the only schema version this package reads.
const Version = 1

// Config is the sidecar configuration file.
type Config struct {
	// Version is the schema version; it must be 1.
	Version int `json:"version"`
	// Providers are the upstream LLM APIs this route may call; 1..16, names unique.
	Providers []Provider `json:"providers"`
	// Rules map a request's model to an ordered list of providers to try.
	// The first rule whose Models match wins; a rule with no Models matches
	// every model.
	Rules []Rule `json:"rules"`
	// Retry governs retries on one provider and the sidecar-wide retry budget.
	Retry Retry `json:"retry,omitzero"`
	// CircuitBreaker is applied to each provider separately.
	CircuitBreaker CircuitBreaker `json:"circuitBreaker,omitzero"`
	// Timeouts bound a whole request and the silence inside a stream.
	Timeouts Timeouts `json:"timeouts,omitzero"`
	// RateLimit caps the requests this sidecar accepts from its pod.
	RateLimit RateLimit `json:"rateLimit,omitzero"`
}

// ProviderType names a provider's API family.
type ProviderType string

// The provider types. All but Anthropic speak the OpenAI wire format.
const (
	OpenAI           ProviderType = "OpenAI"
	Anthropic        ProviderType = "Anthropic"
	Ollama           ProviderType = "Ollama"
	LMStudio         ProviderType = "LMStudio"
	OpenAICompatible ProviderType = "OpenAICompatible"
)

// ProviderTypes lists the valid provider types, in documentation order.
var ProviderTypes = []ProviderType{OpenAI, Anthropic, Ollama, LMStudio, OpenAICompatible}

// DefaultBaseURL is what each type's own SDK uses when no base URL is given:
// with /v1 for the OpenAI family, the bare host for Anthropic.
// OpenAICompatible has none: its BaseURL is required.
var DefaultBaseURL = map[ProviderType]string{
	OpenAI:    "https://api.openai.com/v1",
	Anthropic: "https://api.anthropic.com",
	Ollama:    "http://localhost:11434/v1",
	LMStudio:  "http://localhost:1234/v1",
}

// API names an LLM API, as a client calls it and as a provider serves it.
type API string

// The APIs. Messages is Anthropic's; the others are the OpenAI family's.
const (
	ChatCompletions API = "ChatCompletions" // POST /v1/chat/completions
	Responses       API = "Responses"       // POST /v1/responses
	Messages        API = "Messages"        // POST /v1/messages
	Completions     API = "Completions"     // POST /v1/completions (legacy)
	Embeddings      API = "Embeddings"      // POST /v1/embeddings
)

// APIs lists the valid APIs, in documentation order.
var APIs = []API{ChatCompletions, Responses, Messages, Completions, Embeddings}

// DefaultAPIs is what each provider type serves when apis is not set. Only
// OpenAI itself is assumed to serve the Responses API: a server that only
// looks like OpenAI may lack it, and a Responses request sent there is
// translated to chat completions instead, which every such server has.
var DefaultAPIs = map[ProviderType][]API{
	OpenAI:           {ChatCompletions, Responses, Completions, Embeddings},
	Anthropic:        {Messages},
	Ollama:           {ChatCompletions, Completions, Embeddings},
	LMStudio:         {ChatCompletions, Completions, Embeddings},
	OpenAICompatible: {ChatCompletions, Completions, Embeddings},
}

// Serves reports whether the provider serves api natively.
func (p *Provider) Serves(api API) bool { return slices.Contains(p.APIs, api) }

// needsKey reports whether calls to this type cannot work without a credential.
func (t ProviderType) needsKey() bool { return t == OpenAI || t == Anthropic }

// Provider is one upstream API.
type Provider struct {
	// Name identifies the provider in rules, logs and metrics; a DNS label.
	Name string `json:"name"`
	// Type is the API family; it decides the wire format and the auth header.
	Type ProviderType `json:"type"`
	// BaseURL is what the provider's own SDK calls its base URL. Defaults per Type.
	BaseURL string `json:"baseURL,omitempty"`
	// APIKeyFile is a file holding the API key; surrounding whitespace is trimmed.
	// The operator points it at the mounted keys Secret.
	APIKeyFile string `json:"apiKeyFile,omitempty"`
	// APIKeyEnv names an environment variable holding the API key, for
	// standalone use. A provider sets one credential source at most: see
	// credentials.go.
	APIKeyEnv string `json:"apiKeyEnv,omitempty"`
	// APIKeys are several static keys, spread by weight and health.
	APIKeys []APIKey `json:"apiKeys,omitempty"`
	// TokenFile holds a bearer token that something else keeps fresh (a
	// projected ServiceAccount token, an agent's file); it is re-read when
	// the file changes.
	TokenFile string `json:"tokenFile,omitempty"`
	// OAuth2ClientCredentials obtains and refreshes OAuth 2.0 access tokens.
	OAuth2ClientCredentials *OAuth2ClientCredentials `json:"oauth2ClientCredentials,omitempty"`
	// GoogleExternalAccount obtains and refreshes Google access tokens
	// through workload identity federation.
	GoogleExternalAccount *GoogleExternalAccount `json:"googleExternalAccount,omitempty"`
	// APIs are the LLM APIs the provider serves natively. A request of an API
	// it does not serve is translated to one it does where a translation
	// exists (Responses to ChatCompletions or Messages, ChatCompletions to
	// Messages and back), else the provider is skipped. Default per Type: see
	// DefaultAPIs.
	APIs []API `json:"apis,omitempty"`
	// Insecure allows sending the API key over plain http:// to a host that is
	// neither loopback nor a cluster-local name (*.svc, *.cluster.local).
	Insecure bool `json:"insecure,omitempty"`
	// Headers are sent on every request to this provider, replacing what the
	// app sent under those names (OpenAI-Organization, OpenAI-Project, a
	// gateway's routing header). They are configuration, not secrets:
	// credentials belong in apiKeyFile.
	Headers map[string]string `json:"headers,omitempty"`
	// Timeout bounds one attempt: until the response headers of a stream, or
	// the whole body of any other response. Default 60s.
	Timeout Duration `json:"timeout,omitzero"`
	// Models maps a requested model name to this provider's model name.
	Models map[string]string `json:"models,omitempty"`
	// DefaultModel is sent when a request reaches this provider with a model
	// that Models does not map (typically during a fallback). When empty, the
	// requested name is sent unchanged.
	DefaultModel string `json:"defaultModel,omitempty"`
	// AnthropicVersion is the anthropic-version header sent on requests that the
	// sidecar translated into the Anthropic format. Default 2023-06-01.
	AnthropicVersion string `json:"anthropicVersion,omitempty"`
	// RequestsPerMinute caps the calls this sidecar makes to the provider; over
	// it the provider is skipped like an open breaker. 0 means no cap.
	RequestsPerMinute int `json:"requestsPerMinute,omitempty"`
	// TokensPerMinute caps the tokens (input + output, as the provider reports
	// them) this sidecar spends on the provider per minute. 0 means no cap.
	TokensPerMinute int `json:"tokensPerMinute,omitempty"`
}

// Rule sends matching models to an ordered list of providers.
type Rule struct {
	// Models are glob patterns (path.Match syntax, e.g. "gpt-*"). Empty matches every model.
	Models []string `json:"models,omitempty"`
	// Backends are provider names, tried in order (the fallback cascade).
	Backends []string `json:"backends"`
}

// Retry governs retries within one provider and the sidecar-wide retry budget.
type Retry struct {
	// Attempts is the maximum number of tries per provider, first included; 1..10. Default 3.
	Attempts int `json:"attempts,omitempty"`
	// InitialBackoff is the wait before the first retry. Default 2s.
	InitialBackoff Duration `json:"initialBackoff,omitzero"`
	// MaxBackoff caps every wait. Default 10s.
	MaxBackoff Duration `json:"maxBackoff,omitzero"`
	// Multiplier grows the wait after each retry; ≥ 1. Default 2.
	Multiplier float64 `json:"multiplier,omitempty"`
	// Jitter draws each wait uniformly from [backoff/2, backoff] so that clients
	// that failed together do not retry together. Default true.
	Jitter *bool `json:"jitter,omitempty"`
	// RetryOn lists what is retried: HTTP status codes ("429", "503") and the
	// network failures "connect-failure", "reset" and "timeout".
	// Default: 429, 500, 502, 503, 504, 529, connect-failure, reset, timeout.
	RetryOn []string `json:"retryOn,omitempty"`
	// MaxRetryAfter is the longest Retry-After the sidecar waits for on a
	// provider; a longer one moves to the next provider at once. Default 30s.
	MaxRetryAfter Duration `json:"maxRetryAfter,omitzero"`
	// BudgetPercent caps retries (attempts after the first, fallbacks included)
	// at this percentage of requests over a 10 s window, plus
	// MinRetriesPerSecond. 0 turns the budget off. Default 20.
	BudgetPercent *int `json:"budgetPercent,omitempty"`
	// MinRetriesPerSecond is always allowed on top of BudgetPercent, so a
	// quiet sidecar can still retry. Default 5.
	MinRetriesPerSecond *int `json:"minRetriesPerSecond,omitempty"`
}

// JitterEnabled reports whether backoff waits are jittered.
func (r Retry) JitterEnabled() bool { return r.Jitter == nil || *r.Jitter }

// CircuitBreaker is one breaker per provider (sony/gobreaker semantics).
type CircuitBreaker struct {
	// ConsecutiveFailures trips the breaker after this many failures in a row. Default 5.
	ConsecutiveFailures int `json:"consecutiveFailures,omitempty"`
	// FailureRatio trips the breaker when failures/requests in Interval reach
	// it, once MinRequests were seen; (0, 1]. Default 0.5.
	FailureRatio float64 `json:"failureRatio,omitempty"`
	// MinRequests is how many requests Interval must see before FailureRatio applies. Default 20.
	MinRequests int `json:"minRequests,omitempty"`
	// Interval is the closed-state window after which the counts are cleared. Default 60s.
	Interval Duration `json:"interval,omitzero"`
	// OpenTimeout is how long an open breaker refuses calls before it lets
	// probes through (half-open). Default 30s.
	OpenTimeout Duration `json:"openTimeout,omitzero"`
	// HalfOpenRequests is how many probes a half-open breaker lets through;
	// that many successes close it. Default 1.
	HalfOpenRequests int `json:"halfOpenRequests,omitempty"`
}

// Timeouts bound whole requests and streams.
type Timeouts struct {
	// Request bounds a whole request: every attempt, wait and fallback, and a
	// stream to its end. Default 300s.
	Request Duration `json:"request,omitzero"`
	// StreamIdle bounds the gap between two events of a stream. Default 60s.
	StreamIdle Duration `json:"streamIdle,omitzero"`
}

// RateLimit is a token bucket over the requests the sidecar accepts.
type RateLimit struct {
	// RequestsPerSecond is the bucket's refill rate. 0 turns rate limiting off.
	RequestsPerSecond float64 `json:"requestsPerSecond,omitempty"`
	// Burst is the bucket's size. Default: RequestsPerSecond rounded up.
	Burst int `json:"burst,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("2s", "1m30s"),
// the same form Kubernetes' metav1.Duration uses, so rendered specs load as is.
type Duration struct{ time.Duration }

// D returns a Duration for a time.Duration.
func D(d time.Duration) Duration { return Duration{d} }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("want a duration string such as \"2s\", got %s", b)
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a number with a unit such as \"500ms\", \"2s\" or \"1m30s\"", s)
	}
	d.Duration = v
	return nil
}
