package mock

import (
	"encoding/json"
	"github.com/osmen-ai/llmroute/sidecar/translate"
	"net/http"
	"strconv"
	"time"
)

// chatRequest is the part of an OpenAI chat completion request the mock
// reads.
type chatRequest struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages"`
	Stream        bool          `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           int             `json:"max_tokens"`
	MaxCompletionTokens int             `json:"max_completion_tokens"`
	Tools               []chatTool      `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content words  `json:"content"`
}

type chatTool struct {
	Type     string `json:"type"`
	Function struct {
		Name       string          `json:"name"`
		Parameters json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// toolToCall returns the tool the reply should call, or nil for a text
// reply. The mock calls a tool when the request offers some and the user
// spoke last; once a tool result comes back (role "tool"), it answers in
// text, which ends a client's tool loop.
func (r *chatRequest) toolToCall() *chatTool {
	if len(r.Tools) == 0 || len(r.Messages) == 0 || r.Messages[len(r.Messages)-1].Role != "user" {
		return nil
	}
	var choice struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	var mode string
	if json.Unmarshal(r.ToolChoice, &mode) == nil && mode == "none" {
		return nil
	}
	if json.Unmarshal(r.ToolChoice, &choice) == nil && choice.Function.Name != "" {
		for i := range r.Tools {
			if r.Tools[i].Function.Name == choice.Function.Name {
				return &r.Tools[i]
			}
		}
	}
	for i := range r.Tools {
		if r.Tools[i].Function.Name != "" {
			return &r.Tools[i]
		}
	}
	return nil
}

// chat is one chat completion (or legacy text completion) being answered.
type chat struct {
	s       *Server
	id      string
	created int64
	model   string
	prompt  int
	reply   *reply    // the text, unless call is set
	call    *toolCall // the tool call, if the reply is one
	finish  string
}

func (c *chat) completionTokens() int {
	if c.call != nil {
		return c.call.tokens()
	}
	return len(c.reply.words)
}

// chatCompletions answers POST /v1/chat/completions.
func (x *exchange) chatCompletions() {
	var req chatRequest
	if !x.decode(&req) {
		return
	}
	x.model = req.Model
	prompt := 0
	for _, m := range req.Messages {
		prompt += int(m.Content)
	}
	if !x.admit(prompt) {
		return
	}
	if req.Model == "" {
		x.fail(x.invalid("you must provide a model parameter"))
		return
	}
	if len(req.Messages) == 0 {
		x.fail(apiError{status: http.StatusBadRequest, typ: "invalid_request_error",
			message: "Missing required parameter: 'messages'.", param: "messages", code: "missing_required_parameter"})
		return
	}
	c := &chat{s: x.s, id: randomID("chatcmpl-", 29), created: time.Now().Unix(), model: req.Model, prompt: prompt, finish: "stop"}
	if t := req.toolToCall(); t != nil {
		c.call = newToolCall(randomID("call_", 24), t.Function.Name, t.Function.Parameters, x.s.opts.StreamChunks)
		c.finish = "tool_calls"
	} else {
		limit := req.MaxCompletionTokens
		if limit == 0 {
			limit = req.MaxTokens
		}
		var cut bool
		if c.reply, cut = x.s.reply.truncate(limit); cut {
			c.finish = "length"
		}
	}
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	x.respond(req.Stream, func(b []byte) []byte { return c.appendCompletion(b) },
		func(e *events) { c.appendChunks(e, includeUsage) }, openaiStreamError)
}

// respond sends a reply that the request wants either whole (render) or
// streamed (stream); errorEvent renders the in-band error that
// StreamErrorBeforeContent sends instead of the stream, and StreamErrorAfter
// part way through it.
func (x *exchange) respond(streamed bool, render func([]byte) []byte, stream func(*events), errorEvent func(*events)) {
	if !streamed {
		bp := getBuffer()
		defer putBuffer(bp)
		*bp = render((*bp)[:0])
		x.writeJSON(http.StatusOK, *bp)
		return
	}
	bp := getBuffer()
	defer putBuffer(bp)
	evs := events{buf: (*bp)[:0]}
	errorStream := x.f.StreamErrorBeforeContent
	switch {
	case errorStream:
		x.fire("stream_error")
		errorEvent(&evs)
	case x.f.StreamErrorAfter > 0:
		x.fire("stream_error_after")
		stream(&evs)
		evs.truncateAfterContent(x.f.StreamErrorAfter)
		errorEvent(&evs)
		errorStream = true
	default:
		stream(&evs)
	}
	x.writeStream(&evs, x.s.opts.StreamInterval, errorStream)
	*bp = evs.buf
}

// openaiStreamError is the error event OpenAI sends inside a 200 stream.
func openaiStreamError(e *events) {
	e.begin("")
	e.buf = appendOpenAIError(e.buf, openaiError(http.StatusInternalServerError, ""))
	e.end(false)
}

func (c *chat) appendUsage(b []byte) []byte {
	out := c.completionTokens()
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(c.prompt), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(out), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(c.prompt+out), 10)
	return append(b, `,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`...)
}

// appendHead appends the fields a chat.completion and its chunks open with.
func (c *chat) appendHead(b []byte, object string) []byte {
	b = append(b, `{"id":`...)
	b = translate.AppendString(b, c.id)
	b = append(b, `,"object":"`...)
	b = append(b, object...)
	b = append(b, `","created":`...)
	b = strconv.AppendInt(b, c.created, 10)
	b = append(b, `,"model":`...)
	return translate.AppendString(b, c.model)
}

// appendCompletion renders the chat.completion object.
func (c *chat) appendCompletion(b []byte) []byte {
	b = c.appendHead(b, "chat.completion")
	b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	if c.call != nil {
		b = append(b, `null,"tool_calls":[{"id":`...)
		b = translate.AppendString(b, c.call.id)
		b = append(b, `,"type":"function","function":{"name":`...)
		b = translate.AppendString(b, c.call.name)
		b = append(b, `,"arguments":`...)
		b = translate.AppendString(b, c.call.arguments)
		b = append(b, `}}]`...)
	} else {
		b = append(b, c.reply.quoted...)
	}
	b = append(b, `,"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":`...)
	b = translate.AppendString(b, c.finish)
	b = append(b, `}],"usage":`...)
	b = c.appendUsage(b)
	b = append(b, `,"service_tier":"default","system_fingerprint":`...)
	b = translate.AppendString(b, c.s.fingerprint)
	return append(b, '}')
}

// appendChunks renders the chat.completion.chunk stream: a first chunk with
// the role (and, for a tool call, the call's id and name), the content or
// argument deltas, a chunk with the finish reason, the usage chunk when
// stream_options.include_usage asks for it, then [DONE].
func (c *chat) appendChunks(e *events, includeUsage bool) {
	chunk := func(content bool, choice string, piece []byte, rest string) {
		e.begin("")
		e.buf = c.appendHead(e.buf, "chat.completion.chunk")
		e.buf = append(e.buf, `,"service_tier":"default","system_fingerprint":`...)
		e.buf = translate.AppendString(e.buf, c.s.fingerprint)
		e.buf = append(e.buf, `,"choices":[`...)
		e.buf = append(e.buf, choice...)
		e.buf = append(e.buf, piece...)
		e.buf = append(e.buf, rest...)
		if includeUsage {
			e.buf = append(e.buf, `],"usage":null}`...)
		} else {
			e.buf = append(e.buf, `]}`...)
		}
		e.end(content)
	}
	const tail = `,"logprobs":null,"finish_reason":null}`
	if c.call != nil {
		var first []byte
		first = append(first, `{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":`...)
		first = translate.AppendString(first, c.call.id)
		first = append(first, `,"type":"function","function":{"name":`...)
		first = translate.AppendString(first, c.call.name)
		first = append(first, `,"arguments":""}}],"refusal":null}`...)
		chunk(false, string(first), nil, tail)
		for _, p := range c.call.pieces {
			chunk(true, `{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":`, p, `}}]}`+tail)
		}
	} else {
		chunk(false, `{"index":0,"delta":{"role":"assistant","content":"","refusal":null}`, nil, tail)
		for _, p := range c.reply.pieces {
			chunk(true, `{"index":0,"delta":{"content":`, p, `}`+tail)
		}
	}
	chunk(false, `{"index":0,"delta":{},"logprobs":null,"finish_reason":"`+c.finish+`"}`, nil, "")
	if includeUsage {
		e.begin("")
		e.buf = c.appendHead(e.buf, "chat.completion.chunk")
		e.buf = append(e.buf, `,"service_tier":"default","system_fingerprint":`...)
		e.buf = translate.AppendString(e.buf, c.s.fingerprint)
		e.buf = append(e.buf, `,"choices":[],"usage":`...)
		e.buf = c.appendUsage(e.buf)
		e.buf = append(e.buf, '}')
		e.end(false)
	}
	appendDone(e)
}

func appendDone(e *events) {
	e.begin("")
	e.buf = append(e.buf, "[DONE]"...)
	e.end(false)
}

// completionRequest is the part of a legacy text completion request the mock
// reads.
type completionRequest struct {
	Model         string `json:"model"`
	Prompt        words  `json:"prompt"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens int `json:"max_tokens"`
}

// completions answers the legacy POST /v1/completions with a text_completion.
func (x *exchange) completions() {
	var req completionRequest
	if !x.decode(&req) {
		return
	}
	x.model = req.Model
	if !x.admit(int(req.Prompt)) {
		return
	}
	if req.Model == "" {
		x.fail(x.invalid("you must provide a model parameter"))
		return
	}
	c := &chat{s: x.s, id: randomID("cmpl-", 29), created: time.Now().Unix(), model: req.Model, prompt: int(req.Prompt), finish: "stop"}
	var cut bool
	if c.reply, cut = x.s.reply.truncate(req.MaxTokens); cut {
		c.finish = "length"
	}
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	x.respond(req.Stream, c.appendTextCompletion, func(e *events) { c.appendTextChunks(e, includeUsage) }, openaiStreamError)
}

func (c *chat) appendTextCompletion(b []byte) []byte {
	b = c.appendHead(b, "text_completion")
	b = append(b, `,"choices":[{"text":`...)
	b = append(b, c.reply.quoted...)
	b = append(b, `,"index":0,"logprobs":null,"finish_reason":`...)
	b = translate.AppendString(b, c.finish)
	b = append(b, `}],"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(c.prompt), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(len(c.reply.words)), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(c.prompt+len(c.reply.words)), 10)
	return append(b, `}}`...)
}

// appendTextChunks renders a legacy completion stream: text_completion
// objects carrying text deltas, a last one with the finish reason, the usage
// chunk if asked for, then [DONE].
func (c *chat) appendTextChunks(e *events, includeUsage bool) {
	chunk := func(content bool, text []byte, finish string) {
		e.begin("")
		e.buf = c.appendHead(e.buf, "text_completion")
		e.buf = append(e.buf, `,"choices":[{"text":`...)
		e.buf = append(e.buf, text...)
		e.buf = append(e.buf, `,"index":0,"logprobs":null,"finish_reason":`...)
		e.buf = appendStringOrNull(e.buf, finish)
		if includeUsage {
			e.buf = append(e.buf, `}],"usage":null}`...)
		} else {
			e.buf = append(e.buf, `}]}`...)
		}
		e.end(content)
	}
	for _, p := range c.reply.pieces {
		chunk(true, p, "")
	}
	chunk(false, []byte(`""`), c.finish)
	if includeUsage {
		e.begin("")
		e.buf = c.appendHead(e.buf, "text_completion")
		e.buf = append(e.buf, `,"choices":[],"usage":{"prompt_tokens":`...)
		e.buf = strconv.AppendInt(e.buf, int64(c.prompt), 10)
		e.buf = append(e.buf, `,"completion_tokens":`...)
		e.buf = strconv.AppendInt(e.buf, int64(len(c.reply.words)), 10)
		e.buf = append(e.buf, `,"total_tokens":`...)
		e.buf = strconv.AppendInt(e.buf, int64(c.prompt+len(c.reply.words)), 10)
		e.buf = append(e.buf, `}}`...)
		e.end(false)
	}
	appendDone(e)
}

// listChatCompletions answers GET /v1/chat/completions, the list of stored
// chat completions: always empty, as the mock stores none.
func (x *exchange) listChatCompletions() {
	if !x.admit(0) {
		return
	}
	x.writeJSON(http.StatusOK, []byte(`{"object":"list","data":[],"first_id":null,"last_id":null,"has_more":false}`))
}
