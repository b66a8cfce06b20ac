package translate

import (
	"bytes"
	"strconv"

	"github.com/osmen-ai/llmroute/sidecar/sse"
)

// The identity translators serve a client from a backend of its own format:
// the bytes pass through with only the model replaced, and each format's own
// knowledge (where usage is reported, which events are content, which close
// the stream or report an error) is read off the bytes without decoding.

// identities are the translators of each format to itself: stateless and
// shared, so the hot path makes none.
var identities = [numFormats]Translator{
	ChatCompletions: identity{ChatCompletions},
	Messages:        identity{Messages},
	Responses:       identity{Responses},
	Completions:     identity{Completions},
	Embeddings:      identity{Embeddings},
}

type identity struct{ f Format }

func (id identity) Request(dst []byte, req *Request, model string) ([]byte, error) {
	if model == "" || model == req.Model || req.modelSpan[1] == 0 {
		return req.Body, nil
	}
	return req.WithModel(dst, model), nil
}

func (id identity) Response(body []byte) ([]byte, Usage, error) {
	u, _ := readUsage(id.f, Member(body, "usage"))
	return body, u, nil
}

func (id identity) Stream() Stream { return &identityStream{f: id.f} }

func (id identity) Error(status int, body []byte, message string) []byte {
	return convertError(id.f, id.f, status, body, message)
}

// identityStream relays a stream event by event, reading the usage and the
// sequence numbers as they pass.
type identityStream struct {
	f         Format
	usage     Usage
	anthropic anthropicStreamUsage // Messages: the counts as they are reported
	seq       int64                // Responses: the last sequence_number seen
}

func (s *identityStream) Usage() Usage { return s.usage }

func (s *identityStream) Event(dst []byte, ev sse.Event) ([]byte, EventKind, error) {
	dst = append(dst, ev.Raw...)
	if !ev.HasData() {
		return dst, Preamble, nil // a keep-alive comment
	}
	switch s.f {
	case Messages:
		return dst, s.messagesEvent(ev), nil
	case Responses:
		return dst, s.responsesEvent(ev), nil
	}
	return dst, s.chatEvent(ev), nil
}

var usageKey = []byte(`"usage"`)

// hasUsageObject reports whether data may have a "usage" member whose value
// is an object: somewhere "usage", then a colon and an opening brace. It
// spares the scan of the chunk for the chunks that have none, which with
// include_usage is every chunk but the last: they carry "usage":null.
func hasUsageObject(data []byte) bool {
	for {
		i := bytes.Index(data, usageKey)
		if i < 0 {
			return false
		}
		data = data[i+len(usageKey):]
		j := skipSpace(data, 0)
		if j < len(data) && data[j] == ':' {
			if j = skipSpace(data, j+1); j < len(data) && data[j] == '{' {
				return true
			}
		}
	}
}

// chatEvent reads a chat completions (or legacy completions) chunk: [DONE]
// ends the stream, a chunk with a top-level error is an error event, and the
// usage arrives in a last chunk when the client asked for include_usage.
func (s *identityStream) chatEvent(ev sse.Event) EventKind {
	data := ev.Data
	if isChatDone(data) {
		return Done
	}
	if isChatErrorEvent(data) {
		return Failed
	}
	if hasUsageObject(data) {
		if u, ok := readUsage(ChatCompletions, Member(data, "usage")); ok {
			s.usage = u
		}
	}
	return Content
}

// messagesEvent reads an Anthropic event. Input tokens arrive in
// message_start, output tokens (cumulative) in message_delta; they are read
// as the translators read them, so a stream counts the same whatever the
// client's format.
func (s *identityStream) messagesEvent(ev sse.Event) EventKind {
	name := anthropicEventName(ev)
	switch name {
	case "message_start":
		if bytes.Contains(ev.Data, usageKey) {
			s.anthropic.read(Member(Member(ev.Data, "message"), "usage"))
			s.usage = s.anthropic.usage()
		}
	case "message_delta":
		s.anthropic.read(Member(ev.Data, "usage"))
		s.usage = s.anthropic.usage()
	}
	return anthropicEventKind(name)
}

// responsesEvent reads a Responses event: the response's creation is
// preamble; response.completed and response.incomplete end the stream and
// carry the usage; error and response.failed report a failure.
func (s *identityStream) responsesEvent(ev sse.Event) EventKind {
	if n, ok := lastSequenceNumber(ev.Data); ok {
		s.seq = n
	}
	name := ev.Name
	if name == "" {
		name = responsesEventType(ev.Data)
	}
	switch name {
	case "response.created", "response.in_progress", "response.queued":
		return Preamble
	case "response.completed", "response.incomplete":
		if u, ok := readUsage(Responses, Member(Member(ev.Data, "response"), "usage")); ok {
			s.usage = u
		}
		return Done
	case "error", "response.failed":
		return Failed
	}
	return Content
}

// responsesEventType reads the "type" member of an event sent without an
// event: line. As anthropicEventType does, it returns the types that decide
// an event's kind as constants, without allocating; any other type is
// content, and comes back as "".
func responsesEventType(data []byte) string {
	switch string(Member(data, "type")) {
	case `"response.created"`:
		return "response.created"
	case `"response.in_progress"`:
		return "response.in_progress"
	case `"response.queued"`:
		return "response.queued"
	case `"response.completed"`:
		return "response.completed"
	case `"response.incomplete"`:
		return "response.incomplete"
	case `"error"`:
		return "error"
	case `"response.failed"`:
		return "response.failed"
	}
	return ""
}

func (s *identityStream) Fail(dst []byte, errType, message string) []byte {
	return appendStreamError(dst, s.f, s.seq+1, errType, message)
}

var sequenceKey = []byte(`"sequence_number":`)

// lastSequenceNumber reads a Responses event's sequence_number. Every event
// has one, usually last, so it is looked for from the end rather than by
// scanning the whole event (response.completed repeats the whole answer).
func lastSequenceNumber(data []byte) (int64, bool) {
	i := bytes.LastIndex(data, sequenceKey)
	if i < 0 {
		return 0, false
	}
	j := skipSpace(data, i+len(sequenceKey))
	k := j
	for k < len(data) && data[k] >= '0' && data[k] <= '9' {
		k++
	}
	return parseInt(data[j:k])
}

// readUsage reads a format's "usage" object. It runs on every response, so
// it picks the few numbers it needs out of the bytes instead of decoding.
func readUsage(f Format, raw []byte) (Usage, bool) {
	if firstByte(raw) != '{' {
		return Usage{}, false
	}
	switch f {
	case Messages:
		return Usage{
			InputTokens: intMember(raw, "input_tokens") + intMember(raw, "cache_read_input_tokens") +
				intMember(raw, "cache_creation_input_tokens"),
			OutputTokens: intMember(raw, "output_tokens"),
		}, true
	case Responses:
		return Usage{InputTokens: intMember(raw, "input_tokens"), OutputTokens: intMember(raw, "output_tokens")}, true
	}
	return Usage{InputTokens: intMember(raw, "prompt_tokens"), OutputTokens: intMember(raw, "completion_tokens")}, true
}

// intMember returns a top-level whole-number member of a JSON object, 0 if
// it is absent or not a whole number.
func intMember(b []byte, key string) int {
	n, err := strconv.Atoi(string(Member(b, key)))
	if err != nil {
		return 0
	}
	return n
}
