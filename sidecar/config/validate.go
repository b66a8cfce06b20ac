package config

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
)

// MaxProviders bounds a route's providers, as the CRD does.
const MaxProviders = 16

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// FieldError is one problem in a Config, located by its field path
// (for example "providers[1].baseURL").
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Validate checks a defaulted Config and returns every problem at once, joined,
// each a *FieldError naming its field.
func (c *Config) Validate() error {
	var v validator
	if c.Version != Version {
		v.add("version", "unsupported version %d: this sidecar reads version %d", c.Version, Version)
	}
	v.providers(c.Providers)
	v.rules(c.Rules, c.Providers)
	v.retry(c.Retry)
	v.breaker(c.CircuitBreaker)
	v.positive("timeouts.request", c.Timeouts.Request)
	v.positive("timeouts.streamIdle", c.Timeouts.StreamIdle)
	if c.RateLimit.RequestsPerSecond < 0 {
		v.add("rateLimit.requestsPerSecond", "must be 0 (off) or positive, got %v", c.RateLimit.RequestsPerSecond)
	}
	if c.RateLimit.Burst < 0 {
		v.add("rateLimit.burst", "must not be negative, got %d", c.RateLimit.Burst)
	}
	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (v *validator) positive(field string, d Duration) {
	if d.Duration <= 0 {
		v.add(field, "must be a positive duration, got %s", d)
	}
}

func (v *validator) providers(ps []Provider) {
	switch {
	case len(ps) == 0:
		v.add("providers", "at least one provider is required")
	case len(ps) > MaxProviders:
		v.add("providers", "at most %d providers are allowed, got %d", MaxProviders, len(ps))
	}
	seen := map[string]int{}
	for i, p := range ps {
		f := fmt.Sprintf("providers[%d]", i)
		switch {
		case p.Name == "":
			v.add(f+".name", "required")
		case !dnsLabel.MatchString(p.Name):
			v.add(f+".name", "%q is not a DNS label (lower-case letters, digits and '-', at most 63)", p.Name)
		}
		if j, dup := seen[p.Name]; dup && p.Name != "" {
			v.add(f+".name", "duplicate provider name %q (also providers[%d])", p.Name, j)
		}
		seen[p.Name] = i
		if !slices.Contains(ProviderTypes, p.Type) {
			v.add(f+".type", "unknown type %q: want one of %v", p.Type, ProviderTypes)
		}
		switch u, err := url.Parse(p.BaseURL); {
		case p.BaseURL == "":
			v.add(f+".baseURL", "required for type %s", p.Type)
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			v.add(f+".baseURL", "%q is not an http(s) URL", p.BaseURL)
		}
		if p.APIKeyFile != "" && p.APIKeyEnv != "" {
			v.add(f+".apiKeyFile", "set apiKeyFile or apiKeyEnv, not both")
		}
		if p.Type.needsKey() && p.APIKeyFile == "" && p.APIKeyEnv == "" {
			v.add(f+".apiKeyFile", "type %s needs an API key: set apiKeyFile or apiKeyEnv", p.Type)
		}
		v.positive(f+".timeout", p.Timeout)
		for from, to := range p.Models {
			if from == "" || to == "" {
				v.add(f+".models", "model names must not be empty (got %q: %q)", from, to)
			}
		}
		if p.RequestsPerMinute < 0 {
			v.add(f+".requestsPerMinute", "must not be negative, got %d", p.RequestsPerMinute)
		}
		if p.TokensPerMinute < 0 {
			v.add(f+".tokensPerMinute", "must not be negative, got %d", p.TokensPerMinute)
		}
	}
}

func (v *validator) rules(rules []Rule, ps []Provider) {
	if len(rules) == 0 {
		v.add("rules", "at least one rule is required")
	}
	for i, r := range rules {
		f := fmt.Sprintf("rules[%d]", i)
		for j, m := range r.Models {
			if _, err := path.Match(m, ""); err != nil || m == "" {
				v.add(fmt.Sprintf("%s.models[%d]", f, j), "%q is not a valid glob pattern", m)
			}
		}
		if len(r.Backends) == 0 {
			v.add(f+".backends", "at least one backend is required")
		}
		for j, b := range r.Backends {
			bf := fmt.Sprintf("%s.backends[%d]", f, j)
			if !slices.ContainsFunc(ps, func(p Provider) bool { return p.Name == b }) {
				v.add(bf, "%q names no provider", b)
			}
			if slices.Index(r.Backends, b) < j {
				v.add(bf, "%q is listed twice", b)
			}
		}
	}
}

func (v *validator) retry(r Retry) {
	if r.Attempts < 1 || r.Attempts > 10 {
		v.add("retry.attempts", "must be between 1 and 10, got %d", r.Attempts)
	}
	v.positive("retry.initialBackoff", r.InitialBackoff)
	v.positive("retry.maxBackoff", r.MaxBackoff)
	if r.MaxBackoff.Duration < r.InitialBackoff.Duration {
		v.add("retry.maxBackoff", "%s is shorter than initialBackoff %s", r.MaxBackoff, r.InitialBackoff)
	}
	if r.Multiplier < 1 || r.Multiplier > 10 {
		v.add("retry.multiplier", "must be between 1 and 10, got %v", r.Multiplier)
	}
	for i, s := range r.RetryOn {
		if !validRetryOn(s) {
			v.add(fmt.Sprintf("retry.retryOn[%d]", i), "%q is neither a status code 400-599 nor one of %s, %s, %s", s, RetryConnectFailure, RetryReset, RetryTimeout)
		}
	}
	if r.MaxRetryAfter.Duration < 0 {
		v.add("retry.maxRetryAfter", "must not be negative, got %s", r.MaxRetryAfter)
	}
	if p := r.BudgetPercent; p != nil && (*p < 0 || *p > 100) {
		v.add("retry.budgetPercent", "must be between 0 and 100, got %d", *p)
	}
	if m := r.MinRetriesPerSecond; m != nil && *m < 0 {
		v.add("retry.minRetriesPerSecond", "must not be negative, got %d", *m)
	}
}

func validRetryOn(s string) bool {
	switch s {
	case RetryConnectFailure, RetryReset, RetryTimeout:
		return true
	}
	code, err := strconv.Atoi(s)
	return err == nil && len(s) == 3 && code >= 400 && code <= 599
}

func (v *validator) breaker(b CircuitBreaker) {
	if b.ConsecutiveFailures < 1 {
		v.add("circuitBreaker.consecutiveFailures", "must be at least 1, got %d", b.ConsecutiveFailures)
	}
	if b.FailureRatio <= 0 || b.FailureRatio > 1 {
		v.add("circuitBreaker.failureRatio", "must be in (0, 1], got %v", b.FailureRatio)
	}
	if b.MinRequests < 1 {
		v.add("circuitBreaker.minRequests", "must be at least 1, got %d", b.MinRequests)
	}
	v.positive("circuitBreaker.interval", b.Interval)
	v.positive("circuitBreaker.openTimeout", b.OpenTimeout)
	if b.HalfOpenRequests < 1 {
		v.add("circuitBreaker.halfOpenRequests", "must be at least 1, got %d", b.HalfOpenRequests)
	}
}
