package translate

import (
	"bytes"
	"fmt"
)

// Reading a chat completions stream. Every translator that serves a client
// from a chat completions backend reads the backend's chunks with these, so
// what a chunk holds and when one cannot be read is said once; writing the
// client's events is each translator's own. The readers hand back members as
// raw tokens (strings keep their quotes, a missing member is nil), without
// decoding or allocating (chunks and deltas are read into the caller's
// struct, which saves copying it on every chunk). The token counts are read
// by chatStreamUsage.
//
// A chunk is
//
//	{"id","model","choices":[{"index","delta":{"content","refusal",
//	  "tool_calls":[{"index","id","function":{"name","arguments"}}]},
//	  "finish_reason"}],"usage","error"}
//
// and the stream ends with data: [DONE].

// doneData is the data of the event that ends a stream.
var doneData = []byte("[DONE]")

// isChatDone reports whether an event's data is [DONE], for readers that
// need no more of a chunk than that.
func isChatDone(data []byte) bool { return bytes.Equal(bytes.TrimSpace(data), doneData) }

// chatChunk is an event of the stream: [DONE], or the top level of a chunk.
type chatChunk struct {
	done                      bool
	id, model, choices, usage []byte
	errVal                    []byte // the "error" member: an object, or a bare string
}

// readChatChunk reads an event's data into c. Space around it is ignored.
func readChatChunk(data []byte, c *chatChunk) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, doneData) {
		c.done = true
		return nil
	}
	it := objectMembers(data)
	for it.next() {
		switch string(it.key) {
		case "id":
			c.id = it.val
		case "model":
			c.model = it.val
		case "choices":
			c.choices = it.val
		case "usage":
			c.usage = it.val
		case "error":
			c.errVal = it.val
		}
	}
	if it.err {
		return fmt.Errorf("%w: malformed chunk", ErrInvalidResponse)
	}
	return nil
}

// isError reports whether the chunk is an error event.
func (c *chatChunk) isError() bool { return !isNullToken(c.errVal) }

// isChatErrorEvent reports whether a chat completions chunk is an error: a
// JSON object with a non-null top-level "error", the test the SDKs apply.
// It reads only the top level of the data, and only when it may hold one.
func isChatErrorEvent(data []byte) bool {
	if !bytes.Contains(data, []byte(`"error"`)) {
		return false
	}
	it := objectMembers(data)
	for it.next() {
		if string(it.key) == "error" {
			return !isNullToken(it.val)
		}
	}
	return false
}

// chatChoices walks a chunk's choices and yields choice 0 alone: the
// translators ask for one choice, and a choice without an index is that
// one. The others are read only to find malformed ones.
//
//	ch := readChatChoices(chunk.choices)
//	for ch.next() { ... ch.delta ... ch.finishReason ... }
//	if ch.err != nil { ... }
type chatChoices struct {
	el                  elements
	delta, finishReason []byte
	err                 error
}

// readChatChoices walks a chunk's "choices"; absent or null, there are none.
func readChatChoices(raw []byte) chatChoices {
	if isNullToken(raw) {
		return chatChoices{}
	}
	return chatChoices{el: arrayElements(raw)}
}

func (c *chatChoices) next() bool {
	for c.el.next() {
		var index []byte
		c.delta, c.finishReason = nil, nil
		m := objectMembers(c.el.val)
		for m.next() {
			switch string(m.key) {
			case "index":
				index = m.val
			case "delta":
				c.delta = m.val
			case "finish_reason":
				c.finishReason = m.val
			}
		}
		if m.err {
			c.err = fmt.Errorf("%w: malformed choice", ErrInvalidResponse)
			return false
		}
		if i, ok := parseInt(index); index == nil || ok && i == 0 {
			return true
		}
	}
	if c.el.err {
		c.err = fmt.Errorf("%w: malformed choices", ErrInvalidResponse)
	}
	return false
}

// chatDelta is a choice's delta.
type chatDelta struct {
	content, refusal, toolCalls []byte
}

// readChatDelta reads a choice's delta into d; absent or null, it is empty.
func readChatDelta(raw []byte, d *chatDelta) error {
	if isNullToken(raw) {
		return nil
	}
	m := objectMembers(raw)
	for m.next() {
		switch string(m.key) {
		case "content":
			d.content = m.val
		case "refusal":
			d.refusal = m.val
		case "tool_calls":
			d.toolCalls = m.val
		}
	}
	if m.err {
		return fmt.Errorf("%w: malformed delta", ErrInvalidResponse)
	}
	return nil
}

// chatToolCalls walks a delta's tool_calls. Each element is a piece of one
// call, named by its index: the first piece has the call's id and name, and
// every piece may carry a piece of its arguments.
//
//	tc := readChatToolCalls(delta.toolCalls)
//	for tc.next() { ... tc.index ... tc.arguments ... }
//	if tc.err != nil { ... }
type chatToolCalls struct {
	el elements
	chatToolCall
	err error
}

// chatToolCall is one piece of a tool call.
type chatToolCall struct {
	index               int
	id, name, arguments []byte
}

// readChatToolCalls walks a delta's "tool_calls"; absent or null, there
// are none.
func readChatToolCalls(raw []byte) chatToolCalls {
	if isNullToken(raw) {
		return chatToolCalls{}
	}
	return chatToolCalls{el: arrayElements(raw)}
}

func (c *chatToolCalls) next() bool {
	if !c.el.next() {
		if c.el.err {
			c.err = fmt.Errorf("%w: malformed tool_calls", ErrInvalidResponse)
		}
		return false
	}
	var index, fn []byte
	c.id, c.name, c.arguments = nil, nil, nil
	m := objectMembers(c.el.val)
	for m.next() {
		switch string(m.key) {
		case "index":
			index = m.val
		case "id":
			c.id = m.val
		case "function":
			fn = m.val
		}
	}
	f := objectMembers(fn)
	for f.next() {
		switch string(f.key) {
		case "name":
			c.name = f.val
		case "arguments":
			c.arguments = f.val
		}
	}
	if m.err || (fn != nil && !isNullToken(fn) && f.err) {
		c.err = fmt.Errorf("%w: malformed tool call", ErrInvalidResponse)
		return false
	}
	var ok bool
	if c.index, ok = parseIndex(index); !ok {
		c.err = fmt.Errorf("%w: tool call index %s", ErrInvalidResponse, index)
		return false
	}
	return true
}

// readChatStreamError reads the "error" member of a chunk, an object
// ({"message","type","code",…}) or a bare string: its type and code (""
// when absent or not strings) and its message (streamFailed when absent).
func readChatStreamError(errVal []byte) (typ, code, message string) {
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
		message = streamFailed
	}
	return typ, code, message
}
