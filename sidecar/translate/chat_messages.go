package translate

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// chatToMessages serves an OpenAI chat completions client from an
// Anthropic Messages backend.
type chatToMessages struct {
	now func() time.Time

	// From the request.
	clientModel  string
	includeUsage bool
}

// Request turns a chat completions request into a Messages request.
//
// Dropped, because they do not change what the model is asked:
//   - seed: OpenAI documents it as best-effort determinism with no guarantee;
//     Anthropic has no seed, and answers stay valid answers without it.
//   - store, metadata: store keeps the completion in OpenAI's dashboard and
//     metadata only tags stored completions; neither reaches the model.
//   - service_tier: a billing and latency preference.
//   - reasoning_effort: how much hidden reasoning to spend, not what to
//     answer; Anthropic's effort setting is model-specific and would turn a
//     working request into a 400 on models without it.
//   - prediction: predicted outputs only speed generation up.
//   - prompt_cache_key, prompt_cache_retention, prompt_cache_options,
//     prompt_cache_breakpoint: OpenAI caching hints.
//   - stream_options: include_usage is honoured by the translator itself;
//     include_obfuscation pads chunks against a side channel, and the
//     translator's chunks carry no padding to turn off.
//   - message name: a participant label the model may use to tell speakers
//     apart; Anthropic has no equivalent and the messages themselves are
//     unchanged.
//   - image_url.detail: trades image tokens for resolution; Anthropic sizes
//     images itself.
//   - top_p of exactly 1, which samples from the whole distribution in both
//     APIs; several Claude models refuse temperature and top_p together.
//
// Refused: n other than 1, logprobs, top_logprobs, non-zero
// frequency_penalty or presence_penalty, logit_bias, audio output and audio
// input, verbosity other than medium, the deprecated functions and
// function_call, web_search_options, moderation, custom tools,
// allowed_tools tool choices, file parts, response_format json_object (no
// schema-free JSON mode on Anthropic) and json_schema descriptions, and
// temperature above 1 (Anthropic's range is 0 to 1; clamping would silently
// make a creative request tamer).
func (t *chatToMessages) Request(dst []byte, r *Request, model string) ([]byte, error) {
	var req oaRequest
	if err := decodeStrict(r.Body, &req, ""); err != nil {
		return nil, err
	}
	if err := refuseOpenAIExtras(&req); err != nil {
		return nil, err
	}
	if model == "" {
		model = req.Model
	}
	out := anOutRequest{Model: model}
	t.clientModel = req.Model
	t.includeUsage = req.StreamOptions != nil && req.StreamOptions.IncludeUsage != nil && *req.StreamOptions.IncludeUsage

	switch {
	case req.MaxCompletionTokens != nil:
		out.MaxTokens = *req.MaxCompletionTokens
	case req.MaxTokens != nil:
		out.MaxTokens = *req.MaxTokens
	default:
		out.MaxTokens = DefaultMaxTokens
	}
	if out.MaxTokens < 1 {
		return nil, invalid("max_completion_tokens must be at least 1")
	}
	if req.Temperature != nil {
		if *req.Temperature > 1 {
			return nil, unsupported("temperature", "Anthropic accepts 0 to 1; %v has no equivalent", *req.Temperature)
		}
		out.Temperature = req.Temperature
	}
	if req.TopP != nil && *req.TopP != 1 {
		out.TopP = req.TopP
	}
	stops, err := stopSequences(req.Stop)
	if err != nil {
		return nil, err
	}
	out.StopSequences = stops
	switch {
	case req.SafetyIdentifier != nil && *req.SafetyIdentifier != "":
		out.Metadata = &anMetadata{UserID: req.SafetyIdentifier}
	case req.User != nil && *req.User != "":
		out.Metadata = &anMetadata{UserID: req.User}
	}
	out.Stream = req.Stream != nil && *req.Stream

	if out.OutputConfig, err = outputFormat(req.ResponseFormat); err != nil {
		return nil, err
	}
	if out.Tools, err = anthropicTools(req.Tools); err != nil {
		return nil, err
	}
	if len(out.Tools) > 0 {
		if out.ToolChoice, err = anthropicToolChoice(req.ToolChoice, req.ParallelToolCalls); err != nil {
			return nil, err
		}
	}
	if out.System, out.Messages, err = anthropicMessages(req.Messages); err != nil {
		return nil, err
	}
	if len(out.Messages) == 0 {
		return nil, invalid("messages: no user or assistant message")
	}
	return appendJSON(dst, out)
}

// refuseOpenAIExtras refuses the request fields that change the answer and
// that Anthropic cannot express, unless they are at their default.
func refuseOpenAIExtras(req *oaRequest) error {
	switch {
	case req.N != nil && *req.N != 1:
		return unsupported("n", "Anthropic returns one choice; n must be 1")
	case req.Logprobs != nil && *req.Logprobs:
		return unsupported("logprobs", "Anthropic does not return log probabilities")
	case req.TopLogprobs != nil && *req.TopLogprobs != 0:
		return unsupported("top_logprobs", "Anthropic does not return log probabilities")
	case req.FrequencyPenalty != nil && *req.FrequencyPenalty != 0:
		return unsupported("frequency_penalty", "Anthropic has no repetition penalties; it must be 0")
	case req.PresencePenalty != nil && *req.PresencePenalty != 0:
		return unsupported("presence_penalty", "Anthropic has no repetition penalties; it must be 0")
	case len(req.LogitBias) > 0:
		return unsupported("logit_bias", "Anthropic cannot bias tokens")
	case !isNull(req.Audio):
		return unsupported("audio", "Anthropic does not generate audio")
	case req.Verbosity != nil && *req.Verbosity != "medium":
		return unsupported("verbosity", "Anthropic has no verbosity setting; only medium, the default, is accepted")
	case !isNull(req.Functions):
		return unsupported("functions", "the deprecated functions API is not translated; use tools")
	case !isNull(req.FunctionCall):
		return unsupported("function_call", "the deprecated functions API is not translated; use tool_choice")
	case !isNull(req.WebSearchOptions):
		return unsupported("web_search_options", "OpenAI's built-in web search is not translated")
	case !isNull(req.Moderation):
		return unsupported("moderation", "OpenAI's moderation results have no Anthropic equivalent")
	}
	for _, m := range req.Modalities {
		if m != "text" {
			return unsupported("modalities", "Anthropic generates text only")
		}
	}
	return nil
}

// stopSequences reads OpenAI's stop: a string, an array of strings, or null.
func stopSequences(raw json.RawMessage) ([]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, invalid("stop must be a string or an array of strings")
	}
	return many, nil
}

// outputFormat maps response_format. json_schema becomes Anthropic's
// structured output (output_config.format), which always enforces the
// schema, so it satisfies strict and non-strict requests alike. The schema's
// name only labels it and is dropped; a description is guidance for the model
// and is refused rather than lost.
func outputFormat(raw json.RawMessage) (*anOutputConfig, error) {
	if isNull(raw) {
		return nil, nil
	}
	var rf oaResponseFormat
	if err := decodeStrict(raw, &rf, "response_format."); err != nil {
		return nil, err
	}
	switch rf.Type {
	case "text":
		return nil, nil
	case "json_schema":
		if rf.JSONSchema == nil || !jsonObject(rf.JSONSchema.Schema) {
			return nil, invalid("response_format.json_schema.schema must be a JSON object")
		}
		if d := rf.JSONSchema.Description; d != nil && *d != "" {
			return nil, unsupported("response_format.json_schema.description", "Anthropic's structured outputs take a schema only")
		}
		return &anOutputConfig{Format: &anOutputFormat{Type: "json_schema", Schema: rf.JSONSchema.Schema}}, nil
	case "json_object":
		return nil, unsupported("response_format.type", "Anthropic has no schema-free JSON mode; use json_schema")
	}
	return nil, unsupported("response_format.type", "%q is not translated", rf.Type)
}

// emptyObjectSchema is the input_schema of a function declared without
// parameters, which OpenAI documents as "an empty parameter list".
var emptyObjectSchema = json.RawMessage(`{"type":"object","properties":{}}`)

func anthropicTools(raws []json.RawMessage) ([]anOutTool, error) {
	if len(raws) == 0 {
		return nil, nil
	}
	tools := make([]anOutTool, 0, len(raws))
	for i, raw := range raws {
		path := fmt.Sprintf("tools[%d].", i)
		var tool oaTool
		if err := decodeStrict(raw, &tool, path); err != nil {
			return nil, err
		}
		if tool.Type != "function" {
			return nil, unsupported(path+"type", "only function tools are translated, not %q", tool.Type)
		}
		if tool.Function == nil || tool.Function.Name == "" {
			return nil, invalid("%sfunction.name is required", path)
		}
		fn := tool.Function
		schema := fn.Parameters
		if isNull(schema) {
			schema = emptyObjectSchema
		} else if !jsonObject(schema) {
			return nil, invalid("%sfunction.parameters must be a JSON object", path)
		}
		tools = append(tools, anOutTool{Name: fn.Name, Description: fn.Description, InputSchema: schema, Strict: fn.Strict})
	}
	return tools, nil
}

// anthropicToolChoice maps tool_choice (none, auto, required, or a named
// function) and parallel_tool_calls (see anthropicChoice).
func anthropicToolChoice(raw json.RawMessage, parallel *bool) (*anToolChoice, error) {
	var mode, name string
	switch firstByte(raw) {
	case 0, 'n':
		if !isNull(raw) {
			return nil, invalid("tool_choice must be a string or an object")
		}
	case '"':
		if err := json.Unmarshal(raw, &mode); err != nil {
			return nil, invalid("tool_choice must be a string or an object")
		}
		switch mode {
		case "none", "auto", "required":
		default:
			return nil, invalid("tool_choice %q is not none, auto or required", mode)
		}
	case '{':
		var named oaNamedToolChoice
		if err := decodeStrict(raw, &named, "tool_choice."); err != nil {
			return nil, err
		}
		switch named.Type {
		case "function":
			if named.Function == nil || named.Function.Name == "" {
				return nil, invalid("tool_choice.function.name is required")
			}
			mode, name = "function", named.Function.Name
		case "allowed_tools":
			return nil, unsupported("tool_choice.type", "allowed_tools is not translated")
		default:
			return nil, unsupported("tool_choice.type", "only function tool choices are translated, not %q", named.Type)
		}
	default:
		return nil, invalid("tool_choice must be a string or an object")
	}
	return anthropicChoice(mode, name, parallel), nil
}

// anthropicChoice maps an OpenAI tool choice, read from either OpenAI
// format (mode "" when there is none; none, auto, required, or function with
// its name), and parallel_tool_calls: false, which Anthropic expresses as
// disable_parallel_tool_use on the choice. Both mean at most one tool call
// per turn.
func anthropicChoice(mode, name string, parallel *bool) *anToolChoice {
	var choice *anToolChoice
	switch mode {
	case "none":
		return &anToolChoice{Type: "none"}
	case "auto":
		choice = &anToolChoice{Type: "auto"}
	case "required":
		choice = &anToolChoice{Type: "any"}
	case "function":
		choice = &anToolChoice{Type: "tool", Name: name}
	}
	if parallel != nil && !*parallel {
		if choice == nil {
			choice = &anToolChoice{Type: "auto"}
		}
		yes := true
		choice.DisableParallelToolUse = &yes
	}
	return choice
}

// Response turns a Messages response into a chat completion.
//
// The model reported is the one the client asked for: clients and SDKs read
// the field back as the model they chose, and a fallback to another provider
// is the sidecar's business, visible in its own logs and metrics. Thinking
// blocks are left out (chat completions has no field for them and OpenAI
// does not return reasoning either), as are any block types the translator
// never requests, such as server tool results.
func (t *chatToMessages) Response(body []byte) ([]byte, Usage, error) {
	var msg anResponse
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, Usage{}, fmt.Errorf("%w: %v", ErrInvalidResponse, err)
	}
	if msg.Type != "message" {
		return nil, Usage{}, fmt.Errorf("%w: type %q is not a message", ErrInvalidResponse, msg.Type)
	}
	var text strings.Builder
	hasText := false
	var calls []oaToolCall
	for _, b := range msg.Content {
		switch b.Type {
		case "text":
			if b.Text != nil {
				text.WriteString(*b.Text)
				hasText = true
			}
		case "tool_use":
			input := "{}"
			if !isNull(b.Input) {
				input = compactString(b.Input)
			}
			calls = append(calls, oaToolCall{ID: b.ID, Type: "function", Function: &oaFunctionCall{Name: b.Name, Arguments: input}})
		}
	}
	reason := ""
	if msg.StopReason != nil {
		reason = *msg.StopReason
	}
	finish := finishReason(reason)
	out := oaCompletion{
		ID:      "chatcmpl-" + msg.ID,
		Object:  "chat.completion",
		Created: t.now().Unix(),
		Model:   t.responseModel(msg.Model),
		Choices: []oaChoice{{
			Message: oaRespMessage{
				Role:        "assistant",
				ToolCalls:   calls,
				Annotations: []json.RawMessage{},
			},
			Logprobs:     json.RawMessage("null"),
			FinishReason: &finish,
		}},
		Usage: openAIUsage(msg.Usage),
	}
	if hasText {
		s := text.String()
		out.Choices[0].Message.Content = &s
	}
	b, err := appendJSON(nil, out)
	return b, usageOf(msg.Usage), err
}

func (t *chatToMessages) responseModel(backend string) string {
	if t.clientModel != "" {
		return t.clientModel
	}
	return backend
}

func (t *chatToMessages) Error(status int, body []byte, message string) []byte {
	return convertError(ChatCompletions, Messages, status, body, message)
}

// openAIUsage maps Anthropic's usage. Anthropic counts cached prompt tokens
// apart from input_tokens; OpenAI's prompt_tokens includes them, with the
// cache reads repeated in cached_tokens and the writes in cache_write_tokens.
func openAIUsage(u anUsage) *oaUsage {
	prompt := u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
	out := &oaUsage{
		PromptTokens:            prompt,
		CompletionTokens:        u.OutputTokens,
		TotalTokens:             prompt + u.OutputTokens,
		PromptTokensDetails:     &oaPromptDetails{CachedTokens: u.CacheReadInputTokens, CacheWriteTokens: u.CacheCreationInputTokens},
		CompletionTokensDetails: &oaCompletionDetails{},
	}
	if u.OutputTokensDetails != nil {
		out.CompletionTokensDetails.ReasoningTokens = u.OutputTokensDetails.ThinkingTokens
	}
	return out
}

func usageOf(u anUsage) Usage {
	return Usage{
		InputTokens:  int(u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens),
		OutputTokens: int(u.OutputTokens),
	}
}
