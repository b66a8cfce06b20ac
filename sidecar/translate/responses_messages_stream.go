package translate

import (
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
// Comment-only events (keep-alives) pass through as they are.

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
	return &responsesMessagesStream{rsAnswer: newAnswer(t.now, t.echo, t.clientModel)}
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
	case "message_delta":
		dst, err = t.messageDelta(dst, ev.Data)
	case "message_stop":
		t.done = true
		dst = t.finishStream(dst)
	case "error":
		t.done = true
		dst = t.anthropicError(dst, ev.Data)
	}
	return dst, anthropicEventKind(name), err
}

func (t *responsesMessagesStream) messageStart(dst, data []byte) ([]byte, error) {
	id, model, err := readMessageStart(data, &t.counts)
	if err != nil {
		return dst, err
	}
	return t.start(dst, id, model), nil
}

// blockAt returns the state of content block i, growing the table.
func (t *responsesMessagesStream) blockAt(i int) *responsesBlock {
	for i >= len(t.blocks) {
		t.blocks = append(t.blocks, responsesBlock{item: -1})
	}
	return &t.blocks[i]
}

func (t *responsesMessagesStream) blockStart(dst, data []byte) ([]byte, error) {
	var e blockStartEvent
	if err := readBlockStart(data, &e); err != nil {
		return dst, err
	}
	b := t.blockAt(e.index)
	switch string(e.typ) {
	case `"text"`:
		b.kind = blockText
		dst = t.text(dst, e.text) // text given at the start; usually ""
	case `"tool_use"`:
		b.kind = blockTool
		dst = t.toolCall(dst, e.id, e.name)
		b.item = t.open
		if hasMembers(e.input) {
			// Input given whole at the start (not the case for client
			// tools, whose input streams as input_json_delta).
			dst = t.toolArgs(dst, AppendString(nil, compactString(e.input)))
		}
	default:
		b.kind = blockOther // thinking and the like: not part of the answer
	}
	return dst, nil
}

func (t *responsesMessagesStream) blockDelta(dst, data []byte) ([]byte, error) {
	var e blockDeltaEvent
	if err := readBlockDelta(data, &e); err != nil {
		return dst, err
	}
	b := t.blockAt(e.index)
	switch string(e.typ) {
	case `"text_delta"`:
		if b.kind == blockOther && b.item < 0 {
			b.kind = blockText // a delta without its start: still text
		}
		if b.kind != blockText {
			return dst, nil
		}
		return t.text(dst, e.text), nil
	case `"input_json_delta"`:
		if b.kind != blockTool || b.item != t.open {
			return dst, nil
		}
		return t.toolArgs(dst, e.partialJSON), nil
	}
	return dst, nil // thinking, signature and citations deltas
}

func (t *responsesMessagesStream) messageDelta(dst, data []byte) ([]byte, error) {
	reason, err := readMessageDelta(data, &t.counts)
	if err != nil {
		return dst, err
	}
	if !isString(reason) || t.stop != "" {
		return dst, nil
	}
	t.stop = stringValue(reason)
	status, _ := responsesStatus(finishReason(t.stop))
	return t.closeOpen(dst, status), nil
}

// anthropicError writes an error event for the data of an Anthropic error
// event, with OpenAI's code for its type.
func (t *responsesMessagesStream) anthropicError(dst, data []byte) []byte {
	typ, message := readAnthropicStreamError(data)
	oaType, code := openAIError(typ, message)
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
