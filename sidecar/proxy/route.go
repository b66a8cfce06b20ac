package proxy

import (
	"fmt"
	"math"
	"path"
	"reflect"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/osmen-ai/llmroute/sidecar/config"
	"github.com/osmen-ai/llmroute/sidecar/credentials"
	"github.com/osmen-ai/llmroute/sidecar/resilience"
	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// route is a loaded config compiled for the request path: everything a
// request needs is looked up here, nothing is parsed per request. A reload
// builds a new route and swaps it in atomically; requests in flight finish on
// the route they started with.
type route struct {
	cfg       *config.Config
	creds     *credentials.Set
	providers map[string]*provider
	rules     []rule
	retryOn   *resilience.RetryOn
	limiter   *rate.Limiter // nil: no request rate limit
	models    []byte        // the GET /v1/models answer
}

type rule struct {
	name     string // "0", "1", … : the rule's index, a low-cardinality metrics label
	patterns []string
	backends []*provider
}

// provider is one upstream as the request path uses it.
type provider struct {
	cfg    config.Provider
	family translate.Family
	// backends maps a client's format to the format this provider is called
	// in for it: the same when it serves that API, a translatable one when it
	// does not; absent when it cannot serve that client at all.
	backends map[translate.Format]translate.Format
	// urls maps a backend format to its URL: baseURL + the format's path.
	urls map[translate.Format]string
	// base is the base URL without a trailing slash, for pass-through calls.
	base string
	// creds gives the credential of each call: a key in the family's header
	// (Authorization: Bearer for the OpenAI family, x-api-key for
	// Anthropic), or a bearer token.
	creds credentials.Source
	// keyed: the provider has several keys, and the access log says which
	// one each try used.
	keyed bool
	// versionHeader, when set, is sent with its value on translated requests
	// and on native ones that lack it (anthropic-version).
	versionHeader, version string
	breaker                *resilience.Breaker
	rpm                    *rate.Limiter // nil: no cap
	tpm                    *rate.Limiter // nil: no cap
	stats                  *providerStats
}

// match returns the first rule whose patterns match model.
func (rt *route) match(model string) *rule {
	for i := range rt.rules {
		r := &rt.rules[i]
		if len(r.patterns) == 0 {
			return r
		}
		for _, p := range r.patterns {
			if ok, _ := path.Match(p, model); ok {
				return r
			}
		}
	}
	return nil
}

// providerModel is the model name sent to p for a requested model.
func (p *provider) providerModel(requested string) string {
	if m, ok := p.cfg.Models[requested]; ok {
		return m
	}
	if p.cfg.DefaultModel != "" {
		return p.cfg.DefaultModel
	}
	return requested
}

// overQuota reports whether the provider's own per-minute caps are spent.
// The clock is read only for a provider that has a cap: most have none.
func (p *provider) overQuota(now func() time.Time) bool {
	if p.tpm == nil && p.rpm == nil {
		return false
	}
	t := now()
	if p.tpm != nil && p.tpm.TokensAt(t) < 1 {
		return true
	}
	return p.rpm != nil && !p.rpm.AllowN(t, 1)
}

// spendTokens charges a response's tokens to the provider's token cap,
// reading the clock only when it has one.
func (p *provider) spendTokens(now func() time.Time, n int) {
	if p.tpm == nil || n <= 0 {
		return
	}
	// ReserveN lets the bucket go into debt, so a large answer holds the
	// provider back for as long as it cost; it refuses only n > burst.
	p.tpm.ReserveN(now(), min(n, p.tpm.Burst()))
}

// compile builds a route from a validated config, reading the credential
// files. Breakers of providers whose settings did not change are carried
// over from prev, so a reload does not forget that a provider is down, and
// so is the state of credentials that did not change (a token still valid,
// a key cooling down). Nothing of prev changes: the new route's credentials
// start working when it is activated.
func (px *Proxy) compile(cfg *config.Config, prev *route) (*route, error) {
	var prevCreds *credentials.Set
	if prev != nil {
		prevCreds = prev.creds
	}
	creds, err := credentials.Build(cfg, prevCreds, &px.credEnv)
	if err != nil {
		return nil, err
	}
	rt := &route{
		cfg:       cfg,
		creds:     creds,
		providers: make(map[string]*provider, len(cfg.Providers)),
		retryOn:   resilience.NewRetryOn(cfg.Retry.RetryOn),
	}
	for _, pc := range cfg.Providers {
		p := newProvider(pc, creds.Get(pc.Name))
		if old := prev.provider(pc.Name); old != nil && sameBreakerSettings(old, pc, prev.cfg, cfg) {
			p.breaker, p.stats = old.breaker, old.stats
		} else {
			p.stats = px.newProviderStats(pc.Name)
			p.breaker = resilience.NewBreaker(pc.Name, cfg.CircuitBreaker, px.onBreakerChange(p.stats))
		}
		if old := prev.provider(pc.Name); old != nil && old.cfg.RequestsPerMinute == pc.RequestsPerMinute && old.cfg.TokensPerMinute == pc.TokensPerMinute {
			p.rpm, p.tpm = old.rpm, old.tpm
		} else {
			p.rpm = perMinute(pc.RequestsPerMinute)
			p.tpm = perMinute(pc.TokensPerMinute)
		}
		rt.providers[pc.Name] = p
	}
	for i, rc := range cfg.Rules {
		r := rule{name: fmt.Sprint(i), patterns: rc.Models}
		for _, b := range rc.Backends {
			r.backends = append(r.backends, rt.providers[b])
		}
		rt.rules = append(rt.rules, r)
	}
	if rl := cfg.RateLimit; rl.RequestsPerSecond > 0 {
		rt.limiter = rate.NewLimiter(rate.Limit(rl.RequestsPerSecond), rl.Burst)
		if prev != nil && prev.limiter != nil && prev.cfg.RateLimit == rl {
			rt.limiter = prev.limiter
		}
	}
	rt.models = modelList(cfg)
	return rt, nil
}

// newProvider prepares what the request path needs of a provider: which
// format it is called in for each client format, the URL of each, and its
// credentials.
func newProvider(pc config.Provider, creds credentials.Source) *provider {
	p := &provider{
		cfg:      pc,
		family:   translate.OpenAIFamily,
		backends: map[translate.Format]translate.Format{},
		urls:     map[translate.Format]string{},
		base:     strings.TrimSuffix(pc.BaseURL, "/"),
		creds:    creds,
		keyed:    len(pc.APIKeys) > 0,
	}
	if pc.Type == config.Anthropic {
		p.family = translate.AnthropicFamily
		p.versionHeader, p.version = "Anthropic-Version", pc.AnthropicVersion
	}
	for _, client := range clientFormats {
		for _, backend := range append([]translate.Format{client}, clientFormats...) {
			if pc.Serves(formatAPIs[backend]) && translate.Translates(client, backend) {
				p.backends[client] = backend
				p.urls[backend] = p.base + backend.Path()
				break
			}
		}
	}
	return p
}

func (rt *route) provider(name string) *provider {
	if rt == nil {
		return nil
	}
	return rt.providers[name]
}

// sameBreakerSettings reports whether a provider's breaker may survive a reload:
// its endpoint and the breaker settings are unchanged.
func sameBreakerSettings(old *provider, pc config.Provider, oldCfg, newCfg *config.Config) bool {
	return old.cfg.Type == pc.Type && old.cfg.BaseURL == pc.BaseURL &&
		reflect.DeepEqual(oldCfg.CircuitBreaker, newCfg.CircuitBreaker)
}

// passTarget picks the provider that a call the sidecar does not route goes
// to: of the caller's family, serving api natively when the call reaches an
// API's stored state (api != ""). A model, when the call names one, picks
// the rule as for routed calls and the first such backend of it; otherwise,
// or when that rule has none, the first such backend of the first rule that
// lists one. nil when no provider fits.
func (rt *route) passTarget(family translate.Family, api config.API, model string) *provider {
	fits := func(p *provider) bool { return p.family == family && (api == "" || p.cfg.Serves(api)) }
	if model != "" {
		if r := rt.match(model); r != nil {
			for _, p := range r.backends {
				if fits(p) {
					return p
				}
			}
		}
	}
	for _, r := range rt.rules {
		for _, p := range r.backends {
			if fits(p) {
				return p
			}
		}
	}
	return nil
}

func perMinute(n int) *rate.Limiter {
	if n <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(float64(n)/60), n)
}

// rateLimitWait is how long a client must wait for the request limiter to
// admit a request: the Retry-After of a 429.
func rateLimitWait(l *rate.Limiter, now time.Time) time.Duration {
	r := l.ReserveN(now, 1)
	defer r.CancelAt(now)
	if !r.OK() {
		return time.Second
	}
	return time.Duration(math.Ceil(r.DelayFrom(now).Seconds())) * time.Second
}

// stateName is the breaker state as logs print it.
func stateName(s gobreaker.State) string { return s.String() }
