package proxy

import "github.com/osmen-ai/llmroute/sidecar/translate"

// endpoint is one of the LLM APIs the sidecar serves on its listener.
type endpoint int

const (
	chatCompletions endpoint = iota // POST /v1/chat/completions (OpenAI)
	messages                        // POST /v1/messages (Anthropic)
	completions                     // POST /v1/completions (OpenAI, legacy)
	embeddings                      // POST /v1/embeddings (OpenAI)
	numEndpoints
)

// operations are the OpenTelemetry gen_ai.operation.name values, by endpoint.
var operations = [numEndpoints]string{"chat", "chat", "text_completion", "embeddings"}

// clientFormat is the wire format the caller speaks on this endpoint.
func (e endpoint) clientFormat() translate.Format {
	if e == messages {
		return translate.Anthropic
	}
	return translate.OpenAI
}

// translatable reports whether requests on e may be served by a backend of
// the other format: only the two chat APIs have a mapping.
func (e endpoint) translatable() bool { return e == chatCompletions || e == messages }

// upstreamPath is the path appended to a provider's base URL ("" when a
// provider of that format cannot serve e). The OpenAI family's base URL ends
// in /v1, Anthropic's is the bare host, as in their own SDKs.
func (e endpoint) upstreamPath(f translate.Format) string {
	if f == translate.Anthropic {
		if e.translatable() {
			return "/v1/messages"
		}
		return ""
	}
	switch e {
	case chatCompletions, messages:
		return "/chat/completions"
	case completions:
		return "/completions"
	case embeddings:
		return "/embeddings"
	}
	return ""
}
