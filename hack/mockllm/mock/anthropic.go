package mock

import (
	"encoding/json"
	"github.com/osmen-ai/llmroute/sidecar/translate"
	"net/http"
	"strconv"
)

// messagesRequest is the part of an Anthropic Messages request the mock
// reads.
type messagesRequest struct {
	Model      string             `json:"model"`
	MaxTokens  *int               `json:"max_tokens"`
	Messages   []anthropicMessage `json:"messages"`
	System     words              `json:"system"`
	Stream     bool               `json:"stream"`
	Tools      []anthropicTool    `json:"tools"`
	ToolChoice struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tool_choice"`
}

type anthropicMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type anthropicTool struct {
	Name        string          `json:"name"`
	InputSchema json.RawMessage `json:"input_schema"`
}

func (r *messagesRequest) promptTokens() int {
	n := int(r.System)
	for _, m := range r.Messages {
		n += contentWords(m.Content)
	}
	return n
}

// toolToCall returns the tool the reply should use, or nil for a text
// reply: the mock uses a tool when the request offers some and the last
// message is the user's own words rather than a tool_result, so a client's
// tool loop ends after one round.
func (r *messagesRequest) toolToCall() *anthropicTool {
	if len(r.Tools) == 0 || len(r.Messages) == 0 || r.ToolChoice.Type == "none" {
		return nil
	}
	last := r.Messages[len(r.Messages)-1]
	if last.Role != "user" || hasToolResult(last.Content) {
		return nil
	}
	if r.ToolChoice.Type == "tool" {
		for i := range r.Tools {
			if r.Tools[i].Name == r.ToolChoice.Name {
				return &r.Tools[i]
			}
		}
	}
	return &r.Tools[0]
}

func hasToolResult(content json.RawMessage) bool {
	if len(content) == 0 || content[0] != '[' {
		return false
	}
	var blocks []struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(content, &blocks) != nil {
		return false
	}
	for _, b := range blocks {
		if b.Type == "tool_result" {
			return true
		}
	}
	return false
}

// message is one Anthropic message being answered.
type message struct {
	id     string
	model  string
	input  int
	reply  *reply
	call   *toolCall
	reason string // stop_reason
}

func (m *message) outputTokens() int {
	if m.call != nil {
		return m.call.tokens()
	}
	return len(m.reply.words)
}

// messages answers POST /v1/messages.
func (x *exchange) messages() {
	var req messagesRequest
	if !x.decode(&req) {
		return
	}
	x.model = req.Model
	input := req.promptTokens()
	if !x.admit(input) {
		return
	}
	switch {
	case req.Model == "":
		x.fail(anthropicInvalid("model: Field required"))
		return
	case req.MaxTokens == nil:
		x.fail(anthropicInvalid("max_tokens: Field required"))
		return
	case *req.MaxTokens < 1:
		x.fail(anthropicInvalid("max_tokens: Input should be greater than or equal to 1"))
		return
	case req.Messages == nil:
		x.fail(anthropicInvalid("messages: Field required"))
		return
	case len(req.Messages) == 0:
		x.fail(anthropicInvalid("messages: at least one message is required"))
		return
	}
	m := &message{id: randomID("msg_01", 22), model: req.Model, input: input, reason: "end_turn"}
	if t := req.toolToCall(); t != nil {
		m.call = newToolCall(randomID("toolu_01", 22), t.Name, t.InputSchema, x.s.opts.StreamChunks)
		m.reason = "tool_use"
	} else {
		var cut bool
		if m.reply, cut = x.s.reply.truncate(*req.MaxTokens); cut {
			m.reason = "max_tokens"
		}
	}
	x.respond(req.Stream, m.appendMessage, m.appendEvents, anthropicStreamError)
}

// countTokens answers POST /v1/messages/count_tokens.
func (x *exchange) countTokens() {
	var req messagesRequest
	if !x.decode(&req) {
		return
	}
	x.model = req.Model
	input := req.promptTokens()
	if !x.admit(input) {
		return
	}
	b := strconv.AppendInt([]byte(`{"input_tokens":`), int64(input), 10)
	x.writeJSON(http.StatusOK, append(b, '}'))
}

// anthropicStreamError is the error event Anthropic sends inside a 200
// stream when it runs out of capacity.
func anthropicStreamError(e *events) {
	e.begin("error")
	e.buf = append(e.buf, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`...)
	e.end(false)
}

// appendMessage renders the message object.
func (m *message) appendMessage(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = translate.AppendString(b, m.id)
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = translate.AppendString(b, m.model)
	b = append(b, `,"content":[`...)
	if m.call != nil {
		b = append(b, `{"type":"tool_use","id":`...)
		b = translate.AppendString(b, m.call.id)
		b = append(b, `,"name":`...)
		b = translate.AppendString(b, m.call.name)
		b = append(b, `,"input":`...)
		b = append(b, m.call.arguments...)
		b = append(b, '}')
	} else {
		b = append(b, `{"type":"text","text":`...)
		b = append(b, m.reply.quoted...)
		b = append(b, '}')
	}
	b = append(b, `],"stop_reason":`...)
	b = translate.AppendString(b, m.reason)
	b = append(b, `,"stop_sequence":null,"usage":`...)
	b = m.appendUsage(b, m.outputTokens())
	return append(b, '}')
}

func (m *message) appendUsage(b []byte, output int) []byte {
	b = append(b, `{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(m.input), 10)
	b = append(b, `,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":`...)
	b = strconv.AppendInt(b, int64(output), 10)
	return append(b, `,"service_tier":"standard"}`...)
}

// appendEvents renders the Messages stream: message_start, one content block
// (content_block_start, a ping, its deltas, content_block_stop),
// message_delta with the stop reason and output tokens, then message_stop.
func (m *message) appendEvents(e *events) {
	e.begin("message_start")
	e.buf = append(e.buf, `{"type":"message_start","message":{"id":`...)
	e.buf = translate.AppendString(e.buf, m.id)
	e.buf = append(e.buf, `,"type":"message","role":"assistant","model":`...)
	e.buf = translate.AppendString(e.buf, m.model)
	e.buf = append(e.buf, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	e.buf = m.appendUsage(e.buf, 1)
	e.buf = append(e.buf, `}}`...)
	e.end(false)

	e.begin("content_block_start")
	if m.call != nil {
		e.buf = append(e.buf, `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":`...)
		e.buf = translate.AppendString(e.buf, m.call.id)
		e.buf = append(e.buf, `,"name":`...)
		e.buf = translate.AppendString(e.buf, m.call.name)
		e.buf = append(e.buf, `,"input":{}}}`...)
	} else {
		e.buf = append(e.buf, `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`...)
	}
	e.end(false)

	e.begin("ping")
	e.buf = append(e.buf, `{"type": "ping"}`...)
	e.end(false)

	if m.call != nil {
		e.begin("content_block_delta")
		e.buf = append(e.buf, `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}`...)
		e.end(false)
		for _, p := range m.call.pieces {
			e.begin("content_block_delta")
			e.buf = append(e.buf, `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":`...)
			e.buf = append(e.buf, p...)
			e.buf = append(e.buf, `}}`...)
			e.end(true)
		}
	} else {
		for _, p := range m.reply.pieces {
			e.begin("content_block_delta")
			e.buf = append(e.buf, `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":`...)
			e.buf = append(e.buf, p...)
			e.buf = append(e.buf, `}}`...)
			e.end(true)
		}
	}

	e.begin("content_block_stop")
	e.buf = append(e.buf, `{"type":"content_block_stop","index":0}`...)
	e.end(false)

	e.begin("message_delta")
	e.buf = append(e.buf, `{"type":"message_delta","delta":{"stop_reason":`...)
	e.buf = translate.AppendString(e.buf, m.reason)
	e.buf = append(e.buf, `,"stop_sequence":null},"usage":{"output_tokens":`...)
	e.buf = strconv.AppendInt(e.buf, int64(m.outputTokens()), 10)
	e.buf = append(e.buf, `}}`...)
	e.end(false)

	e.begin("message_stop")
	e.buf = append(e.buf, `{"type":"message_stop"}`...)
	e.end(false)
}
