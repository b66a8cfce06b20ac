package translate

import (
	"bytes"
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
	s := &responsesChatStream{rsAnswer: newAnswer(t.now, t.echo, t.clientModel)}
	s.arena = make([]byte, 0, rsArenaSize)
	return s
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
		if ev.Name == "" {
			return append(dst, ev.Raw...), Preamble, nil // a keep-alive comment
		}
		return dst, Preamble, nil
	}
	data := bytes.TrimSpace(ev.Data)
	if bytes.Equal(data, doneData) {
		t.done = true
		return t.finishStream(dst), Done, nil
	}
	dst, err := t.chunk(dst, data)
	if t.done { // the chunk was an error
		return dst, Failed, err
	}
	return dst, Content, err
}

// chunk translates one chat completions chunk.
func (t *responsesChatStream) chunk(dst, data []byte) ([]byte, error) {
	var id, model, choices, usage, errVal []byte
	it := objectMembers(data)
	for it.next() {
		switch string(it.key) {
		case "id":
			id = it.val
		case "model":
			model = it.val
		case "choices":
			choices = it.val
		case "usage":
			usage = it.val
		case "error":
			errVal = it.val
		}
	}
	if it.err {
		return dst, fmt.Errorf("%w: malformed chunk", ErrInvalidResponse)
	}
	if !isNullToken(errVal) {
		t.done = true
		return t.chatError(dst, errVal), nil
	}
	dst = t.start(dst, id, model)
	if !isNullToken(usage) {
		t.counts.read(usage)
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
		if isString(finish) && t.reason == "" {
			t.reason = stringValue(finish)
			status, _ := responsesStatus(t.reason)
			dst = t.closeOpen(dst, itemStatus(status))
		}
	}
	if ch.err {
		return dst, fmt.Errorf("%w: malformed choices", ErrInvalidResponse)
	}
	return dst, nil
}

func (t *responsesChatStream) delta(dst, delta []byte) ([]byte, error) {
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
	dst = t.text(dst, content)
	dst = t.refusal(dst, refusal)
	if isNullToken(calls) {
		return dst, nil
	}
	tc := arrayElements(calls)
	for tc.next() {
		var err error
		if dst, err = t.toolCallPiece(dst, tc.val); err != nil {
			return dst, err
		}
	}
	if tc.err {
		return dst, fmt.Errorf("%w: malformed tool_calls", ErrInvalidResponse)
	}
	return dst, nil
}

// toolCallPiece handles one element of delta.tool_calls: the first piece of
// a call opens its function_call item, later ones carry its arguments.
func (t *responsesChatStream) toolCallPiece(dst, raw []byte) ([]byte, error) {
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
		t.tools = append(t.tools, -1)
	}
	switch item := t.tools[k]; {
	case item < 0:
		dst = t.toolCall(dst, id, name)
		t.tools[k] = t.open
	case item != t.open:
		// Output items are written one after another; backends stream
		// tool calls so too.
		return dst, fmt.Errorf("%w: arguments for tool call %d after a later output item began", ErrInvalidResponse, k)
	}
	return t.toolArgs(dst, args), nil
}

// chatError writes an error event for the "error" value of a chunk: an
// object, or a bare string.
func (t *responsesChatStream) chatError(dst, errVal []byte) []byte {
	var message, typ, code string
	if isString(errVal) {
		message = stringValue(errVal)
	} else {
		it := objectMembers(errVal)
		for it.next() {
			switch string(it.key) {
			case "message":
				message = stringValue(it.val)
			case "type":
				typ = stringValue(it.val)
			case "code":
				code = stringValue(it.val)
			}
		}
	}
	if message == "" {
		message = "the backend stream failed"
	}
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
