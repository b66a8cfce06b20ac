package translate

import (
	"fmt"

	"github.com/osmen-ai/llmroute/sidecar/sse"
)

// Streaming from a chat completions backend to a Responses client (the
// events are listed in responses_stream.go):
//
//	first chunk               → response.created, response.in_progress
//	delta.content             → the message's output_text part and its deltas
//	delta.refusal             → a refusal part and its deltas
//	delta.tool_calls[i]       → a function_call item per call (call_id and
//	                            name from its first piece), argument deltas
//	finish_reason             → the open item's done events
//	usage chunk               → kept for the end
//	[DONE]                    → response.completed or response.incomplete
//	data: {"error":{...}}     → an error event
//
// Every data chunk is content, as the chat identity counts it. Comment-only
// events (keep-alives) pass through as they are.

// responsesChatStream is one streamed attempt's state.
type responsesChatStream struct {
	rsAnswer
	counts chatStreamUsage

	done   bool
	tools  []int  // the output item of each chat tool call index, -1 before it starts
	reason string // the finish_reason
}

func (t *responsesToChat) Stream() Stream {
	return &responsesChatStream{rsAnswer: newAnswer(t.now, t.echo, t.clientModel)}
}

func (t *responsesChatStream) Usage() Usage { return t.counts.usage() }

func (t *responsesChatStream) Fail(dst []byte, errType, message string) []byte {
	t.done = true
	return t.fail(dst, errType, message)
}

func (t *responsesChatStream) Event(dst []byte, ev sse.Event) ([]byte, EventKind, error) {
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
		t.done = true
		return t.finishStream(dst), Done, nil
	case c.isError():
		t.done = true
		return t.chatError(dst, c.errVal), Failed, nil
	}
	dst, err = t.chunk(dst, &c)
	return dst, Content, err
}

// chunk translates one chat completions chunk that is not an error.
func (t *responsesChatStream) chunk(dst []byte, c *chatChunk) ([]byte, error) {
	dst = t.start(dst, c.id, c.model)
	t.counts.read(c.usage)
	ch := readChatChoices(c.choices)
	for ch.next() {
		var err error
		if dst, err = t.delta(dst, ch.delta); err != nil {
			return dst, err
		}
		if isString(ch.finishReason) && t.reason == "" {
			t.reason = stringValue(ch.finishReason)
			status, _ := responsesStatus(t.reason)
			dst = t.closeOpen(dst, status)
		}
	}
	return dst, ch.err
}

func (t *responsesChatStream) delta(dst, raw []byte) ([]byte, error) {
	var d chatDelta
	err := readChatDelta(raw, &d)
	if err != nil {
		return dst, err
	}
	dst = t.text(dst, d.content)
	dst = t.refusal(dst, d.refusal)
	tc := readChatToolCalls(d.toolCalls)
	for tc.next() {
		if dst, err = t.toolCallPiece(dst, tc.chatToolCall); err != nil {
			return dst, err
		}
	}
	return dst, tc.err
}

// toolCallPiece handles one element of delta.tool_calls: the first piece of
// a call opens its function_call item, later ones carry its arguments.
func (t *responsesChatStream) toolCallPiece(dst []byte, tc chatToolCall) ([]byte, error) {
	for tc.index >= len(t.tools) {
		t.tools = append(t.tools, -1)
	}
	switch item := t.tools[tc.index]; {
	case item < 0:
		dst = t.toolCall(dst, tc.id, tc.name)
		t.tools[tc.index] = t.open
	case item != t.open:
		// Output items are written one after another; backends stream
		// tool calls so too.
		return dst, fmt.Errorf("%w: arguments for tool call %d after a later output item began", ErrInvalidResponse, tc.index)
	}
	return t.toolArgs(dst, tc.arguments), nil
}

// chatError writes an error event for the "error" value of a chunk.
func (t *responsesChatStream) chatError(dst, errVal []byte) []byte {
	typ, code, message := readChatStreamError(errVal)
	if code == "" {
		code = typ
	}
	return t.fail(dst, code, message)
}

// finishStream ends the response at [DONE].
func (t *responsesChatStream) finishStream(dst []byte) []byte {
	if c := &t.counts; c.haveUsage {
		t.setUsage(c.prompt, c.cached, c.cacheWritten, c.completion, c.reasoning)
	}
	status, reason := responsesStatus(t.reason)
	return t.finish(dst, status, reason)
}
