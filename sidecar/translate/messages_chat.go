package translate

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// messagesToChat serves an Anthropic Messages client from an OpenAI
// chat completions backend.
type messagesToChat struct {
	now func() time.Time

	clientModel string
}

// Request turns a Messages request into a chat completions request.
//
// Dropped, because they do not change what the model is asked:
//   - cache_control (top-level and on blocks and tools), and diagnostics:
//     Anthropic prompt-caching hints and cache reports.
//   - service_tier, speed: capacity and latency preferences.
//   - output_config.effort: how much the model deliberates, not what it
//     answers; OpenAI's reasoning_effort is refused by models without
//     reasoning, so forwarding it would break working requests.
//   - thinking blocks in earlier assistant turns: the model's earlier
//     private reasoning; OpenAI does not take reasoning back either.
//   - citations on text blocks: where quoted text came from; the text stays.
//   - eager_input_streaming on tools: how finely tool input is streamed.
//   - image transformations: how Anthropic's server resizes an oversized
//     image; OpenAI sizes images itself.
//
// Emulated: a tool_result with is_error becomes a tool message whose text
// starts with "Error: ", since OpenAI tool messages have no error flag and
// the model must still learn that the call failed.
//
// Refused: thinking (other than disabled), top_k, max_tokens of 0 (cache
// pre-warming), inference_geo (a data-residency requirement OpenAI cannot
// honour), container, mcp_servers, context_management, Anthropic-defined and
// server tools, deferred tools, tool input_examples, documents, search
// results, file-based images, images inside tool results, and server tool
// blocks in the history.
func (t *messagesToChat) Request(dst []byte, r *Request, model string) ([]byte, error) {
	var req anRequest
	if err := decodeStrict(r.Body, &req, ""); err != nil {
		return nil, err
	}
	if err := refuseAnthropicExtras(&req); err != nil {
		return nil, err
	}
	if model == "" {
		model = req.Model
	}
	t.clientModel = req.Model
	out := oaOutRequest{Model: model}

	if req.MaxTokens == nil {
		return nil, invalid("max_tokens is required")
	}
	if *req.MaxTokens < 1 {
		return nil, unsupported("max_tokens", "0 pre-warms Anthropic's prompt cache and has no OpenAI equivalent")
	}
	out.MaxCompletionTokens = req.MaxTokens
	out.Temperature = req.Temperature // Anthropic's 0..1 lies within OpenAI's 0..2
	out.TopP = req.TopP
	out.Stop = req.StopSequences
	if req.Metadata != nil && req.Metadata.UserID != nil {
		out.User = *req.Metadata.UserID
	}
	if req.Stream != nil && *req.Stream {
		out.Stream = true
		// Usage arrives only in a final chunk that must be asked for; the
		// Anthropic client gets it in message_delta.
		yes := true
		out.StreamOptions = &oaStreamOptions{IncludeUsage: &yes}
	}
	if oc := req.OutputConfig; oc != nil && oc.Format != nil {
		if oc.Format.Type != "json_schema" || !jsonObject(oc.Format.Schema) {
			return nil, unsupported("output_config.format", "only a json_schema format with a schema object is translated")
		}
		// Anthropic always enforces the schema, which is OpenAI's strict
		// mode. OpenAI requires a name; the schema has none.
		strict := true
		out.ResponseFormat = &oaResponseFormat{Type: "json_schema", JSONSchema: &oaJSONSchema{Name: "output", Schema: oc.Format.Schema, Strict: &strict}}
	}

	var err error
	if out.Tools, err = openAITools(req.Tools); err != nil {
		return nil, err
	}
	if len(out.Tools) > 0 {
		if out.ToolChoice, out.ParallelToolCalls, err = openAIToolChoice(req.ToolChoice); err != nil {
			return nil, err
		}
	}
	sys, err := openAISystem(req.System)
	if err != nil {
		return nil, err
	}
	if sys != nil {
		out.Messages = append(out.Messages, *sys)
	}
	for i, raw := range req.Messages {
		if out.Messages, err = appendOpenAIMessages(out.Messages, raw, fmt.Sprintf("messages[%d].", i)); err != nil {
			return nil, err
		}
	}
	return appendJSON(dst, out)
}

func refuseAnthropicExtras(req *anRequest) error {
	switch {
	case !isNull(req.TopK):
		return unsupported("top_k", "OpenAI has no top-k sampling")
	case !isNull(req.InferenceGeo):
		return unsupported("inference_geo", "OpenAI cannot be told where to run inference")
	case !isNull(req.Container):
		return unsupported("container", "Anthropic code execution containers are not translated")
	case !isNull(req.MCPServers):
		return unsupported("mcp_servers", "the MCP connector is not translated")
	case !isNull(req.ContextManagement):
		return unsupported("context_management", "Anthropic context management is not translated")
	}
	if !isNull(req.Thinking) {
		var th struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(req.Thinking, &th); err != nil {
			return invalid("thinking must be an object")
		}
		if th.Type != "disabled" {
			return unsupported("thinking", "extended thinking is not translated to OpenAI")
		}
	}
	return nil
}

// blockType peeks at a block's "type" before it is decoded, so an
// unsupported block is reported by its type rather than by the first field
// it has that the decoder does not know.
func blockType(raw []byte) string {
	it := objectMembers(raw)
	for it.next() {
		if string(it.key) == "type" {
			return stringValue(it.val)
		}
	}
	return ""
}

func openAITools(raws []json.RawMessage) ([]oaTool, error) {
	if len(raws) == 0 {
		return nil, nil
	}
	tools := make([]oaTool, 0, len(raws))
	for i, raw := range raws {
		path := fmt.Sprintf("tools[%d].", i)
		if typ := blockType(raw); typ != "" && typ != "custom" {
			return nil, unsupported(path+"type", "Anthropic-defined and server tools (%q) are not translated", typ)
		}
		var tool anTool
		if err := decodeStrict(raw, &tool, path); err != nil {
			return nil, err
		}
		switch {
		case tool.Name == "":
			return nil, invalid("%sname is required", path)
		case !jsonObject(tool.InputSchema):
			return nil, invalid("%sinput_schema must be a JSON object", path)
		case tool.DeferLoading != nil && *tool.DeferLoading:
			return nil, unsupported(path+"defer_loading", "deferred tools need Anthropic's tool search")
		case !isNull(tool.InputExamples):
			return nil, unsupported(path+"input_examples", "OpenAI tools have no examples")
		}
		for _, c := range tool.AllowedCallers {
			if c != "direct" {
				return nil, unsupported(path+"allowed_callers", "programmatic tool calling is not translated")
			}
		}
		tools = append(tools, oaTool{Type: "function", Function: &oaFunctionDef{
			Name:        tool.Name,
			Description: tool.Description,
			Parameters:  tool.InputSchema,
			Strict:      tool.Strict,
		}})
	}
	return tools, nil
}

// openAIToolChoice maps tool_choice: auto → auto, any → required, tool →
// the named function, none → none; disable_parallel_tool_use becomes
// parallel_tool_calls: false.
func openAIToolChoice(raw json.RawMessage) (choice any, parallel *bool, err error) {
	if isNull(raw) {
		return nil, nil, nil
	}
	var tc anToolChoice
	if err := decodeStrict(raw, &tc, "tool_choice."); err != nil {
		return nil, nil, err
	}
	switch tc.Type {
	case "auto":
		choice = "auto"
	case "any":
		choice = "required"
	case "none":
		return "none", nil, nil
	case "tool":
		if tc.Name == "" {
			return nil, nil, invalid("tool_choice.name is required")
		}
		choice = oaNamedToolChoice{Type: "function", Function: &oaFunctionName{Name: tc.Name}}
	default:
		return nil, nil, invalid("tool_choice.type %q is not auto, any, tool or none", tc.Type)
	}
	if tc.DisableParallelToolUse != nil && *tc.DisableParallelToolUse {
		no := false
		parallel = &no
	}
	return choice, parallel, nil
}

// Response turns a chat completion into a Messages response. As in the
// other direction, the model reported is the one the client asked for.
func (t *messagesToChat) Response(body []byte) ([]byte, Usage, error) {
	var c oaCompletion
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, Usage{}, fmt.Errorf("%w: %v", ErrInvalidResponse, err)
	}
	if len(c.Choices) == 0 {
		return nil, Usage{}, fmt.Errorf("%w: no choices", ErrInvalidResponse)
	}
	ch := c.Choices[0]
	content := []anResponseBlock{}
	if s := ch.Message.Content; s != nil && *s != "" {
		content = append(content, anResponseBlock{Type: "text", Text: s})
	}
	refused := false
	if s := ch.Message.Refusal; s != nil && *s != "" {
		content = append(content, anResponseBlock{Type: "text", Text: s})
		refused = true
	}
	for k, call := range ch.Message.ToolCalls {
		if call.Function == nil {
			return nil, Usage{}, fmt.Errorf("%w: tool call %d is not a function call", ErrInvalidResponse, k)
		}
		args := call.Function.Arguments
		if strings.TrimSpace(args) == "" {
			args = "{}"
		}
		if !jsonObject([]byte(args)) {
			return nil, Usage{}, fmt.Errorf("%w: the arguments of tool call %d are not a JSON object", ErrInvalidResponse, k)
		}
		content = append(content, anResponseBlock{
			Type:  "tool_use",
			ID:    toolUseID(call.ID, c.ID, k),
			Name:  call.Function.Name,
			Input: json.RawMessage(args),
		})
	}
	finish := ""
	if ch.FinishReason != nil {
		finish = *ch.FinishReason
	}
	reason := stopReason(finish)
	if refused && reason == "end_turn" {
		reason = "refusal"
	}
	var u oaUsage
	if c.Usage != nil {
		u = *c.Usage
	}
	out := anResponse{
		ID:      "msg_" + c.ID,
		Type:    "message",
		Role:    "assistant",
		Model:   t.responseModel(c.Model),
		Content: content,
		// OpenAI does not say which stop sequence matched, if any.
		StopReason: &reason,
		Usage:      anthropicUsage(u),
	}
	b, err := appendJSON(nil, out)
	return b, Usage{InputTokens: int(u.PromptTokens), OutputTokens: int(u.CompletionTokens)}, err
}

func (t *messagesToChat) responseModel(backend string) string {
	if t.clientModel != "" {
		return t.clientModel
	}
	return backend
}

func (t *messagesToChat) Error(status int, body []byte, message string) []byte {
	return convertError(Messages, ChatCompletions, status, body, message)
}

// anthropicUsage maps OpenAI's usage: prompt_tokens includes the cached
// tokens, which Anthropic counts apart in cache_read_input_tokens (and cache
// writes in cache_creation_input_tokens).
func anthropicUsage(u oaUsage) anUsage {
	var read, write int64
	if d := u.PromptTokensDetails; d != nil {
		read, write = d.CachedTokens, d.CacheWriteTokens
	}
	return anUsage{
		InputTokens:              max(u.PromptTokens-read-write, 0),
		OutputTokens:             u.CompletionTokens,
		CacheCreationInputTokens: write,
		CacheReadInputTokens:     read,
	}
}

// toolUseID returns an id an Anthropic client can send back to an Anthropic
// backend: OpenAI-compatible backends may use characters Anthropic refuses,
// or no id at all.
func toolUseID(id, completionID string, k int) string {
	if id == "" {
		return sanitizeToolID(fmt.Sprintf("toolu_%s_%d", completionID, k))
	}
	return sanitizeToolID(id)
}
