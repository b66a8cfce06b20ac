package mock

import (
	"net/http"
	"time"
)

// events is a stream rendered ahead of time: the SSE wire text of every
// event in one buffer, and where each event lies in it. Rendering first lets
// the writer count events, which stream cuts need, and keeps the write loop
// down to Write and Flush.
type events struct {
	buf   []byte
	spans []span
	mark  int
}

type span struct {
	start, end int
	// content marks the deltas that carry the answer; StreamInterval paces
	// them.
	content bool
}

// begin starts an event: "event: name" when name is set (Anthropic), then
// the data line, whose JSON the caller appends to e.buf before calling end.
func (e *events) begin(name string) {
	e.mark = len(e.buf)
	if name != "" {
		e.buf = append(e.buf, "event: "...)
		e.buf = append(e.buf, name...)
		e.buf = append(e.buf, '\n')
	}
	e.buf = append(e.buf, "data: "...)
}

// end closes the event begun last.
func (e *events) end(content bool) {
	e.buf = append(e.buf, '\n', '\n')
	e.spans = append(e.spans, span{e.mark, len(e.buf), content})
}

// truncateAfterContent drops the events after the n-th content delta, or
// after the last one when there are fewer, so that an error can end the
// stream there. A stream without content keeps its first event.
func (e *events) truncateAfterContent(n int) {
	if len(e.spans) == 0 {
		return
	}
	k, seen := 0, 0
	for i, sp := range e.spans {
		if sp.content {
			k = i
			if seen++; seen == n {
				break
			}
		}
	}
	e.buf = e.buf[:e.spans[k].end]
	e.spans = e.spans[:k+1]
}

// writeStream sends evs as a 200 text/event-stream, flushing after every
// event and pausing interval between content deltas. It applies the stream
// faults: StreamCutAfter and ResetMidBody cut the connection part way, and an
// error stream (StreamErrorBeforeContent, StreamErrorAfter) is never cut and
// never complete.
func (x *exchange) writeStream(evs *events, interval time.Duration, errorStream bool) {
	h := x.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	x.writeHeader(http.StatusOK)
	x.stream = true

	n := len(evs.spans)
	cutAt, cutFault := -1, ""
	if !errorStream && n > 1 {
		if c := x.f.StreamCutAfter; c > 0 {
			cutAt, cutFault = min(c, n-1), "stream_cut"
		}
		if x.f.ResetMidBody {
			if c := max(1, n/2); cutAt < 0 || c < cutAt {
				cutAt, cutFault = c, "reset_mid_body"
			}
		}
	}

	rc := http.NewResponseController(x.w)
	if err := rc.Flush(); err != nil {
		x.canceled = true
		return
	}
	paced := false
	for i, sp := range evs.spans {
		if i == cutAt {
			x.fire(cutFault)
			x.cut(false)
			return
		}
		if sp.content {
			if paced && !x.wait(interval) {
				return
			}
			paced = true
		}
		if _, err := x.w.Write(evs.buf[sp.start:sp.end]); err != nil {
			x.canceled = true
			return
		}
		if err := rc.Flush(); err != nil {
			x.canceled = true
			return
		}
	}
	x.streamDone = !errorStream
}
