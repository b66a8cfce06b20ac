package proxy

import (
	"bytes"
	"encoding/json"

	"github.com/osmen-ai/llmroute/sidecar/sse"
	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// member returns the raw value of a top-level member of a JSON object, or nil.
func member(b []byte, key string) []byte {
	s := scanner{b: b}
	if !s.byte('{') || s.byte('}') {
		return nil
	}
	for {
		s.ws()
		kStart := s.i
		if !s.skipString() {
			return nil
		}
		k := b[kStart+1 : s.i-1]
		if !s.byte(':') {
			return nil
		}
		s.ws()
		vStart := s.i
		if !s.skipValue() {
			return nil
		}
		if string(k) == key {
			return b[vStart:s.i]
		}
		if !s.byte(',') {
			return nil
		}
	}
}

type usageFields struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	InputTokens      int `json:"input_tokens"`
	OutputTokens     int `json:"output_tokens"`
	CacheRead        int `json:"cache_read_input_tokens"`
	CacheCreation    int `json:"cache_creation_input_tokens"`
}

// parseUsage reads a "usage" object of either family into Usage.
func parseUsage(f translate.Format, raw []byte) (translate.Usage, bool) {
	if len(raw) == 0 || raw[0] != '{' {
		return translate.Usage{}, false
	}
	var u usageFields
	if json.Unmarshal(raw, &u) != nil {
		return translate.Usage{}, false
	}
	if f == translate.Anthropic {
		return translate.Usage{InputTokens: u.InputTokens + u.CacheRead + u.CacheCreation, OutputTokens: u.OutputTokens}, true
	}
	return translate.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens}, true
}

// responseUsage reads the token usage of a complete response.
func responseUsage(f translate.Format, body []byte) translate.Usage {
	u, _ := parseUsage(f, member(body, "usage"))
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
		if got, ok := parseUsage(f, member(ev.Data, "usage")); ok {
			*u = got
		}
		return
	}
	switch string(ev.Name) {
	case "message_start":
		if got, ok := parseUsage(f, member(member(ev.Data, "message"), "usage")); ok {
			u.InputTokens = got.InputTokens
			u.OutputTokens = max(u.OutputTokens, got.OutputTokens)
		}
	case "message_delta":
		if got, ok := parseUsage(f, member(ev.Data, "usage")); ok {
			u.OutputTokens = got.OutputTokens
			if got.InputTokens > 0 {
				u.InputTokens = got.InputTokens
			}
		}
	}
}
