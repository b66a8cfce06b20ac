// Package translate holds what the sidecar knows about each LLM API's wire
// format: OpenAI's chat completions, Responses, completions and embeddings,
// and Anthropic's Messages. Every (client format, backend format) pair the
// proxy can serve has a Translator, the identity included, so the proxy never
// asks which format it holds: requests, responses, streamed events, token
// usage and errors all go through the pair's translator.
//
// The identities forward the client's bytes with only the model replaced, and
// read what the proxy needs (usage, where a stream's content starts and where
// it ends, error events) without decoding. The real translations convert
// between chat completions and Messages in both directions, and serve
// Responses clients from chat completions and Messages backends.
//
// The rule behind every mapping: a translation may change how something is
// said, never what is asked. A request field the other format cannot express
// is refused with an *UnsupportedError naming it, unless it is at its default
// or only tunes delivery (caching hints, service tiers, seeds); each dropped
// field is listed with its reason where the request is read.
//
// Choices that hold in both directions:
//   - Responses and streams report the model the client asked for, not the
//     provider's: SDKs and applications read it back as the model they chose.
//   - Requests for Anthropic have the shape of anthropic-version 2023-06-01
//     (which the proxy sends with them) and default max_tokens to
//     DefaultMaxTokens.
//   - Temperature: Anthropic's 0..1 passes to OpenAI unchanged; OpenAI's
//     0..2 passes to Anthropic up to 1, and above 1 it is refused, since
//     clamping would quietly make the answer more conservative than asked.
//   - Token usage keeps cached prompt tokens apart as each format does
//     (Anthropic's cache_read_input_tokens is OpenAI's cached_tokens, and
//     counted in prompt_tokens).
//
// Request and response bodies go through encoding/json with typed structs.
// Stream events, which arrive one per token, are read with a small scanner
// and written by hand: string values (text, tool arguments, ids) are copied
// as JSON tokens from the backend's event into the client's, so translating a
// chunk neither decodes nor re-encodes its text and does not allocate. Each
// backend format's events are read by one set of readers, which every
// translator from that format uses; what a translator writes is its own.
package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/osmen-ai/llmroute/sidecar/sse"
)

// DefaultMaxTokens is the max_tokens sent to Anthropic when an OpenAI request
// sets no output limit. Anthropic requires the field while OpenAI lets the
// model run to its own limit; 4096 is large enough for ordinary answers and
// accepted by every Claude model, so a request that worked on OpenAI is not
// turned into a validation error. A client that needs longer answers sets
// max_completion_tokens (or max_output_tokens).
const DefaultMaxTokens = 4096

// ErrInvalidRequest marks a request body that is not valid in the client's
// own format (malformed JSON, wrong types, tool arguments that are not a JSON
// object). The client should get a 400, as the native API would answer.
var ErrInvalidRequest = errors.New("invalid request")

// ErrInvalidResponse marks a backend body or event that cannot be read in the
// backend's format. The attempt failed; another backend may do better.
var ErrInvalidResponse = errors.New("invalid backend response")

// Translator serves one client request of one format from a backend of one
// format, identity included: the proxy handles every pair the same way and
// never asks which formats it holds. Request is called once per provider; what
// it learns of the request (the model asked for, stream options) is kept for
// Response and Stream. Each attempt's stream gets its own Stream, so a retry
// starts clean. Input bytes are never modified. Not safe for concurrent use.
type Translator interface {
	// Request returns the body to send to the backend, with model (the
	// provider's model name) in place of the client's. It appends to dst
	// (the proxy passes a pooled buffer) or returns req.Body itself when
	// nothing changes. It returns an *UnsupportedError when the request uses
	// something the backend cannot express, and an error wrapping
	// ErrInvalidRequest when the body is not a valid request.
	Request(dst []byte, req *Request, model string) ([]byte, error)
	// Response rewrites a complete, successful, non-streamed backend body into
	// the client's format (the identity returns body itself) and reports its
	// token usage.
	Response(body []byte) ([]byte, Usage, error)
	// Stream returns the state of one streamed attempt.
	Stream() Stream
	// Error returns a backend's error body (with its HTTP status) in the
	// client's format, keeping the error's category. A non-empty message
	// replaces the backend's own: the proxy uses it to say what it tried.
	Error(status int, body []byte, message string) []byte
}

// Stream translates one streamed attempt, event by event.
type Stream interface {
	// Event appends the client's bytes for one backend event to dst (zero
	// or more events) and says what the backend event was, which decides
	// whether the attempt can still be retried.
	Event(dst []byte, ev sse.Event) ([]byte, EventKind, error)
	// Fail appends an error event in the client's format, ending a stream
	// that broke after content was sent. An empty errType is the format's
	// generic server error.
	Fail(dst []byte, errType, message string) []byte
	// Usage reports the tokens the events have reported so far.
	Usage() Usage
}

// keepAlive is what a translated stream writes for a backend event without
// data: a comment-only event (a keep-alive) passes through as it is, so the
// client sees the connection is alive; a named event without data has
// nothing to translate.
func keepAlive(dst []byte, ev sse.Event) []byte {
	if ev.Name == "" {
		return append(dst, ev.Raw...)
	}
	return dst
}

// EventKind is what a backend stream event means for the attempt.
type EventKind uint8

const (
	// Preamble events say nothing of the answer yet (the stream's start, a
	// keep-alive); they are held back while the attempt may still fail.
	Preamble EventKind = iota
	// Content is part of the answer. Once it reaches the client, the
	// attempt can no longer be retried.
	Content
	// Failed is an error event: before content, the attempt failed; after
	// content, the stream ends with it.
	Failed
	// Done is the backend's closing event: the stream is complete.
	Done
)

// Usage is a token count. InputTokens counts every prompt token the backend
// processed, cached ones included (OpenAI's prompt_tokens or input_tokens;
// Anthropic's input_tokens + cache_creation_input_tokens +
// cache_read_input_tokens).
type Usage struct {
	InputTokens, OutputTokens int
}

// New returns the translator that serves a client of one format from a
// backend of another (or the same) format, or nil when no translation exists
// between them. It panics on an unknown Format: that is a programming error.
func New(client, backend Format) Translator {
	if !client.valid() || !backend.valid() {
		panic(fmt.Sprintf("translate: unknown format %v -> %v", client, backend))
	}
	if client == backend {
		return identities[client]
	}
	switch {
	case client == ChatCompletions && backend == Messages:
		return &chatToMessages{now: time.Now}
	case client == Messages && backend == ChatCompletions:
		return &messagesToChat{now: time.Now}
	case client == Responses && backend == ChatCompletions:
		return &responsesToChat{now: time.Now}
	case client == Responses && backend == Messages:
		return &responsesToMessages{now: time.Now}
	}
	return nil
}

// Translates reports whether New has a translator from client to backend.
func Translates(client, backend Format) bool {
	return client.valid() && backend.valid() && New(client, backend) != nil
}

// UnsupportedError reports a request feature that the backend's format cannot
// express. The proxy answers it with a 400 naming the field, or tries a
// backend of the client's own format.
type UnsupportedError struct {
	// Field is the JSON path of the field, e.g. "n" or
	// "messages[2].content[0].type".
	Field string
	// Reason says why, in a form that reads after the field name.
	Reason string
}

func (e *UnsupportedError) Error() string {
	return "field " + e.Field + ": " + e.Reason
}

func unsupported(field, format string, args ...any) error {
	return &UnsupportedError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidRequest, fmt.Sprintf(format, args...))
}

// decodeStrict decodes one JSON value into v, refusing fields v does not
// declare: an unknown field is a feature this package does not translate, so
// it is an *UnsupportedError rather than something to drop. path prefixes the
// field name in errors ("messages[2].").
func decodeStrict(data []byte, v any, path string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if name, ok := unknownField(err); ok {
			return unsupported(path+name, "is not translated by the sidecar")
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return invalid("%s%s: cannot be a JSON %s", path, te.Field, te.Value)
		}
		if path == "" {
			return invalid("body is not a valid JSON object: %v", err)
		}
		return invalid("%s: %v", trimDot(path), err)
	}
	if dec.More() {
		return invalid("%s: trailing data after the JSON value", trimDot(path))
	}
	return nil
}

// unknownField extracts the name from encoding/json's `json: unknown field
// "name"` error, the only way DisallowUnknownFields reports it.
func unknownField(err error) (string, bool) {
	const prefix = `json: unknown field "`
	s := err.Error()
	if len(s) > len(prefix)+1 && s[:len(prefix)] == prefix && s[len(s)-1] == '"' {
		return s[len(prefix) : len(s)-1], true
	}
	return "", false
}

func trimDot(path string) string {
	if path == "" {
		return "body"
	}
	if path[len(path)-1] == '.' {
		return path[:len(path)-1]
	}
	return path
}

// appendJSON appends v's JSON to dst without encoding/json's HTML escaping:
// the text goes to an API, not a web page, and escaping "<" as \u003c would
// only bloat it.
func appendJSON(dst []byte, v any) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return dst, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// isNull reports whether a raw JSON value is absent or null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// firstByte is the first non-space byte of a JSON value, 0 when empty.
func firstByte(raw []byte) byte {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

// jsonObject reports whether raw is a valid JSON object.
func jsonObject(raw []byte) bool {
	return firstByte(raw) == '{' && json.Valid(raw)
}

// compactString returns raw JSON compacted, as a Go string: how a tool's
// input object becomes OpenAI's arguments string.
func compactString(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return string(raw)
	}
	return buf.String()
}

// toolIDChars are the characters Anthropic accepts in tool_use ids
// (^[a-zA-Z0-9_-]+$). OpenAI-compatible backends use others ("functions.x:0").
func validToolIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// sanitizeToolID maps a tool call id to one Anthropic accepts, the same way
// every time, so a tool_use id and the tool_result that answers it still
// match after both are rewritten.
func sanitizeToolID(id string) string {
	for i := 0; i < len(id); i++ {
		if !validToolIDChar(id[i]) {
			b := []byte(id)
			for j := i; j < len(b); j++ {
				if !validToolIDChar(b[j]) {
					b[j] = '_'
				}
			}
			return string(b)
		}
	}
	return id
}
