package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/osmen-ai/llmroute/sidecar/credentials"
	"github.com/osmen-ai/llmroute/sidecar/resilience"
	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// maxPassBuffer is how much of a pass-through request body is held in memory
// so the call can be retried and its model read. A larger body (a file
// upload, an audio file) streams to the provider as it arrives, and is then
// retried only when the connection could not be made at all.
const maxPassBuffer = 1 << 20

// passThrough forwards a call that the sidecar does not route — files,
// audio, images, moderations, batches, stored responses, token counts, the
// Realtime API's WebSocket — to one provider of the caller's family, with
// that provider's credentials. Any method, query string, body and response
// passes; a WebSocket upgrade is tunnelled. There is no fallback to another
// provider (files, batches and stored responses live on one), and a retry
// only where it is safe: a connection that could not be made, or a 429/5xx
// (as retry.retryOn says) for an idempotent method or a body held in memory.
func (px *Proxy) passThrough(w http.ResponseWriter, r *http.Request) {
	family := callerFamily(r.URL.Path, r.Header.Get("Anthropic-Version"))
	ex := px.newExchange(w, r, familyFormat(family))
	px.metrics.InFlight.Inc()
	defer px.metrics.InFlight.Dec()
	defer ex.finish()
	if ex.rateLimited() {
		return
	}
	held := r.ContentLength
	if held < 0 || held > maxPassBuffer {
		held = maxPassBuffer // at most this much is held; the rest streams
	}
	if !ex.holdRequest(held) {
		ex.shed()
		return
	}
	defer ex.releaseHeld(true, true)
	if !isUpgrade(r) {
		// A client that never finishes its body must not hold the call open
		// past its deadline.
		_ = http.NewResponseController(w).SetReadDeadline(ex.start.Add(ex.rt.cfg.Timeouts.Request.Duration))
	}

	body, err := readPassBody(r)
	if err != nil {
		ex.reject(http.StatusBadRequest, "invalid_request_error", "llmroute: could not read the request body: "+err.Error())
		return
	}
	defer putBuffer(body.buf)
	model := r.URL.Query().Get("model") // the Realtime API names its model here
	var req translate.Request
	if body.whole() && isJSON(r.Header.Get("Content-Type")) {
		if req, err = translate.ReadRequest(body.buf.Bytes()); err == nil && req.Model != "" {
			model = req.Model
		}
	}
	api := statefulAPI(r.URL.Path)
	p := ex.rt.passTarget(family, api, model)
	if p == nil {
		ex.reject(http.StatusNotFound, "not_found_error", "llmroute: no provider in this route can take "+r.Method+" "+r.URL.Path+
			": it needs a provider of type "+familyNeeded(family, string(api))+" in one of the route's rules")
		return
	}
	if mapped, ok := p.cfg.Models[req.Model]; ok && req.Model != "" {
		// The route maps this model for this provider: the call uses the
		// same model a routed call would (token counts, stored responses).
		rewritten := getBuffer()
		defer putBuffer(rewritten)
		rewritten.Write(req.WithModel(rewritten.AvailableBuffer(), mapped))
		body.buf = rewritten
	}

	ctx := r.Context()
	if !isUpgrade(r) {
		// A WebSocket session lasts as long as the app keeps it; any other
		// call is bounded like a routed one.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ex.rt.cfg.Timeouts.Request.Duration)
		defer cancel()
	}
	px.budget.Request(ex.start)
	call := &passCall{ex: ex, p: p, body: body, idempotent: idempotent(r.Method),
		// State kept at the provider (a file, a batch, a stored response)
		// belongs to the key that made it: stay on one key while it serves.
		call: credentials.Call{Model: model, Stable: true}}
	defer call.cancelAttempts()
	rp := &httputil.ReverseProxy{
		Rewrite:        call.rewrite,
		Transport:      call,
		FlushInterval:  -1, // every chunk at once: streamed answers, audio
		ModifyResponse: call.modifyResponse,
		ErrorHandler:   call.errorHandler,
	}
	in := r.WithContext(ctx)
	in.Body, in.ContentLength = body.reader(), body.length(r.ContentLength)
	rp.ServeHTTP(w, in)
}

// passCall is one pass-through call: the ReverseProxy's hooks and its
// transport, which makes the attempts.
type passCall struct {
	ex         *exchange
	p          *provider
	body       passBody
	idempotent bool
	call       credentials.Call
	cancels    []context.CancelCauseFunc // each attempt's, called when the call ends
}

func (c *passCall) rewrite(pr *httputil.ProxyRequest) {
	p, in, out := c.p, pr.In, pr.Out
	u, err := url.Parse(p.base + in.URL.Path[len(p.family.BasePath()):])
	if err == nil {
		u.RawQuery = in.URL.RawQuery
		out.URL = u
	}
	out.Host = ""
	for k := range out.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Authorization", "X-Api-Key", "Api-Key", "Openai-Organization", "Openai-Project", "X-Request-Id":
			out.Header.Del(k)
		}
	}
	p.setHeaders(out.Header, c.ex.id, false)
}

// RoundTrip makes the call's attempts on its provider. A credential the
// provider refuses or rate-limits is replaced at once when the credentials
// offer another and the body can be sent again, as on a routed call: not a
// retry.
func (c *passCall) RoundTrip(req *http.Request) (*http.Response, error) {
	ex, p := c.ex, c.p
	rc := ex.rt.cfg.Retry
	var cred *credentials.Credential
	for attempt, switches := 1, 0; ; {
		if cred == nil {
			var err error
			if cred, err = p.creds.Pick(req.Context(), c.call); err != nil {
				ex.noCredential(&upstreamCall{p: p}, err)
				return nil, err
			}
		}
		setCredential(req.Header, cred)
		actx, cancel := context.WithCancelCause(req.Context())
		c.cancels = append(c.cancels, cancel)
		timer := time.AfterFunc(p.cfg.Timeout.Duration, func() { cancel(errAttemptTimeout) })
		out := req.WithContext(actx)
		out.Body = c.body.reader()
		t0 := ex.px.now()
		resp, err := ex.px.transport.RoundTrip(out)
		timer.Stop() // from the headers on, the body streams for as long as the request may last
		ex.attempts++
		if err != nil {
			res := ex.transportFailure(actx, &upstreamCall{p: p, cred: cred}, err, t0)
			if res.over {
				return nil, err // the client left
			}
			ex.last = res.lastFailure
			// A connection that was never made sent nothing: safe to retry
			// whatever the body. Anything else only with a body to replay.
			safe := res.kind == resilience.FailConnect && !c.body.started() || c.replayable()
			if !safe || !ex.rt.retryOn.Retryable(res.kind, 0) || !c.retry(req.Context(), attempt, 0, false) {
				return nil, err
			}
			attempt, cred = attempt+1, nil
			continue
		}
		elapsed := ex.px.now().Sub(t0)
		ex.upstream += elapsed
		status := resp.StatusCode
		ex.record(p, cred, status, outcomeOf(resilience.ClassifyStatus(status, nil), status), elapsed)
		var ra time.Duration
		var hasRA bool
		if status >= 400 {
			ra, hasRA = resilience.RetryAfter(resp.Header, ex.px.now())
		}
		var next *credentials.Credential
		// Off the LLM APIs a 403 is about the resource (an admin endpoint,
		// another project's file), not the credential: a pool must not set
		// its key aside for it.
		if status != http.StatusForbidden {
			next = p.creds.Answered(req.Context(), cred, c.call, credentials.Answer{Status: status, RetryAfter: ra, HasRetryAfter: hasRA})
		}
		if next != nil && c.replayable() && switches < maxCredentialSwitches {
			drain(resp)
			cred, switches = next, switches+1
			continue
		}
		retryable := (status == http.StatusTooManyRequests || status >= 500) && ex.rt.retryOn.Retryable(resilience.FailStatus, status)
		if !retryable || !c.replayable() || attempt == rc.Attempts {
			return resp, nil
		}
		if hasRA && ra > rc.MaxRetryAfter.Duration {
			return resp, nil // asked to wait longer than the sidecar would: the app decides
		}
		if !c.retry(req.Context(), attempt, ra, hasRA) {
			return resp, nil
		}
		drain(resp)
		attempt, cred = attempt+1, nil
	}
}

// drain reads what is left of a response that is not passed on, so that its
// connection is kept, and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
}

// retry waits before the next attempt, if the attempts, the retry budget
// and the request's time allow one; it reports whether to go on.
func (c *passCall) retry(ctx context.Context, attempt int, retryAfter time.Duration, hasRetryAfter bool) bool {
	ex := c.ex
	rc := ex.rt.cfg.Retry
	if attempt >= rc.Attempts || !ex.spendRetry(c.p) {
		return false
	}
	c.p.stats.retries.Inc()
	wait := resilience.Backoff(attempt, rc, ex.px.rand)
	if hasRetryAfter {
		wait = retryAfter
	}
	return ex.backoff(ctx, wait) == nil
}

// replayable reports whether a retry may send the request again: the method
// is idempotent, or the whole body is in memory (the provider either got it
// whole or refused it).
func (c *passCall) replayable() bool { return c.idempotent || c.body.whole() }

func (c *passCall) cancelAttempts() {
	for _, cancel := range c.cancels {
		cancel(nil)
	}
}

func (c *passCall) modifyResponse(resp *http.Response) error {
	ex := c.ex
	if id := resp.Header["X-Request-Id"]; id != nil {
		resp.Header["X-Llmroute-Upstream-Request-Id"] = id
		delete(resp.Header, "X-Request-Id")
	}
	ex.provider = c.p
	ex.status = resp.StatusCode
	if resp.StatusCode >= 400 {
		ex.errType = "provider_error"
		if ex.attempts > 1 {
			resp.Header.Set("X-Should-Retry", "false") // the sidecar already retried
		}
	}
	resp.Header.Set("X-Llmroute-Provider", c.p.cfg.Name)
	resp.Header.Set("X-Llmroute-Attempts", strconv.Itoa(ex.attempts))
	return nil
}

// errorHandler answers a call that got no response, in the caller's format.
func (c *passCall) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	ex := c.ex
	ex.provider = c.p
	if ex.r.Context().Err() != nil {
		ex.status = statusClientClosed
		return
	}
	status, code, msg := http.StatusBadGateway, "upstream_unreachable", "llmroute: "+c.p.cfg.Name+": "+err.Error()
	switch {
	case ex.last.kind == resilience.FailNoCredential || ex.last.kind == resilience.FailKeysCooling:
		status, code, msg = http.StatusServiceUnavailable, "llmroute_no_credential", "llmroute: "+ex.last.message
	case ex.last.provider != nil:
		msg = "llmroute: " + c.p.cfg.Name + ": " + ex.last.message
		if ex.last.kind == resilience.FailTimeout {
			status, code = http.StatusGatewayTimeout, "upstream_timeout"
		}
	}
	if errors.Is(r.Context().Err(), context.DeadlineExceeded) {
		status, code, msg = http.StatusGatewayTimeout, "llmroute_timeout", "llmroute: "+c.p.cfg.Name+" did not answer within timeouts.request ("+ex.rt.cfg.Timeouts.Request.String()+")"
	}
	ex.status, ex.errType = status, code
	if c.replayable() || ex.attempts > 1 {
		w.Header().Set("X-Should-Retry", "false")
	}
	ex.setRouteHeaders(c.p)
	writeError(w, ex.client, status, "", code, msg)
}

// passBody is a pass-through request body: up to maxPassBuffer bytes in
// memory, and the rest, if there is more, still to be read from the client.
type passBody struct {
	buf  *bytes.Buffer
	rest *countingReader // nil when buf holds the whole body
}

// readPassBody reads what it may of the request body into memory.
func readPassBody(r *http.Request) (passBody, error) {
	b := passBody{buf: getBuffer()}
	if r.Body == nil || r.Body == http.NoBody {
		return b, nil
	}
	n, err := b.buf.ReadFrom(io.LimitReader(r.Body, maxPassBuffer+1))
	if err != nil {
		return b, err
	}
	if n > maxPassBuffer {
		b.rest = &countingReader{r: io.MultiReader(bytes.NewReader(b.buf.Bytes()), r.Body)}
	}
	return b, nil
}

func (b *passBody) whole() bool { return b.rest == nil }

// started reports whether any of a streamed body was sent.
func (b *passBody) started() bool { return b.rest != nil && b.rest.n > 0 }

// reader returns the body to send on an attempt: the buffer from its start,
// or the stream where the last attempt left it (unread, or no retry happens).
func (b *passBody) reader() io.ReadCloser {
	if b.rest != nil {
		return io.NopCloser(b.rest)
	}
	if b.buf.Len() == 0 {
		return http.NoBody
	}
	return io.NopCloser(bytes.NewReader(b.buf.Bytes()))
}

// length is the body's length for the outbound request: known when it is
// all in memory, else the client's (-1 if it did not say).
func (b *passBody) length(clientLength int64) int64 {
	if b.rest != nil {
		return clientLength
	}
	return int64(b.buf.Len())
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func isJSON(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/json"
}

func isUpgrade(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }

// idempotent reports whether a method may be sent twice (RFC 9110 §9.2.2).
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

// familyNeeded says which provider types could take a call, for the error
// when none in the route can.
func familyNeeded(f translate.Family, api string) string {
	switch {
	case f == translate.AnthropicFamily:
		return "Anthropic"
	case api != "":
		return "OpenAI (or any provider whose apis include " + api + ")"
	}
	return "OpenAI, OpenAICompatible, Ollama or LMStudio"
}
