package config

import (
	"math"
	"slices"
	"time"
)

// Defaults: 3 attempts waiting 2 s then 4 s (capped at 10 s), and a
// breaker that opens after 5 failures in a row.
const (
	DefaultProviderTimeout     = 60 * time.Second
	DefaultAttempts            = 3
	DefaultInitialBackoff      = 2 * time.Second
	DefaultMaxBackoff          = 10 * time.Second
	DefaultMultiplier          = 2.0
	DefaultMaxRetryAfter       = 30 * time.Second
	DefaultBudgetPercent       = 20
	DefaultMinRetriesPerSecond = 5
	DefaultConsecutiveFailures = 5
	DefaultFailureRatio        = 0.5
	DefaultMinRequests         = 20
	DefaultInterval            = 60 * time.Second
	DefaultOpenTimeout         = 30 * time.Second
	DefaultHalfOpenRequests    = 1
	DefaultRequestTimeout      = 300 * time.Second
	DefaultStreamIdleTimeout   = 60 * time.Second
	DefaultAnthropicVersion    = "2023-06-01"
)

// DefaultRetryOn is what is retried when RetryOn is empty: rate limits, server
// errors, Anthropic's 529 "overloaded", and the transient network failures.
var DefaultRetryOn = []string{"429", "500", "502", "503", "504", "529", RetryConnectFailure, RetryReset, RetryTimeout}

// The network failures RetryOn can name besides status codes.
const (
	RetryConnectFailure = "connect-failure" // the connection could not be made
	RetryReset          = "reset"           // the connection broke before the response was complete
	RetryTimeout        = "timeout"         // the attempt timed out
)

// Default fills every unset field with its default. It is idempotent.
func (c *Config) Default() {
	if c.Version == 0 {
		c.Version = Version
	}
	for i := range c.Providers {
		p := &c.Providers[i]
		if p.BaseURL == "" {
			p.BaseURL = DefaultBaseURL[p.Type]
		}
		setDuration(&p.Timeout, DefaultProviderTimeout)
		if len(p.APIs) == 0 {
			p.APIs = slices.Clone(DefaultAPIs[p.Type])
		}
		p.defaultCredentials()
		if p.Type == Anthropic && p.AnthropicVersion == "" {
			p.AnthropicVersion = DefaultAnthropicVersion
		}
	}

	r := &c.Retry
	if r.Attempts == 0 {
		r.Attempts = DefaultAttempts
	}
	setDuration(&r.InitialBackoff, DefaultInitialBackoff)
	setDuration(&r.MaxBackoff, max(DefaultMaxBackoff, r.InitialBackoff.Duration))
	if r.Multiplier == 0 {
		r.Multiplier = DefaultMultiplier
	}
	if r.Jitter == nil {
		r.Jitter = ptr(true)
	}
	if len(r.RetryOn) == 0 {
		r.RetryOn = append([]string(nil), DefaultRetryOn...)
	}
	setDuration(&r.MaxRetryAfter, DefaultMaxRetryAfter)
	if r.BudgetPercent == nil {
		r.BudgetPercent = ptr(DefaultBudgetPercent)
	}
	if r.MinRetriesPerSecond == nil {
		r.MinRetriesPerSecond = ptr(DefaultMinRetriesPerSecond)
	}

	b := &c.CircuitBreaker
	if b.ConsecutiveFailures == 0 {
		b.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if b.FailureRatio == 0 {
		b.FailureRatio = DefaultFailureRatio
	}
	if b.MinRequests == 0 {
		b.MinRequests = DefaultMinRequests
	}
	setDuration(&b.Interval, DefaultInterval)
	setDuration(&b.OpenTimeout, DefaultOpenTimeout)
	if b.HalfOpenRequests == 0 {
		b.HalfOpenRequests = DefaultHalfOpenRequests
	}

	setDuration(&c.Timeouts.Request, DefaultRequestTimeout)
	setDuration(&c.Timeouts.StreamIdle, DefaultStreamIdleTimeout)

	if c.RateLimit.RequestsPerSecond > 0 && c.RateLimit.Burst == 0 {
		c.RateLimit.Burst = int(math.Ceil(c.RateLimit.RequestsPerSecond))
	}
}

func setDuration(d *Duration, def time.Duration) {
	if d.Duration == 0 {
		d.Duration = def
	}
}

func ptr[T any](v T) *T { return &v }
