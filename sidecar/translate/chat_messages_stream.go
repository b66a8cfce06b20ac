package translate

import (
	"time"

	"github.com/osmen-ai/llmroute/sidecar/sse"
)

// Streaming from an Anthropic backend to an OpenAI client:
//
//	message_start          → the role chunk (delta.role = assistant)
//	content_block_start    → for tool_use, the tool call's first chunk (id, name)
//	content_block_delta    → text_delta: delta.content;
//	                         input_json_delta: delta.tool_calls[i].function.arguments
//	content_block_stop     → "{}" arguments for a tool call that had none
//	message_delta          → the chunk with finish_reason
//	message_stop           → the usage chunk (with include_usage), then [DONE]
//	error                  → data: {"error":{...}}, which the SDKs raise
//	ping, thinking blocks  → nothing
//
// Comment-only events (keep-alives) pass through as they are.

type chatToMessagesBlock struct {
	kind blockKind
	tool int  // the OpenAI tool call index, for tool blocks
	args bool // the tool call got non-empty arguments
}

type blockKind uint8

const (
	blockOther blockKind = iota
	blockText
	blockTool
)

// chatToMessagesStream is one streamed attempt's state.
type chatToMessagesStream struct {
	now          func() time.Time
	clientModel  string
	includeUsage bool
	counts       anthropicStreamUsage

	// head is the start of every chunk: {"id":…,"object":…,"created":…,"model":…
	head       []byte
	blocks     []chatToMessagesBlock
	tools      int
	finish     string
	finishSent bool
	done       bool // [DONE] or an error event was written
}

func (t *chatToMessages) Stream() Stream {
	return &chatToMessagesStream{now: t.now, clientModel: t.clientModel, includeUsage: t.includeUsage}
}

func (t *chatToMessagesStream) Usage() Usage { return t.counts.usage() }

func (t *chatToMessagesStream) Fail(dst []byte, errType, message string) []byte {
	t.done = true
	return appendStreamError(dst, ChatCompletions, 0, errType, message)
}

func (t *chatToMessagesStream) Event(dst []byte, ev sse.Event) ([]byte, EventKind, error) {
	if t.done {
		return dst, Done, nil
	}
	if !ev.HasData() {
		return keepAlive(dst, ev), Preamble, nil
	}
	name := anthropicEventName(ev)
	var err error
	switch name {
	case "message_start":
		dst, err = t.messageStart(dst, ev.Data)
	case "content_block_start":
		dst, err = t.blockStart(dst, ev.Data)
	case "content_block_delta":
		dst, err = t.blockDelta(dst, ev.Data)
	case "content_block_stop":
		dst, err = t.blockStop(dst, ev.Data)
	case "message_delta":
		dst, err = t.messageDelta(dst, ev.Data)
	case "message_stop":
		dst = t.finishStream(dst)
	case "error":
		t.done = true
		dst = appendOpenAIStreamError(dst, ev.Data)
	}
	return dst, anthropicEventKind(name), err
}

func (t *chatToMessagesStream) messageStart(dst, data []byte) ([]byte, error) {
	id, model, err := readMessageStart(data, &t.counts)
	if err != nil {
		return dst, err
	}
	if t.head != nil {
		return dst, nil // a repeated message_start
	}
	return t.start(dst, id, model), nil
}

// start writes the head of every chunk and the role chunk. id and model are
// the message's tokens, nil when unknown.
func (t *chatToMessagesStream) start(dst, id, model []byte) []byte {
	h := append(t.head[:0], `{"id":"chatcmpl-`...)
	if isString(id) {
		h = append(h, id[1:len(id)-1]...)
	} else {
		h = appendInt(h, t.now().UnixNano())
	}
	h = append(h, `","object":"chat.completion.chunk","created":`...)
	h = appendInt(h, t.now().Unix())
	h = append(h, `,"model":`...)
	switch {
	case t.clientModel != "":
		h = AppendString(h, t.clientModel)
	case isString(model):
		h = append(h, model...)
	default:
		h = append(h, `""`...)
	}
	t.head = h
	dst = t.chunk(dst)
	dst = append(dst, `{"role":"assistant","content":"","refusal":null}`...)
	return t.chunkEnd(dst, "")
}

// chunk opens a chunk with one choice, up to its delta.
func (t *chatToMessagesStream) chunk(dst []byte) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, t.head...)
	return append(dst, `,"choices":[{"index":0,"delta":`...)
}

// chunkEnd closes a chunk opened by chunk after its delta.
func (t *chatToMessagesStream) chunkEnd(dst []byte, finish string) []byte {
	dst = append(dst, `,"logprobs":null,"finish_reason":`...)
	if finish == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '"')
		dst = append(dst, finish...)
		dst = append(dst, '"')
	}
	dst = append(dst, "}]"...)
	if t.includeUsage {
		// With include_usage every chunk but the last carries "usage": null.
		dst = append(dst, `,"usage":null`...)
	}
	return append(dst, "}\n\n"...)
}

// ensureStarted writes the role chunk if no message_start came first.
func (t *chatToMessagesStream) ensureStarted(dst []byte) []byte {
	if t.head == nil {
		return t.start(dst, nil, nil)
	}
	return dst
}

// blockAt returns the state of content block i, growing the table.
func (t *chatToMessagesStream) blockAt(i int) *chatToMessagesBlock {
	for i >= len(t.blocks) {
		t.blocks = append(t.blocks, chatToMessagesBlock{})
	}
	return &t.blocks[i]
}

func (t *chatToMessagesStream) blockStart(dst, data []byte) ([]byte, error) {
	var e blockStartEvent
	if err := readBlockStart(data, &e); err != nil {
		return dst, err
	}
	b := t.blockAt(e.index)
	dst = t.ensureStarted(dst)
	switch string(e.typ) {
	case `"text"`:
		b.kind = blockText
		if isString(e.text) && len(e.text) > 2 {
			dst = t.chunk(dst)
			dst = append(dst, `{"content":`...)
			dst = append(dst, e.text...)
			dst = append(dst, '}')
			dst = t.chunkEnd(dst, "")
		}
	case `"tool_use"`:
		*b = chatToMessagesBlock{kind: blockTool, tool: t.tools}
		t.tools++
		dst = t.chunk(dst)
		dst = append(dst, `{"tool_calls":[{"index":`...)
		dst = appendInt(dst, int64(b.tool))
		dst = append(dst, `,"id":`...)
		dst = appendToken(dst, e.id)
		dst = append(dst, `,"type":"function","function":{"name":`...)
		dst = appendToken(dst, e.name)
		dst = append(dst, `,"arguments":`...)
		if hasMembers(e.input) {
			// Input given whole at the start (not the case for client
			// tools, whose input streams as input_json_delta).
			dst = AppendString(dst, string(e.input))
			b.args = true
		} else {
			dst = append(dst, `""`...)
		}
		dst = append(dst, "}}]}"...)
		dst = t.chunkEnd(dst, "")
	default:
		b.kind = blockOther // thinking and the like: not part of chat completions
	}
	return dst, nil
}

// appendToken copies a string token, or writes "" for a missing one.
func appendToken(dst, tok []byte) []byte {
	if isString(tok) {
		return append(dst, tok...)
	}
	return append(dst, `""`...)
}

// hasMembers reports whether raw is an object with at least one member.
func hasMembers(raw []byte) bool {
	it := objectMembers(raw)
	return it.next()
}

func (t *chatToMessagesStream) blockDelta(dst, data []byte) ([]byte, error) {
	var e blockDeltaEvent
	if err := readBlockDelta(data, &e); err != nil {
		return dst, err
	}
	b := t.blockAt(e.index)
	switch string(e.typ) {
	case `"text_delta"`:
		if b.kind == blockOther {
			b.kind = blockText // a delta without its start: still text
		}
		if b.kind != blockText || !isString(e.text) || len(e.text) == 2 {
			return dst, nil
		}
		dst = t.ensureStarted(dst)
		dst = t.chunk(dst)
		dst = append(dst, `{"content":`...)
		dst = append(dst, e.text...)
		dst = append(dst, '}')
		return t.chunkEnd(dst, ""), nil
	case `"input_json_delta"`:
		if b.kind != blockTool || !isString(e.partialJSON) || len(e.partialJSON) == 2 {
			return dst, nil
		}
		b.args = true
		return t.toolArgs(dst, b.tool, e.partialJSON), nil
	}
	return dst, nil // thinking, signature and citations deltas
}

// toolArgs writes a chunk with a piece of a tool call's arguments; piece is
// a string token.
func (t *chatToMessagesStream) toolArgs(dst []byte, tool int, piece []byte) []byte {
	dst = t.chunk(dst)
	dst = append(dst, `{"tool_calls":[{"index":`...)
	dst = appendInt(dst, int64(tool))
	dst = append(dst, `,"function":{"arguments":`...)
	dst = append(dst, piece...)
	dst = append(dst, "}}]}"...)
	return t.chunkEnd(dst, "")
}

func (t *chatToMessagesStream) blockStop(dst, data []byte) ([]byte, error) {
	i, err := readBlockStop(data)
	if err != nil {
		return dst, err
	}
	if b := t.blockAt(i); b.kind == blockTool && !b.args {
		// A tool without parameters: OpenAI sends "{}", and clients parse
		// the arguments as JSON, which "" is not.
		b.args = true
		dst = t.toolArgs(dst, b.tool, []byte(`"{}"`))
	}
	return dst, nil
}

func (t *chatToMessagesStream) messageDelta(dst, data []byte) ([]byte, error) {
	reason, err := readMessageDelta(data, &t.counts)
	if err != nil {
		return dst, err
	}
	if !isString(reason) || t.finishSent {
		return dst, nil
	}
	t.finish = finishReason(string(reason[1 : len(reason)-1]))
	return t.finishChunk(dst), nil
}

func (t *chatToMessagesStream) finishChunk(dst []byte) []byte {
	dst = t.ensureStarted(dst)
	t.finishSent = true
	if t.finish == "" {
		t.finish = "stop"
	}
	dst = t.chunk(dst)
	dst = append(dst, "{}"...)
	return t.chunkEnd(dst, t.finish)
}

// finishStream writes the finish chunk if none was sent, the usage chunk when
// the client asked for it, and [DONE].
func (t *chatToMessagesStream) finishStream(dst []byte) []byte {
	if !t.finishSent {
		dst = t.finishChunk(dst)
	}
	if t.includeUsage {
		c := &t.counts
		prompt := c.promptTokens()
		dst = append(dst, "data: "...)
		dst = append(dst, t.head...)
		dst = append(dst, `,"choices":[],"usage":{"prompt_tokens":`...)
		dst = appendInt(dst, prompt)
		dst = append(dst, `,"completion_tokens":`...)
		dst = appendInt(dst, c.outputTokens)
		dst = append(dst, `,"total_tokens":`...)
		dst = appendInt(dst, prompt+c.outputTokens)
		dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
		dst = appendInt(dst, c.cacheRead)
		if c.cacheWrite > 0 {
			dst = append(dst, `,"cache_write_tokens":`...)
			dst = appendInt(dst, c.cacheWrite)
		}
		dst = append(dst, `},"completion_tokens_details":{"reasoning_tokens":`...)
		dst = appendInt(dst, c.thinkingTokens)
		dst = append(dst, "}}}\n\n"...)
	}
	t.done = true
	return append(dst, "data: [DONE]\n\n"...)
}
