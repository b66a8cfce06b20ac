package translate

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/osmen-ai/llmroute/sidecar/sse"
)

// anthropicStream is a text answer of n deltas as Anthropic streams it.
func anthropicStream(n int) []byte {
	var b bytes.Buffer
	b.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5-20250929\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1,\"service_tier\":\"standard\"}}}\n\n")
	b.WriteString("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
	b.WriteString("event: ping\ndata: {\"type\": \"ping\"}\n\n")
	words := []string{" The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".\\n"}
	for i := range n {
		fmt.Fprintf(&b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"%s\"}}\n\n", words[i%len(words)])
	}
	b.WriteString("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n")
	b.WriteString("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":200}}\n\n")
	b.WriteString("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	return b.Bytes()
}

// openAIStream is a text answer of n chunks as OpenAI streams it with
// include_usage.
func openAIStream(n int) []byte {
	var b bytes.Buffer
	head := `{"id":"chatcmpl-BsV8f1yQcT0aN2kZ9mHqX3eL","object":"chat.completion.chunk","created":1764000000,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[{"index":0,"delta":`
	fmt.Fprintf(&b, "data: %s{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"xY\"}\n\n", head)
	words := []string{" The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".\\n"}
	for i := range n {
		fmt.Fprintf(&b, "data: %s{\"content\":\"%s\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"q1w2e3\"}\n\n", head, words[i%len(words)])
	}
	fmt.Fprintf(&b, "data: %s{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n", head)
	b.WriteString(`data: {"id":"chatcmpl-BsV8f1yQcT0aN2kZ9mHqX3eL","object":"chat.completion.chunk","created":1764000000,"model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":27,"completion_tokens":200,"total_tokens":227,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// readEvents parses a stream once, copying the events, so benchmarks time
// the translation alone.
func readEvents(stream []byte) []sse.Event {
	r := sse.NewReader(bytes.NewReader(stream))
	var evs []sse.Event
	for {
		ev, err := r.Next()
		if err != nil {
			return evs
		}
		evs = append(evs, sse.Event{Name: ev.Name, Data: bytes.Clone(ev.Data), Raw: bytes.Clone(ev.Raw)})
	}
}

func benchmarkStream(b *testing.B, client, backend Format, req string, stream []byte) {
	evs := readEvents(stream)
	out := make([]byte, 0, 256<<10)
	b.ReportAllocs()
	b.ResetTimer()
	r := mustRequest(b, []byte(req))
	for b.Loop() {
		tr := New(client, backend)
		if _, err := tr.Request(nil, r, "m"); err != nil {
			b.Fatal(err)
		}
		st := tr.Stream()
		out = out[:0]
		for _, ev := range evs {
			var err error
			if out, _, err = st.Event(out, ev); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
}

// One op is a whole 200-delta stream, request included.
func BenchmarkStreamChatFromMessages(b *testing.B) {
	benchmarkStream(b, ChatCompletions, Messages, `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}`, anthropicStream(200))
}

func BenchmarkStreamMessagesFromChat(b *testing.B) {
	benchmarkStream(b, Messages, ChatCompletions, `{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"Hi"}]}`, openAIStream(200))
}

// benchmarkDelta times the steady state: one text delta event per op, on a
// translator whose stream has started.
func benchmarkDelta(b *testing.B, client, backend Format, req string, stream []byte) {
	evs := readEvents(stream)
	st := startedStream(b, client, backend, req, evs[:4])
	out := make([]byte, 0, 64<<10)
	var err error
	delta := evs[4]
	b.ReportAllocs()
	b.SetBytes(int64(len(delta.Raw)))
	for b.Loop() {
		if out, _, err = st.Event(out[:0], delta); err != nil {
			b.Fatal(err)
		}
	}
}

// startedStream returns a stream that has seen the events of its start.
func startedStream(tb testing.TB, client, backend Format, req string, start []sse.Event) Stream {
	tr := New(client, backend)
	if _, err := tr.Request(nil, mustRequest(tb, []byte(req)), "m"); err != nil {
		tb.Fatal(err)
	}
	st := tr.Stream()
	for _, ev := range start {
		if _, _, err := st.Event(nil, ev); err != nil {
			tb.Fatal(err)
		}
	}
	return st
}

func BenchmarkStreamResponsesFromMessages(b *testing.B) {
	benchmarkStream(b, Responses, Messages, `{"model":"gpt-4o","stream":true,"input":"Hi"}`, anthropicStream(200))
}

func BenchmarkStreamResponsesFromChat(b *testing.B) {
	benchmarkStream(b, Responses, ChatCompletions, `{"model":"gpt-4o","stream":true,"input":"Hi"}`, openAIStream(200))
}

func BenchmarkDeltaChatFromMessages(b *testing.B) {
	benchmarkDelta(b, ChatCompletions, Messages, `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}`, anthropicStream(4))
}

func BenchmarkDeltaMessagesFromChat(b *testing.B) {
	benchmarkDelta(b, Messages, ChatCompletions, `{"model":"claude","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"Hi"}]}`, openAIStream(4))
}

func BenchmarkDeltaResponsesFromMessages(b *testing.B) {
	benchmarkDelta(b, Responses, Messages, `{"model":"gpt-4o","stream":true,"input":"Hi"}`, anthropicStream(4))
}

func BenchmarkDeltaResponsesFromChat(b *testing.B) {
	benchmarkDelta(b, Responses, ChatCompletions, `{"model":"gpt-4o","stream":true,"input":"Hi"}`, openAIStream(4))
}

// The per-event path must not allocate once the stream has started.
func TestStreamEventAllocs(t *testing.T) {
	cases := []struct {
		name            string
		client, backend Format
		req             string
		stream          []byte
	}{
		{"chat from messages", ChatCompletions, Messages, `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}`, anthropicStream(4)},
		{"messages from chat", Messages, ChatCompletions, `{"model":"claude","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"Hi"}]}`, openAIStream(4)},
		{"chat identity", ChatCompletions, ChatCompletions, `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Hi"}]}`, openAIStream(4)},
		{"messages identity", Messages, Messages, `{"model":"claude","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"Hi"}]}`, anthropicStream(4)},
		{"responses from messages", Responses, Messages, `{"model":"gpt-4o","stream":true,"input":"Hi"}`, anthropicStream(4)},
		{"responses from chat", Responses, ChatCompletions, `{"model":"gpt-4o","stream":true,"input":"Hi"}`, openAIStream(4)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs := readEvents(c.stream)
			st := startedStream(t, c.client, c.backend, c.req, evs[:4]) // the stream and its text block started
			out := make([]byte, 0, 64<<10)
			var err error
			delta := evs[4]
			allocs := testing.AllocsPerRun(100, func() {
				if out, _, err = st.Event(out[:0], delta); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per delta event, want 0", allocs)
			}
		})
	}
}

// An identity reads an event sent without an event: line from its data,
// still without allocating.
func TestIdentityUnnamedEventAllocs(t *testing.T) {
	for f, data := range map[Format]string{
		Messages:  `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}`,
		Responses: `data: {"type":"response.output_text.delta","delta":"x","sequence_number":3}`,
	} {
		ev := readEvents([]byte(data + "\n\n"))[0]
		st := New(f, f).Stream()
		out := make([]byte, 0, 4096)
		allocs := testing.AllocsPerRun(100, func() {
			var kind EventKind
			if out, kind, _ = st.Event(out[:0], ev); kind != Content {
				t.Fatalf("%v: kind %d", f, kind)
			}
		})
		if allocs != 0 {
			t.Errorf("%v: %v allocations per unnamed event, want 0", f, allocs)
		}
	}
}

func benchmarkRequest(b *testing.B, client, backend Format, file string) {
	body, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	r := mustRequest(b, body)
	for b.Loop() {
		if _, err := New(client, backend).Request(nil, r, "m"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRequestChatToMessages(b *testing.B) {
	benchmarkRequest(b, ChatCompletions, Messages, "testdata/chat_messages_request_tools.in.json")
}

func BenchmarkRequestMessagesToChat(b *testing.B) {
	benchmarkRequest(b, Messages, ChatCompletions, "testdata/messages_chat_request_tools.in.json")
}

func BenchmarkResponseChatFromMessages(b *testing.B) {
	body, err := os.ReadFile("testdata/chat_messages_response_tool_use.in.json")
	if err != nil {
		b.Fatal(err)
	}
	tr := New(ChatCompletions, Messages)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tr.Response(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadRequest is the scan every routed request pays.
func BenchmarkReadRequest(b *testing.B) {
	body, err := os.ReadFile("testdata/chat_messages_request_tools.in.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ReadRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdentityChunk is the cost of relaying one chat chunk as it is.
func BenchmarkIdentityChunk(b *testing.B) {
	ev := readEvents(openAIStream(1))[1]
	st := New(ChatCompletions, ChatCompletions).Stream()
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		var kind EventKind
		if out, kind, _ = st.Event(out[:0], ev); kind != Content {
			b.Fatal("not content")
		}
	}
}
