package translate

import (
	"fmt"
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
	usage        Usage

	// head is the start of every chunk: {"id":…,"object":…,"created":…,"model":…
	head       []byte
	blocks     []chatToMessagesBlock
	tools      int
	finish     string
	finishSent bool
	done       bool // [DONE] or an error event was written

	anthropicStreamUsage
}

func (t *chatToMessages) Stream() Stream {
	return &chatToMessagesStream{now: t.now, clientModel: t.clientModel, includeUsage: t.includeUsage}
}

func (t *chatToMessagesStream) Usage() Usage { return t.usage }

func (t *chatToMessagesStream) Fail(dst []byte, errType, message string) []byte {
	t.done = true
	return appendStreamError(dst, ChatCompletions, 0, errType, message)
}

func (t *chatToMessagesStream) Event(dst []byte, ev sse.Event) ([]byte, EventKind, error) {
	if t.done {
		return dst, Done, nil
	}
	if !ev.HasData() {
		if ev.Name == "" {
			return append(dst, ev.Raw...), Preamble, nil // a keep-alive comment
		}
		return dst, Preamble, nil
	}
	name := ev.Name
	if name == "" {
		name = anthropicEventType(ev.Data)
	}
	var err error
	switch name {
	case "message_start":
		dst, err = t.messageStart(dst, ev.Data)
		return dst, Preamble, err
	case "content_block_start":
		dst, err = t.blockStart(dst, ev.Data)
		return dst, Preamble, err
	case "content_block_delta":
		dst, err = t.blockDelta(dst, ev.Data)
	case "content_block_stop":
		dst, err = t.blockStop(dst, ev.Data)
	case "message_delta":
		dst, err = t.messageDelta(dst, ev.Data)
	case "message_stop":
		return t.finishStream(dst), Done, nil
	case "error":
		t.done = true
		return appendOpenAIStreamError(dst, ev.Data), Failed, nil
	case "ping":
		return dst, Preamble, nil
	}
	return dst, Content, err // and event types added later
}

// anthropicEventType reads the "type" member, for events sent without an
// event: line. Known types come back as constants, without allocating.
func anthropicEventType(data []byte) string {
	it := objectMembers(data)
	for it.next() {
		if string(it.key) != "type" {
			continue
		}
		switch string(it.val) {
		case `"message_start"`:
			return "message_start"
		case `"content_block_start"`:
			return "content_block_start"
		case `"content_block_delta"`:
			return "content_block_delta"
		case `"content_block_stop"`:
			return "content_block_stop"
		case `"message_delta"`:
			return "message_delta"
		case `"message_stop"`:
			return "message_stop"
		case `"error"`:
			return "error"
		}
		return ""
	}
	return ""
}

func (t *chatToMessagesStream) messageStart(dst, data []byte) ([]byte, error) {
	var id, model, usage []byte
	it := objectMembers(data)
	for it.next() {
		if string(it.key) != "message" {
			continue
		}
		m := objectMembers(it.val)
		for m.next() {
			switch string(m.key) {
			case "id":
				id = m.val
			case "model":
				model = m.val
			case "usage":
				usage = m.val
			}
		}
		if m.err {
			return dst, fmt.Errorf("%w: malformed message_start", ErrInvalidResponse)
		}
	}
	if it.err {
		return dst, fmt.Errorf("%w: malformed message_start", ErrInvalidResponse)
	}
	if usage != nil {
		t.readUsage(usage)
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
func (t *chatToMessagesStream) blockAt(raw []byte) (*chatToMessagesBlock, error) {
	i, ok := parseIndex(raw)
	if !ok {
		return nil, fmt.Errorf("%w: content block index %s", ErrInvalidResponse, raw)
	}
	for i >= len(t.blocks) {
		t.blocks = append(t.blocks, chatToMessagesBlock{})
	}
	return &t.blocks[i], nil
}

func (t *chatToMessagesStream) blockStart(dst, data []byte) ([]byte, error) {
	var index, block []byte
	it := objectMembers(data)
	for it.next() {
		switch string(it.key) {
		case "index":
			index = it.val
		case "content_block":
			block = it.val
		}
	}
	b, err := t.blockAt(index)
	if err != nil {
		return dst, err
	}
	var typ, text, id, name, input []byte
	m := objectMembers(block)
	for m.next() {
		switch string(m.key) {
		case "type":
			typ = m.val
		case "text":
			text = m.val
		case "id":
			id = m.val
		case "name":
			name = m.val
		case "input":
			input = m.val
		}
	}
	if it.err || m.err {
		return dst, fmt.Errorf("%w: malformed content_block_start", ErrInvalidResponse)
	}
	dst = t.ensureStarted(dst)
	switch string(typ) {
	case `"text"`:
		b.kind = blockText
		if isString(text) && len(text) > 2 {
			dst = t.chunk(dst)
			dst = append(dst, `{"content":`...)
			dst = append(dst, text...)
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
		dst = appendToken(dst, id)
		dst = append(dst, `,"type":"function","function":{"name":`...)
		dst = appendToken(dst, name)
		dst = append(dst, `,"arguments":`...)
		if hasMembers(input) {
			// Input given whole at the start (not the case for client
			// tools, whose input streams as input_json_delta).
			dst = AppendString(dst, string(input))
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
	var index, delta []byte
	it := objectMembers(data)
	for it.next() {
		switch string(it.key) {
		case "index":
			index = it.val
		case "delta":
			delta = it.val
		}
	}
	var typ, text, partial []byte
	m := objectMembers(delta)
	for m.next() {
		switch string(m.key) {
		case "type":
			typ = m.val
		case "text":
			text = m.val
		case "partial_json":
			partial = m.val
		}
	}
	if it.err || m.err {
		return dst, fmt.Errorf("%w: malformed content_block_delta", ErrInvalidResponse)
	}
	b, err := t.blockAt(index)
	if err != nil {
		return dst, err
	}
	switch string(typ) {
	case `"text_delta"`:
		if b.kind == blockOther {
			b.kind = blockText // a delta without its start: still text
		}
		if b.kind != blockText || !isString(text) || len(text) == 2 {
			return dst, nil
		}
		dst = t.ensureStarted(dst)
		dst = t.chunk(dst)
		dst = append(dst, `{"content":`...)
		dst = append(dst, text...)
		dst = append(dst, '}')
		return t.chunkEnd(dst, ""), nil
	case `"input_json_delta"`:
		if b.kind != blockTool || !isString(partial) || len(partial) == 2 {
			return dst, nil
		}
		b.args = true
		return t.toolArgs(dst, b.tool, partial), nil
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
	var index []byte
	it := objectMembers(data)
	for it.next() {
		if string(it.key) == "index" {
			index = it.val
		}
	}
	b, err := t.blockAt(index)
	if err != nil {
		return dst, err
	}
	if b.kind == blockTool && !b.args {
		// A tool without parameters: OpenAI sends "{}", and clients parse
		// the arguments as JSON, which "" is not.
		b.args = true
		dst = t.toolArgs(dst, b.tool, []byte(`"{}"`))
	}
	return dst, nil
}

func (t *chatToMessagesStream) messageDelta(dst, data []byte) ([]byte, error) {
	var reason []byte
	it := objectMembers(data)
	for it.next() {
		switch string(it.key) {
		case "delta":
			d := objectMembers(it.val)
			for d.next() {
				if string(d.key) == "stop_reason" {
					reason = d.val
				}
			}
		case "usage":
			t.readUsage(it.val)
		}
	}
	if it.err {
		return dst, fmt.Errorf("%w: malformed message_delta", ErrInvalidResponse)
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

// readUsage records the counts of a usage object.
func (t *chatToMessagesStream) readUsage(raw []byte) {
	t.read(raw)
	t.usage = t.anthropicStreamUsage.usage()
}

// finishStream writes the finish chunk if none was sent, the usage chunk when
// the client asked for it, and [DONE].
func (t *chatToMessagesStream) finishStream(dst []byte) []byte {
	if !t.finishSent {
		dst = t.finishChunk(dst)
	}
	if t.includeUsage {
		prompt := t.promptTokens()
		dst = append(dst, "data: "...)
		dst = append(dst, t.head...)
		dst = append(dst, `,"choices":[],"usage":{"prompt_tokens":`...)
		dst = appendInt(dst, prompt)
		dst = append(dst, `,"completion_tokens":`...)
		dst = appendInt(dst, t.outputTokens)
		dst = append(dst, `,"total_tokens":`...)
		dst = appendInt(dst, prompt+t.outputTokens)
		dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
		dst = appendInt(dst, t.cacheRead)
		if t.cacheWrite > 0 {
			dst = append(dst, `,"cache_write_tokens":`...)
			dst = appendInt(dst, t.cacheWrite)
		}
		dst = append(dst, `},"completion_tokens_details":{"reasoning_tokens":`...)
		dst = appendInt(dst, t.thinkingTokens)
		dst = append(dst, "}}}\n\n"...)
	}
	t.done = true
	return append(dst, "data: [DONE]\n\n"...)
}
