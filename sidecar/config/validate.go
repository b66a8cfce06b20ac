package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
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
		v.baseURL(f, p)
		v.apis(f, p)
		v.headers(f, p.Headers)
		v.credentials(f, p)
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

// baseURL checks a provider's base URL. It may not carry credentials
// (user:pass@ would be logged and shown wherever the URL is) or a fragment
// (meaningless to a server), and a key goes over plain http only to this
// machine or the cluster, unless the provider says insecure.
func (v *validator) baseURL(f string, p Provider) {
	if p.BaseURL == "" {
		v.add(f+".baseURL", "required for type %s", p.Type)
		return
	}
	u := v.httpURL(f+".baseURL", p.BaseURL)
	if u == nil {
		return
	}
	switch {
	case u.User != nil:
		v.add(f+".baseURL", "must not contain user information (user:password@): put the credential in apiKeyFile")
	case u.Fragment != "" || strings.HasSuffix(p.BaseURL, "#"):
		v.add(f+".baseURL", "must not contain a fragment (#...)")
	}
	if p.HasCredential() && inClear(u, p.Insecure) {
		v.add(f+".baseURL", "http:// would send the API key unencrypted to %s: use https://, or set insecure: true to allow it", u.Hostname())
	}
}

// httpURL parses an http(s) URL with a host, or says it is not one and
// returns nil.
func (v *validator) httpURL(field, raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(field, "%q is not an http(s) URL", RedactURL(raw))
		return nil
	}
	return u
}

// inClear reports whether a credential sent to u would cross a network
// unencrypted without the provider saying insecure.
func inClear(u *url.URL, insecure bool) bool {
	return u.Scheme == "http" && !insecure && !LocalHost(u.Hostname())
}

// LocalHost reports whether host is this machine (localhost, a loopback
// address) or a cluster-local service name, where plain http does not leave
// the node or the cluster network.
func LocalHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	return strings.HasSuffix(host, ".svc") || strings.HasSuffix(host, ".cluster.local")
}

// RedactURL returns a URL with its user information and query string
// replaced, for logs and errors: either may carry a credential.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	return u.String()
}

func (v *validator) apis(f string, p Provider) {
	if len(p.APIs) == 0 {
		v.add(f+".apis", "at least one API is required")
	}
	for i, api := range p.APIs {
		af := fmt.Sprintf("%s.apis[%d]", f, i)
		switch {
		case !slices.Contains(APIs, api):
			v.add(af, "unknown API %q: want one of %v", api, APIs)
		case slices.Index(p.APIs, api) < i:
			v.add(af, "%q is listed twice", api)
		case (api == Messages) != (p.Type == Anthropic) && slices.Contains(ProviderTypes, p.Type):
			if p.Type == Anthropic {
				v.add(af, "type Anthropic serves the Messages API only, not %s", api)
			} else {
				v.add(af, "type %s speaks the OpenAI format and cannot serve the Anthropic Messages API", p.Type)
			}
		}
	}
}

// headers checks static provider headers: valid names and values, and none
// that the sidecar owns (credentials, framing, hop-by-hop).
func (v *validator) headers(f string, hs map[string]string) {
	for _, name := range sortedKeys(hs) {
		hf := f + ".headers." + name
		switch {
		case !httpguts.ValidHeaderFieldName(name):
			v.add(hf, "%q is not a valid HTTP header name", name)
		case reservedHeader(name):
			v.add(hf, "%s is set by the sidecar and cannot be configured here (credentials go in apiKeyFile)", name)
		case strings.ContainsAny(hs[name], "\r\n\x00"):
			v.add(hf, "the value must not contain line breaks or NUL")
		case !httpguts.ValidHeaderFieldValue(hs[name]):
			v.add(hf, "the value must not contain control characters other than tab: no request with it could be sent")
		}
	}
}

func reservedHeader(name string) bool {
	switch strings.ToLower(name) {
	case "authorization", "x-api-key", "api-key", "proxy-authorization", "host", "content-length",
		"content-type", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade",
		"x-request-id":
		return true
	}
	return false
}

// globs checks model patterns: the rules' and the API keys'.
func (v *validator) globs(field string, patterns []string) {
	for j, m := range patterns {
		if _, err := path.Match(m, ""); err != nil || m == "" {
			v.add(fmt.Sprintf("%s[%d]", field, j), "%q is not a valid glob pattern", m)
		}
	}
}

func (v *validator) rules(rules []Rule, ps []Provider) {
	if len(rules) == 0 {
		v.add("rules", "at least one rule is required")
	}
	for i, r := range rules {
		f := fmt.Sprintf("rules[%d]", i)
		v.globs(f+".models", r.Models)
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
