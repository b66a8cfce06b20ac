package translate

import (
	"bytes"
	"fmt"
	"time"

	"github.com/osmen-ai/llmroute/sidecar/sse"
)

// Streaming from an OpenAI backend to an Anthropic client:
//
//	first chunk                → message_start
//	delta.content, .refusal    → a text block: content_block_start, then
//	                             text_delta events
//	delta.tool_calls[i]        → a tool_use block per call (id and name from
//	                             its first piece), input_json_delta events
//	finish_reason, usage chunk → kept for the end
//	[DONE]                     → content_block_stop for the open block,
//	                             message_delta (stop_reason, usage), message_stop
//	data: {"error":{...}}      → event: error
//
// Blocks are written one after another, as Anthropic streams them: a block
// stops when the next one starts. The request asked for
// stream_options.include_usage, so the token counts arrive in a last chunk
// before [DONE] and go out in message_delta.

type messagesToChatTool struct {
	block   int // the Anthropic content block index
	started bool
}

// messagesToChatStream is one streamed attempt's state.
type messagesToChatStream struct {
	now         func() time.Time
	clientModel string
	usage       Usage

	started bool
	done    bool
	next    int // the next content block index
	open    int // the open block's index, -1 for none
	tools   []messagesToChatTool
	finish  string
	refusal bool

	chatStreamUsage
}

func (t *messagesToChat) Stream() Stream {
	return &messagesToChatStream{now: t.now, clientModel: t.clientModel}
}

func (t *messagesToChatStream) Usage() Usage { return t.usage }

func (t *messagesToChatStream) Fail(dst []byte, errType, message string) []byte {
	t.done = true
	return appendStreamError(dst, Messages, 0, errType, message)
}

func (t *messagesToChatStream) Event(dst []byte, ev sse.Event) ([]byte, EventKind, error) {
	if t.done {
		return dst, Done, nil
	}
	if !ev.HasData() {
		if ev.Name == "" {
			return append(dst, ev.Raw...), Preamble, nil // a keep-alive comment
		}
		return dst, Preamble, nil
	}
	data := bytes.TrimSpace(ev.Data)
	if bytes.Equal(data, doneData) {
		return t.finishStream(dst), Done, nil
	}
	dst, err := t.chunk(dst, data)
	if t.done { // the chunk was an error
		return dst, Failed, err
	}
	return dst, Content, err
}

// chunk translates one chat completions chunk.
func (t *messagesToChatStream) chunk(dst, data []byte) ([]byte, error) {
	var id, choices, usage, errObj []byte
	it := objectMembers(data)
	for it.next() {
		switch string(it.key) {
		case "id":
			id = it.val
		case "choices":
			choices = it.val
		case "usage":
			usage = it.val
		case "error":
			errObj = it.val
		}
	}
	if it.err {
		return dst, fmt.Errorf("%w: malformed chunk", ErrInvalidResponse)
	}
	if !isNullToken(errObj) {
		t.done = true
		return appendAnthropicStreamErrorFromOpenAI(dst, errObj), nil
	}
	if !t.started {
		dst = t.start(dst, id)
	}
	if !isNullToken(usage) {
		t.readUsage(usage)
	}
	if isNullToken(choices) {
		return dst, nil
	}
	ch := arrayElements(choices)
	for ch.next() {
		var index, delta, finish []byte
		m := objectMembers(ch.val)
		for m.next() {
			switch string(m.key) {
			case "index":
				index = m.val
			case "delta":
				delta = m.val
			case "finish_reason":
				finish = m.val
			}
		}
		if m.err {
			return dst, fmt.Errorf("%w: malformed choice", ErrInvalidResponse)
		}
		if i, ok := parseInt(index); index != nil && (!ok || i != 0) {
			continue // only one choice was asked for
		}
		var err error
		if dst, err = t.delta(dst, delta); err != nil {
			return dst, err
		}
		if isString(finish) {
			t.finish = string(finish[1 : len(finish)-1])
		}
	}
	if ch.err {
		return dst, fmt.Errorf("%w: malformed choices", ErrInvalidResponse)
	}
	return dst, nil
}

// event opens an Anthropic event up to its data's opening brace.
func event(dst []byte, name string) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, name...)
	dst = append(dst, "\ndata: "...)
	return dst
}

func (t *messagesToChatStream) start(dst, id []byte) []byte {
	t.started = true
	t.open = -1
	dst = event(dst, "message_start")
	dst = append(dst, `{"type":"message_start","message":{"id":"msg_`...)
	if isString(id) {
		dst = append(dst, id[1:len(id)-1]...)
	} else {
		dst = appendInt(dst, t.now().UnixNano())
	}
	dst = append(dst, `","type":"message","role":"assistant","model":`...)
	dst = AppendString(dst, t.clientModel)
	// OpenAI reports tokens only at the end; message_delta carries them.
	dst = append(dst, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}}`+"\n\n"...)
	return dst
}

func (t *messagesToChatStream) delta(dst, delta []byte) ([]byte, error) {
	if isNullToken(delta) {
		return dst, nil
	}
	var content, refusal, calls []byte
	m := objectMembers(delta)
	for m.next() {
		switch string(m.key) {
		case "content":
			content = m.val
		case "refusal":
			refusal = m.val
		case "tool_calls":
			calls = m.val
		}
	}
	if m.err {
		return dst, fmt.Errorf("%w: malformed delta", ErrInvalidResponse)
	}
	if isString(content) && len(content) > 2 {
		dst = t.text(dst, content)
	}
	if isString(refusal) && len(refusal) > 2 {
		t.refusal = true
		dst = t.text(dst, refusal)
	}
	if isNullToken(calls) {
		return dst, nil
	}
	tc := arrayElements(calls)
	for tc.next() {
		var err error
		if dst, err = t.toolCall(dst, tc.val); err != nil {
			return dst, err
		}
	}
	if tc.err {
		return dst, fmt.Errorf("%w: malformed tool_calls", ErrInvalidResponse)
	}
	return dst, nil
}

// text writes a text_delta, opening a text block first if none is open.
func (t *messagesToChatStream) text(dst, tok []byte) []byte {
	if t.open < 0 || t.isTool(t.open) {
		dst = t.closeOpen(dst)
		t.open = t.next
		t.next++
		dst = event(dst, "content_block_start")
		dst = append(dst, `{"type":"content_block_start","index":`...)
		dst = appendInt(dst, int64(t.open))
		dst = append(dst, `,"content_block":{"type":"text","text":""}}`+"\n\n"...)
	}
	dst = event(dst, "content_block_delta")
	dst = append(dst, `{"type":"content_block_delta","index":`...)
	dst = appendInt(dst, int64(t.open))
	dst = append(dst, `,"delta":{"type":"text_delta","text":`...)
	dst = append(dst, tok...)
	return append(dst, "}}\n\n"...)
}

func (t *messagesToChatStream) isTool(block int) bool {
	for _, tool := range t.tools {
		if tool.started && tool.block == block {
			return true
		}
	}
	return false
}

func (t *messagesToChatStream) closeOpen(dst []byte) []byte {
	if t.open < 0 {
		return dst
	}
	dst = event(dst, "content_block_stop")
	dst = append(dst, `{"type":"content_block_stop","index":`...)
	dst = appendInt(dst, int64(t.open))
	t.open = -1
	return append(dst, "}\n\n"...)
}

// toolCall handles one element of delta.tool_calls.
func (t *messagesToChatStream) toolCall(dst, raw []byte) ([]byte, error) {
	var index, id, fn []byte
	m := objectMembers(raw)
	for m.next() {
		switch string(m.key) {
		case "index":
			index = m.val
		case "id":
			id = m.val
		case "function":
			fn = m.val
		}
	}
	var name, args []byte
	f := objectMembers(fn)
	for f.next() {
		switch string(f.key) {
		case "name":
			name = f.val
		case "arguments":
			args = f.val
		}
	}
	if m.err || (fn != nil && !isNullToken(fn) && f.err) {
		return dst, fmt.Errorf("%w: malformed tool call", ErrInvalidResponse)
	}
	k, ok := parseIndex(index)
	if !ok {
		return dst, fmt.Errorf("%w: tool call index %s", ErrInvalidResponse, index)
	}
	for k >= len(t.tools) {
		t.tools = append(t.tools, messagesToChatTool{})
	}
	tool := &t.tools[k]
	if !tool.started {
		dst = t.closeOpen(dst)
		tool.started = true
		tool.block = t.next
		t.next++
		t.open = tool.block
		dst = event(dst, "content_block_start")
		dst = append(dst, `{"type":"content_block_start","index":`...)
		dst = appendInt(dst, int64(tool.block))
		dst = append(dst, `,"content_block":{"type":"tool_use","id":`...)
		dst = appendToolID(dst, id, k)
		dst = append(dst, `,"name":`...)
		dst = appendToken(dst, name)
		dst = append(dst, `,"input":{}}}`+"\n\n"...)
	}
	if !isString(args) || len(args) == 2 {
		return dst, nil
	}
	dst = event(dst, "content_block_delta")
	dst = append(dst, `{"type":"content_block_delta","index":`...)
	dst = appendInt(dst, int64(tool.block))
	dst = append(dst, `,"delta":{"type":"input_json_delta","partial_json":`...)
	dst = append(dst, args...)
	return append(dst, "}}\n\n"...), nil
}

// appendToolID writes a tool call id that Anthropic clients can send back to
// an Anthropic backend (see toolUseID).
func appendToolID(dst, tok []byte, k int) []byte {
	if !isString(tok) || len(tok) == 2 {
		dst = append(dst, `"toolu_`...)
		dst = appendInt(dst, int64(k))
		return append(dst, '"')
	}
	body := tok[1 : len(tok)-1]
	for _, c := range body {
		if !validToolIDChar(c) {
			return AppendString(dst, sanitizeToolID(stringValue(tok)))
		}
	}
	return append(dst, tok...)
}

func (t *messagesToChatStream) readUsage(raw []byte) {
	t.read(raw)
	t.usage = t.chatStreamUsage.usage()
}

// finishStream closes the open block and writes message_delta and
// message_stop.
func (t *messagesToChatStream) finishStream(dst []byte) []byte {
	if !t.started {
		dst = t.start(dst, nil)
	}
	dst = t.closeOpen(dst)
	reason := stopReason(t.finish)
	if t.refusal && reason == "end_turn" {
		reason = "refusal"
	}
	dst = event(dst, "message_delta")
	dst = append(dst, `{"type":"message_delta","delta":{"stop_reason":"`...)
	dst = append(dst, reason...)
	dst = append(dst, `","stop_sequence":null},"usage":{`...)
	if t.haveUsage {
		u := anthropicUsage(oaUsage{PromptTokens: t.prompt, PromptTokensDetails: &oaPromptDetails{CachedTokens: t.cached, CacheWriteTokens: t.cacheWritten}})
		dst = append(dst, `"input_tokens":`...)
		dst = appendInt(dst, u.InputTokens)
		dst = append(dst, `,"cache_creation_input_tokens":`...)
		dst = appendInt(dst, u.CacheCreationInputTokens)
		dst = append(dst, `,"cache_read_input_tokens":`...)
		dst = appendInt(dst, u.CacheReadInputTokens)
		dst = append(dst, ',')
	}
	dst = append(dst, `"output_tokens":`...)
	dst = appendInt(dst, t.completion)
	dst = append(dst, "}}\n\n"...)
	dst = event(dst, "message_stop")
	dst = append(dst, `{"type":"message_stop"}`+"\n\n"...)
	t.done = true
	return dst
}
