package proxy

import (
	"strings"

	"github.com/osmen-ai/llmroute/sidecar/config"
	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// The routed APIs: POST to these paths is routed by model, retried, broken
// and failed over; every other call under /v1/ passes through (passthrough.go).
var routedPaths = map[string]translate.Format{
	"/v1/chat/completions": translate.ChatCompletions,
	"/v1/messages":         translate.Messages,
	"/v1/responses":        translate.Responses,
	"/v1/completions":      translate.Completions,
	"/v1/embeddings":       translate.Embeddings,
}

// formatAPIs is the config's name of each format's API.
var formatAPIs = map[translate.Format]config.API{
	translate.ChatCompletions: config.ChatCompletions,
	translate.Messages:        config.Messages,
	translate.Responses:       config.Responses,
	translate.Completions:     config.Completions,
	translate.Embeddings:      config.Embeddings,
}

// clientFormats are the formats a client can call in, in the order a
// provider's backend format is chosen for a client format it does not
// serve: the first one it serves that has a translation.
var clientFormats = []translate.Format{
	translate.ChatCompletions, translate.Messages, translate.Responses, translate.Completions, translate.Embeddings,
}

// operations are the OpenTelemetry gen_ai.operation.name values, by format.
var operations = map[translate.Format]string{
	translate.ChatCompletions: "chat",
	translate.Messages:        "chat",
	translate.Responses:       "chat",
	translate.Completions:     "text_completion",
	translate.Embeddings:      "embeddings",
}

// callerFamily tells which family a call that is not routed speaks, for its
// provider and its errors: Anthropic's SDKs send anthropic-version on every
// call, and Anthropic's own paths are under /v1/messages; anything else is
// the OpenAI family's.
func callerFamily(path string, anthropicVersion string) translate.Family {
	if anthropicVersion != "" || path == "/v1/messages" || strings.HasPrefix(path, "/v1/messages/") {
		return translate.AnthropicFamily
	}
	return translate.OpenAIFamily
}

// familyFormat is the format of a family's error bodies.
func familyFormat(f translate.Family) translate.Format {
	if f == translate.AnthropicFamily {
		return translate.Messages
	}
	return translate.ChatCompletions
}

// statefulAPI names the API whose stored state a pass-through path reaches
// (a stored response, a message batch), "" for none: the call must go to a
// provider that serves that API natively.
func statefulAPI(path string) config.API {
	switch {
	case strings.HasPrefix(path, "/v1/responses/"):
		return config.Responses
	case strings.HasPrefix(path, "/v1/messages/"):
		return config.Messages
	}
	return ""
}
