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
func (ex *exchange) relay(actx context.Context, cancel context.CancelCauseFunc, timer *time.Timer, p *provider, tr translate.Translator, resp *http.Response, model string, t0 time.Time) attemptResult {
	idle := ex.rt.cfg.Timeouts.StreamIdle.Duration
	timer.Reset(idle) // from here the attempt timer bounds the silence between events
	rd := readerPool.Get().(*sse.Reader)
	rd.Reset(resp.Body)
	defer func() { rd.Reset(nil); readerPool.Put(rd) }()
	pending := getBuffer()
	defer func() { putBuffer(pending) }()

	backend, client := p.format, ex.ep.clientFormat()
	flusher, _ := ex.w.(http.Flusher)
	var (
		chunk     []byte
		committed bool
		ended     bool
		usage     translate.Usage
	)
	for {
		ev, err := rd.Next()
		if err != nil {
			if errors.Is(err, io.EOF) && ended {
				break
			}
			if !committed {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					err = errors.New("the stream ended before any content")
				}
				return ex.transportFailure(actx, p, err, t0)
			}
			if ex.r.Context().Err() != nil {
				return ex.clientLeft(p)
			}
			msg := "the provider's stream broke off: " + err.Error()
			if errors.Is(context.Cause(actx), errAttemptTimeout) {
				msg = "the provider's stream was silent for longer than timeouts.streamIdle (" + idle.String() + ")"
			} else if errors.Is(err, io.EOF) {
				msg = "the provider's stream ended without its closing event"
			}
			return ex.streamBroken(p, client, msg, chunk, flusher)
		}
		timer.Reset(idle)

		if !committed && translate.IsErrorEvent(backend, ev) {
			elapsed := ex.px.now().Sub(t0)
			ex.upstream += elapsed
			return ex.failed(p, resp.StatusCode, resilience.FailStreamError, "error event before content: "+upstreamMessage(ev.Data), elapsed)
		}
		if isStreamEnd(backend, ev) {
			ended = true
		}
		if tr != nil {
			if chunk, err = tr.StreamEvent(chunk[:0], ev); err != nil {
				if !committed {
					return ex.failed(p, resp.StatusCode, resilience.FailReset, "unreadable stream event: "+err.Error(), ex.px.now().Sub(t0))
				}
				return ex.streamBroken(p, client, "unreadable stream event from the provider: "+err.Error(), chunk, flusher)
			}
		} else {
			chunk = append(chunk[:0], ev.Raw...)
			streamUsage(backend, ev, &usage)
		}

		if !committed {
			pending.Write(chunk)
			if !isContent(backend, ev) {
				continue
			}
			ex.commitStream(p, tr, resp, model, t0)
			committed = true
			_, err := ex.w.Write(pending.Bytes())
			// From here nothing is retried: give back what only a retry needed.
			putBuffer(pending)
			pending = nil
			ex.releaseRequest()
			if err != nil {
				return ex.clientLeft(p)
			}
			flush(flusher)
			continue
		}
		if len(chunk) > 0 {
			if _, err := ex.w.Write(chunk); err != nil {
				return ex.clientLeft(p)
			}
			flush(flusher)
		}
	}
	if !committed {
		// A clean but empty stream: pass what there was.
		ex.commitStream(p, tr, resp, model, t0)
		ex.w.Write(pending.Bytes())
	}
	if tr != nil {
		if chunk = tr.StreamEnd(chunk[:0]); len(chunk) > 0 {
			ex.w.Write(chunk)
		}
		usage = tr.Usage()
	}
	flush(flusher)
	ex.usage = usage
	p.spendTokens(ex.px.now(), usage.InputTokens+usage.OutputTokens)
	return attemptResult{over: true}
}

// commitStream sends the stream's headers: from here the client has an answer.
func (ex *exchange) commitStream(p *provider, tr translate.Translator, resp *http.Response, model string, t0 time.Time) {
	elapsed := ex.px.now().Sub(t0)
	ex.upstream += elapsed
	p.stats.attempts[metrics.OutcomeSuccess].Inc()
	ex.tries = append(ex.tries, try{Provider: p.cfg.Name, Status: resp.StatusCode, Outcome: metrics.OutcomeSuccess, Ms: ms(elapsed)})
	ex.succeeded(p, model)
	ex.ttft = ex.px.now().Sub(ex.start)
	h := ex.w.Header()
	if tr == nil {
		copyHeaders(h, resp.Header)
	}
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Del("Content-Length")
	ex.setRouteHeaders(p)
	ex.status = resp.StatusCode
	ex.w.WriteHeader(resp.StatusCode)
}

// streamBroken ends a stream that failed after content reached the client.
func (ex *exchange) streamBroken(p *provider, client translate.Format, msg string, scratch []byte, flusher http.Flusher) attemptResult {
	ex.px.log.Info("Stream broke after content was sent", "id", ex.id, "provider", p.cfg.Name, "reason", msg)
	ex.errType = "stream_interrupted"
	ex.w.Write(translate.StreamErrorEvent(scratch[:0], client, "api_error", "llmroute: "+msg))
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

// isContent reports whether an event carries the answer (as opposed to a
// preamble that may be held back while the attempt can still be retried).
func isContent(f translate.Format, ev sse.Event) bool {
	if f == translate.OpenAI {
		return len(ev.Data) > 0
	}
	switch string(ev.Name) {
	case "", "message_start", "ping", "content_block_start":
		return false
	}
	return true
}

// isStreamEnd reports whether an event closes a stream cleanly.
func isStreamEnd(f translate.Format, ev sse.Event) bool {
	if f == translate.OpenAI {
		return string(ev.Data) == "[DONE]"
	}
	return string(ev.Name) == "message_stop"
}
