package translate

import (
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
	counts      chatStreamUsage

	started bool
	done    bool
	next    int // the next content block index
	open    int // the open block's index, -1 for none
	tools   []messagesToChatTool
	finish  string
	refusal bool
}

func (t *messagesToChat) Stream() Stream {
	return &messagesToChatStream{now: t.now, clientModel: t.clientModel}
}

func (t *messagesToChatStream) Usage() Usage { return t.counts.usage() }

func (t *messagesToChatStream) Fail(dst []byte, errType, message string) []byte {
	t.done = true
	return appendStreamError(dst, Messages, 0, errType, message)
}

func (t *messagesToChatStream) Event(dst []byte, ev sse.Event) ([]byte, EventKind, error) {
	if t.done {
		return dst, Done, nil
	}
	if !ev.HasData() {
		return keepAlive(dst, ev), Preamble, nil
	}
	var c chatChunk
	err := readChatChunk(ev.Data, &c)
	switch {
	case err != nil:
		return dst, Content, err
	case c.done:
		return t.finishStream(dst), Done, nil
	case c.isError():
		t.done = true
		return appendAnthropicStreamErrorFromOpenAI(dst, c.errVal), Failed, nil
	}
	dst, err = t.chunk(dst, &c)
	return dst, Content, err
}

// chunk translates one chat completions chunk that is not an error.
func (t *messagesToChatStream) chunk(dst []byte, c *chatChunk) ([]byte, error) {
	if !t.started {
		dst = t.start(dst, c.id)
	}
	t.counts.read(c.usage)
	ch := readChatChoices(c.choices)
	for ch.next() {
		var err error
		if dst, err = t.delta(dst, ch.delta); err != nil {
			return dst, err
		}
		if f := ch.finishReason; isString(f) {
			t.finish = string(f[1 : len(f)-1])
		}
	}
	return dst, ch.err
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

func (t *messagesToChatStream) delta(dst, raw []byte) ([]byte, error) {
	var d chatDelta
	if err := readChatDelta(raw, &d); err != nil {
		return dst, err
	}
	if isString(d.content) && len(d.content) > 2 {
		dst = t.text(dst, d.content)
	}
	if isString(d.refusal) && len(d.refusal) > 2 {
		t.refusal = true
		dst = t.text(dst, d.refusal)
	}
	tc := readChatToolCalls(d.toolCalls)
	for tc.next() {
		dst = t.toolCall(dst, tc.chatToolCall)
	}
	return dst, tc.err
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
func (t *messagesToChatStream) toolCall(dst []byte, tc chatToolCall) []byte {
	for tc.index >= len(t.tools) {
		t.tools = append(t.tools, messagesToChatTool{})
	}
	tool := &t.tools[tc.index]
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
		dst = appendToolID(dst, tc.id, tc.index)
		dst = append(dst, `,"name":`...)
		dst = appendToken(dst, tc.name)
		dst = append(dst, `,"input":{}}}`+"\n\n"...)
	}
	args := tc.arguments
	if !isString(args) || len(args) == 2 {
		return dst
	}
	dst = event(dst, "content_block_delta")
	dst = append(dst, `{"type":"content_block_delta","index":`...)
	dst = appendInt(dst, int64(tool.block))
	dst = append(dst, `,"delta":{"type":"input_json_delta","partial_json":`...)
	dst = append(dst, args...)
	return append(dst, "}}\n\n"...)
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
	c := &t.counts
	if c.haveUsage {
		u := anthropicUsage(oaUsage{PromptTokens: c.prompt, PromptTokensDetails: &oaPromptDetails{CachedTokens: c.cached, CacheWriteTokens: c.cacheWritten}})
		dst = append(dst, `"input_tokens":`...)
		dst = appendInt(dst, u.InputTokens)
		dst = append(dst, `,"cache_creation_input_tokens":`...)
		dst = appendInt(dst, u.CacheCreationInputTokens)
		dst = append(dst, `,"cache_read_input_tokens":`...)
		dst = appendInt(dst, u.CacheReadInputTokens)
		dst = append(dst, ',')
	}
	dst = append(dst, `"output_tokens":`...)
	dst = appendInt(dst, c.completion)
	dst = append(dst, "}}\n\n"...)
	dst = event(dst, "message_stop")
	dst = append(dst, `{"type":"message_stop"}`+"\n\n"...)
	t.done = true
	return dst
}
