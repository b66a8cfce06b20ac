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
	"os"
	"strconv"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/osmen-ai/llmroute/sidecar/credentials"
	"github.com/osmen-ai/llmroute/sidecar/metrics"
	"github.com/osmen-ai/llmroute/sidecar/resilience"
	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// exchange is one client request on its way through the providers, routed or
// passed through; finish (accesslog.go) reports it.
type exchange struct {
	px     *Proxy
	rt     *route
	w      http.ResponseWriter
	r      *http.Request
	client translate.Format // the caller's format, for errors; the routed API's format
	routed bool             // a routed API call, not a pass-through
	start  time.Time
	id     string
	req    translate.Request // the client's request; its Body is never modified
	// reqBufs hold the request body and its per-provider rewrite: pooled,
	// and released as soon as no retry can need them (a stream that reached
	// the client may last minutes).
	reqBufs [2]*bytes.Buffer
	rule    *rule
	// heldRequest and heldResponse are what the exchange holds of the
	// proxy's memory budget for the request's buffers and for a response
	// being read whole.
	heldRequest, heldResponse int64

	tries    []try         // every attempt and skip, in order: the access log's story
	triesBuf [3]try        // most requests' tries without an allocation: one, or three attempts on one provider
	attempts int           // upstream calls made
	upstream time.Duration // time spent waiting on providers
	waited   time.Duration // time spent in backoff waits

	// The outcome.
	status      int
	provider    *provider // who answered: the provider that served the request, or the last one that refused it
	model       string    // the model label: as configured, or "other"
	ttft        time.Duration
	usage       translate.Usage
	errType     string // set when the exchange failed
	last        lastFailure
	budgetSpent bool
	unsupported error // why no backend could take the request, if none could
	abort       bool  // the response broke off after it was committed: abort the connection
}

// try is one line of the access log's providers list.
type try struct {
	Provider string
	Key      string // which key, for a provider with several
	Status   int
	Outcome  string
	Ms       float64
}

// lastFailure is why the last attempt did not succeed, kept to answer the
// client when no provider could.
type lastFailure struct {
	provider   *provider
	tr         translate.Translator // the pair's translator, for the error body
	kind       resilience.Failure
	status     int    // the provider's status, 0 for network failures
	body       []byte // the provider's error body, in its format
	retryAfter time.Duration
	// hasRetryAfter: the provider said when to retry (retryAfter may be 0).
	hasRetryAfter bool
	message       string
}

func (px *Proxy) newExchange(w http.ResponseWriter, r *http.Request, client translate.Format) *exchange {
	ex := &exchange{px: px, rt: px.route.Load(), w: w, r: r, client: client, start: px.now()}
	ex.tries = ex.triesBuf[:0]
	ex.id = r.Header.Get("X-Request-Id")
	if ex.id == "" {
		ex.id = newRequestID()
	}
	w.Header().Set("X-Request-Id", ex.id)
	return ex
}

// serveLLM serves a routed API call: POST of a request in format client.
func (px *Proxy) serveLLM(w http.ResponseWriter, r *http.Request, client translate.Format) {
	ex := px.newExchange(w, r, client)
	ex.routed = true
	px.metrics.InFlight.Inc()
	defer px.metrics.InFlight.Dec()
	defer ex.finish()

	if ex.rateLimited() {
		return
	}
	if r.ContentLength > px.maxBody {
		ex.reject(http.StatusRequestEntityTooLarge, "invalid_request_error", ex.tooLarge())
		return
	}
	if !ex.holdRequest(r.ContentLength) {
		ex.shed()
		return
	}
	defer ex.releaseHeld(true, true)
	buf := getBuffer()
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // one allocation of the right size, not doublings
	}
	ex.reqBufs[0] = buf
	defer ex.releaseRequest()
	// A client that never finishes its body must not hold the request open
	// past its deadline: the timeout starts before the body is read.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(ex.start.Add(ex.rt.cfg.Timeouts.Request.Duration)) // unsupported by some writers: then unbounded, as before
	_, err := buf.ReadFrom(io.LimitReader(r.Body, px.maxBody+1))
	if err != nil {
		// The deadline stays: net/http reads what is left of the body before
		// it answers, and must not wait for it for good.
		if errors.Is(err, os.ErrDeadlineExceeded) {
			ex.reject(http.StatusRequestTimeout, "invalid_request_error", fmt.Sprintf(
				"llmroute: the request body did not arrive within timeouts.request (%s)", ex.rt.cfg.Timeouts.Request))
			return
		}
		ex.reject(http.StatusBadRequest, "invalid_request_error", "llmroute: could not read the request body: "+err.Error())
		return
	}
	_ = rc.SetReadDeadline(time.Time{}) // streams last as long as timeouts.request allows
	if int64(buf.Len()) > px.maxBody {
		ex.reject(http.StatusRequestEntityTooLarge, "invalid_request_error", ex.tooLarge())
		return
	}
	if ex.req, err = translate.ReadRequest(buf.Bytes()); err != nil {
		ex.reject(http.StatusBadRequest, "invalid_request_error", "llmroute: "+err.Error())
		return
	}
	if ex.req.Model == "" {
		ex.reject(http.StatusBadRequest, "invalid_request_error", `llmroute: the request has no "model"; it picks the routing rule`)
		return
	}
	if ex.rule = ex.rt.match(ex.req.Model); ex.rule == nil {
		ex.reject(http.StatusBadRequest, "invalid_request_error", fmt.Sprintf(
			"llmroute: no rule matches model %q; add a rule for it, or one with no models to catch all", ex.req.Model))
		return
	}
	px.budget.Request(ex.start)
	ctx, cancel := context.WithTimeout(r.Context(), ex.rt.cfg.Timeouts.Request.Duration)
	defer cancel()
	ex.run(ctx)
	if ex.abort {
		panic(http.ErrAbortHandler) // after the deferred access log; net/http closes the connection quietly
	}
}

// rateLimited refuses the request when the pod is over its request rate.
func (ex *exchange) rateLimited() bool {
	l := ex.rt.limiter
	if l == nil || l.AllowN(ex.start, 1) {
		return false
	}
	ex.px.metrics.RateLimits.WithLabelValues("request", "").Inc()
	ex.w.Header().Set("Retry-After", strconv.Itoa(int(rateLimitWait(l, ex.start).Seconds())))
	ex.reject(http.StatusTooManyRequests, "rate_limit_error", fmt.Sprintf(
		"llmroute: this pod is over its rate limit of %g requests per second", ex.rt.cfg.RateLimit.RequestsPerSecond))
	return true
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
		backend := p.backends[ex.client]
		tr := translate.New(ex.client, backend)
		model := p.providerModel(ex.req.Model)
		body, err := tr.Request(out.AvailableBuffer(), &ex.req, model)
		if err != nil {
			ex.px.log.Info("Skipped provider: request cannot be translated", "id", ex.id, "provider", p.cfg.Name, "reason", err.Error())
			ex.tries = append(ex.tries, try{Provider: p.cfg.Name, Outcome: "untranslatable"})
			ex.unsupported = err
			prev, prevReason = p, "untranslatable"
			continue
		}
		if prev != nil {
			ex.px.metrics.Fallbacks.WithLabelValues(prev.cfg.Name, p.cfg.Name, prevReason).Inc()
			if debug := ex.px.log.V(1); debug.Enabled() { // spares boxing the values when debug is off
				debug.Info("Fell back to next provider", "id", ex.id, "from", prev.cfg.Name, "to", p.cfg.Name, "reason", prevReason)
			}
		}
		up := upstreamCall{p: p, tr: tr, body: body, model: model, url: p.urls[backend], native: backend == ex.client,
			call: credentials.Call{Model: ex.req.Model}}
		if ex.tryProvider(ctx, &up) {
			return
		}
		if ctx.Err() != nil || ex.budgetSpent {
			break
		}
		prev, prevReason = p, ex.last.reason()
	}
	ex.fail(ctx)
}

// upstreamCall is a request prepared for one provider: what every attempt
// on it sends.
type upstreamCall struct {
	p      *provider
	tr     translate.Translator
	body   []byte
	model  string // the provider's model name
	url    string
	native bool // the provider serves the client's format: bytes and headers pass as they are
	call   credentials.Call
	cred   *credentials.Credential // the credential of the call being made
}

// skip says why a provider is passed over without a call ("" if it is not).
func (ex *exchange) skip(p *provider) string {
	if _, ok := p.backends[ex.client]; !ok {
		return "unsupported_api"
	}
	if p.breaker.State() == gobreaker.StateOpen {
		return "breaker_open"
	}
	if p.overQuota(ex.px.now) {
		ex.px.metrics.RateLimits.WithLabelValues("provider", p.cfg.Name).Inc()
		return "provider_rate_limited"
	}
	return ""
}

// releaseRequest returns the request's buffers to the pool. It is called
// once a stream is committed (no retry can follow) and when the exchange ends.
func (ex *exchange) releaseRequest() {
	for i, b := range ex.reqBufs {
		putBuffer(b)
		ex.reqBufs[i] = nil
	}
	ex.req.Body = nil // Model and Stream stay for the access log
	ex.releaseHeld(true, false)
}

// tryProvider makes up to retry.attempts calls to a provider. It returns
// true when the exchange is over (a response was written or the client
// left), false to fall back to the next provider.
func (ex *exchange) tryProvider(ctx context.Context, up *upstreamCall) bool {
	p := up.p
	rc := ex.rt.cfg.Retry
	for attempt := 1; attempt <= rc.Attempts; attempt++ {
		done, err := p.breaker.Allow()
		if err != nil {
			ex.tries = append(ex.tries, try{Provider: p.cfg.Name, Outcome: outcomeBreakerOpen})
			ex.last = lastFailure{provider: p, tr: up.tr, kind: resilience.FailBreakerOpen, message: "circuit breaker open"}
			return false
		}
		cred, err := p.creds.Pick(ctx, up.call)
		if err != nil {
			done(resilience.ErrNotCounted)
			ex.noCredential(up, err)
			return false
		}
		// Every call after the request's first is a retry, fallbacks included.
		if ex.attempts > 0 && !ex.spendRetry(p) {
			done(resilience.ErrNotCounted)
			return false
		}
		if attempt > 1 {
			p.stats.retries.Inc()
		}
		res := ex.attempt(ctx, up, cred)
		done(res.breakerErr)
		if res.over {
			return true
		}
		ex.last = res.lastFailure
		if res.kind == resilience.FailRequest {
			ex.passError() // a refusal that no retry or other provider would change
			return true
		}
		if !ex.rt.retryOn.Retryable(res.kind, res.status) || ctx.Err() != nil || attempt == rc.Attempts {
			return false
		}
		wait := resilience.Backoff(attempt, rc, ex.px.rand)
		if res.hasRetryAfter {
			if res.retryAfter > rc.MaxRetryAfter.Duration {
				ex.last.message = fmt.Sprintf("asked to retry after %s, more than maxRetryAfter %s", res.retryAfter, rc.MaxRetryAfter)
				return false
			}
			wait = res.retryAfter
		}
		if ex.backoff(ctx, wait) != nil {
			return false
		}
	}
	return false
}

// spendRetry takes a retry from the sidecar-wide retry budget. When the
// budget is spent, the exchange fails fast.
func (ex *exchange) spendRetry(p *provider) bool {
	if ex.px.budget.TryRetry() {
		return true
	}
	ex.budgetSpent = true
	ex.px.metrics.BudgetExhausted.Inc()
	ex.px.log.Info("Retry budget exhausted: failing fast", "id", ex.id, "provider", p.cfg.Name)
	return false
}

// backoff waits d before a retry, or until ctx ends. The time actually
// slept, which on a busy machine exceeds the wait asked for, is not the
// sidecar's own overhead.
func (ex *exchange) backoff(ctx context.Context, d time.Duration) error {
	t0 := ex.px.now()
	err := ex.px.sleep(ctx, d)
	ex.waited += ex.px.now().Sub(t0)
	return err
}

// attemptResult is what one upstream call came to.
type attemptResult struct {
	lastFailure
	over       bool  // a response (or stream) reached the client, or the client left
	breakerErr error // what the breaker is told: nil success, ErrNotCounted, or a failure
}

// maxCredentialSwitches bounds the credentials one attempt goes through. A
// pool's keys run out first (each refused or cooling key is passed over),
// and a token is refreshed once; this is a backstop.
const maxCredentialSwitches = 8

// attempt makes one call to the provider and, when it succeeds, answers the
// client. When the provider refuses the credential (401, 403) or rate-limits
// it (429) and the credentials offer another — the next key of a pool, a
// token refreshed — the call is sent again with it at once. That is not a
// retry of the provider: no backoff, no retry budget, one attempt of
// retry.attempts, and the breaker hears only how it ended. Each call is in
// the access log's tries and counted as an upstream attempt.
func (ex *exchange) attempt(ctx context.Context, up *upstreamCall, cred *credentials.Credential) attemptResult {
	for i := 0; ; i++ {
		res, next := ex.send(ctx, up, cred)
		if next == nil || i == maxCredentialSwitches {
			return res
		}
		cred = next
	}
}

// send makes one upstream call with cred. It returns the credential to send
// the same call with instead, when the credentials offer one after a
// refusal.
func (ex *exchange) send(ctx context.Context, up *upstreamCall, cred *credentials.Credential) (attemptResult, *credentials.Credential) {
	p := up.p
	up.cred = cred
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(p.cfg.Timeout.Duration, func() { cancel(errAttemptTimeout) })
	defer timer.Stop()

	req, err := ex.upstreamRequest(actx, up, cred)
	if err != nil {
		return ex.failed(up, 0, resilience.FailConnect, err.Error(), 0), nil
	}
	t0 := ex.px.now()
	resp, err := ex.px.transport.RoundTrip(req)
	ex.attempts++
	if err != nil {
		return ex.transportFailure(actx, up, err, t0), nil
	}
	defer resp.Body.Close()

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		p.creds.Answered(ctx, cred, up.call, credentials.Answer{Status: resp.StatusCode})
		if ex.req.Stream && isEventStream(resp.Header) {
			return ex.relay(actx, timer, up, resp, t0), nil
		}
		return ex.complete(actx, up, resp, t0), nil
	}

	// An error status: read the error (bounded) to pass it on and to tell
	// a provider's refusal of us from a refusal of the request.
	errBody := getBuffer()
	defer putBuffer(errBody)
	_, rerr := errBody.ReadFrom(io.LimitReader(resp.Body, maxErrorBody))
	elapsed := ex.px.now().Sub(t0)
	ex.upstream += elapsed
	if rerr != nil && ctx.Err() == nil && ex.r.Context().Err() == nil {
		return ex.transportFailure(actx, up, rerr, t0), nil
	}
	kind := resilience.ClassifyStatus(resp.StatusCode, errBody.Bytes())
	res := ex.failed(up, resp.StatusCode, kind, translate.ErrorMessage(errBody.Bytes()), elapsed)
	res.body = bytes.Clone(errBody.Bytes())
	res.retryAfter, res.hasRetryAfter = resilience.RetryAfter(resp.Header, ex.px.now())
	if kind == resilience.FailRequest {
		// The provider refused this request; that says nothing about its health.
		res.breakerErr = resilience.ErrNotCounted
	}
	next := p.creds.Answered(ctx, cred, up.call, credentials.Answer{
		Status: resp.StatusCode, RetryAfter: res.retryAfter, HasRetryAfter: res.hasRetryAfter})
	return res, next
}

// maxErrorBody bounds what is read of a provider's error body.
const maxErrorBody = 1 << 20

// failed records a failed attempt and builds its result.
func (ex *exchange) failed(up *upstreamCall, status int, kind resilience.Failure, msg string, elapsed time.Duration) attemptResult {
	p := up.p
	outcome := outcomeOf(kind, status)
	ex.record(p, up.cred, status, outcome, elapsed)
	return attemptResult{
		lastFailure: lastFailure{provider: p, tr: up.tr, kind: kind, status: status, message: msg},
		breakerErr:  errors.New(outcome),
	}
}

// record is the bookkeeping of every upstream call: the access log's try,
// the attempts by provider, and by key for a provider with several.
func (ex *exchange) record(p *provider, cred *credentials.Credential, status int, outcome string, elapsed time.Duration) {
	p.stats.attempts[outcome].Inc()
	t := try{Provider: p.cfg.Name, Status: status, Outcome: outcome, Ms: ms(elapsed)}
	if p.keyed {
		t.Key = cred.Key
		cred.Count(outcome)
	}
	ex.tries = append(ex.tries, t)
}

// noCredential passes over a provider that has no credential to send: no
// token could be obtained, or every key is set aside or cooling down.
func (ex *exchange) noCredential(up *upstreamCall, err error) {
	kind := resilience.FailNoCredential
	if errors.Is(err, credentials.ErrCoolingDown) {
		kind = resilience.FailKeysCooling
	}
	ex.last = lastFailure{provider: up.p, tr: up.tr, kind: kind, message: err.Error()}
	ex.tries = append(ex.tries, try{Provider: up.p.cfg.Name, Outcome: ex.last.reason()})
}

// transportFailure classifies an error from the round trip or a body read.
func (ex *exchange) transportFailure(actx context.Context, up *upstreamCall, err error, t0 time.Time) attemptResult {
	elapsed := ex.px.now().Sub(t0)
	ex.upstream += elapsed
	if ex.r.Context().Err() != nil {
		// The client left: cancel, count nothing against the provider.
		ex.record(up.p, up.cred, 0, metrics.OutcomeCanceled, elapsed)
		ex.status = statusClientClosed
		return attemptResult{over: true, breakerErr: resilience.ErrNotCounted}
	}
	kind := classifyTransportError(actx, err)
	return ex.failed(up, 0, kind, transportMessage(kind, err), elapsed)
}

// classifyTransportError tells a timeout from a refused connection from a
// broken one.
func classifyTransportError(actx context.Context, err error) resilience.Failure {
	var opErr *net.OpError
	switch {
	case errors.Is(context.Cause(actx), errAttemptTimeout), errors.Is(err, context.DeadlineExceeded):
		return resilience.FailTimeout
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return resilience.FailConnect
	}
	return resilience.FailReset
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
// attempt that can be retried, not a truncated answer. A response too large
// to hold (--max-body-bytes, or the memory budget) is relayed as it arrives
// instead, when it needs no translation; past that point nothing is retried.
func (ex *exchange) complete(actx context.Context, up *upstreamCall, resp *http.Response, t0 time.Time) attemptResult {
	buf := getBuffer()
	defer putBuffer(buf)
	defer ex.releaseHeld(false, true)
	whole, err := ex.readResponse(buf, resp.Body, resp.ContentLength)
	if err != nil {
		return ex.transportFailure(actx, up, err, t0)
	}
	if !whole {
		if !up.native {
			return ex.failed(up, resp.StatusCode, resilience.FailBadResponse, fmt.Sprintf(
				"the response is larger than the sidecar holds to translate (%d bytes, --max-body-bytes)", ex.px.maxBody), ex.px.now().Sub(t0))
		}
		return ex.relayLarge(up, resp, buf.Bytes(), t0)
	}
	elapsed := ex.px.now().Sub(t0)
	ex.upstream += elapsed
	out, usage, err := up.tr.Response(buf.Bytes())
	if err != nil {
		return ex.failed(up, resp.StatusCode, resilience.FailBadResponse, "unreadable response: "+err.Error(), elapsed)
	}
	ex.usage = usage
	ex.succeeded(up, resp.StatusCode, elapsed)
	up.p.spendTokens(ex.px.now, usage.InputTokens+usage.OutputTokens)
	h := ex.w.Header()
	if up.native {
		copyHeaders(h, resp.Header)
	} else {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(out)))
	ex.setRouteHeaders(up.p)
	ex.status = resp.StatusCode
	ex.w.WriteHeader(resp.StatusCode)
	ex.w.Write(out)
	return attemptResult{over: true}
}

// relayLarge answers with a response too large to hold: what was read, then
// the rest as it arrives. Its usage is not read.
func (ex *exchange) relayLarge(up *upstreamCall, resp *http.Response, head []byte, t0 time.Time) attemptResult {
	ex.releaseRequest() // no retry can follow
	ex.succeeded(up, resp.StatusCode, ex.px.now().Sub(t0))
	h := ex.w.Header()
	copyHeaders(h, resp.Header)
	if resp.ContentLength >= 0 {
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	ex.setRouteHeaders(up.p)
	ex.status = resp.StatusCode
	ex.w.WriteHeader(resp.StatusCode)
	copied := ex.px.now()
	defer func() { ex.upstream += ex.px.now().Sub(copied) }()
	if _, err := ex.w.Write(head); err != nil {
		return ex.clientLeft(up.p)
	}
	if _, err := io.Copy(ex.w, resp.Body); err != nil {
		if ex.r.Context().Err() != nil {
			return ex.clientLeft(up.p)
		}
		// The provider broke off mid-body: the client must see a broken
		// response rather than a short one (serveLLM aborts it).
		ex.px.log.Info("Response broke off after it was committed", "id", ex.id, "provider", up.p.cfg.Name, "reason", err.Error())
		ex.errType, ex.abort = "response_interrupted", true
		return attemptResult{over: true, breakerErr: errors.New(metrics.OutcomeReset)}
	}
	return attemptResult{over: true}
}

// succeeded records the attempt that served the request and who made it.
func (ex *exchange) succeeded(up *upstreamCall, status int, elapsed time.Duration) {
	p := up.p
	ex.record(p, up.cred, status, metrics.OutcomeSuccess, elapsed)
	ex.provider = p
	ex.model = "other"
	if up.model == p.cfg.DefaultModel {
		ex.model = up.model
	}
	if _, ok := p.cfg.Models[ex.req.Model]; ok {
		ex.model = up.model
	}
	p.stats.served.Add(1)
}

// setRouteHeaders says who served the response and what the sidecar cost.
// Header names on the request path are written canonical (X-Llmroute-…):
// Header.Get and Set allocate a canonical copy of any other spelling.
func (ex *exchange) setRouteHeaders(p *provider) {
	h := ex.w.Header()
	if p != nil {
		h.Set("X-Llmroute-Provider", p.cfg.Name)
	}
	h.Set("X-Llmroute-Attempts", strconv.Itoa(ex.attempts))
	h.Set("X-Llmroute-Overhead-Ms", strconv.FormatFloat(ms(ex.overhead(ex.px.now().Sub(ex.start))), 'f', 3, 64))
}

// overhead is the time spent in the sidecar itself out of elapsed, the time
// since the request arrived: everything but upstream calls (a stream's whole
// relay included) and deliberate backoff waits.
func (ex *exchange) overhead(elapsed time.Duration) time.Duration {
	return max(elapsed-ex.upstream-ex.waited, 0)
}

// The outcomes that are not an attempt's: a provider passed over.
const (
	outcomeBreakerOpen  = "breaker_open"
	outcomeNoCredential = "no_credential"     // no token could be obtained, or every key is set aside
	outcomeKeysCooling  = "keys_rate_limited" // every key is cooling down after a 429
)

// reason names why the provider failed, for the fallback metric and log.
func (f *lastFailure) reason() string {
	switch f.kind {
	case resilience.FailBreakerOpen:
		return outcomeBreakerOpen
	case resilience.FailNoCredential:
		return outcomeNoCredential
	case resilience.FailKeysCooling:
		return outcomeKeysCooling
	}
	return outcomeOf(f.kind, f.status)
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
	case resilience.FailRefused:
		return metrics.OutcomeRefused
	case resilience.FailBadResponse:
		return metrics.OutcomeBadResponse
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

// statusClientClosed is the access log's status for a client that left
// before an answer (nginx's 499).
const statusClientClosed = 499

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func isEventStream(h http.Header) bool {
	ct := h.Get("Content-Type")
	return len(ct) >= len("text/event-stream") && ct[:len("text/event-stream")] == "text/event-stream"
}
