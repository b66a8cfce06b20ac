package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/osmen-ai/llmroute/sidecar/metrics"
	"github.com/osmen-ai/llmroute/sidecar/resilience"
	"github.com/osmen-ai/llmroute/sidecar/sse"
	"github.com/osmen-ai/llmroute/sidecar/translate"
)

var readerPool = sync.Pool{New: func() any { return sse.NewReader(nil) }}

// relay passes a stream to the client event by event, flushing each one.
//
// Until the first content event the stream is held back (only a few small
// preamble events such as Anthropic's message_start), so an error event or a
// dropped connection at that point is a failed attempt that can still be
// retried or fall back: the client has seen nothing. After the first content
// reaches the client, a failure ends the stream with a well-formed error
// event in the client's format, never a silent truncation.
func (ex *exchange) relay(actx context.Context, timer *time.Timer, up *upstreamCall, resp *http.Response, t0 time.Time) attemptResult {
	idle := ex.rt.cfg.Timeouts.StreamIdle.Duration
	timer.Reset(idle) // from here the attempt timer bounds the silence between events
	rd := readerPool.Get().(*sse.Reader)
	rd.Reset(resp.Body)
	defer func() { rd.Reset(nil); readerPool.Put(rd) }()
	pending := getBuffer()
	defer func() { putBuffer(pending) }()

	st := up.tr.Stream()
	flusher, _ := ex.w.(http.Flusher)
	var (
		chunk     []byte
		committed time.Time // when the first content reached the client; zero before
		ended     bool
	)
	// Once committed, the rest of the stream is the provider's time too.
	defer func() {
		if !committed.IsZero() {
			ex.upstream += ex.px.now().Sub(committed)
			ex.usage = st.Usage()
			up.p.spendTokens(ex.px.now, ex.usage.InputTokens+ex.usage.OutputTokens)
		}
	}()
	for {
		ev, err := rd.Next()
		if err != nil {
			if errors.Is(err, io.EOF) && ended {
				break
			}
			if committed.IsZero() {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					err = errors.New("the stream ended before any content")
				}
				return ex.transportFailure(actx, up, err, t0)
			}
			if ex.r.Context().Err() != nil {
				return ex.clientLeft(up.p)
			}
			msg := "the provider's stream broke off: " + err.Error()
			if errors.Is(context.Cause(actx), errAttemptTimeout) {
				msg = "the provider's stream was silent for longer than timeouts.streamIdle (" + idle.String() + ")"
			} else if errors.Is(err, io.EOF) {
				msg = "the provider's stream ended without its closing event"
			}
			return ex.streamBroken(up.p, st, msg, chunk, flusher)
		}
		timer.Reset(idle)

		var kind translate.EventKind
		chunk, kind, err = st.Event(chunk[:0], ev)
		switch {
		case err != nil && committed.IsZero():
			return ex.failed(up, resp.StatusCode, resilience.FailBadResponse, "unreadable stream event: "+err.Error(), ex.px.now().Sub(t0))
		case err != nil:
			return ex.streamBroken(up.p, st, "unreadable stream event from the provider: "+err.Error(), chunk[:0], flusher)
		case kind == translate.Failed && committed.IsZero():
			elapsed := ex.px.now().Sub(t0)
			ex.upstream += elapsed
			return ex.failed(up, resp.StatusCode, resilience.FailStreamError, "error event before content: "+translate.ErrorMessage(ev.Data), elapsed)
		case kind == translate.Done:
			ended = true
		}

		if committed.IsZero() {
			pending.Write(chunk)
			if kind == translate.Preamble {
				continue
			}
			ex.commitStream(up, resp, t0)
			committed = ex.px.now()
			_, err := ex.w.Write(pending.Bytes())
			// From here nothing is retried: give back what only a retry needed.
			putBuffer(pending)
			pending = nil
			ex.releaseRequest()
			if err != nil {
				return ex.clientLeft(up.p)
			}
			flush(flusher)
		} else if len(chunk) > 0 {
			if _, err := ex.w.Write(chunk); err != nil {
				return ex.clientLeft(up.p)
			}
			flush(flusher)
		}
		if kind == translate.Failed {
			// An error event after content: relayed, it ends the stream.
			ex.errType = "stream_interrupted"
			return attemptResult{over: true, breakerErr: errors.New(metrics.OutcomeStreamErr)}
		}
	}
	return attemptResult{over: true}
}

// commitStream sends the stream's headers: from here the client has an answer.
func (ex *exchange) commitStream(up *upstreamCall, resp *http.Response, t0 time.Time) {
	now := ex.px.now()
	elapsed := now.Sub(t0)
	ex.upstream += elapsed
	ex.succeeded(up, resp.StatusCode, elapsed)
	ex.ttft = now.Sub(ex.start)
	h := ex.w.Header()
	if up.native {
		copyHeaders(h, resp.Header)
	}
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Del("Content-Length")
	ex.setRouteHeaders(up.p)
	ex.status = resp.StatusCode
	ex.w.WriteHeader(resp.StatusCode)
}

// streamBroken ends a stream that failed after content reached the client.
func (ex *exchange) streamBroken(p *provider, st translate.Stream, msg string, scratch []byte, flusher http.Flusher) attemptResult {
	ex.px.log.Info("Stream broke after content was sent", "id", ex.id, "provider", p.cfg.Name, "reason", msg)
	ex.errType = "stream_interrupted"
	ex.w.Write(st.Fail(scratch[:0], "", "llmroute: "+msg))
	flush(flusher)
	return attemptResult{over: true, breakerErr: errors.New(metrics.OutcomeStreamErr)}
}

// clientLeft ends an exchange whose client went away: the upstream call is
// cancelled with the request, and the provider is not blamed.
func (ex *exchange) clientLeft(p *provider) attemptResult {
	p.stats.attempts[metrics.OutcomeCanceled].Inc()
	ex.errType = "client_disconnected"
	return attemptResult{over: true, breakerErr: resilience.ErrNotCounted}
}

func flush(f http.Flusher) {
	if f != nil {
		f.Flush()
	}
}
