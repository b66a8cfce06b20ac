package proxy

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
)

// DefaultMaxBufferedBytes bounds the bytes held in buffers across all
// requests at once: request bodies (and a provider's rewritten copy), and
// responses held until they are complete. With the sidecar's default 128 MiB
// memory limit, it leaves room for the runtime, streams and the metrics.
const DefaultMaxBufferedBytes = 64 << 20

// memoryBudget counts the bytes buffered across requests. A request that
// would take it over its limit is shed (503 with Retry-After) instead of
// being read; a response that would is relayed as it arrives instead of
// being held.
type memoryBudget struct {
	limit int64
	used  atomic.Int64
}

// hold takes n bytes of the budget, or nothing and false when they do not fit.
func (b *memoryBudget) hold(n int64) bool {
	if n <= 0 {
		return true
	}
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return false
	}
	return true
}

func (b *memoryBudget) release(n int64) { b.used.Add(-n) }

// holdRequest takes the budget for a request body of length n (-1 when the
// client did not say: the largest accepted is assumed), twice over: a
// provider may need a rewritten copy. It returns false when the request
// must be shed.
func (ex *exchange) holdRequest(n int64) bool {
	if n < 0 || n > ex.px.maxBody {
		n = ex.px.maxBody
	}
	if !ex.px.memory.hold(2 * n) {
		ex.px.metrics.LoadShed.Inc()
		return false
	}
	ex.heldRequest += 2 * n
	return true
}

// releaseHeld gives back what the exchange holds of the memory budget.
func (ex *exchange) releaseHeld(request, response bool) {
	if request {
		ex.px.memory.release(ex.heldRequest)
		ex.heldRequest = 0
	}
	if response {
		ex.px.memory.release(ex.heldResponse)
		ex.heldResponse = 0
	}
}

// shed refuses a request the sidecar has no memory for right now: 503 with
// Retry-After, which the SDKs honour. The body is read and dropped as it
// comes (holding nothing), within the request's deadline: answered before
// its body is sent, a client mostly sees a reset connection, not the 503.
func (ex *exchange) shed() {
	rc := http.NewResponseController(ex.w)
	_ = rc.SetReadDeadline(ex.start.Add(ex.rt.cfg.Timeouts.Request.Duration))
	_, _ = io.Copy(io.Discard, io.LimitReader(ex.r.Body, ex.px.maxBody))
	ex.status, ex.errType = http.StatusServiceUnavailable, "load_shed"
	ex.setRouteHeaders(nil)
	ex.w.Header().Set("Retry-After", "1")
	writeError(ex.w, ex.client, http.StatusServiceUnavailable, "", "llmroute_overloaded",
		"llmroute: the sidecar is holding as many request bytes as it may (--max-buffered-bytes "+
			strconv.FormatInt(ex.px.memory.limit, 10)+"); retry shortly")
}

// readResponse reads a success body into buf while it fits the response
// limit (--max-body-bytes) and the memory budget. whole is false when it did
// not: buf holds what was read, and the rest is still in the body. A body of
// known length is held at once; one of unknown length, step by step.
func (ex *exchange) readResponse(buf *bytes.Buffer, body io.Reader, length int64) (whole bool, err error) {
	if length >= 0 && length <= ex.px.maxBody && ex.px.memory.hold(length+bytes.MinRead) {
		ex.heldResponse += length + bytes.MinRead
		buf.Grow(int(length) + bytes.MinRead)
		_, err := buf.ReadFrom(body)
		return err == nil, err
	}
	const step = 64 << 10
	for {
		if int64(buf.Len()) >= ex.px.maxBody || !ex.px.memory.hold(step) {
			return false, nil
		}
		ex.heldResponse += step
		buf.Grow(step)
		n, err := io.CopyN(buf, body, step)
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if n < step {
			return true, nil
		}
	}
}
