package translate

// The token counts of a stream, read as they arrive: the two backend formats
// report them in their own places, and more than one translator reads each.

// anthropicStreamUsage is what an Anthropic stream has reported. Its counts
// are cumulative: message_start has the input, message_delta the output so
// far (and may repeat the input), so the largest value reported stands — a 0
// that a compatible server sends in message_delta does not erase the input
// message_start reported.
type anthropicStreamUsage struct {
	inputTokens, cacheWrite, cacheRead, outputTokens, thinkingTokens int64
}

// read records the counts of a usage object. A count that is not a whole
// number reads as 0, which the largest-stands rule ignores.
func (u *anthropicStreamUsage) read(raw []byte) {
	it := objectMembers(raw)
	for it.next() {
		n, _ := parseInt(it.val)
		switch string(it.key) {
		case "input_tokens":
			u.inputTokens = max(u.inputTokens, n)
		case "output_tokens":
			u.outputTokens = max(u.outputTokens, n)
		case "cache_creation_input_tokens":
			u.cacheWrite = max(u.cacheWrite, n)
		case "cache_read_input_tokens":
			u.cacheRead = max(u.cacheRead, n)
		case "output_tokens_details":
			d := objectMembers(it.val)
			for d.next() {
				if string(d.key) == "thinking_tokens" {
					n, _ := parseInt(d.val)
					u.thinkingTokens = max(u.thinkingTokens, n)
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
