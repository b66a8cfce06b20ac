package mock

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// responsesRequest is the part of a Responses API request the mock reads.
// The raw fields are echoed back in the response object, as the real API
// does, with its defaults where the request leaves them out.
type responsesRequest struct {
	Model              string          `json:"model"`
	Input              json.RawMessage `json:"input"`
	Instructions       json.RawMessage `json:"instructions"`
	Stream             bool            `json:"stream"`
	Background         bool            `json:"background"`
	Store              *bool           `json:"store"`
	MaxOutputTokens    *int            `json:"max_output_tokens"`
	PreviousResponseID string          `json:"previous_response_id"`
	Tools              json.RawMessage `json:"tools"`
	ToolChoice         json.RawMessage `json:"tool_choice"`

	MaxToolCalls      json.RawMessage `json:"max_tool_calls"`
	ParallelToolCalls json.RawMessage `json:"parallel_tool_calls"`
	PromptCacheKey    json.RawMessage `json:"prompt_cache_key"`
	Reasoning         json.RawMessage `json:"reasoning"`
	SafetyIdentifier  json.RawMessage `json:"safety_identifier"`
	Temperature       json.RawMessage `json:"temperature"`
	Text              json.RawMessage `json:"text"`
	TopLogprobs       json.RawMessage `json:"top_logprobs"`
	TopP              json.RawMessage `json:"top_p"`
	Truncation        json.RawMessage `json:"truncation"`
	User              json.RawMessage `json:"user"`
	Metadata          json.RawMessage `json:"metadata"`
}

type responsesTool struct {
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Parameters json.RawMessage `json:"parameters"`
}

// toolToCall returns the function tool the reply calls, or nil for a text
// reply, by the rule the chat routes follow: the reply calls a tool when the
// request offers some and the user spoke last, so that once a
// function_call_output comes back the answer is text and a client's tool
// loop ends after one round. tool_choice may name the tool or say "none".
func toolToCall(tools []responsesTool, choice json.RawMessage, userLast bool) *responsesTool {
	if !userLast || len(tools) == 0 {
		return nil
	}
	var mode string
	if json.Unmarshal(choice, &mode) == nil && mode == "none" {
		return nil
	}
	var named struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	if json.Unmarshal(choice, &named) == nil && named.Type == "function" && named.Name != "" {
		for i := range tools {
			if tools[i].Type == "function" && tools[i].Name == named.Name {
				return &tools[i]
			}
		}
	}
	for i := range tools {
		if tools[i].Type == "function" && tools[i].Name != "" {
			return &tools[i]
		}
	}
	return nil
}

// responseInput is a request's input, read: its items as the input_items
// route lists them, their words (which the mock counts as tokens), and
// whether the last item is the user's message.
type responseInput struct {
	items    []storedItem
	tokens   int
	userLast bool
}

// storedItem is an input item as the input_items route lists it.
type storedItem struct {
	id   string
	json []byte
}

type inputItem struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	ID        string          `json:"id"`
	Content   json.RawMessage `json:"content"`
	Output    json.RawMessage `json:"output"`
	Arguments string          `json:"arguments"`
}

// errBadInput is the message of a 400 for an input that is neither a
// string nor a list of items.
const errBadInput = "Invalid type for 'input': expected one of a string or array of input items."

// parseInput reads the input of a request: a string, which is the user's
// message, or a list of items (messages, function calls and their outputs).
func parseInput(raw json.RawMessage) (responseInput, bool) {
	var in responseInput
	if len(raw) == 0 || string(raw) == "null" {
		return in, true
	}
	switch raw[0] {
	case '"':
		var text string
		if json.Unmarshal(raw, &text) != nil {
			return in, false
		}
		in.tokens = countWords(text)
		in.userLast = true
		id := randomHexID("msg_")
		in.items = []storedItem{{id, appendInputMessage(nil, id, "user", translate.AppendString(nil, text))}}
		return in, true
	case '[':
	default:
		return in, false
	}
	var raws []json.RawMessage
	if json.Unmarshal(raw, &raws) != nil {
		return in, false
	}
	for _, r := range raws {
		var it inputItem
		if len(r) == 0 || r[0] != '{' || json.Unmarshal(r, &it) != nil {
			return in, false
		}
		in.tokens += contentWords(it.Content) + contentWords(it.Output) + countWords(it.Arguments)
		message := it.Role != "" && (it.Type == "" || it.Type == "message")
		in.userLast = message && it.Role == "user"
		id := it.ID
		if message {
			if id == "" {
				id = randomHexID("msg_")
			}
			in.items = append(in.items, storedItem{id, appendInputMessage(nil, id, it.Role, it.Content)})
			continue
		}
		item := compact(nil, r)
		if id == "" {
			id = randomHexID("item_")
			item = append(append([]byte(`{"id":`), translate.AppendString(nil, id)...), withoutBrace(item)...)
		}
		in.items = append(in.items, storedItem{id, item})
	}
	return in, true
}

// withoutBrace returns a JSON object without its opening brace, ready to
// follow a first member: `"a":1}`, or `}` for an empty object.
func withoutBrace(obj []byte) []byte {
	rest := bytes.TrimSpace(obj[1:])
	if len(rest) > 0 && rest[0] != '}' {
		return append([]byte{','}, rest...)
	}
	return rest
}

// appendInputMessage renders an input message as the input_items route
// lists it: a content string becomes one input_text (or, for the
// assistant's own earlier turns, output_text) part.
func appendInputMessage(b []byte, id, role string, content json.RawMessage) []byte {
	b = append(b, `{"id":`...)
	b = translate.AppendString(b, id)
	b = append(b, `,"type":"message","role":`...)
	b = translate.AppendString(b, role)
	b = append(b, `,"content":`...)
	if len(content) > 0 && content[0] == '"' {
		part := "input_text"
		if role == "assistant" {
			part = "output_text"
		}
		b = append(b, `[{"type":"`...)
		b = append(b, part...)
		b = append(b, `","text":`...)
		b = compact(b, content)
		b = append(b, `}]`...)
	} else {
		b = appendRaw(b, content, "[]")
	}
	return append(b, `,"status":"completed"}`...)
}

// compact appends raw JSON without insignificant space: an SSE data line
// can't hold the newlines of a pretty-printed request.
func compact(b []byte, raw []byte) []byte {
	buf := bytes.NewBuffer(b)
	if json.Compact(buf, raw) != nil {
		return append(b, "null"...)
	}
	return buf.Bytes()
}

// appendRaw appends a raw JSON value from the request, or def when the
// request left it out or null.
func appendRaw(b []byte, raw json.RawMessage, def string) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return append(b, def...)
	}
	return compact(b, raw)
}

// response is one Responses API response: being answered, then stored for
// the routes that retrieve, list the input of, cancel and delete it.
type response struct {
	id         string
	model      string
	created    int64
	background bool
	echo       []byte // the request's settings, echoed: `"instructions":...,"metadata":{...}`
	input      int    // input tokens
	context    int    // the tokens a response continuing from this one inherits
	items      []storedItem
	msgID      string
	reply      *reply    // the text, unless call is set
	call       *toolCall // the function call, if the reply is one
	incomplete bool      // max_output_tokens cut the text

	mu     sync.Mutex // guards status once the response is stored
	status string     // completed, incomplete, queued, cancelled or failed
}

func (rs *response) outputTokens() int {
	if rs.call != nil {
		return rs.call.tokens()
	}
	return len(rs.reply.words)
}

// finalStatus is the status of the response once answered.
func (rs *response) finalStatus() string {
	if rs.incomplete {
		return "incomplete"
	}
	return "completed"
}

// createResponse answers POST /v1/responses.
func (x *exchange) createResponse() {
	var req responsesRequest
	if !x.decode(&req) {
		return
	}
	x.model = req.Model
	in, inputOK := parseInput(req.Input)
	prompt := in.tokens + contentWords(req.Instructions)
	if !x.admit(prompt) {
		return
	}
	if req.Model == "" {
		x.fail(missingParameter("model"))
		return
	}
	if !inputOK {
		x.fail(apiError{status: http.StatusBadRequest, typ: "invalid_request_error", message: errBadInput, param: "input", code: "invalid_type"})
		return
	}
	var tools []responsesTool
	if len(req.Tools) > 0 && string(req.Tools) != "null" && json.Unmarshal(req.Tools, &tools) != nil {
		x.fail(apiError{status: http.StatusBadRequest, typ: "invalid_request_error", message: "Invalid 'tools': expected an array of tools.", param: "tools", code: "invalid_type"})
		return
	}
	inherited, ok := x.previousContext(req.PreviousResponseID)
	if !ok {
		return
	}
	rs := &response{
		id:         randomHexID("resp_"),
		model:      req.Model,
		created:    time.Now().Unix(),
		background: req.Background,
		input:      prompt + inherited,
		items:      in.items,
	}
	if t := toolToCall(tools, req.ToolChoice, in.userLast); t != nil {
		rs.call = newToolCall(randomID("call_", 24), t.Name, t.Parameters, x.s.opts.StreamChunks)
		rs.call.itemID = randomHexID("fc_")
	} else {
		rs.msgID = randomHexID("msg_")
		limit := 0
		if req.MaxOutputTokens != nil {
			limit = *req.MaxOutputTokens
		}
		rs.reply, rs.incomplete = x.s.reply.truncate(limit)
	}
	rs.context = in.tokens + inherited + rs.outputTokens()
	store := req.Store == nil || *req.Store
	rs.echo = appendResponseEcho(nil, &req, store)

	rs.status = rs.finalStatus()
	switch {
	case req.Stream && (x.f.StreamErrorBeforeContent || x.f.StreamErrorAfter > 0):
		rs.status = "failed"
	case req.Background && !req.Stream:
		// A background response is queued until it is first retrieved,
		// so that a test can cancel it in between.
		rs.status = "queued"
	}
	if store {
		x.s.responses.put(rs.id, rs)
	}
	status := rs.status
	x.respond(req.Stream, func(b []byte) []byte { return rs.appendObject(b, status) }, rs.appendEvents, rs.appendStreamError)
}

// previousContext returns the tokens a response continuing from the one
// named id inherits, zero when id is empty; it answers 400, as OpenAI does,
// and reports false when there is no such stored response.
func (x *exchange) previousContext(id string) (int, bool) {
	if id == "" {
		return 0, true
	}
	prev, ok := x.s.responses.get(id)
	if !ok {
		x.fail(apiError{
			status:  http.StatusBadRequest,
			typ:     "invalid_request_error",
			message: "Previous response with id '" + id + "' not found.",
			param:   "previous_response_id",
			code:    "previous_response_not_found",
		})
		return 0, false
	}
	return prev.context, true
}

func missingParameter(name string) apiError {
	return apiError{status: http.StatusBadRequest, typ: "invalid_request_error",
		message: "Missing required parameter: '" + name + "'.", param: name, code: "missing_required_parameter"}
}

// appendResponseEcho renders the members of a response object that repeat
// the request's settings.
func appendResponseEcho(b []byte, req *responsesRequest, store bool) []byte {
	b = append(b, `"instructions":`...)
	b = appendRaw(b, req.Instructions, "null")
	b = append(b, `,"max_output_tokens":`...)
	if req.MaxOutputTokens != nil {
		b = strconv.AppendInt(b, int64(*req.MaxOutputTokens), 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"max_tool_calls":`...)
	b = appendRaw(b, req.MaxToolCalls, "null")
	b = append(b, `,"parallel_tool_calls":`...)
	b = appendRaw(b, req.ParallelToolCalls, "true")
	b = append(b, `,"previous_response_id":`...)
	b = appendStringOrNull(b, req.PreviousResponseID)
	b = append(b, `,"prompt_cache_key":`...)
	b = appendRaw(b, req.PromptCacheKey, "null")
	b = append(b, `,"reasoning":`...)
	b = appendRaw(b, req.Reasoning, `{"effort":null,"summary":null}`)
	b = append(b, `,"safety_identifier":`...)
	b = appendRaw(b, req.SafetyIdentifier, "null")
	b = append(b, `,"service_tier":"default","store":`...)
	b = strconv.AppendBool(b, store)
	b = append(b, `,"temperature":`...)
	b = appendRaw(b, req.Temperature, "1")
	b = append(b, `,"text":`...)
	b = appendRaw(b, req.Text, `{"format":{"type":"text"}}`)
	b = append(b, `,"tool_choice":`...)
	b = appendRaw(b, req.ToolChoice, `"auto"`)
	b = append(b, `,"tools":`...)
	b = appendRaw(b, req.Tools, "[]")
	b = append(b, `,"top_logprobs":`...)
	b = appendRaw(b, req.TopLogprobs, "0")
	b = append(b, `,"top_p":`...)
	b = appendRaw(b, req.TopP, "1")
	b = append(b, `,"truncation":`...)
	b = appendRaw(b, req.Truncation, `"disabled"`)
	b = append(b, `,"user":`...)
	b = appendRaw(b, req.User, "null")
	b = append(b, `,"metadata":`...)
	return appendRaw(b, req.Metadata, "{}")
}

// errResponseFailed is the error of a response that a stream fault failed.
const errResponseFailed = `{"code":"server_error","message":"The server had an error while processing your request. Sorry about that!"}`

// appendObject renders the response object as it stands in status: a
// queued or in_progress response has no output and no usage yet, nor has
// a cancelled or failed one.
func (rs *response) appendObject(b []byte, status string) []byte {
	answered := status == "completed" || status == "incomplete"
	b = append(b, `{"id":`...)
	b = translate.AppendString(b, rs.id)
	b = append(b, `,"object":"response","created_at":`...)
	b = strconv.AppendInt(b, rs.created, 10)
	b = append(b, `,"status":`...)
	b = translate.AppendString(b, status)
	b = append(b, `,"background":`...)
	b = strconv.AppendBool(b, rs.background)
	b = append(b, `,"completed_at":`...)
	if status == "completed" {
		b = strconv.AppendInt(b, rs.created, 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"error":`...)
	if status == "failed" {
		b = append(b, errResponseFailed...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"incomplete_details":`...)
	if status == "incomplete" {
		b = append(b, `{"reason":"max_output_tokens"}`...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"model":`...)
	b = translate.AppendString(b, rs.model)
	b = append(b, `,"output":[`...)
	if answered {
		b = rs.appendItem(b, true)
	}
	b = append(b, `],"usage":`...)
	if answered {
		b = rs.appendUsage(b)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, ',')
	b = append(b, rs.echo...)
	return append(b, '}')
}

func (rs *response) appendUsage(b []byte) []byte {
	out := rs.outputTokens()
	b = append(b, `{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(rs.input), 10)
	b = append(b, `,"input_tokens_details":{"cached_tokens":0,"cache_write_tokens":0},"output_tokens":`...)
	b = strconv.AppendInt(b, int64(out), 10)
	b = append(b, `,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":`...)
	b = strconv.AppendInt(b, int64(rs.input+out), 10)
	return append(b, '}')
}

// appendItem renders the response's one output item: the assistant's
// message or the function call, as it is when added to a stream (empty, in
// progress) or when done.
func (rs *response) appendItem(b []byte, done bool) []byte {
	status := "in_progress"
	if done {
		status = "completed"
	}
	if c := rs.call; c != nil {
		b = append(b, `{"id":`...)
		b = translate.AppendString(b, c.itemID)
		b = append(b, `,"type":"function_call","status":"`...)
		b = append(b, status...)
		b = append(b, `","arguments":`...)
		if done {
			b = translate.AppendString(b, c.arguments)
		} else {
			b = append(b, `""`...)
		}
		b = append(b, `,"call_id":`...)
		b = translate.AppendString(b, c.id)
		b = append(b, `,"name":`...)
		b = translate.AppendString(b, c.name)
		return append(b, '}')
	}
	if done && rs.incomplete {
		status = "incomplete"
	}
	b = append(b, `{"id":`...)
	b = translate.AppendString(b, rs.msgID)
	b = append(b, `,"type":"message","status":"`...)
	b = append(b, status...)
	b = append(b, `","content":[`...)
	if done {
		b = appendTextPart(b, rs.reply.quoted)
	}
	return append(b, `],"role":"assistant"}`...)
}

// appendTextPart renders an output_text part whose text is the JSON string
// literal quoted.
func appendTextPart(b []byte, quoted []byte) []byte {
	b = append(b, `{"type":"output_text","annotations":[],"logprobs":[],"text":`...)
	b = append(b, quoted...)
	return append(b, '}')
}

// beginEvent starts a Responses API stream event: event: TYPE, and data
// that opens with the type and its sequence number, the count of the events
// before it. The caller appends the other members and calls endEvent.
func beginEvent(e *events, typ string) {
	seq := len(e.spans)
	e.begin(typ)
	e.buf = append(e.buf, `{"type":"`...)
	e.buf = append(e.buf, typ...)
	e.buf = append(e.buf, `","sequence_number":`...)
	e.buf = strconv.AppendInt(e.buf, int64(seq), 10)
}

func endEvent(e *events, content bool) {
	e.buf = append(e.buf, '}')
	e.end(content)
}

// The members that place an event in the message's text part.
func (rs *response) appendTextPlace(b []byte) []byte {
	b = append(b, `,"item_id":`...)
	b = translate.AppendString(b, rs.msgID)
	return append(b, `,"output_index":0,"content_index":0`...)
}

// appendEvents renders the Responses API stream: response.created and
// response.in_progress; the output item added, its deltas (output_text or
// function_call_arguments, with the content part around the text) and the
// item done; then response.completed, or response.incomplete when
// max_output_tokens cut the text. The stream has no [DONE].
func (rs *response) appendEvents(e *events) {
	first := "in_progress"
	if rs.background {
		first = "queued"
	}
	for _, ev := range []struct{ typ, status string }{{"response.created", first}, {"response.in_progress", "in_progress"}} {
		beginEvent(e, ev.typ)
		e.buf = append(e.buf, `,"response":`...)
		e.buf = rs.appendObject(e.buf, ev.status)
		endEvent(e, false)
	}

	beginEvent(e, "response.output_item.added")
	e.buf = append(e.buf, `,"output_index":0,"item":`...)
	e.buf = rs.appendItem(e.buf, false)
	endEvent(e, false)

	if c := rs.call; c != nil {
		for _, p := range c.pieces {
			beginEvent(e, "response.function_call_arguments.delta")
			e.buf = append(e.buf, `,"item_id":`...)
			e.buf = translate.AppendString(e.buf, c.itemID)
			e.buf = append(e.buf, `,"output_index":0,"delta":`...)
			e.buf = append(e.buf, p...)
			endEvent(e, true)
		}
		beginEvent(e, "response.function_call_arguments.done")
		e.buf = append(e.buf, `,"item_id":`...)
		e.buf = translate.AppendString(e.buf, c.itemID)
		e.buf = append(e.buf, `,"output_index":0,"name":`...)
		e.buf = translate.AppendString(e.buf, c.name)
		e.buf = append(e.buf, `,"arguments":`...)
		e.buf = translate.AppendString(e.buf, c.arguments)
		endEvent(e, false)
	} else {
		beginEvent(e, "response.content_part.added")
		e.buf = rs.appendTextPlace(e.buf)
		e.buf = append(e.buf, `,"part":`...)
		e.buf = appendTextPart(e.buf, []byte(`""`))
		endEvent(e, false)
		for _, p := range rs.reply.pieces {
			beginEvent(e, "response.output_text.delta")
			e.buf = rs.appendTextPlace(e.buf)
			e.buf = append(e.buf, `,"delta":`...)
			e.buf = append(e.buf, p...)
			e.buf = append(e.buf, `,"logprobs":[]`...)
			endEvent(e, true)
		}
		beginEvent(e, "response.output_text.done")
		e.buf = rs.appendTextPlace(e.buf)
		e.buf = append(e.buf, `,"text":`...)
		e.buf = append(e.buf, rs.reply.quoted...)
		e.buf = append(e.buf, `,"logprobs":[]`...)
		endEvent(e, false)
		beginEvent(e, "response.content_part.done")
		e.buf = rs.appendTextPlace(e.buf)
		e.buf = append(e.buf, `,"part":`...)
		e.buf = appendTextPart(e.buf, rs.reply.quoted)
		endEvent(e, false)
	}

	beginEvent(e, "response.output_item.done")
	e.buf = append(e.buf, `,"output_index":0,"item":`...)
	e.buf = rs.appendItem(e.buf, true)
	endEvent(e, false)

	status := rs.finalStatus()
	beginEvent(e, "response."+status)
	e.buf = append(e.buf, `,"response":`...)
	e.buf = rs.appendObject(e.buf, status)
	endEvent(e, false)
}

// appendStreamError renders the Responses API's in-band error: event: error
// and, when the stream had begun, response.failed to end the response.
func (rs *response) appendStreamError(e *events) {
	began := len(e.spans) > 0
	beginEvent(e, "error")
	e.buf = append(e.buf, `,"code":"server_error","message":"The server had an error while processing your request. Sorry about that!","param":null`...)
	endEvent(e, false)
	if began {
		beginEvent(e, "response.failed")
		e.buf = append(e.buf, `,"response":`...)
		e.buf = rs.appendObject(e.buf, "failed")
		endEvent(e, false)
	}
}

// randomHexID returns prefix and 48 hex digits, the shape of the Responses
// API's ids (resp_..., msg_..., fc_...).
func randomHexID(prefix string) string { return prefix + randomHex(48) }
