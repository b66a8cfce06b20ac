package translate

import (
	"fmt"

	"github.com/osmen-ai/llmroute/sidecar/sse"
)

// Reading an Anthropic Messages stream. Every translator that serves a client
// from an Anthropic backend reads the backend's events with these, so what
// the events hold and when one cannot be read is said once; writing the
// client's events is each translator's own. Each reader scans one event's
// data into the members the translators use, as raw tokens (strings keep
// their quotes, a missing member is nil), without decoding or allocating
// (the larger events are read into the caller's struct, which saves copying
// it on every delta);
// the readers of events that report token counts record them in the
// stream's anthropicStreamUsage.

// anthropicEventName is an event's type: its event: line, or for events sent
// without one, the "type" member of its data.
func anthropicEventName(ev sse.Event) string {
	if ev.Name != "" {
		return ev.Name
	}
	return anthropicEventType(ev.Data)
}

// anthropicEventKind is what an event of type name means for the attempt:
// the message's and a block's start and pings come before the answer,
// message_stop ends it, and every other type (those added later included)
// is part of it.
func anthropicEventKind(name string) EventKind {
	switch name {
	case "message_start", "content_block_start", "ping":
		return Preamble
	case "message_stop":
		return Done
	case "error":
		return Failed
	}
	return Content
}

// anthropicEventType reads the "type" member of an event's data. Known types
// come back as constants, without allocating.
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
		case `"ping"`:
			return "ping"
		}
		return ""
	}
	return ""
}

// readMessageStart reads {"type":"message_start","message":{"id","model",
// "usage",…}}: it returns the message's id and model and records its usage
// in counts.
func readMessageStart(data []byte, counts *anthropicStreamUsage) (id, model []byte, err error) {
	var usage []byte
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
			return nil, nil, fmt.Errorf("%w: malformed message_start", ErrInvalidResponse)
		}
	}
	if it.err {
		return nil, nil, fmt.Errorf("%w: malformed message_start", ErrInvalidResponse)
	}
	counts.read(usage)
	return id, model, nil
}

// readBlockEnvelope reads what content_block_start and content_block_delta
// share, {"type":…,"index":…,"<inner>":{…}}: the raw index, and the inner
// object whose members the event's reader picks. ok is false when data is
// not a well-formed object.
func readBlockEnvelope(data []byte, inner string) (index, obj []byte, ok bool) {
	it := objectMembers(data)
	for it.next() {
		switch string(it.key) {
		case "index":
			index = it.val
		case inner:
			obj = it.val
		}
	}
	return index, obj, !it.err
}

// blockStartEvent is a content_block_start event: the block's index and
// the members of the block the translators use.
type blockStartEvent struct {
	index                      int
	typ, text, id, name, input []byte
}

// readBlockStart reads {"type":"content_block_start","index":…,
// "content_block":{"type","text","id","name","input",…}}.
func readBlockStart(data []byte, e *blockStartEvent) error {
	index, block, ok := readBlockEnvelope(data, "content_block")
	m := objectMembers(block)
	for m.next() {
		switch string(m.key) {
		case "type":
			e.typ = m.val
		case "text":
			e.text = m.val
		case "id":
			e.id = m.val
		case "name":
			e.name = m.val
		case "input":
			e.input = m.val
		}
	}
	if !ok || m.err {
		return fmt.Errorf("%w: malformed content_block_start", ErrInvalidResponse)
	}
	var err error
	e.index, err = blockIndex(index)
	return err
}

// blockDeltaEvent is a content_block_delta event: the block's index and
// the members of the delta the translators use.
type blockDeltaEvent struct {
	index                  int
	typ, text, partialJSON []byte
}

// readBlockDelta reads {"type":"content_block_delta","index":…,
// "delta":{"type","text","partial_json",…}}.
func readBlockDelta(data []byte, e *blockDeltaEvent) error {
	index, delta, ok := readBlockEnvelope(data, "delta")
	m := objectMembers(delta)
	for m.next() {
		switch string(m.key) {
		case "type":
			e.typ = m.val
		case "text":
			e.text = m.val
		case "partial_json":
			e.partialJSON = m.val
		}
	}
	if !ok || m.err {
		return fmt.Errorf("%w: malformed content_block_delta", ErrInvalidResponse)
	}
	var err error
	e.index, err = blockIndex(index)
	return err
}

// readBlockStop reads the index of {"type":"content_block_stop","index":…}.
// Nothing else of the event matters, so only a bad index makes it unreadable.
func readBlockStop(data []byte) (int, error) {
	var index []byte
	it := objectMembers(data)
	for it.next() {
		if string(it.key) == "index" {
			index = it.val
		}
	}
	return blockIndex(index)
}

// blockIndex reads a content block's index.
func blockIndex(raw []byte) (int, error) {
	i, ok := parseIndex(raw)
	if !ok {
		return 0, fmt.Errorf("%w: content block index %s", ErrInvalidResponse, raw)
	}
	return i, nil
}

// readMessageDelta reads {"type":"message_delta","delta":{"stop_reason",…},
// "usage":{…}}: it returns the stop reason and records the usage in counts
// as it comes, so counts the backend did report stand even when the rest of
// the event cannot be read.
func readMessageDelta(data []byte, counts *anthropicStreamUsage) (stopReason []byte, err error) {
	it := objectMembers(data)
	for it.next() {
		switch string(it.key) {
		case "delta":
			d := objectMembers(it.val)
			for d.next() {
				if string(d.key) == "stop_reason" {
					stopReason = d.val
				}
			}
		case "usage":
			counts.read(it.val)
		}
	}
	if it.err {
		return nil, fmt.Errorf("%w: malformed message_delta", ErrInvalidResponse)
	}
	return stopReason, nil
}

// readAnthropicStreamError reads the error of an error event,
// {"type":"error","error":{"type":…,"message":…}}: its Anthropic type ("" when
// absent) and its message (streamFailed when absent).
func readAnthropicStreamError(data []byte) (typ, message string) {
	var t, msg []byte
	it := objectMembers(data)
	for it.next() {
		if string(it.key) != "error" {
			continue
		}
		e := objectMembers(it.val)
		for e.next() {
			switch string(e.key) {
			case "type":
				t = e.val
			case "message":
				msg = e.val
			}
		}
	}
	message = stringValue(msg)
	if message == "" {
		message = streamFailed
	}
	return stringValue(t), message
}
