package translate

import (
	"encoding/json"
	"fmt"
	"time"
)

// responsesToMessages serves an OpenAI Responses client from an Anthropic
// Messages backend.
type responsesToMessages struct {
	now func() time.Time

	// From the request.
	clientModel []byte // JSON string contents, nil when none was named
	echo        []byte
}

// Request turns a Responses request into a Messages request.
//
// Mapped: input (a string, or message, function_call and
// function_call_output items) → messages, as chat completions requests are
// (chatToMessages): instructions, then system and developer messages
// wherever they are, become the system prompt in order; turns of one role
// are merged, since Anthropic wants them to alternate; earlier function
// calls become tool_use blocks of the assistant turn and their outputs
// tool_result blocks (text and images) of the user turn that follows,
// results first; call ids are rewritten to the characters Anthropic
// accepts, the same way on both sides. max_output_tokens → max_tokens
// (DefaultMaxTokens when unset); temperature (0 to 1), top_p; function
// tools; tool_choice and parallel_tool_calls (see anthropicChoice);
// text.format json_schema → output_config.format; safety_identifier (else
// user) → metadata.user_id; stream.
//
// Dropped, for the reasons given at responsesToChat.Request: store,
// metadata, service_tier, image, the prompt cache settings,
// stream_options.include_obfuscation, truncation auto, max_tool_calls,
// include values other than logprobs, reasoning.summary,
// reasoning.generate_summary, reasoning.context, reasoning items, the ids,
// status and phase of input items, output_text annotations and logprobs,
// and top_logprobs of 0. Also dropped:
//   - reasoning.effort: how much hidden reasoning to spend, not what to
//     answer; Anthropic's effort setting is model-specific and would turn a
//     working request into a 400 on models without it (as chatToMessages
//     drops reasoning_effort).
//   - image detail: it trades image tokens for resolution; Anthropic sizes
//     images itself.
//   - text.format's name and strict: the name only labels the schema, and
//     Anthropic always enforces it, which satisfies strict and non-strict
//     requests alike.
//   - top_p of exactly 1, which samples from the whole distribution in both
//     APIs; several Claude models refuse temperature and top_p together.
//
// Refused, besides what responsesToChat.Request refuses (images in function
// outputs excepted, which Anthropic's tool results hold): temperature above
// 1 (clamping would silently make a creative request tamer), text.format
// json_object (no schema-free JSON mode) and json_schema descriptions,
// text.verbosity other than medium, and function call arguments that are
// not a JSON object (a tool_use input is one).
func (t *responsesToMessages) Request(dst []byte, r *Request, model string) ([]byte, error) {
	p, err := readResponsesRequest(r.Body)
	if err != nil {
		return nil, err
	}
	if model == "" {
		model = p.req.Model
	}
	t.clientModel = clientModelContents(p.req.Model)
	t.echo = p.echo

	out := anOutRequest{Model: model, MaxTokens: DefaultMaxTokens, Stream: p.stream}
	if p.req.MaxOutputTokens != nil {
		out.MaxTokens = *p.req.MaxOutputTokens
	}
	if temp := p.req.Temperature; temp != nil {
		if *temp > 1 {
			return nil, unsupported("temperature", "Anthropic accepts 0 to 1; %v has no equivalent", *temp)
		}
		out.Temperature = temp
	}
	if p.req.TopP != nil && *p.req.TopP != 1 {
		out.TopP = p.req.TopP
	}
	if p.user != "" {
		out.Metadata = &anMetadata{UserID: &p.user}
	}
	if p.verbosity != "" {
		return nil, unsupported("text.verbosity", "Anthropic has no verbosity setting; only medium, the default, is accepted")
	}
	if f := p.format; f != nil {
		switch {
		case f.Type == "json_object":
			return nil, unsupported("text.format.type", "Anthropic has no schema-free JSON mode; use json_schema")
		case f.Description != nil && *f.Description != "":
			return nil, unsupported("text.format.description", "Anthropic's structured outputs take a schema only")
		}
		out.OutputConfig = &anOutputConfig{Format: &anOutputFormat{Type: "json_schema", Schema: f.Schema}}
	}
	if len(p.tools) > 0 {
		out.Tools = make([]anOutTool, len(p.tools))
		for i, tool := range p.tools {
			schema := tool.Parameters
			if isNull(schema) {
				schema = emptyObjectSchema
			}
			out.Tools[i] = anOutTool{Name: tool.Name, Description: tool.Description, InputSchema: schema, Strict: tool.Strict}
		}
		out.ToolChoice = anthropicChoice(p.choice, p.choiceName, p.req.ParallelToolCalls)
	}
	if out.System, out.Messages, err = anthropicTurns(p.req.Instructions, p.turns); err != nil {
		return nil, err
	}
	if len(out.Messages) == 0 {
		return nil, invalid("input: no user or assistant message")
	}
	return appendJSON(dst, out)
}

// anthropicTurns writes the conversation as a system prompt and
// alternating turns (see turnBuilder).
func anthropicTurns(instructions *string, turns []rsTurn) (system any, msgs []anOutMessage, err error) {
	var sys []anOutBlock
	if instructions != nil && *instructions != "" {
		sys = append(sys, textBlock(*instructions, nil))
	}
	var b turnBuilder
	for i := range turns {
		turn := &turns[i]
		switch turn.kind {
		case rsSystem:
			blocks, err := anthropicContent(turn)
			if err != nil {
				return nil, nil, err
			}
			sys = append(sys, blocks...)
		case rsUser:
			blocks, err := anthropicContent(turn)
			if err != nil {
				return nil, nil, err
			}
			b.add("user", blocks)
		case rsAssistant:
			blocks, err := anthropicContent(turn)
			if err != nil {
				return nil, nil, err
			}
			b.add("assistant", blocks)
		case rsCall:
			args := turn.args
			if args == "" {
				args = "{}"
			}
			if !jsonObject([]byte(args)) {
				return nil, nil, invalid("%sarguments is not a JSON object", turn.path)
			}
			b.add("assistant", []anOutBlock{{
				Type:  "tool_use",
				ID:    sanitizeToolID(turn.callID),
				Name:  turn.name,
				Input: json.RawMessage(args),
			}})
		case rsOutput:
			var content any = ""
			switch {
			case turn.str != nil:
				content = *turn.str
			case len(turn.parts) > 0:
				blocks, err := anthropicContent(turn)
				if err != nil {
					return nil, nil, err
				}
				if len(blocks) > 0 {
					content = blocks
				}
			}
			b.add("user", []anOutBlock{{Type: "tool_result", ToolUseID: sanitizeToolID(turn.callID), Content: content}})
		}
	}
	switch {
	case len(sys) == 1:
		system = *sys[0].Text
	case len(sys) > 0:
		system = sys
	}
	return system, b.messages(), nil
}

// anthropicContent writes a turn's content as blocks: text (empty text
// left out, which Anthropic refuses and which says nothing) and images.
func anthropicContent(turn *rsTurn) ([]anOutBlock, error) {
	if turn.str != nil {
		if *turn.str == "" {
			return nil, nil
		}
		return []anOutBlock{textBlock(*turn.str, nil)}, nil
	}
	blocks := make([]anOutBlock, 0, len(turn.parts))
	for j := range turn.parts {
		c := &turn.parts[j]
		if !c.image {
			if c.text != "" {
				blocks = append(blocks, textBlock(c.text, nil))
			}
			continue
		}
		src, err := imageSource(c.text, c.path+"image_url")
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, anOutBlock{Type: "image", Source: src})
	}
	return blocks, nil
}

// Response turns a Messages response into a response object. As in the
// other translations, the model reported is the one the client asked for.
// Text blocks become the output_text of a message item and tool_use blocks
// function_call items, in their order; thinking blocks are left out (the
// translator never asks for them, and OpenAI returns no raw reasoning
// either). A stop for the token limit, or a refusal by Anthropic's safety
// classifier, makes the response incomplete (max_output_tokens,
// content_filter), as finishReason maps them for chat completions.
func (t *responsesToMessages) Response(body []byte) ([]byte, Usage, error) {
	var msg anResponse
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, Usage{}, fmt.Errorf("%w: %v", ErrInvalidResponse, err)
	}
	if msg.Type != "message" {
		return nil, Usage{}, fmt.Errorf("%w: type %q is not a message", ErrInvalidResponse, msg.Type)
	}
	a := newAnswer(t.now, t.echo, t.clientModel)
	var scratch []byte // the events, which a non-streamed response does without
	scratch = a.start(scratch, AppendString(nil, msg.ID), AppendString(nil, msg.Model))
	for _, b := range msg.Content {
		switch b.Type {
		case "text":
			if b.Text != nil {
				scratch = a.text(scratch[:0], AppendString(nil, *b.Text))
			}
		case "tool_use":
			scratch = a.toolCall(scratch[:0], AppendString(nil, b.ID), AppendString(nil, b.Name))
			if !isNull(b.Input) {
				scratch = a.toolArgs(scratch[:0], AppendString(nil, compactString(b.Input)))
			}
		}
	}
	reason := ""
	if msg.StopReason != nil {
		reason = *msg.StopReason
	}
	status, incomplete := responsesStatus(finishReason(reason))
	a.closeOpen(scratch[:0], status)
	a.setChatUsage(openAIUsage(msg.Usage))
	return a.appendResponse(nil, status, incomplete), a.usage(), nil
}

func (t *responsesToMessages) Error(status int, body []byte, message string) []byte {
	return convertError(Responses, Messages, status, body, message)
}
