package translate

import "encoding/json"

// Anthropic Messages wire types, after the API reference and the
// anthropic-sdk-go v2 SDK. As with the OpenAI types, request types are
// decoded strictly and response types leniently.

// anRequest is a Messages request as a client sends it.
type anRequest struct {
	Model         string            `json:"model"`
	MaxTokens     *int64            `json:"max_tokens"`
	Messages      []json.RawMessage `json:"messages"`
	System        json.RawMessage   `json:"system"` // string or text blocks
	Metadata      *anMetadata       `json:"metadata"`
	StopSequences []string          `json:"stop_sequences"`
	Stream        *bool             `json:"stream"`
	Temperature   *float64          `json:"temperature"`
	TopP          *float64          `json:"top_p"`
	Tools         []json.RawMessage `json:"tools"`
	ToolChoice    json.RawMessage   `json:"tool_choice"`
	OutputConfig  *anOutputConfig   `json:"output_config"`
	Thinking      json.RawMessage   `json:"thinking"`

	// Refused unless absent.
	TopK              json.RawMessage `json:"top_k"`
	Container         json.RawMessage `json:"container"`
	MCPServers        json.RawMessage `json:"mcp_servers"`
	ContextManagement json.RawMessage `json:"context_management"`
	InferenceGeo      json.RawMessage `json:"inference_geo"`

	// Dropped; see messagesToChat.Request for why each is harmless.
	ServiceTier  json.RawMessage `json:"service_tier"`
	Speed        json.RawMessage `json:"speed"`
	CacheControl json.RawMessage `json:"cache_control"`
	Diagnostics  json.RawMessage `json:"diagnostics"`
}

type anMetadata struct {
	UserID *string `json:"user_id,omitempty"`
}

type anOutputConfig struct {
	Effort json.RawMessage `json:"effort,omitempty"`
	Format *anOutputFormat `json:"format,omitempty"`
}

type anOutputFormat struct {
	Type   string          `json:"type"`
	Schema json.RawMessage `json:"schema"`
}

type anMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"` // string or blocks
}

// anBlock is a request content block of the types this package translates;
// blocks of other types are refused by type before they are decoded.
type anBlock struct {
	Type         string          `json:"type"`
	Text         *string         `json:"text"`
	Citations    json.RawMessage `json:"citations"`
	CacheControl json.RawMessage `json:"cache_control"`
	// image
	Source          json.RawMessage `json:"source"`
	Transformations json.RawMessage `json:"transformations"`
	// tool_use
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Input       json.RawMessage `json:"input"`
	Caller      json.RawMessage `json:"caller"`
	ToolsetName json.RawMessage `json:"toolset_name"`
	// tool_result
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"` // string or blocks
	IsError   *bool           `json:"is_error"`
	// thinking, redacted_thinking
	Thinking  *string `json:"thinking"`
	Signature *string `json:"signature"`
	Data      *string `json:"data"`
}

type anSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
	FileID    string `json:"file_id,omitempty"`
}

type anTool struct {
	Type                string          `json:"type"`
	Name                string          `json:"name"`
	Description         *string         `json:"description"`
	InputSchema         json.RawMessage `json:"input_schema"`
	Strict              *bool           `json:"strict"`
	CacheControl        json.RawMessage `json:"cache_control"`
	EagerInputStreaming json.RawMessage `json:"eager_input_streaming"`
	DeferLoading        *bool           `json:"defer_loading"`
	InputExamples       json.RawMessage `json:"input_examples"`
	AllowedCallers      []string        `json:"allowed_callers"`
}

type anToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse *bool  `json:"disable_parallel_tool_use,omitempty"`
}

// anOutRequest is a Messages request as the sidecar sends it.
type anOutRequest struct {
	Model         string          `json:"model"`
	MaxTokens     int64           `json:"max_tokens"`
	System        any             `json:"system,omitempty"` // string or []anOutBlock
	Messages      []anOutMessage  `json:"messages"`
	Metadata      *anMetadata     `json:"metadata,omitempty"`
	StopSequences []string        `json:"stop_sequences,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
	Temperature   *float64        `json:"temperature,omitempty"`
	TopP          *float64        `json:"top_p,omitempty"`
	Tools         []anOutTool     `json:"tools,omitempty"`
	ToolChoice    *anToolChoice   `json:"tool_choice,omitempty"`
	OutputConfig  *anOutputConfig `json:"output_config,omitempty"`
}

type anOutMessage struct {
	Role    string `json:"role"`
	Content any    `json:"content"` // string or []anOutBlock
}

type anOutBlock struct {
	Type         string          `json:"type"`
	Text         *string         `json:"text,omitempty"`
	Source       *anSource       `json:"source,omitempty"`
	ID           string          `json:"id,omitempty"`
	Name         string          `json:"name,omitempty"`
	Input        json.RawMessage `json:"input,omitempty"`
	ToolUseID    string          `json:"tool_use_id,omitempty"`
	Content      any             `json:"content,omitempty"` // tool_result: string or []anOutBlock
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

type anOutTool struct {
	Name        string          `json:"name"`
	Description *string         `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
	Strict      *bool           `json:"strict,omitempty"`
}

// anResponse is a non-streamed Message, both as read from a backend and as
// written to a client.
type anResponse struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	Role         string            `json:"role"`
	Model        string            `json:"model"`
	Content      []anResponseBlock `json:"content"`
	StopReason   *string           `json:"stop_reason"`
	StopSequence *string           `json:"stop_sequence"`
	Usage        anUsage           `json:"usage"`
}

type anResponseBlock struct {
	Type  string          `json:"type"`
	Text  *string         `json:"text,omitempty"`
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
}

type anUsage struct {
	InputTokens              int64                `json:"input_tokens"`
	OutputTokens             int64                `json:"output_tokens"`
	CacheCreationInputTokens int64                `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64                `json:"cache_read_input_tokens"`
	OutputTokensDetails      *anOutputTokenDetail `json:"output_tokens_details,omitempty"`
}

type anOutputTokenDetail struct {
	ThinkingTokens int64 `json:"thinking_tokens"`
}
