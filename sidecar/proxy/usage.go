package proxy

import (
	"bytes"
	"strconv"

	"github.com/osmen-ai/llmroute/sidecar/sse"
	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// parseUsage reads a "usage" object of either family into Usage. It runs
// on every response, so it picks the few numbers it needs out of the bytes
// instead of decoding the object.
func parseUsage(f translate.Format, raw []byte) (translate.Usage, bool) {
	if len(raw) == 0 || raw[0] != '{' {
		return translate.Usage{}, false
	}
	if f == translate.Anthropic {
		return translate.Usage{
			InputTokens: intMember(raw, "input_tokens") + intMember(raw, "cache_read_input_tokens") +
				intMember(raw, "cache_creation_input_tokens"),
			OutputTokens: intMember(raw, "output_tokens"),
		}, true
	}
	return translate.Usage{InputTokens: intMember(raw, "prompt_tokens"), OutputTokens: intMember(raw, "completion_tokens")}, true
}

// intMember returns a top-level whole-number member of a JSON object, 0 if
// it is absent or not a whole number.
func intMember(b []byte, key string) int {
	n, err := strconv.Atoi(string(translate.Member(b, key)))
	if err != nil {
		return 0
	}
	return n
}

// responseUsage reads the token usage of a complete response.
func responseUsage(f translate.Format, body []byte) translate.Usage {
	u, _ := parseUsage(f, translate.Member(body, "usage"))
	return u
}

var usageKey = []byte(`"usage"`)

// streamUsage folds the usage carried by one stream event into u: OpenAI's
// final chunk (when the client asked for stream_options.include_usage),
// Anthropic's message_start (input) and message_delta (output).
func streamUsage(f translate.Format, ev sse.Event, u *translate.Usage) {
	if !bytes.Contains(ev.Data, usageKey) {
		return
	}
	if f == translate.OpenAI {
		if got, ok := parseUsage(f, translate.Member(ev.Data, "usage")); ok {
			*u = got
		}
		return
	}
	switch string(ev.Name) {
	case "message_start":
		if got, ok := parseUsage(f, translate.Member(translate.Member(ev.Data, "message"), "usage")); ok {
			u.InputTokens = got.InputTokens
			u.OutputTokens = max(u.OutputTokens, got.OutputTokens)
		}
	case "message_delta":
		if got, ok := parseUsage(f, translate.Member(ev.Data, "usage")); ok {
			u.OutputTokens = got.OutputTokens
			if got.InputTokens > 0 {
				u.InputTokens = got.InputTokens
			}
		}
	}
}
