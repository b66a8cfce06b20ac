package translate

import "encoding/json"

// OpenAI chat completions wire types, after the API reference and the
// openai-go v3 SDK. Request types are decoded strictly (unknown fields are
// refused) and declare every documented field, including those that are
// refused or dropped, so each is decided explicitly. Response types are
// decoded leniently: backends add response fields all the time.

// oaRequest is a chat completions request as a client sends it.
type oaRequest struct {
	Model               string            `json:"model"`
	Messages            []json.RawMessage `json:"messages"`
	MaxTokens           *int64            `json:"max_tokens"`
	MaxCompletionTokens *int64            `json:"max_completion_tokens"`
	Temperature         *float64          `json:"temperature"`
	TopP                *float64          `json:"top_p"`
	Stop                json.RawMessage   `json:"stop"`
	Stream              *bool             `json:"stream"`
	StreamOptions       *oaStreamOptions  `json:"stream_options"`
	User                *string           `json:"user"`
	SafetyIdentifier    *string           `json:"safety_identifier"`
	Tools               []json.RawMessage `json:"tools"`
	ToolChoice          json.RawMessage   `json:"tool_choice"`
	ParallelToolCalls   *bool             `json:"parallel_tool_calls"`
	ResponseFormat      json.RawMessage   `json:"response_format"`

	// Refused unless absent or at their default.
	N                *int64             `json:"n"`
	Logprobs         *bool              `json:"logprobs"`
	TopLogprobs      *int64             `json:"top_logprobs"`
	FrequencyPenalty *float64           `json:"frequency_penalty"`
	PresencePenalty  *float64           `json:"presence_penalty"`
	LogitBias        map[string]float64 `json:"logit_bias"`
	Modalities       []string           `json:"modalities"`
	Audio            json.RawMessage    `json:"audio"`
	Verbosity        *string            `json:"verbosity"`
	Functions        json.RawMessage    `json:"functions"`
	FunctionCall     json.RawMessage    `json:"function_call"`
	WebSearchOptions json.RawMessage    `json:"web_search_options"`
	Moderation       json.RawMessage    `json:"moderation"`

	// Dropped; see chatToMessages.Request for why each is harmless.
	Seed                 json.RawMessage `json:"seed"`
	Store                json.RawMessage `json:"store"`
	Metadata             json.RawMessage `json:"metadata"`
	ServiceTier          json.RawMessage `json:"service_tier"`
	ReasoningEffort      json.RawMessage `json:"reasoning_effort"`
	Prediction           json.RawMessage `json:"prediction"`
	PromptCacheKey       json.RawMessage `json:"prompt_cache_key"`
	PromptCacheRetention json.RawMessage `json:"prompt_cache_retention"`
	PromptCacheOptions   json.RawMessage `json:"prompt_cache_options"`
}

type oaStreamOptions struct {
	IncludeUsage       *bool `json:"include_usage,omitempty"`
	IncludeObfuscation *bool `json:"include_obfuscation,omitempty"`
}

// oaMessage is any message of the messages array; which fields may be set
// depends on the role.
type oaMessage struct {
	Role         string          `json:"role"`
	Content      json.RawMessage `json:"content"` // string, array of parts, or null
	Name         *string         `json:"name"`
	ToolCalls    []oaToolCall    `json:"tool_calls"`
	ToolCallID   *string         `json:"tool_call_id"`
	Refusal      *string         `json:"refusal"`
	Audio        json.RawMessage `json:"audio"`
	FunctionCall json.RawMessage `json:"function_call"`
}

// oaPart is a content part of any type.
type oaPart struct {
	Type       string          `json:"type"`
	Text       *string         `json:"text"`
	Refusal    *string         `json:"refusal"`
	ImageURL   *oaImageURL     `json:"image_url"`
	InputAudio json.RawMessage `json:"input_audio"`
	File       json.RawMessage `json:"file"`
	// PromptCacheBreakpoint is an OpenAI caching hint, dropped.
	PromptCacheBreakpoint json.RawMessage `json:"prompt_cache_breakpoint"`
	// CacheControl is not OpenAI's: OpenAI-compatible gateways accept
	// Anthropic's cache_control on parts, and it is forwarded as such.
	CacheControl json.RawMessage `json:"cache_control"`
}

type oaImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

type oaToolCall struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Function *oaFunctionCall `json:"function,omitempty"`
	Custom   json.RawMessage `json:"custom,omitempty"`
	// Index appears on streamed tool calls only.
	Index *int `json:"index,omitempty"`
}

type oaFunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type oaTool struct {
	Type     string          `json:"type"`
	Function *oaFunctionDef  `json:"function,omitempty"`
	Custom   json.RawMessage `json:"custom,omitempty"`
}

type oaFunctionDef struct {
	Name        string          `json:"name"`
	Description *string         `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

type oaNamedToolChoice struct {
	Type         string          `json:"type"`
	Function     *oaFunctionName `json:"function,omitempty"`
	Custom       json.RawMessage `json:"custom,omitempty"`
	AllowedTools json.RawMessage `json:"allowed_tools,omitempty"`
}

type oaFunctionName struct {
	Name string `json:"name"`
}

type oaResponseFormat struct {
	Type       string        `json:"type"`
	JSONSchema *oaJSONSchema `json:"json_schema,omitempty"`
}

type oaJSONSchema struct {
	Name        string          `json:"name"`
	Description *string         `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// oaOutRequest is a chat completions request as the sidecar sends it.
type oaOutRequest struct {
	Model               string            `json:"model"`
	Messages            []oaOutMessage    `json:"messages"`
	MaxCompletionTokens *int64            `json:"max_completion_tokens,omitempty"`
	Temperature         *float64          `json:"temperature,omitempty"`
	TopP                *float64          `json:"top_p,omitempty"`
	Stop                []string          `json:"stop,omitempty"`
	Stream              bool              `json:"stream,omitempty"`
	StreamOptions       *oaStreamOptions  `json:"stream_options,omitempty"`
	User                string            `json:"user,omitempty"`
	Tools               []oaTool          `json:"tools,omitempty"`
	ToolChoice          any               `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool             `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      *oaResponseFormat `json:"response_format,omitempty"`
}

type oaOutMessage struct {
	Role       string       `json:"role"`
	Content    any          `json:"content"` // string, []oaOutPart, or nil for null
	ToolCalls  []oaToolCall `json:"tool_calls,omitempty"`
	ToolCallID string       `json:"tool_call_id,omitempty"`
}

type oaOutPart struct {
	Type     string      `json:"type"`
	Text     *string     `json:"text,omitempty"`
	ImageURL *oaImageURL `json:"image_url,omitempty"`
}

// oaCompletion is a non-streamed chat completion, both as read from a backend
// and as written to a client.
type oaCompletion struct {
	ID      string     `json:"id"`
	Object  string     `json:"object"`
	Created int64      `json:"created"`
	Model   string     `json:"model"`
	Choices []oaChoice `json:"choices"`
	Usage   *oaUsage   `json:"usage,omitempty"`
}

type oaChoice struct {
	Index        int             `json:"index"`
	Message      oaRespMessage   `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

type oaRespMessage struct {
	Role        string            `json:"role"`
	Content     *string           `json:"content"`
	Refusal     *string           `json:"refusal"`
	ToolCalls   []oaToolCall      `json:"tool_calls,omitempty"`
	Annotations []json.RawMessage `json:"annotations"`
}

type oaUsage struct {
	PromptTokens            int64                `json:"prompt_tokens"`
	CompletionTokens        int64                `json:"completion_tokens"`
	TotalTokens             int64                `json:"total_tokens"`
	PromptTokensDetails     *oaPromptDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *oaCompletionDetails `json:"completion_tokens_details,omitempty"`
}

type oaPromptDetails struct {
	CachedTokens     int64 `json:"cached_tokens"`
	CacheWriteTokens int64 `json:"cache_write_tokens,omitempty"`
}

type oaCompletionDetails struct {
	ReasoningTokens int64 `json:"reasoning_tokens"`
}

// oaError is OpenAI's error body: {"error":{"message","type","param","code"}}.
type oaError struct {
	Error oaErrorDetail `json:"error"`
}

type oaErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}
