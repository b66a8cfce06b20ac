package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/osmen-ai/llmroute/sidecar/metrics"
	"github.com/osmen-ai/llmroute/sidecar/resilience"
	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// exchange is one client request on its way through the providers.
type exchange struct {
	px    *Proxy
	rt    *route
	w     http.ResponseWriter
	r     *http.Request
	ep    endpoint
	start time.Time
	id    string
	body  []byte // the client's request body, never modified
	// reqBufs hold the request body and its per-provider rewrite: pooled,
	// and released as soon as no retry can need them (a stream that reached
	// the client may last minutes).
	reqBufs [2]*bytes.Buffer
	fields  requestFields
	rule    *rule

	tries    []try // every attempt and skip, in order: the access log's story
	triesBuf [4]try
	attempts int           // upstream calls made
	upstream time.Duration // time spent waiting on providers
	waited   time.Duration // time spent in backoff waits

	// The outcome.
	status      int
	served      *provider
	model       string // the model label: as configured, or "other"
	ttft        time.Duration
	usage       translate.Usage
	errType     string // set when the exchange failed
	last        failure
	budgetSpent bool
	unsupported error // why no backend could take the request, if none could
}

// try is one line of the access log's providers list.
type try struct {
	Provider string  `json:"provider"`
	Status   int     `json:"status,omitempty"`
	Outcome  string  `json:"outcome"`
	Ms       float64 `json:"ms,omitempty"`
}

// failure is why the last attempt did not succeed.
type failure struct {
	provider   *provider
	kind       resilience.Failure
	status     int    // the provider's status, 0 for network failures
	body       []byte // the provider's error body, in its format
	retryAfter time.Duration
	hasRA      bool
	message    string
}

func (px *Proxy) serveLLM(w http.ResponseWriter, r *http.Request, ep endpoint) {
	ex := &exchange{px: px, rt: px.route.Load(), w: w, r: r, ep: ep, start: px.now()}
	ex.tries = ex.triesBuf[:0]
	ex.id = r.Header.Get("x-request-id")
	if ex.id == "" {
		ex.id = newRequestID()
	}
	w.Header().Set("x-request-id", ex.id)
	px.metrics.InFlight.Inc()
	defer px.metrics.InFlight.Dec()
	defer ex.finish()

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		ex.reject(http.StatusMethodNotAllowed, "invalid_request_error", r.URL.Path+" takes POST, not "+r.Method)
		return
	}
	if l := ex.rt.limiter; l != nil && !l.AllowN(ex.start, 1) {
		px.metrics.RateLimits.WithLabelValues("request", "").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(int(rateLimitWait(l, ex.start).Seconds())))
		ex.reject(http.StatusTooManyRequests, "rate_limit_error", fmt.Sprintf(
			"llmroute: this pod is over its rate limit of %g requests per second", ex.rt.cfg.RateLimit.RequestsPerSecond))
		return
	}

	buf := getBuffer()
	ex.reqBufs[0] = buf
	defer ex.releaseRequest()
	if r.ContentLength > px.maxBody {
		ex.reject(http.StatusRequestEntityTooLarge, "invalid_request_error", ex.tooLarge())
		return
	}
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, px.maxBody+1)); err != nil {
		ex.reject(http.StatusBadRequest, "invalid_request_error", "llmroute: could not read the request body: "+err.Error())
		return
	}
	if int64(buf.Len()) > px.maxBody {
		ex.reject(http.StatusRequestEntityTooLarge, "invalid_request_error", ex.tooLarge())
		return
	}
	body := buf.Bytes()
	ex.body = body
	var err error
	if ex.fields, err = scanRequest(body); err != nil {
		ex.reject(http.StatusBadRequest, "invalid_request_error", "llmroute: "+err.Error())
		return
	}
	if ex.fields.model == "" {
		ex.reject(http.StatusBadRequest, "invalid_request_error", `llmroute: the request has no "model"; it picks the routing rule`)
		return
	}
	if ex.rule = ex.rt.match(ex.fields.model); ex.rule == nil {
		ex.reject(http.StatusBadRequest, "invalid_request_error", fmt.Sprintf(
			"llmroute: no rule matches model %q; add a rule for it, or one with no models to catch all", ex.fields.model))
		return
	}
	px.budget.Request()
	ctx, cancel := context.WithTimeout(r.Context(), ex.rt.cfg.Timeouts.Request.Duration)
	defer cancel()
	ex.run(ctx)
}

func (ex *exchange) tooLarge() string {
	return fmt.Sprintf("llmroute: the request body is larger than %d bytes (--max-body-bytes)", ex.px.maxBody)
}

// run tries the rule's backends in order until one serves the request.
func (ex *exchange) run(ctx context.Context) {
	var prev *provider
	prevReason := ""
	out := getBuffer()
	ex.reqBufs[1] = out
	for _, p := range ex.rule.backends {
		if reason := ex.skip(p); reason != "" {
			ex.tries = append(ex.tries, try{Provider: p.cfg.Name, Outcome: reason})
			prev, prevReason = p, reason
			continue
		}
		var tr translate.Translator
		if ex.ep.translatable() {
			tr = translate.New(ex.ep.clientFormat(), p.format)
		}
		model := p.providerModel(ex.fields.model)
		reqBody, err := ex.bodyFor(out, tr, model)
		if err != nil {
			ex.px.log.Info("Skipped provider: request cannot be translated", "id", ex.id, "provider", p.cfg.Name, "reason", err.Error())
			ex.tries = append(ex.tries, try{Provider: p.cfg.Name, Outcome: "untranslatable"})
			ex.unsupported = err
			prev, prevReason = p, "untranslatable"
			continue
		}
		if prev != nil {
			ex.px.metrics.Fallbacks.WithLabelValues(prev.cfg.Name, p.cfg.Name, prevReason).Inc()
			ex.px.log.V(1).Info("Fell back to next provider", "id", ex.id, "from", prev.cfg.Name, "to", p.cfg.Name, "reason", prevReason)
		}
		if ex.tryProvider(ctx, p, tr, reqBody, model) {
			return
		}
		if ctx.Err() != nil || ex.budgetSpent {
			break
		}
		prev, prevReason = p, ex.lastReason()
	}
	ex.fail(ctx)
}

// skip says why a provider is passed over without a call ("" if it is not).
func (ex *exchange) skip(p *provider) string {
	if p.urls[ex.ep] == "" {
		return "unsupported_endpoint"
	}
	if p.breaker.State() == gobreaker.StateOpen {
		return "breaker_open"
	}
	if p.overQuota(ex.px.now()) {
		ex.px.metrics.RateLimits.WithLabelValues("provider", p.cfg.Name).Inc()
		return "provider_rate_limited"
	}
	return ""
}

// bodyFor returns the request body for a provider: the client's bytes with
// only the model replaced, or a translation. The client's bytes are never
// modified, so every provider starts from the same request.
func (ex *exchange) bodyFor(out *bytes.Buffer, tr translate.Translator, model string) ([]byte, error) {
	out.Reset()
	body := ex.body
	if tr != nil {
		return tr.Request(body, model)
	}
	if model == ex.fields.model || ex.fields.modelPos[1] == 0 {
		return body, nil
	}
	out.Write(withModel(out.AvailableBuffer(), body, ex.fields, model))
	return out.Bytes(), nil
}

// releaseRequest returns the request's buffers to the pool. It is called
// once a stream is committed (no retry can follow) and when the exchange ends.
func (ex *exchange) releaseRequest() {
	for i, b := range ex.reqBufs {
		putBuffer(b)
		ex.reqBufs[i] = nil
	}
	ex.body = nil
}

// tryProvider makes up to retry.attempts calls to p. It returns true when the
// exchange is over (a response was written or the client left), false to
// fall back to the next provider.
func (ex *exchange) tryProvider(ctx context.Context, p *provider, tr translate.Translator, body []byte, model string) bool {
	rc := ex.rt.cfg.Retry
	for attempt := 1; attempt <= rc.Attempts; attempt++ {
		done, err := p.breaker.Allow()
		if err != nil {
			ex.tries = append(ex.tries, try{Provider: p.cfg.Name, Outcome: "breaker_open"})
			ex.last = failure{provider: p, kind: -1, message: "circuit breaker open"}
			return false
		}
		// Every call after the request's first is a retry, fallbacks included.
		if ex.attempts > 0 && !ex.px.budget.TryRetry() {
			done(resilience.ErrNotCounted)
			ex.budgetSpent = true
			ex.px.metrics.Budget.Inc()
			ex.px.log.Info("Retry budget exhausted: failing fast", "id", ex.id, "provider", p.cfg.Name)
			return false
		}
		if attempt > 1 {
			p.stats.retries.Inc()
		}
		if tr != nil && attempt > 1 {
			// A fresh translator per attempt: stream state must not leak from a failed try.
			tr = translate.New(ex.ep.clientFormat(), p.format)
			if _, err := tr.Request(ex.body, model); err != nil {
				done(resilience.ErrNotCounted)
				return false
			}
		}
		res := ex.attempt(ctx, p, tr, body, model)
		done(res.breakerErr)
		if res.over {
			return true
		}
		ex.last = res.failure
		if !ex.rt.retryOn.Retryable(res.kind, res.status) || ctx.Err() != nil {
			if res.kind == resilience.FailStatus && res.status >= 400 && res.status < 500 {
				ex.passError(p, tr) // a 4xx that no provider would answer differently
				return true
			}
			return false
		}
		if attempt == rc.Attempts {
			return false
		}
		wait := resilience.Backoff(attempt, rc, ex.px.rand)
		if res.hasRA {
			if res.retryAfter > rc.MaxRetryAfter.Duration {
				ex.last.message = fmt.Sprintf("asked to retry after %s, more than maxRetryAfter %s", res.retryAfter, rc.MaxRetryAfter)
				return false
			}
			wait = res.retryAfter
		}
		// The time actually slept, which on a busy machine exceeds the wait
		// asked for: it is not the sidecar's own overhead.
		t0 := ex.px.now()
		err = ex.px.sleep(ctx, wait)
		ex.waited += ex.px.now().Sub(t0)
		if err != nil {
			return false
		}
	}
	return false
}

// attemptResult is what one upstream call came to.
type attemptResult struct {
	failure
	over       bool  // a response (or stream) reached the client, or the client left
	breakerErr error // what the breaker is told: nil success, ErrNotCounted, or a failure
}

// attempt makes one upstream call and, when it succeeds, answers the client.
func (ex *exchange) attempt(ctx context.Context, p *provider, tr translate.Translator, body []byte, model string) (res attemptResult) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(p.cfg.Timeout.Duration, func() { cancel(errAttemptTimeout) })
	defer timer.Stop()

	req, err := ex.upstreamRequest(actx, p, tr, body)
	if err != nil {
		return ex.failed(p, 0, resilience.FailConnect, err.Error(), 0)
	}
	t0 := ex.px.now()
	resp, err := ex.px.transport.RoundTrip(req)
	ex.attempts++
	if err != nil {
		return ex.transportFailure(actx, p, err, t0)
	}
	defer resp.Body.Close()

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if ex.fields.stream && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			return ex.relay(actx, cancel, timer, p, tr, resp, model, t0)
		}
		return ex.complete(actx, p, tr, resp, model, t0)
	}

	// An error status: read the error (bounded) to pass it on and to tell
	// "insufficient_quota" from a transient 429.
	errBody := getBuffer()
	_, rerr := errBody.ReadFrom(io.LimitReader(resp.Body, 1<<20))
	elapsed := ex.px.now().Sub(t0)
	ex.upstream += elapsed
	if rerr != nil && ctx.Err() == nil && ex.r.Context().Err() == nil {
		putBuffer(errBody)
		return ex.transportFailure(actx, p, rerr, t0)
	}
	kind := resilience.FailStatus
	if resp.StatusCode == http.StatusTooManyRequests && bytes.Contains(errBody.Bytes(), []byte("insufficient_quota")) {
		kind = resilience.FailInsufficientQuota
	}
	res = ex.failed(p, resp.StatusCode, kind, upstreamMessage(errBody.Bytes()), elapsed)
	res.body = bytes.Clone(errBody.Bytes())
	putBuffer(errBody)
	res.retryAfter, res.hasRA = resilience.RetryAfter(resp.Header, ex.px.now())
	if resp.StatusCode >= 400 && resp.StatusCode < 500 && !ex.rt.retryOn.Retryable(kind, resp.StatusCode) && kind != resilience.FailInsufficientQuota {
		// The provider refused this request; that says nothing about its health.
		res.breakerErr = resilience.ErrNotCounted
	}
	return res
}

// failed records a failed attempt and builds its result.
func (ex *exchange) failed(p *provider, status int, kind resilience.Failure, msg string, elapsed time.Duration) attemptResult {
	outcome := outcomeOf(kind, status)
	p.stats.attempts[outcome].Inc()
	ex.tries = append(ex.tries, try{Provider: p.cfg.Name, Status: status, Outcome: outcome, Ms: ms(elapsed)})
	return attemptResult{
		failure:    failure{provider: p, kind: kind, status: status, message: msg},
		breakerErr: errors.New(outcome),
	}
}

// transportFailure classifies an error from the round trip or a body read.
func (ex *exchange) transportFailure(actx context.Context, p *provider, err error, t0 time.Time) attemptResult {
	elapsed := ex.px.now().Sub(t0)
	ex.upstream += elapsed
	if ex.r.Context().Err() != nil {
		// The client left: cancel, count nothing against the provider.
		p.stats.attempts[metrics.OutcomeCanceled].Inc()
		ex.tries = append(ex.tries, try{Provider: p.cfg.Name, Outcome: metrics.OutcomeCanceled, Ms: ms(elapsed)})
		ex.status = 499
		return attemptResult{over: true, breakerErr: resilience.ErrNotCounted}
	}
	var kind resilience.Failure
	var opErr *net.OpError
	switch {
	case errors.Is(context.Cause(actx), errAttemptTimeout), errors.Is(err, context.DeadlineExceeded):
		kind = resilience.FailTimeout
	case errors.As(err, &opErr) && opErr.Op == "dial":
		kind = resilience.FailConnect
	default:
		kind = resilience.FailReset
	}
	return ex.failed(p, 0, kind, transportMessage(kind, err), elapsed)
}

func transportMessage(kind resilience.Failure, err error) string {
	switch kind {
	case resilience.FailTimeout:
		return "timed out"
	case resilience.FailConnect:
		return "connection failed: " + err.Error()
	}
	return "connection broken: " + err.Error()
}

// complete reads a whole non-streaming response, then answers the client.
// Reading it all first means a connection that breaks mid-body is a failed
// attempt that can be retried, not a truncated answer.
func (ex *exchange) complete(actx context.Context, p *provider, tr translate.Translator, resp *http.Response, model string, t0 time.Time) attemptResult {
	buf := getBuffer()
	defer putBuffer(buf)
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return ex.transportFailure(actx, p, err, t0)
	}
	elapsed := ex.px.now().Sub(t0)
	ex.upstream += elapsed
	out := buf.Bytes()
	if tr != nil {
		var err error
		if out, err = tr.Response(out); err != nil {
			return ex.failed(p, resp.StatusCode, resilience.FailReset, "unreadable response: "+err.Error(), elapsed)
		}
		ex.usage = tr.Usage()
	} else {
		ex.usage = responseUsage(p.format, out)
	}
	p.stats.attempts[metrics.OutcomeSuccess].Inc()
	ex.tries = append(ex.tries, try{Provider: p.cfg.Name, Status: resp.StatusCode, Outcome: metrics.OutcomeSuccess, Ms: ms(elapsed)})
	ex.succeeded(p, model)
	h := ex.w.Header()
	if tr == nil {
		copyHeaders(h, resp.Header)
	} else {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(out)))
	ex.setRouteHeaders(p)
	ex.status = resp.StatusCode
	ex.w.WriteHeader(resp.StatusCode)
	ex.w.Write(out)
	return attemptResult{over: true}
}

// succeeded records who served the request.
func (ex *exchange) succeeded(p *provider, model string) {
	ex.served = p
	ex.model = "other"
	if model == p.cfg.DefaultModel {
		ex.model = model
	}
	if _, ok := p.cfg.Models[ex.fields.model]; ok {
		ex.model = model
	}
	p.spendTokens(ex.px.now(), ex.usage.InputTokens+ex.usage.OutputTokens)
	p.stats.served.Add(1)
}

// setRouteHeaders says who served the response and what the sidecar cost.
func (ex *exchange) setRouteHeaders(p *provider) {
	h := ex.w.Header()
	if p != nil {
		h.Set("x-llmroute-provider", p.cfg.Name)
	}
	h.Set("x-llmroute-attempts", strconv.Itoa(ex.attempts))
	h.Set("x-llmroute-overhead-ms", strconv.FormatFloat(ms(ex.overhead()), 'f', 3, 64))
}

// overhead is the time spent in the sidecar itself: everything but upstream
// calls and deliberate backoff waits.
func (ex *exchange) overhead() time.Duration {
	return max(ex.px.now().Sub(ex.start)-ex.upstream-ex.waited, 0)
}

func (ex *exchange) lastReason() string {
	if ex.last.kind == -1 {
		return "breaker_open"
	}
	return outcomeOf(ex.last.kind, ex.last.status)
}

func outcomeOf(kind resilience.Failure, status int) string {
	switch kind {
	case resilience.FailConnect:
		return metrics.OutcomeConnect
	case resilience.FailReset:
		return metrics.OutcomeReset
	case resilience.FailTimeout:
		return metrics.OutcomeTimeout
	case resilience.FailStreamError:
		return metrics.OutcomeStreamErr
	case resilience.FailInsufficientQuota:
		return metrics.OutcomeRateLimit
	}
	switch {
	case status == http.StatusTooManyRequests:
		return metrics.OutcomeRateLimit
	case status >= 500:
		return metrics.OutcomeServerErr
	case status >= 400:
		return metrics.OutcomeClientErr
	}
	return metrics.OutcomeSuccess
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
