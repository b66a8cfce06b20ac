package translate

import (
	"fmt"

	"github.com/osmen-ai/llmroute/sidecar/sse"
)

// Streaming from an Anthropic backend to a Responses client (the events are
// listed in responses_stream.go):
//
//	message_start          → response.created, response.in_progress
//	content_block_start    → for tool_use, a function_call item (call_id, name)
//	content_block_delta    → text_delta: the message's output_text deltas;
//	                         input_json_delta: function_call_arguments.delta
//	content_block_stop     → nothing yet: the item's done events follow when
//	                         the next item starts or the stop reason is known
//	message_delta          → the open item's done events (incomplete for a
//	                         max_tokens or refusal stop)
//	message_stop           → response.completed or response.incomplete
//	error                  → an error event
//	ping, thinking blocks  → nothing
//
// Events are classified as the Messages identity does: message_start,
// content_block_start and ping are preamble. Comment-only events
// (keep-alives) pass through as they are.

// responsesMessagesStream is one streamed attempt's state.
type responsesMessagesStream struct {
	rsAnswer
	counts anthropicStreamUsage

	done   bool
	blocks []responsesBlock
	stop   string // the stop_reason
}

// responsesBlock is what became of an Anthropic content block.
type responsesBlock struct {
	kind blockKind
	item int // a tool block's output item
}

func (t *responsesToMessages) Stream() Stream {
	s := &responsesMessagesStream{rsAnswer: newAnswer(t.now, t.echo, t.clientModel)}
	s.arena = make([]byte, 0, rsArenaSize)
	return s
}

func (t *responsesMessagesStream) Usage() Usage { return t.counts.usage() }

func (t *responsesMessagesStream) Fail(dst []byte, errType, message string) []byte {
	t.done = true
	return t.fail(dst, errType, message)
}

func (t *responsesMessagesStream) Event(dst []byte, ev sse.Event) ([]byte, EventKind, error) {
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
	case "message_delta":
		dst, err = t.messageDelta(dst, ev.Data)
	case "message_stop":
		t.done = true
		return t.finishStream(dst), Done, nil
	case "error":
		t.done = true
		return t.anthropicError(dst, ev.Data), Failed, nil
	case "ping":
		return dst, Preamble, nil
	}
	return dst, Content, err // and event types added later
}

func (t *responsesMessagesStream) messageStart(dst, data []byte) ([]byte, error) {
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
		t.counts.read(usage)
	}
	return t.start(dst, id, model), nil
}

// blockAt returns the state of content block i, growing the table.
func (t *responsesMessagesStream) blockAt(raw []byte) (*responsesBlock, error) {
	i, ok := parseIndex(raw)
	if !ok {
		return nil, fmt.Errorf("%w: content block index %s", ErrInvalidResponse, raw)
	}
	for i >= len(t.blocks) {
		t.blocks = append(t.blocks, responsesBlock{item: -1})
	}
	return &t.blocks[i], nil
}

func (t *responsesMessagesStream) blockStart(dst, data []byte) ([]byte, error) {
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
	b, err := t.blockAt(index)
	if err != nil {
		return dst, err
	}
	switch string(typ) {
	case `"text"`:
		b.kind = blockText
		dst = t.text(dst, text) // text given at the start; usually ""
	case `"tool_use"`:
		b.kind = blockTool
		dst = t.toolCall(dst, id, name)
		b.item = t.open
		if hasMembers(input) {
			// Input given whole at the start (not the case for client
			// tools, whose input streams as input_json_delta).
			dst = t.toolArgs(dst, AppendString(nil, compactString(input)))
		}
	default:
		b.kind = blockOther // thinking and the like: not part of the answer
	}
	return dst, nil
}

func (t *responsesMessagesStream) blockDelta(dst, data []byte) ([]byte, error) {
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
		if b.kind == blockOther && b.item < 0 {
			b.kind = blockText // a delta without its start: still text
		}
		if b.kind != blockText {
			return dst, nil
		}
		return t.text(dst, text), nil
	case `"input_json_delta"`:
		if b.kind != blockTool || b.item != t.open {
			return dst, nil
		}
		return t.toolArgs(dst, partial), nil
	}
	return dst, nil // thinking, signature and citations deltas
}

func (t *responsesMessagesStream) messageDelta(dst, data []byte) ([]byte, error) {
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
			t.counts.read(it.val)
		}
	}
	if it.err {
		return dst, fmt.Errorf("%w: malformed message_delta", ErrInvalidResponse)
	}
	if !isString(reason) || t.stop != "" {
		return dst, nil
	}
	t.stop = stringValue(reason)
	status, _ := responsesStatus(finishReason(t.stop))
	return t.closeOpen(dst, itemStatus(status)), nil
}

// anthropicError writes an error event for the data of an Anthropic error
// event, {"type":"error","error":{"type":…,"message":…}}, with OpenAI's
// code for its type.
func (t *responsesMessagesStream) anthropicError(dst, data []byte) []byte {
	var typ, msg []byte
	it := objectMembers(data)
	for it.next() {
		if string(it.key) != "error" {
			continue
		}
		e := objectMembers(it.val)
		for e.next() {
			switch string(e.key) {
			case "type":
				typ = e.val
			case "message":
				msg = e.val
			}
		}
	}
	message := stringValue(msg)
	if message == "" {
		message = "the backend stream failed"
	}
	oaType, code := openAIError(stringValue(typ), message)
	if code == "" {
		code = oaType
	}
	return t.fail(dst, code, message)
}

// finishStream ends the response at message_stop.
func (t *responsesMessagesStream) finishStream(dst []byte) []byte {
	c := &t.counts
	t.setUsage(c.promptTokens(), c.cacheRead, c.cacheWrite, c.outputTokens, c.thinkingTokens)
	status, reason := responsesStatus(finishReason(t.stop))
	return t.finish(dst, status, reason)
}
