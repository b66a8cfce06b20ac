package translate

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// responsesToChat serves an OpenAI Responses client from an
// OpenAI-compatible backend that has chat completions only.
type responsesToChat struct {
	now func() time.Time

	// From the request.
	clientModel []byte // JSON string contents, nil when none was named
	echo        []byte
}

// rsChatRequest is a chat completions request with the two fields that
// only Responses requests lead to.
type rsChatRequest struct {
	oaOutRequest
	ReasoningEffort string `json:"reasoning_effort,omitempty"`
	Verbosity       string `json:"verbosity,omitempty"`
}

// Request turns a Responses request into a chat completions request.
//
// Mapped: input (a string, or message, function_call and
// function_call_output items) → messages, with instructions as a leading
// system message, developer messages as system messages (what chat
// completions calls them, and what OpenAI-compatible servers accept),
// earlier function calls as the tool_calls of the assistant message they
// follow, refusals in history as the assistant's text, and function
// outputs as tool messages; max_output_tokens → max_completion_tokens;
// temperature, top_p; function tools, tool_choice and parallel_tool_calls
// (only with tools: chat completions refuses a tool choice without tools);
// text.format → response_format; text.verbosity (other than medium) →
// verbosity; reasoning.effort → reasoning_effort; safety_identifier (else
// user) → user; stream, with usage asked for.
//
// Dropped, because they do not change what the model is asked:
//   - store, metadata: store keeps the response on OpenAI's servers for
//     later retrieval, and metadata tags it; neither reaches the model. The
//     response repeats the metadata and reports store as false.
//   - service_tier, image (image context compression), prompt_cache_key,
//     prompt_cache_retention, prompt_cache_options and parts'
//     prompt_cache_breakpoint: billing, latency and caching preferences.
//   - stream_options.include_obfuscation: it pads delta events against a
//     side channel; the translator's events carry no padding to turn off.
//   - truncation auto: it lets OpenAI drop the start of an input that
//     overflows the context window. An input that fits is answered the same
//     either way, and one that does not gets the backend's context length
//     error: an explicit failure, never a quietly different answer.
//   - max_tool_calls: it limits calls to OpenAI's built-in tools, which are
//     refused.
//   - include values other than logprobs: they ask for built-in tools'
//     results, input image URLs and encrypted reasoning, none of which a
//     translated answer has.
//   - reasoning.summary, reasoning.generate_summary, reasoning.context: a
//     summary is a view of the model's private reasoning that OpenAI itself
//     returns only for some models and organizations, so clients cannot
//     depend on it; context decides which earlier reasoning items the model
//     sees, and those are dropped (below).
//   - reasoning items in the input: the model's earlier private reasoning,
//     opaque and tied to OpenAI's models; chat completions takes none back.
//   - id, status and phase of input items, and annotations and logprobs of
//     output_text parts: what an earlier response reported about its items,
//     not what they said.
//   - image detail "original": chat completions offers auto, low and high,
//     which pass; detail trades image tokens for resolution.
//   - a function tool's strict when unset: Responses then makes a schema
//     strict where it can, and chat completions follows the same schema
//     without enforcement; strict set either way is passed on.
//   - top_logprobs of 0.
//
// Refused: previous_response_id, conversation, background, prompt
// (state and templates stored by OpenAI), moderation, context_management,
// access_programs, tools other than functions (OpenAI's built-in tools and
// custom tools), deferred tools, programmatic callers and output schemas,
// tool choices other than none, auto, required and a function,
// reasoning.mode other than standard, logprobs (include and top_logprobs),
// input_file parts, images given by file_id or outside user messages and
// function outputs, images in function outputs (chat completions tool
// messages take text only), item references and items other than messages,
// function calls and their outputs, and calls of namespaced tools.
func (t *responsesToChat) Request(dst []byte, r *Request, model string) ([]byte, error) {
	p, err := readResponsesRequest(r.Body)
	if err != nil {
		return nil, err
	}
	if model == "" {
		model = p.req.Model
	}
	t.clientModel = clientModelContents(p.req.Model)
	t.echo = p.echo

	out := rsChatRequest{oaOutRequest: oaOutRequest{
		Model:               model,
		MaxCompletionTokens: p.req.MaxOutputTokens,
		Temperature:         p.req.Temperature,
		TopP:                p.req.TopP,
		User:                p.user,
	}}
	if p.stream {
		yes := true
		out.Stream = true
		// Usage arrives only in a last chunk that must be asked for;
		// response.completed carries it.
		out.StreamOptions = &oaStreamOptions{IncludeUsage: &yes}
	}
	out.ReasoningEffort = p.effort
	out.Verbosity = p.verbosity
	if f := p.format; f != nil {
		out.ResponseFormat = &oaResponseFormat{Type: f.Type}
		if f.Type == "json_schema" {
			out.ResponseFormat.JSONSchema = &oaJSONSchema{Name: f.Name, Description: f.Description, Schema: f.Schema, Strict: f.Strict}
		}
	}
	if len(p.tools) > 0 {
		out.Tools = make([]oaTool, len(p.tools))
		for i, tool := range p.tools {
			fn := &oaFunctionDef{Name: tool.Name, Description: tool.Description, Strict: tool.Strict}
			if !isNull(tool.Parameters) {
				fn.Parameters = tool.Parameters
			}
			out.Tools[i] = oaTool{Type: "function", Function: fn}
		}
		switch p.choice {
		case "":
		case "function":
			out.ToolChoice = oaNamedToolChoice{Type: "function", Function: &oaFunctionName{Name: p.choiceName}}
		default:
			out.ToolChoice = p.choice
		}
		out.ParallelToolCalls = p.req.ParallelToolCalls
	}
	if out.Messages, err = chatMessagesFromTurns(p.req.Instructions, p.turns); err != nil {
		return nil, err
	}
	if len(out.Messages) == 0 {
		return nil, invalid("input: no message")
	}
	return appendJSON(dst, out)
}

// clientModelContents is the client's model as JSON string contents, nil
// when it named none.
func clientModelContents(model string) []byte {
	if model == "" {
		return nil
	}
	tok := AppendString(nil, model)
	return tok[1 : len(tok)-1]
}

// chatMessagesFromTurns writes the conversation as chat messages.
func chatMessagesFromTurns(instructions *string, turns []rsTurn) ([]oaOutMessage, error) {
	msgs := make([]oaOutMessage, 0, len(turns)+1)
	if instructions != nil && *instructions != "" {
		msgs = append(msgs, oaOutMessage{Role: "system", Content: *instructions})
	}
	for i := range turns {
		turn := &turns[i]
		switch turn.kind {
		case rsSystem, rsUser, rsAssistant:
			role := "user"
			switch turn.kind {
			case rsSystem:
				role = "system"
			case rsAssistant:
				role = "assistant"
			}
			msgs = append(msgs, oaOutMessage{Role: role, Content: chatContent(turn)})
		case rsCall:
			args := turn.args
			if strings.TrimSpace(args) == "" {
				args = "{}" // no arguments, as OpenAI writes them
			}
			call := oaToolCall{ID: turn.callID, Type: "function", Function: &oaFunctionCall{Name: turn.name, Arguments: args}}
			if n := len(msgs); n > 0 && msgs[n-1].Role == "assistant" {
				// The calls an answer made follow its text as items of
				// their own; chat completions holds them in its message.
				msgs[n-1].ToolCalls = append(msgs[n-1].ToolCalls, call)
				continue
			}
			msgs = append(msgs, oaOutMessage{Role: "assistant", ToolCalls: []oaToolCall{call}})
		case rsOutput:
			for _, c := range turn.parts {
				if c.image {
					return nil, unsupported(c.path+"type", "chat completions tool messages take text only")
				}
			}
			content := chatContent(turn)
			if content == nil {
				content = ""
			}
			msgs = append(msgs, oaOutMessage{Role: "tool", ToolCallID: turn.callID, Content: content})
		}
	}
	return msgs, nil
}

// chatContent writes a turn's content: a string stays a string, parts
// become text and image_url parts (a lone text part a string).
func chatContent(turn *rsTurn) any {
	if turn.str != nil {
		return *turn.str
	}
	if len(turn.parts) == 1 && !turn.parts[0].image {
		return turn.parts[0].text
	}
	parts := make([]oaOutPart, len(turn.parts))
	for j := range turn.parts {
		c := &turn.parts[j]
		if c.image {
			img := &oaImageURL{URL: c.text}
			switch c.detail {
			case "auto", "low", "high":
				img.Detail = c.detail
			}
			parts[j] = oaOutPart{Type: "image_url", ImageURL: img}
		} else {
			parts[j] = oaOutPart{Type: "text", Text: &c.text}
		}
	}
	return parts
}

// Response turns a chat completion into a response object. As in the
// other translations, the model reported is the one the client asked for.
// The message's text becomes an output_text part and its refusal a refusal
// part of one message item, and each tool call a function_call item.
func (t *responsesToChat) Response(body []byte) ([]byte, Usage, error) {
	var c oaCompletion
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, Usage{}, fmt.Errorf("%w: %v", ErrInvalidResponse, err)
	}
	if len(c.Choices) == 0 {
		return nil, Usage{}, fmt.Errorf("%w: no choices", ErrInvalidResponse)
	}
	ch := &c.Choices[0]
	a := newAnswer(t.now, t.echo, t.clientModel)
	var scratch []byte // the events, which a non-streamed response does without
	scratch = a.start(scratch, AppendString(nil, c.ID), AppendString(nil, c.Model))
	if s := ch.Message.Content; s != nil {
		scratch = a.text(scratch[:0], AppendString(nil, *s))
	}
	if s := ch.Message.Refusal; s != nil {
		scratch = a.refusal(scratch[:0], AppendString(nil, *s))
	}
	for k, call := range ch.Message.ToolCalls {
		if call.Function == nil {
			return nil, Usage{}, fmt.Errorf("%w: tool call %d is not a function call", ErrInvalidResponse, k)
		}
		var id []byte
		if call.ID != "" {
			id = AppendString(nil, call.ID)
		}
		scratch = a.toolCall(scratch[:0], id, AppendString(nil, call.Function.Name))
		if args := call.Function.Arguments; strings.TrimSpace(args) != "" {
			scratch = a.toolArgs(scratch[:0], AppendString(nil, args))
		}
	}
	finish := ""
	if ch.FinishReason != nil {
		finish = *ch.FinishReason
	}
	status, reason := responsesStatus(finish)
	a.closeOpen(scratch[:0], status)
	if c.Usage != nil {
		a.setChatUsage(c.Usage)
	}
	return a.appendResponse(nil, status, reason), a.usage(), nil
}

func (t *responsesToChat) Error(status int, body []byte, message string) []byte {
	return convertError(Responses, ChatCompletions, status, body, message)
}
