package translate

import "time"

// Writing a Responses answer, streamed or not. Both backends' stream
// translators drive an rsAnswer with what each backend event says (text,
// a refusal, a function call and its arguments, the end), and it writes the
// events the Responses API streams:
//
//	response.created, response.in_progress         when the backend's stream starts
//	response.output_item.added (message)           before a message's first text
//	response.content_part.added (output_text)
//	response.output_text.delta …
//	response.output_text.done                      when the next item starts, or at the end
//	response.content_part.done
//	response.output_item.done
//	response.output_item.added (function_call)     for each function call
//	response.function_call_arguments.delta …
//	response.function_call_arguments.done
//	response.output_item.done
//	response.completed or response.incomplete      the whole response, with usage
//
// A refusal is a refusal part of the message (response.refusal.delta and
// response.refusal.done). Every event has an event: line and its
// sequence_number, counted from 0; the stream ends with the last event,
// without a [DONE] line, as the API's does. An item is closed when the next
// one opens or when the answer ends, so the last item's status can say
// whether the answer was cut short.
//
// The done events and the final response repeat the whole answer, so the
// text, arguments and ids are kept: as JSON string contents copied from the
// backend's tokens into one buffer (arena) that only the open part grows.
// That buffer grows by doubling from a size that holds an ordinary answer;
// no per-event allocation happens on the way.
//
// Non-streamed responses are built by the same steps with the events
// discarded, so a response and the stream of the same answer agree.

// rsArenaSize is the initial size of an answer's text buffer.
const rsArenaSize = 4 << 10

// rsSpan is a stretch of an answer's arena.
type rsSpan struct{ from, to int }

// rsItem is an output item: a message or a function call.
type rsItem struct {
	fn     bool
	status string // "" while it is open
	// message
	parts  [2]rsItemPart // an output_text and a refusal at most
	nparts int
	// function_call
	callID, name, args rsSpan
}

type rsItemPart struct {
	refusal bool
	closed  bool
	text    rsSpan
}

// rsAnswer is one Responses answer being written.
type rsAnswer struct {
	now         func() time.Time
	echo        []byte // the request's members of the response object
	clientModel []byte // the model the client asked for, as JSON string contents

	started   bool
	seq       int64 // the next event's sequence_number
	createdAt int64
	arena     []byte
	base      rsSpan // the backend's id: the response is resp_<base>
	model     rsSpan
	items     []rsItem
	open      int // the open item, -1 when none

	haveUsage                                   bool
	input, cached, cacheWrite, output, thinking int64
}

func newAnswer(now func() time.Time, echo, clientModel []byte) rsAnswer {
	if echo == nil {
		echo = defaultEcho
	}
	return rsAnswer{now: now, echo: echo, clientModel: clientModel, open: -1}
}

// usage reports the tokens counted so far; input counts cached tokens.
func (a *rsAnswer) usage() Usage {
	return Usage{InputTokens: int(a.input), OutputTokens: int(a.output)}
}

func (a *rsAnswer) setUsage(input, cached, cacheWrite, output, thinking int64) {
	a.haveUsage = true
	a.input, a.cached, a.cacheWrite, a.output, a.thinking = input, cached, cacheWrite, output, thinking
}

// setChatUsage records a complete answer's chat completions usage (or
// Anthropic's, as openAIUsage maps it).
func (a *rsAnswer) setChatUsage(u *oaUsage) {
	var cached, written, reasoning int64
	if d := u.PromptTokensDetails; d != nil {
		cached, written = d.CachedTokens, d.CacheWriteTokens
	}
	if d := u.CompletionTokensDetails; d != nil {
		reasoning = d.ReasoningTokens
	}
	a.setUsage(u.PromptTokens, cached, written, u.CompletionTokens, reasoning)
}

// event opens an event up to its data's first member.
func (a *rsAnswer) event(dst []byte, typ string) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, typ...)
	dst = append(dst, "\ndata: {\"type\":\""...)
	dst = append(dst, typ...)
	return append(dst, '"')
}

// end closes an event with its sequence number.
func (a *rsAnswer) end(dst []byte) []byte {
	dst = append(dst, `,"sequence_number":`...)
	dst = appendInt(dst, a.seq)
	a.seq++
	return append(dst, "}\n\n"...)
}

// start begins the answer: id and model are the backend's tokens (nil when
// it has none). It writes response.created and response.in_progress.
func (a *rsAnswer) start(dst, id, model []byte) []byte {
	if a.started {
		return dst
	}
	a.started = true
	a.arena = make([]byte, 0, rsArenaSize)
	a.createdAt = a.now().Unix()
	from := len(a.arena)
	if isString(id) && len(id) > 2 {
		a.arena = append(a.arena, id[1:len(id)-1]...)
	} else {
		a.arena = appendInt(a.arena, a.now().UnixNano())
	}
	a.base = rsSpan{from, len(a.arena)}
	from = len(a.arena)
	switch {
	case a.clientModel != nil:
		a.arena = append(a.arena, a.clientModel...)
	case isString(model):
		a.arena = append(a.arena, model[1:len(model)-1]...)
	}
	a.model = rsSpan{from, len(a.arena)}
	for _, typ := range [...]string{"response.created", "response.in_progress"} {
		dst = a.event(dst, typ)
		dst = append(dst, `,"response":`...)
		dst = a.appendResponse(dst, "in_progress", "")
		dst = a.end(dst)
	}
	return dst
}

func (a *rsAnswer) span(s rsSpan) []byte { return a.arena[s.from:s.to] }

// grow appends the contents of a string token to the open span s, which
// ends the arena.
func (a *rsAnswer) grow(s *rsSpan, tok []byte) {
	a.arena = append(a.arena, tok[1:len(tok)-1]...)
	s.to = len(a.arena)
}

// text writes a piece of the answer's text (a string token).
func (a *rsAnswer) text(dst, tok []byte) []byte { return a.content(dst, tok, false) }

// refusal writes a piece of a refusal (a string token).
func (a *rsAnswer) refusal(dst, tok []byte) []byte { return a.content(dst, tok, true) }

func (a *rsAnswer) content(dst, tok []byte, refusal bool) []byte {
	if !isString(tok) || len(tok) == 2 {
		return dst
	}
	dst = a.start(dst, nil, nil)
	if a.open < 0 || a.items[a.open].fn {
		dst = a.addMessage(dst)
	}
	it := &a.items[a.open]
	if it.nparts == 0 || it.parts[it.nparts-1].refusal != refusal {
		if it.nparts == len(it.parts) {
			dst = a.addMessage(dst) // text after text and a refusal
			it = &a.items[a.open]
		}
		dst = a.addPart(dst, it, refusal)
	}
	k := it.nparts - 1
	a.grow(&it.parts[k].text, tok)
	if refusal {
		dst = a.event(dst, "response.refusal.delta")
	} else {
		dst = a.event(dst, "response.output_text.delta")
	}
	dst = a.itemRef(dst, a.open)
	dst = append(dst, `,"content_index":`...)
	dst = appendInt(dst, int64(k))
	dst = append(dst, `,"delta":`...)
	dst = append(dst, tok...)
	if !refusal {
		dst = append(dst, `,"logprobs":[]`...)
	}
	return a.end(dst)
}

// addMessage closes the open item and opens a message.
func (a *rsAnswer) addMessage(dst []byte) []byte {
	dst = a.closeOpen(dst, "completed")
	a.items = append(a.items, rsItem{})
	a.open = len(a.items) - 1
	return a.itemAdded(dst)
}

// addPart closes the message's last part and opens one.
func (a *rsAnswer) addPart(dst []byte, it *rsItem, refusal bool) []byte {
	if it.nparts > 0 {
		dst = a.closePart(dst, it)
	}
	it.parts[it.nparts] = rsItemPart{refusal: refusal, text: rsSpan{len(a.arena), len(a.arena)}}
	it.nparts++
	dst = a.event(dst, "response.content_part.added")
	dst = a.itemRef(dst, a.open)
	dst = append(dst, `,"content_index":`...)
	dst = appendInt(dst, int64(it.nparts-1))
	dst = append(dst, `,"part":`...)
	dst = a.appendPart(dst, &it.parts[it.nparts-1])
	return a.end(dst)
}

// closePart writes the done events of the open item's last part.
func (a *rsAnswer) closePart(dst []byte, it *rsItem) []byte {
	k := it.nparts - 1
	p := &it.parts[k]
	if p.closed {
		return dst
	}
	p.closed = true
	if p.refusal {
		dst = a.event(dst, "response.refusal.done")
	} else {
		dst = a.event(dst, "response.output_text.done")
	}
	dst = a.itemRef(dst, a.open)
	dst = append(dst, `,"content_index":`...)
	dst = appendInt(dst, int64(k))
	if p.refusal {
		dst = append(dst, `,"refusal":"`...)
		dst = append(dst, a.span(p.text)...)
		dst = append(dst, '"')
	} else {
		dst = append(dst, `,"text":"`...)
		dst = append(dst, a.span(p.text)...)
		dst = append(dst, `","logprobs":[]`...)
	}
	dst = a.end(dst)
	dst = a.event(dst, "response.content_part.done")
	dst = a.itemRef(dst, a.open)
	dst = append(dst, `,"content_index":`...)
	dst = appendInt(dst, int64(k))
	dst = append(dst, `,"part":`...)
	dst = a.appendPart(dst, p)
	return a.end(dst)
}

// toolCall closes the open item and opens a function call. id and name are
// the backend's tokens; a call without an id gets one made of the
// response's.
func (a *rsAnswer) toolCall(dst, id, name []byte) []byte {
	dst = a.start(dst, nil, nil)
	dst = a.closeOpen(dst, "completed")
	var it rsItem
	it.fn = true
	from := len(a.arena)
	if isString(id) && len(id) > 2 {
		a.arena = append(a.arena, id[1:len(id)-1]...)
	} else {
		a.arena = append(a.arena, "call_"...)
		a.arena = append(a.arena, a.span(a.base)...)
		a.arena = append(a.arena, '_')
		a.arena = appendInt(a.arena, int64(len(a.items)))
	}
	it.callID = rsSpan{from, len(a.arena)}
	from = len(a.arena)
	if isString(name) {
		a.arena = append(a.arena, name[1:len(name)-1]...)
	}
	it.name = rsSpan{from, len(a.arena)}
	it.args = rsSpan{len(a.arena), len(a.arena)}
	a.items = append(a.items, it)
	a.open = len(a.items) - 1
	return a.itemAdded(dst)
}

// toolArgs writes a piece of the open function call's arguments (a string
// token).
func (a *rsAnswer) toolArgs(dst, tok []byte) []byte {
	if a.open < 0 || !a.items[a.open].fn || !isString(tok) || len(tok) == 2 {
		return dst
	}
	a.grow(&a.items[a.open].args, tok)
	dst = a.event(dst, "response.function_call_arguments.delta")
	dst = a.itemRef(dst, a.open)
	dst = append(dst, `,"delta":`...)
	dst = append(dst, tok...)
	return a.end(dst)
}

// itemAdded writes response.output_item.added for the open item.
func (a *rsAnswer) itemAdded(dst []byte) []byte {
	dst = a.event(dst, "response.output_item.added")
	dst = append(dst, `,"output_index":`...)
	dst = appendInt(dst, int64(a.open))
	dst = append(dst, `,"item":`...)
	dst = a.appendItem(dst, a.open)
	return a.end(dst)
}

// closeOpen writes the done events of the open item, which ends with status
// (completed, or incomplete when the answer was cut short).
func (a *rsAnswer) closeOpen(dst []byte, status string) []byte {
	if a.open < 0 {
		return dst
	}
	it := &a.items[a.open]
	if it.fn {
		if it.args.from == it.args.to {
			// A function without parameters: the API sends "{}", and
			// clients parse the arguments as JSON, which "" is not.
			dst = a.toolArgs(dst, []byte(`"{}"`))
		}
		dst = a.event(dst, "response.function_call_arguments.done")
		dst = a.itemRef(dst, a.open)
		dst = append(dst, `,"name":"`...)
		dst = append(dst, a.span(it.name)...)
		dst = append(dst, `","arguments":"`...)
		dst = append(dst, a.span(it.args)...)
		dst = append(dst, '"')
		dst = a.end(dst)
	} else if it.nparts > 0 {
		dst = a.closePart(dst, it)
	}
	it.status = status
	dst = a.event(dst, "response.output_item.done")
	dst = append(dst, `,"output_index":`...)
	dst = appendInt(dst, int64(a.open))
	dst = append(dst, `,"item":`...)
	dst = a.appendItem(dst, a.open)
	a.open = -1
	return a.end(dst)
}

// finish ends the answer: the open item is closed, and response.completed
// (or response.incomplete) carries the whole response. status and reason
// are from responsesStatus.
func (a *rsAnswer) finish(dst []byte, status, reason string) []byte {
	dst = a.start(dst, nil, nil)
	dst = a.closeOpen(dst, status)
	typ := "response.completed"
	if status == "incomplete" {
		typ = "response.incomplete"
	}
	dst = a.event(dst, typ)
	dst = append(dst, `,"response":`...)
	dst = a.appendResponse(dst, status, reason)
	return a.end(dst)
}

// fail writes an error event (see appendStreamError).
func (a *rsAnswer) fail(dst []byte, code, message string) []byte {
	dst = appendStreamError(dst, Responses, a.seq, code, message)
	a.seq++
	return dst
}

// responsesStatus maps a chat completions finish_reason to a response's
// status and incomplete_details.reason: an answer cut short by the token
// limit or by a content filter is incomplete, as the Responses API reports
// it; any other end is a completed response. The status is also the one
// of the item the answer ends with.
func responsesStatus(finishReason string) (status, reason string) {
	switch finishReason {
	case "length":
		return "incomplete", "max_output_tokens"
	case "content_filter":
		return "incomplete", "content_filter"
	}
	return "completed", ""
}

// itemRef writes an item's item_id and output_index.
func (a *rsAnswer) itemRef(dst []byte, i int) []byte {
	dst = append(dst, `,"item_id":`...)
	dst = a.appendItemID(dst, i)
	dst = append(dst, `,"output_index":`...)
	return appendInt(dst, int64(i))
}

// appendItemID writes an item's id: msg_<base> for the first item and
// msg_<base>_<index> for later messages, fc_<call_id> for function calls.
func (a *rsAnswer) appendItemID(dst []byte, i int) []byte {
	it := &a.items[i]
	if it.fn {
		dst = append(dst, `"fc_`...)
		dst = append(dst, a.span(it.callID)...)
		return append(dst, '"')
	}
	dst = append(dst, `"msg_`...)
	dst = append(dst, a.span(a.base)...)
	if i > 0 {
		dst = append(dst, '_')
		dst = appendInt(dst, int64(i))
	}
	return append(dst, '"')
}

// appendItem writes an output item as it stands.
func (a *rsAnswer) appendItem(dst []byte, i int) []byte {
	it := &a.items[i]
	dst = append(dst, `{"id":`...)
	dst = a.appendItemID(dst, i)
	if it.fn {
		dst = append(dst, `,"type":"function_call","status":"`...)
		dst = appendItemStatus(dst, it.status)
		dst = append(dst, `","arguments":"`...)
		dst = append(dst, a.span(it.args)...)
		dst = append(dst, `","call_id":"`...)
		dst = append(dst, a.span(it.callID)...)
		dst = append(dst, `","name":"`...)
		dst = append(dst, a.span(it.name)...)
		return append(dst, `"}`...)
	}
	dst = append(dst, `,"type":"message","status":"`...)
	dst = appendItemStatus(dst, it.status)
	dst = append(dst, `","content":[`...)
	if it.status != "" {
		for k := range it.nparts {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = a.appendPart(dst, &it.parts[k])
		}
	}
	return append(dst, `],"role":"assistant"}`...)
}

func appendItemStatus(dst []byte, status string) []byte {
	if status == "" {
		return append(dst, "in_progress"...)
	}
	return append(dst, status...)
}

// appendPart writes a content part with its text so far.
func (a *rsAnswer) appendPart(dst []byte, p *rsItemPart) []byte {
	if p.refusal {
		dst = append(dst, `{"type":"refusal","refusal":"`...)
		dst = append(dst, a.span(p.text)...)
		return append(dst, `"}`...)
	}
	dst = append(dst, `{"type":"output_text","annotations":[],"logprobs":[],"text":"`...)
	dst = append(dst, a.span(p.text)...)
	return append(dst, `"}`...)
}

// appendResponse writes the response object: its output so far, usage, and
// what it repeats of the request.
func (a *rsAnswer) appendResponse(dst []byte, status, reason string) []byte {
	dst = append(dst, `{"id":"resp_`...)
	dst = append(dst, a.span(a.base)...)
	dst = append(dst, `","object":"response","created_at":`...)
	dst = appendInt(dst, a.createdAt)
	dst = append(dst, `,"status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","background":false,"completed_at":`...)
	if status == "completed" {
		dst = appendInt(dst, a.now().Unix())
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"error":null,"incomplete_details":`...)
	if reason == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, `{"reason":"`...)
		dst = append(dst, reason...)
		dst = append(dst, `"}`...)
	}
	dst = append(dst, `,"model":"`...)
	dst = append(dst, a.span(a.model)...)
	dst = append(dst, `","output":[`...)
	for i := range a.items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = a.appendItem(dst, i)
	}
	dst = append(dst, `],"usage":`...)
	if status == "in_progress" || !a.haveUsage {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, `{"input_tokens":`...)
		dst = appendInt(dst, a.input)
		dst = append(dst, `,"input_tokens_details":{"cached_tokens":`...)
		dst = appendInt(dst, a.cached)
		dst = append(dst, `,"cache_write_tokens":`...)
		dst = appendInt(dst, a.cacheWrite)
		dst = append(dst, `},"output_tokens":`...)
		dst = appendInt(dst, a.output)
		dst = append(dst, `,"output_tokens_details":{"reasoning_tokens":`...)
		dst = appendInt(dst, a.thinking)
		dst = append(dst, `},"total_tokens":`...)
		dst = appendInt(dst, a.input+a.output)
		dst = append(dst, '}')
	}
	dst = append(dst, ',')
	dst = append(dst, a.echo...)
	return append(dst, '}')
}
