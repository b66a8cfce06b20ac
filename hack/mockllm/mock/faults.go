package mock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Faults is a script of failures to inject. The zero value is a healthy
// server. Faults are set server-wide by [Options.Faults], [Server.SetFaults]
// or POST /mock/faults, and per request by x-mock-* headers, which take
// precedence field by field (see the package documentation).
//
// A request meets its faults in this order, and the first that answers it
// wins: Latency (after which the rest still apply), HangHeaders, Reset, Down;
// then, once the body is parsed, the API key and anthropic-version checks,
// StatusSequence, FailRate, InsufficientQuota, ContextLengthExceeded and the
// request's own validation; last, ResetMidBody, StreamErrorBeforeContent,
// StreamErrorAfter and StreamCutAfter shape the successful response. Only
// requests that get as far as StatusSequence advance it.
type Faults struct {
	// StatusSequence gives the status of successive requests, e.g. 503, 503,
	// 200: two failures, then success. Entries below 400 are healthy, and so is
	// every request after the sequence ends. Error statuses get the provider's
	// error body for that status (see "Errors" in the package documentation).
	// The server-wide sequence restarts on every SetFaults.
	StatusSequence []int `json:"status_sequence,omitempty"`

	// FailRate is the fraction, 0 to 1, of requests that fail at random with
	// FailStatus. Draws come from a generator seeded with Seed, so a run is
	// repeatable when the requests arrive in the same order.
	FailRate float64 `json:"fail_rate,omitempty"`

	// FailStatus is the status of a FailRate failure; zero means 500.
	FailStatus int `json:"fail_status,omitempty"`

	// Seed seeds FailRate's generator; zero seeds it at random.
	Seed int64 `json:"seed,omitempty"`

	// Latency delays every request before its headers, as a slow upstream
	// does. It ends early when the client goes away.
	Latency time.Duration `json:"latency,omitempty"`

	// RetryAfter, when not empty, is sent verbatim as Retry-After on 429, 503
	// and 529 responses: seconds, an HTTP date or, to test a client's parser,
	// anything else.
	RetryAfter string `json:"retry_after,omitempty"`

	// RetryAfterMs, when not empty, is sent verbatim as retry-after-ms (which
	// the OpenAI and Anthropic SDKs read) on 429, 503 and 529 responses.
	RetryAfterMs string `json:"retry_after_ms,omitempty"`

	// InsufficientQuota answers 429 insufficient_quota (OpenAI), which is not
	// worth retrying, or 400 "credit balance is too low" (Anthropic).
	InsufficientQuota bool `json:"insufficient_quota,omitempty"`

	// ContextLengthExceeded answers 400 context_length_exceeded (OpenAI) or
	// 400 "prompt is too long" (Anthropic).
	ContextLengthExceeded bool `json:"context_length_exceeded,omitempty"`

	// Reset resets the connection (TCP RST where the connection allows it)
	// without sending a response.
	Reset bool `json:"reset,omitempty"`

	// ResetMidBody sends the headers and about half of the body, then closes
	// the connection: a JSON body announces its full Content-Length, a stream
	// stops after half of its events.
	ResetMidBody bool `json:"reset_mid_body,omitempty"`

	// HangHeaders never sends headers: the request is held until the client
	// gives up (or [Server.Close] releases it), as a wedged upstream does.
	HangHeaders bool `json:"hang_headers,omitempty"`

	// StreamCutAfter, when positive, closes a streaming response's connection
	// abruptly after that many SSE events; a stream with fewer events is cut
	// just before its terminating event ("data: [DONE]" or message_stop), so
	// the fault always shows. Non-streaming requests ignore it.
	StreamCutAfter int `json:"stream_cut_after,omitempty"`

	// StreamErrorBeforeContent answers a streaming request with 200 and a
	// stream whose first and only event is an error: OpenAI's
	// data: {"error":{...}}, Anthropic's event: error with overloaded_error.
	// The Responses API's is event: error. Non-streaming requests ignore it.
	StreamErrorBeforeContent bool `json:"stream_error_before_content,omitempty"`

	// StreamErrorAfter, when positive, ends a streaming response with the
	// provider's in-band error after that many content deltas (after the
	// last one, if the reply has fewer), as an upstream that fails half way
	// through an answer does. The connection closes cleanly but the stream
	// never reaches its terminating event: OpenAI's chat and completion
	// streams end with data: {"error":{...}} and no [DONE], Anthropic's
	// with event: error (overloaded_error), the Responses API's with
	// event: error then event: response.failed. Non-streaming requests
	// ignore it.
	StreamErrorAfter int `json:"stream_error_after,omitempty"`

	// Down answers every request 503: an outage switch.
	Down bool `json:"down,omitempty"`
}

// MarshalJSON writes Latency as a duration string such as "50ms", which a
// shell script can read and write.
func (f Faults) MarshalJSON() ([]byte, error) {
	type plain Faults
	return json.Marshal(struct {
		plain
		Latency string `json:"latency,omitempty"`
	}{plain(f), durationString(f.Latency)})
}

// UnmarshalJSON reads Latency as a duration string ("50ms") or a number of
// milliseconds, and rejects unknown fields.
func (f *Faults) UnmarshalJSON(data []byte) error {
	type plain Faults
	var v struct {
		*plain
		Latency json.RawMessage `json:"latency"`
	}
	v.plain = (*plain)(f)
	// Unknown fields are errors: a misspelt fault would otherwise be a
	// silently healthy server.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	f.Latency = 0
	if len(v.Latency) == 0 || string(v.Latency) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(v.Latency, &s) != nil {
		s = string(v.Latency)
	}
	d, err := parseDuration(s)
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	f.Latency = d
	return nil
}

func durationString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// parseDuration reads a Go duration ("50ms", "1.5s") or a bare number of
// milliseconds.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseFloat(s, 64); err == nil {
		if ms < 0 {
			return 0, fmt.Errorf("negative duration %q", s)
		}
		return time.Duration(ms * float64(time.Millisecond)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, nil
}

// clone returns f with its own copy of StatusSequence, so a caller's later
// changes to the slice don't reach a running server.
func (f Faults) clone() Faults {
	f.StatusSequence = append([]int(nil), f.StatusSequence...)
	return f
}

// The per-request fault headers. They are documented in the package doc.
const (
	hdrStatus          = "X-Mock-Status"
	hdrKey             = "X-Mock-Key"
	hdrFailRate        = "X-Mock-Fail-Rate"
	hdrFailStatus      = "X-Mock-Fail-Status"
	hdrLatency         = "X-Mock-Latency"
	hdrRetryAfter      = "X-Mock-Retry-After"
	hdrRetryAfterMs    = "X-Mock-Retry-After-Ms"
	hdrReset           = "X-Mock-Reset"
	hdrResetMidBody    = "X-Mock-Reset-Mid-Body"
	hdrHang            = "X-Mock-Hang"
	hdrStreamCutAfter  = "X-Mock-Stream-Cut-After"
	hdrStreamError     = "X-Mock-Stream-Error-Before-Content"
	hdrStreamErrorAt   = "X-Mock-Stream-Error-After"
	hdrInsufficient    = "X-Mock-Insufficient-Quota"
	hdrContextLength   = "X-Mock-Context-Length"
	hdrDown            = "X-Mock-Down"
	headerSeqSeparator = "\x00"
)

// withHeaders returns f overridden by the request's x-mock-* headers, and
// the key of the header-scripted status sequence, if x-mock-status set one.
// It only looks further when some x-mock- header is present, which keeps the
// healthy path cheap.
func (f Faults) withHeaders(h http.Header) (_ Faults, seqKey string, err error) {
	found := false
	for k := range h {
		if len(k) > 7 && strings.EqualFold(k[:7], "X-Mock-") {
			found = true
			break
		}
	}
	if !found {
		return f, "", nil
	}
	if v := h.Get(hdrStatus); v != "" {
		seq, err := ParseStatusSequence(v)
		if err != nil {
			return f, "", fmt.Errorf("%s: %w", strings.ToLower(hdrStatus), err)
		}
		f.StatusSequence = seq
		seqKey = h.Get(hdrKey) + headerSeqSeparator + v
	}
	fields := []struct {
		name string
		set  func(string) error
	}{
		{hdrFailRate, func(v string) (err error) { f.FailRate, err = parseRate(v); return }},
		{hdrFailStatus, func(v string) (err error) { f.FailStatus, err = parseStatus(v); return }},
		{hdrLatency, func(v string) (err error) { f.Latency, err = parseDuration(v); return }},
		{hdrRetryAfter, func(v string) error { f.RetryAfter = v; return nil }},
		{hdrRetryAfterMs, func(v string) error { f.RetryAfterMs = v; return nil }},
		{hdrReset, func(v string) (err error) { f.Reset, err = strconv.ParseBool(v); return }},
		{hdrResetMidBody, func(v string) (err error) { f.ResetMidBody, err = strconv.ParseBool(v); return }},
		{hdrHang, func(v string) (err error) { f.HangHeaders, err = strconv.ParseBool(v); return }},
		{hdrStreamCutAfter, func(v string) (err error) { f.StreamCutAfter, err = parseCount(v); return }},
		{hdrStreamError, func(v string) (err error) { f.StreamErrorBeforeContent, err = strconv.ParseBool(v); return }},
		{hdrStreamErrorAt, func(v string) (err error) { f.StreamErrorAfter, err = parseCount(v); return }},
		{hdrInsufficient, func(v string) (err error) { f.InsufficientQuota, err = strconv.ParseBool(v); return }},
		{hdrContextLength, func(v string) (err error) { f.ContextLengthExceeded, err = strconv.ParseBool(v); return }},
		{hdrDown, func(v string) (err error) { f.Down, err = strconv.ParseBool(v); return }},
	}
	for _, fl := range fields {
		v := h.Get(fl.name)
		if v == "" {
			continue
		}
		if err := fl.set(strings.TrimSpace(v)); err != nil {
			return f, "", fmt.Errorf("%s: %w", strings.ToLower(fl.name), err)
		}
	}
	return f, seqKey, nil
}

// ParseStatusSequence parses a comma-separated list of HTTP statuses such as
// "503,503,200", the form of x-mock-status and of the --status-seq flag.
func ParseStatusSequence(s string) ([]int, error) {
	var seq []int
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		n, err := parseStatus(p)
		if err != nil {
			return nil, err
		}
		seq = append(seq, n)
	}
	if len(seq) == 0 {
		return nil, fmt.Errorf("empty status sequence %q", s)
	}
	return seq, nil
}

func parseStatus(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return 0, fmt.Errorf("bad status %q", s)
	}
	return n, nil
}

func parseRate(s string) (float64, error) {
	r, err := strconv.ParseFloat(s, 64)
	if err != nil || r < 0 || r > 1 {
		return 0, fmt.Errorf("bad rate %q: want a number from 0 to 1", s)
	}
	return r, nil
}

func parseCount(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad count %q", s)
	}
	return n, nil
}

// failStatus returns the status a request gets from the status script and
// the random failure rate, or 0 when it should succeed, and the fault's name
// for Stats.Faults.
func (s *Server) failStatus(f Faults, seqKey string) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(f.StatusSequence) > 0 {
		var pos int
		if seqKey != "" {
			pos = s.headerSeq[seqKey]
			s.headerSeq[seqKey] = pos + 1
		} else {
			pos = s.seqPos
			s.seqPos++
		}
		if pos < len(f.StatusSequence) && f.StatusSequence[pos] >= 400 {
			return f.StatusSequence[pos], "status_sequence"
		}
	}
	if f.FailRate > 0 && s.rng.Float64() < f.FailRate {
		if f.FailStatus != 0 {
			return f.FailStatus, "fail_rate"
		}
		return http.StatusInternalServerError, "fail_rate"
	}
	return 0, ""
}

// wait blocks for d, and reports false when the client went away or the
// server was closed first; in the latter case it drops the connection, so
// that no made-up response leaks out.
func (x *exchange) wait(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-x.r.Context().Done():
		x.canceled = true
		return false
	case <-x.s.done:
		x.cut(x.status == 0)
		return false
	}
}

// hang holds the request until the client gives up or the server is closed,
// then drops the connection so no made-up response leaks out.
func (x *exchange) hang() {
	x.hung = true
	select {
	case <-x.r.Context().Done():
		x.canceled = true
	case <-x.s.done:
		x.cut(true)
	}
}

// cut ends the exchange by closing its connection: with a TCP RST when rst
// is set (a reset before any response), else with a FIN after flushing what
// was written (a truncated body). Where the connection can't be hijacked
// (HTTP/2), it aborts the handler, which resets the stream.
func (x *exchange) cut(rst bool) {
	x.reset = true
	rc := http.NewResponseController(x.w)
	if x.status != 0 {
		_ = rc.Flush()
	}
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if rst {
		if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
			_ = tc.SetLinger(0)
		}
	}
	_ = conn.Close()
}
