package translate

// The token counts of a stream, read as they arrive: the two backend formats
// report them in their own places, and more than one translator reads each.

// anthropicStreamUsage is what an Anthropic stream has reported. Its counts
// are cumulative: message_start has the input, message_delta the output so
// far, and a later value replaces an earlier one.
type anthropicStreamUsage struct {
	inputTokens, cacheWrite, cacheRead, outputTokens, thinkingTokens int64
}

// read records the counts of a usage object.
func (u *anthropicStreamUsage) read(raw []byte) {
	it := objectMembers(raw)
	for it.next() {
		n, ok := parseInt(it.val)
		switch string(it.key) {
		case "input_tokens":
			if ok {
				u.inputTokens = n
			}
		case "output_tokens":
			if ok {
				u.outputTokens = n
			}
		case "cache_creation_input_tokens":
			if ok {
				u.cacheWrite = n
			}
		case "cache_read_input_tokens":
			if ok {
				u.cacheRead = n
			}
		case "output_tokens_details":
			d := objectMembers(it.val)
			for d.next() {
				if string(d.key) == "thinking_tokens" {
					if n, ok := parseInt(d.val); ok {
						u.thinkingTokens = n
					}
				}
			}
		}
	}
}

// promptTokens is every prompt token, cached ones included.
func (u *anthropicStreamUsage) promptTokens() int64 {
	return u.inputTokens + u.cacheWrite + u.cacheRead
}

func (u *anthropicStreamUsage) usage() Usage {
	return Usage{InputTokens: int(u.promptTokens()), OutputTokens: int(u.outputTokens)}
}

// chatStreamUsage is what a chat completions stream has reported: the
// counts of its last chunk, sent when stream_options.include_usage asks.
type chatStreamUsage struct {
	haveUsage                                           bool
	prompt, completion, cached, cacheWritten, reasoning int64
}

// read records the counts of a usage object. A null one, which every chunk
// but the last carries with include_usage, reports nothing.
func (u *chatStreamUsage) read(raw []byte) {
	if isNullToken(raw) {
		return
	}
	it := objectMembers(raw)
	for it.next() {
		switch string(it.key) {
		case "prompt_tokens":
			u.prompt, _ = parseInt(it.val)
		case "completion_tokens":
			u.completion, _ = parseInt(it.val)
		case "prompt_tokens_details":
			d := objectMembers(it.val)
			for d.next() {
				switch string(d.key) {
				case "cached_tokens":
					u.cached, _ = parseInt(d.val)
				case "cache_write_tokens":
					u.cacheWritten, _ = parseInt(d.val)
				}
			}
		case "completion_tokens_details":
			d := objectMembers(it.val)
			for d.next() {
				if string(d.key) == "reasoning_tokens" {
					u.reasoning, _ = parseInt(d.val)
				}
			}
		}
	}
	u.haveUsage = true
}

func (u *chatStreamUsage) usage() Usage {
	return Usage{InputTokens: int(u.prompt), OutputTokens: int(u.completion)}
}
