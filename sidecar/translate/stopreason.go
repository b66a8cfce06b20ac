package translate

// Why generation stopped, between OpenAI's finish_reason and Anthropic's
// stop_reason.

// finishReason maps an Anthropic stop_reason to OpenAI's finish_reason.
//
//   - end_turn, stop_sequence → stop (OpenAI uses stop for both).
//   - max_tokens → length.
//   - tool_use → tool_calls.
//   - refusal (a safety classifier stopped the answer) → content_filter,
//     OpenAI's "content was omitted by a filter".
//   - model_context_window_exceeded → length: the output was cut short by a
//     token limit, as OpenAI reports it.
//   - pause_turn (a server tool paused a long turn; the translator never
//     requests server tools, so it should not occur) → length: the answer is
//     incomplete and the client may continue it, which is what length means.
//   - anything else, or none → stop.
func finishReason(stopReason string) string {
	switch stopReason {
	case "max_tokens", "model_context_window_exceeded", "pause_turn":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	}
	return "stop"
}

// stopReason maps an OpenAI finish_reason to Anthropic's stop_reason. OpenAI
// reports a matched stop sequence as plain "stop" and does not say which, so
// it becomes end_turn; an OpenAI refusal (a message with refusal text)
// becomes refusal, decided by the caller.
func stopReason(finishReason string) string {
	switch finishReason {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	}
	return "end_turn"
}
