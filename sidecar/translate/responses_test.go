package translate

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/osmen-ai/llmroute/sidecar/sse"
)

func TestNewResponses(t *testing.T) {
	if _, ok := New(Responses, ChatCompletions).(*responsesToChat); !ok || !Translates(Responses, ChatCompletions) {
		t.Error("Responses client, chat completions backend")
	}
	if _, ok := New(Responses, Messages).(*responsesToMessages); !ok || !Translates(Responses, Messages) {
		t.Error("Responses client, Messages backend")
	}
	for _, pair := range [][2]Format{{ChatCompletions, Responses}, {Messages, Responses}, {Responses, Embeddings}} {
		if Translates(pair[0], pair[1]) {
			t.Errorf("%v from %v must have no translator", pair[0], pair[1])
		}
	}
}

// readOne reads the first event of a stream's text.
func readOne(t *testing.T, s string) sse.Event {
	t.Helper()
	ev, err := sse.NewReader(strings.NewReader(s + "\n\n")).Next()
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// The backend's events are classified as the backend format's identity
// classifies them: that decides when the proxy may still retry.
func TestResponsesEventKinds(t *testing.T) {
	tests := []struct {
		backend Format
		events  []string // fed in order; the last one is checked
		want    EventKind
	}{
		{ChatCompletions, []string{`data: {"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`}, Content},
		{ChatCompletions, []string{`data: {"error":{"message":"x","type":"server_error"}}`}, Failed},
		{ChatCompletions, []string{`data: [DONE]`}, Done},
		{ChatCompletions, []string{`: keep-alive`}, Preamble},
		{Messages, []string{"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}"}, Preamble},
		{Messages, []string{"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"}, Preamble},
		{Messages, []string{"event: ping\ndata: {\"type\":\"ping\"}"}, Preamble},
		{Messages, []string{`: keep-alive`}, Preamble},
		{Messages, []string{"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"error\"}}"}, Content},
		{Messages, []string{`data: {"type":"message_stop"}`}, Done},
		{Messages, []string{"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}"}, Failed},
	}
	for _, tt := range tests {
		st := New(Responses, tt.backend).Stream()
		var kind EventKind
		var err error
		for _, e := range tt.events {
			_, kind, err = st.Event(nil, readOne(t, e))
		}
		if err != nil || kind != tt.want {
			t.Errorf("%v %q: kind %d, %v; want %d", tt.backend, tt.events, kind, err, tt.want)
		}
	}
}

// Fail's error event follows the last event written, so the client sees no
// gap in the sequence numbers.
func TestResponsesFailSequence(t *testing.T) {
	st := New(Responses, Messages).Stream()
	out, err := translateStream(st, anthropicStream(2)[:bytes.Index(anthropicStream(2), []byte("event: content_block_stop"))])
	if err != nil {
		t.Fatal(err)
	}
	// created, in_progress, item added, part added, two deltas: 0 to 5.
	if !bytes.HasSuffix(out, []byte(`"param":null,"sequence_number":6}`+"\n\n")) {
		t.Fatalf("the error event does not follow the deltas:\n%s", out)
	}
	if more, kind, _ := st.Event(nil, readOne(t, `data: {"type":"message_stop"}`)); kind != Done || len(more) != 0 {
		t.Fatalf("an event after Fail wrote %q", more)
	}
}

// Each attempt gets its own Stream: the second attempt's events start again
// at sequence number 0 and are the first attempt's.
func TestResponsesFreshStreamPerAttempt(t *testing.T) {
	for _, c := range []struct {
		backend Format
		stream  []byte
	}{{Messages, anthropicStream(3)}, {ChatCompletions, openAIStream(3)}} {
		tr := newTestTranslator(Responses, c.backend)
		if _, err := tr.Request(nil, mustRequest(t, []byte(`{"model":"gpt-4o","stream":true,"input":"Hi"}`)), "m"); err != nil {
			t.Fatal(err)
		}
		var outs [2][]byte
		for i := range outs {
			var err error
			if outs[i], err = translateStream(tr.Stream(), c.stream); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(outs[0], outs[1]) {
			t.Errorf("%v: two attempts translated the same stream differently", c.backend)
		}
	}
}

// Chat completions backends stream one tool call after another; arguments
// for a call after the next output item began cannot be written as
// Responses events and make the stream unreadable, not wrong.
func TestResponsesChatToolCallOrder(t *testing.T) {
	chunk := func(calls string) string {
		return `data: {"id":"c","choices":[{"index":0,"delta":{"tool_calls":[` + calls + `]}}]}`
	}
	st := New(Responses, ChatCompletions).Stream()
	for i, e := range []string{
		chunk(`{"index":0,"id":"call_a","function":{"name":"a","arguments":"{"}}`),
		chunk(`{"index":1,"id":"call_b","function":{"name":"b","arguments":"{}"}}`),
		chunk(`{"index":0,"function":{"arguments":"}"}}`),
	} {
		_, _, err := st.Event(nil, readOne(t, e))
		if i < 2 && err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if i == 2 && !errors.Is(err, ErrInvalidResponse) {
			t.Fatalf("out-of-order arguments: %v", err)
		}
	}
}

// Without a request, a response reports the backend's model and the
// defaults of an empty request.
func TestResponsesWithoutRequest(t *testing.T) {
	out, _, err := New(Responses, Messages).Response([]byte(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-real","content":[{"type":"text","text":"x"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":2}}`))
	if err != nil || !bytes.Contains(out, []byte(`"model":"claude-real"`)) || !bytes.Contains(out, []byte(`"tool_choice":"auto","tools":[]`)) {
		t.Fatalf("%s, %v", out, err)
	}
}

// A stream that writes more text than the answer buffer's first size still
// repeats all of it in its done events.
func TestResponsesLongAnswer(t *testing.T) {
	st := New(Responses, Messages).Stream()
	out, err := translateStream(st, anthropicStream(rsArenaSize/2/10*10+10)) // whole sentences of 10 deltas
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := checkStream(t, "long answer", out)
	if len(answer.text) < 2*rsArenaSize || !strings.HasPrefix(answer.text, " The quick brown fox") || !strings.HasSuffix(answer.text, "lazy dog.\n") {
		t.Fatalf("%d bytes of text: %.60q…", len(answer.text), answer.text)
	}
}
