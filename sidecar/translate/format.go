package translate

import "fmt"

// Format is an LLM API's wire format: how its requests, responses, streams
// and errors are written.
type Format int

// The formats. ChatCompletions, Responses, Completions and Embeddings are
// the OpenAI family's APIs; Messages is Anthropic's.
const (
	// ChatCompletions is OpenAI's POST /v1/chat/completions.
	ChatCompletions Format = iota + 1
	// Messages is Anthropic's POST /v1/messages.
	Messages
	// Responses is OpenAI's POST /v1/responses.
	Responses
	// Completions is OpenAI's legacy POST /v1/completions.
	Completions
	// Embeddings is OpenAI's POST /v1/embeddings.
	Embeddings
	numFormats
)

var formatNames = [numFormats]string{"", "chat_completions", "messages", "responses", "completions", "embeddings"}

func (f Format) String() string {
	if f.valid() {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

func (f Format) valid() bool { return f > 0 && f < numFormats }

// Family is a provider family: who defines a format's error bodies, auth
// header and base URL convention.
type Family int

// The families.
const (
	OpenAIFamily Family = iota + 1
	AnthropicFamily
)

// Family reports which family defines f.
func (f Format) Family() Family {
	if f == Messages {
		return AnthropicFamily
	}
	return OpenAIFamily
}

// Path is where f is served, relative to a provider's base URL as the
// family's own SDK writes it: the OpenAI family's base URL ends in /v1,
// Anthropic's is the bare host.
func (f Format) Path() string {
	switch f {
	case ChatCompletions:
		return "/chat/completions"
	case Messages:
		return "/v1/messages"
	case Responses:
		return "/responses"
	case Completions:
		return "/completions"
	case Embeddings:
		return "/embeddings"
	}
	return ""
}

// BasePath is the part of a client's request path that a provider's base URL
// stands for: "/v1" for the OpenAI family (base URLs end in /v1), nothing for
// Anthropic. A pass-through call to /v1/files goes to baseURL + "/files" on
// OpenAI and to baseURL + "/v1/files" on Anthropic, as their SDKs send it.
func (f Family) BasePath() string {
	if f == OpenAIFamily {
		return "/v1"
	}
	return ""
}

// ErrorBody renders one of the sidecar's own errors in format f. An empty
// errType is derived from status; code is OpenAI's (null when empty, or
// derived with the type) and has no place in Anthropic's body.
func (f Format) ErrorBody(status int, errType, code, message string) []byte {
	if f.Family() == AnthropicFamily {
		if errType == "" {
			errType = anthropicError(status, "", "")
		}
		return appendAnthropicError(make([]byte, 0, 64+len(message)), errType, message)
	}
	if errType == "" {
		var derived string
		errType, derived = openAIError(anthropicError(status, "", ""), message)
		if code == "" {
			code = derived
		}
	}
	return appendOpenAIError(make([]byte, 0, 80+len(message)), errType, code, message)
}
