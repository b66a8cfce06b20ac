package translate

import "encoding/json"

// OpenAI Responses wire types, after the OpenAPI specification
// (CreateResponse, the input item and content schemas) and the openai-go v3
// SDK. As with the other formats, request types are decoded strictly and
// declare every documented field, so each one is decided explicitly; the
// responses and stream events the sidecar writes are written by hand (see
// responses_stream.go).

// rsRequest is a Responses request as a client sends it.
type rsRequest struct {
	Model             string            `json:"model"`
	Input             json.RawMessage   `json:"input"` // string or items
	Instructions      *string           `json:"instructions"`
	MaxOutputTokens   *int64            `json:"max_output_tokens"`
	Temperature       *float64          `json:"temperature"`
	TopP              *float64          `json:"top_p"`
	Tools             []json.RawMessage `json:"tools"`
	ToolChoice        json.RawMessage   `json:"tool_choice"`
	ParallelToolCalls *bool             `json:"parallel_tool_calls"`
	Text              *rsTextConfig     `json:"text"`
	Reasoning         *rsReasoning      `json:"reasoning"`
	User              *string           `json:"user"`
	SafetyIdentifier  *string           `json:"safety_identifier"`
	Stream            *bool             `json:"stream"`
	StreamOptions     *rsStreamOptions  `json:"stream_options"`
	Include           []string          `json:"include"`
	TopLogprobs       *int64            `json:"top_logprobs"`
	Truncation        *string           `json:"truncation"`
	MaxToolCalls      *int64            `json:"max_tool_calls"`
	Metadata          json.RawMessage   `json:"metadata"`

	// Refused unless absent or at their default: state kept by OpenAI, and
	// features with no equivalent.
	PreviousResponseID *string         `json:"previous_response_id"`
	Conversation       json.RawMessage `json:"conversation"`
	Background         *bool           `json:"background"`
	Prompt             json.RawMessage `json:"prompt"`
	Moderation         json.RawMessage `json:"moderation"`
	ContextManagement  json.RawMessage `json:"context_management"`
	AccessPrograms     json.RawMessage `json:"access_programs"`

	// Dropped; see responsesToChat.Request for why each is harmless.
	Store                json.RawMessage `json:"store"`
	ServiceTier          json.RawMessage `json:"service_tier"`
	PromptCacheKey       json.RawMessage `json:"prompt_cache_key"`
	PromptCacheRetention json.RawMessage `json:"prompt_cache_retention"`
	PromptCacheOptions   json.RawMessage `json:"prompt_cache_options"`
	Image                json.RawMessage `json:"image"`
}

type rsTextConfig struct {
	Format    json.RawMessage `json:"format"` // an rsTextFormat, decoded on its own
	Verbosity *string         `json:"verbosity"`
}

// rsTextFormat is text.format: text, json_object, or json_schema with its
// schema inline (not nested under json_schema as in chat completions).
type rsTextFormat struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description *string         `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Strict      *bool           `json:"strict"`
}

type rsReasoning struct {
	Effort          *string `json:"effort"`
	Summary         *string `json:"summary"`
	GenerateSummary *string `json:"generate_summary"`
	Context         *string `json:"context"`
	Mode            *string `json:"mode"`
}

type rsStreamOptions struct {
	IncludeObfuscation *bool `json:"include_obfuscation"`
}

// rsFunctionTool is a tool of type function. Unlike chat completions, its
// fields are not nested under "function".
type rsFunctionTool struct {
	Type           string          `json:"type"`
	Name           string          `json:"name"`
	Description    *string         `json:"description"`
	Parameters     json.RawMessage `json:"parameters"`
	Strict         *bool           `json:"strict"`
	DeferLoading   *bool           `json:"defer_loading"`
	AllowedCallers []string        `json:"allowed_callers"`
	OutputSchema   json.RawMessage `json:"output_schema"`
}

// rsToolChoiceObject is an object tool_choice; only {"type":"function",
// "name":…} is translated, the other types are refused by type first.
type rsToolChoiceObject struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// rsMessageItem is an input message: the short form ({"role","content"}),
// an input message item, or an earlier output message sent back as history
// (which adds id, status and phase).
type rsMessageItem struct {
	Type    string          `json:"type"`
	ID      *string         `json:"id"`
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"` // string or parts
	Status  *string         `json:"status"`
	Phase   *string         `json:"phase"`
}

// rsPart is a content part of any of the types a message or a function
// call output may hold.
type rsPart struct {
	Type string `json:"type"`
	// input_text, output_text
	Text *string `json:"text"`
	// output_text, as sent back from an earlier response
	Annotations json.RawMessage `json:"annotations"`
	Logprobs    json.RawMessage `json:"logprobs"`
	// refusal
	Refusal *string `json:"refusal"`
	// input_image
	ImageURL *string `json:"image_url"`
	FileID   *string `json:"file_id"`
	Detail   *string `json:"detail"`
	// input_file
	FileData *string `json:"file_data"`
	FileURL  *string `json:"file_url"`
	Filename *string `json:"filename"`
	// An OpenAI caching hint, dropped.
	PromptCacheBreakpoint json.RawMessage `json:"prompt_cache_breakpoint"`
}

// rsFunctionCallItem is an earlier function call sent back as history.
type rsFunctionCallItem struct {
	Type      string          `json:"type"`
	ID        *string         `json:"id"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments *string         `json:"arguments"`
	Status    *string         `json:"status"`
	Namespace *string         `json:"namespace"`
	Caller    json.RawMessage `json:"caller"`
}

// rsFunctionOutputItem is the application's result of a function call.
type rsFunctionOutputItem struct {
	Type      string          `json:"type"`
	ID        *string         `json:"id"`
	CallID    *string         `json:"call_id"`
	Output    json.RawMessage `json:"output"` // string or parts
	Status    *string         `json:"status"`
	Name      *string         `json:"name"`
	Namespace *string         `json:"namespace"`
	Caller    json.RawMessage `json:"caller"`
}

// rsEcho is what a Response object repeats of the request, rendered once
// per request and spliced into every response object of its answer. Every
// field here is in the Response schema, and it is always written, so the
// SDKs decode the object as they decode the real API's. The model is written
// apart: without a request it is the backend's.
type rsEcho struct {
	Instructions       *string         `json:"instructions"`
	MaxOutputTokens    *int64          `json:"max_output_tokens"`
	MaxToolCalls       *int64          `json:"max_tool_calls"`
	Metadata           json.RawMessage `json:"metadata"`
	ParallelToolCalls  bool            `json:"parallel_tool_calls"`
	PreviousResponseID *string         `json:"previous_response_id"`
	Reasoning          rsEchoReasoning `json:"reasoning"`
	Store              bool            `json:"store"`
	Temperature        float64         `json:"temperature"`
	Text               rsEchoText      `json:"text"`
	ToolChoice         json.RawMessage `json:"tool_choice"`
	Tools              json.RawMessage `json:"tools"`
	TopLogprobs        int64           `json:"top_logprobs"`
	TopP               float64         `json:"top_p"`
	Truncation         string          `json:"truncation"`
}

type rsEchoReasoning struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

type rsEchoText struct {
	Format    json.RawMessage `json:"format"`
	Verbosity string          `json:"verbosity"`
}
