// Package proxy is the sidecar's request path: it routes each LLM call by
// model to an ordered list of providers, retries transient failures with
// backoff under a sidecar-wide retry budget, skips providers whose circuit
// breaker is open, translates between the API formats when a fallback
// crosses them, and relays streams event by event. Every other call the
// app's SDK makes passes through to one provider with its credentials.
package proxy

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/osmen-ai/llmroute/sidecar/config"
	"github.com/osmen-ai/llmroute/sidecar/credentials"
	"github.com/osmen-ai/llmroute/sidecar/metrics"
	"github.com/osmen-ai/llmroute/sidecar/resilience"
)

// DefaultMaxBodyBytes limits a request body; larger requests get 413.
const DefaultMaxBodyBytes = 10 << 20

// Options are the Proxy's seams and limits. The zero value works.
type Options struct {
	// Transport carries upstream calls. nil means NewTransport().
	Transport http.RoundTripper
	// Log receives the access log and events. The zero Logger discards.
	Log logr.Logger
	// Metrics records what the proxy does. nil means metrics.New().
	Metrics *metrics.Metrics
	// MaxBodyBytes limits request bodies (larger ones get 413) and the
	// responses held whole for a retry or a translation (larger ones are
	// relayed as they arrive). 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxBufferedBytes bounds the bytes buffered across all requests at
	// once; over it requests are shed with 503 and Retry-After, and responses
	// relayed as they arrive. 0 means DefaultMaxBufferedBytes.
	MaxBufferedBytes int64
	// Now is the clock for the retry budget, rate limits and Retry-After dates.
	// nil means time.Now.
	Now func() time.Time
	// Sleep waits between retries and returns early with ctx's error.
	// nil means a timer that watches ctx; tests record the waits instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a float in [0, 1) for backoff and token refresh jitter.
	// nil means math/rand/v2.
	Rand func() float64
}

// Proxy serves the LLM endpoints on the sidecar's listener.
type Proxy struct {
	transport http.RoundTripper
	log       logr.Logger
	metrics   *metrics.Metrics
	maxBody   int64
	memory    memoryBudget
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	rand      func() float64
	budget    *resilience.Budget
	credEnv   credentials.Env
	// requestSeries are the per-request metric series, resolved once per
	// label set (finish).
	requestSeries requestSeries
	// credsReady latches once /readyz has seen every provider's first
	// token attempt over (see Admin).
	credsReady atomic.Bool

	reloads sync.Mutex // one reload at a time: each builds on the route before it
	route   atomic.Pointer[route]
}

// New compiles cfg (defaulted and validated) and returns a Proxy serving it.
func New(cfg *config.Config, o Options) (*Proxy, error) {
	px := &Proxy{
		transport: o.Transport,
		log:       o.Log,
		metrics:   o.Metrics,
		maxBody:   o.MaxBodyBytes,
		now:       o.Now,
		sleep:     o.Sleep,
		rand:      o.Rand,
	}
	if px.transport == nil {
		px.transport = NewTransport()
	}
	if px.metrics == nil {
		px.metrics = metrics.New()
	}
	if px.maxBody <= 0 {
		px.maxBody = DefaultMaxBodyBytes
	}
	px.memory.limit = o.MaxBufferedBytes
	if px.memory.limit <= 0 {
		px.memory.limit = DefaultMaxBufferedBytes
	}
	if px.now == nil {
		px.now = time.Now
	}
	if px.sleep == nil {
		px.sleep = sleepContext
	}
	if px.rand == nil {
		px.rand = rand.Float64
	}
	px.budget = resilience.NewBudget(*cfg.Retry.BudgetPercent, *cfg.Retry.MinRetriesPerSecond, px.now)
	px.credEnv = credentials.Env{Transport: px.transport, Rand: px.rand, Log: px.log, Metrics: px.metrics}
	rt, err := px.compile(cfg, nil)
	if err != nil {
		return nil, err
	}
	px.route.Store(rt)
	rt.creds.Activate(nil)
	px.metrics.CredentialState.Set(px.credentialStates)
	return px, nil
}

// Reload swaps in a new config for new requests; requests in flight finish on
// the old one. On error nothing changes and the last good config keeps serving.
func (px *Proxy) Reload(cfg *config.Config) error {
	px.reloads.Lock()
	defer px.reloads.Unlock()
	prev := px.route.Load()
	rt, err := px.compile(cfg, prev)
	if err != nil {
		px.metrics.Reloads.WithLabelValues("failure").Inc()
		return err
	}
	px.budget.Configure(*cfg.Retry.BudgetPercent, *cfg.Retry.MinRetriesPerSecond)
	px.route.Store(rt)
	rt.creds.Activate(prev.creds)
	px.metrics.Reloads.WithLabelValues("success").Inc()
	return nil
}

// Close stops the background work of the credentials: token refreshes. The
// proxy still serves with the tokens it holds, until they expire.
func (px *Proxy) Close() {
	px.reloads.Lock()
	defer px.reloads.Unlock()
	px.route.Load().creds.Close()
}

// ReloadFile loads a config file and reloads it; a file that does not load
// counts as a failed reload like a config that does not compile. It returns
// the config read even when it could not be applied (a key file it names is
// missing), and what the reload changed: "config", "key of <provider>".
func (px *Proxy) ReloadFile(file string) (*config.Config, []string, error) {
	cfg, err := config.Load(file)
	if err != nil {
		px.metrics.Reloads.WithLabelValues("failure").Inc()
		return nil, nil, err
	}
	prev := px.route.Load()
	if err := px.Reload(cfg); err != nil {
		return cfg, nil, err
	}
	return cfg, changes(prev, px.route.Load()), nil
}

// changes says what a reload changed, for its log line; never the keys.
func changes(prev, next *route) []string {
	var changed []string
	if !reflect.DeepEqual(prev.cfg, next.cfg) {
		changed = append(changed, "config")
	}
	for _, pc := range next.cfg.Providers {
		if old := prev.provider(pc.Name); old != nil {
			for _, c := range credentials.Changed(old.creds, next.providers[pc.Name].creds) {
				changed = append(changed, c+" of "+pc.Name)
			}
		}
	}
	return changed
}

// Config returns the config being served.
func (px *Proxy) Config() *config.Config { return px.route.Load().cfg }

// Metrics returns the proxy's metrics.
func (px *Proxy) Metrics() *metrics.Metrics { return px.metrics }

// ServeHTTP routes the LLM APIs (POST to the chat completions, Messages,
// Responses, completions and embeddings paths), answers the OpenAI family's
// model list from the config, and passes every other call under /v1/
// through to a provider of the caller's family.
func (px *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if f, ok := routedPaths[path]; ok && r.Method == http.MethodPost {
		px.serveLLM(w, r, f)
		return
	}
	switch {
	case path == "/v1/models" && r.Method == http.MethodGet && r.Header.Get("Anthropic-Version") == "":
		px.serveModels(w, r)
	case strings.HasPrefix(path, "/v1/"):
		px.passThrough(w, r)
	default:
		px.notFound(w, r)
	}
}

// NewTransport returns the upstream transport: keep-alive connections sized
// for a busy pod (the default keeps only 2 idle per host, which turns every
// burst into new TLS handshakes), HTTP/2 where the provider offers it.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errAttemptTimeout is the cancel cause of an attempt that ran out of time.
var errAttemptTimeout = errors.New("attempt timed out")
