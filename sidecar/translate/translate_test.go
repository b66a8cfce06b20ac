package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/osmen-ai/llmroute/sidecar/sse"
)

func TestNew(t *testing.T) {
	for _, f := range []Format{ChatCompletions, Messages, Responses, Completions, Embeddings} {
		if _, ok := New(f, f).(identity); !ok {
			t.Errorf("%v to itself is not the identity", f)
		}
	}
	if _, ok := New(ChatCompletions, Messages).(*chatToMessages); !ok {
		t.Fatal("chat client, Messages backend")
	}
	if _, ok := New(Messages, ChatCompletions).(*messagesToChat); !ok {
		t.Fatal("Messages client, chat backend")
	}
	for _, pair := range [][2]Format{{Embeddings, ChatCompletions}, {Completions, Messages}, {Messages, Embeddings}} {
		if New(pair[0], pair[1]) != nil || Translates(pair[0], pair[1]) {
			t.Errorf("%v from %v must have no translator", pair[0], pair[1])
		}
	}
	if Translates(Format(0), ChatCompletions) {
		t.Error("an unknown format translates")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an unknown format must panic")
		}
	}()
	New(Format(0), ChatCompletions)
}

func TestFormat(t *testing.T) {
	if ChatCompletions.String() != "chat_completions" || Messages.String() != "messages" || Format(9).String() != "Format(9)" {
		t.Fatal(ChatCompletions.String(), Messages.String(), Format(9).String())
	}
	for f, want := range map[Format]string{ChatCompletions: "/chat/completions", Messages: "/v1/messages", Responses: "/responses", Completions: "/completions", Embeddings: "/embeddings"} {
		if f.Path() != want {
			t.Errorf("%v.Path() = %q, want %q", f, f.Path(), want)
		}
	}
	if Messages.Family() != AnthropicFamily || Responses.Family() != OpenAIFamily || AnthropicFamily.BasePath() != "" || OpenAIFamily.BasePath() != "/v1" {
		t.Fatal("families")
	}
}

func TestUnsupportedError(t *testing.T) {
	_, err := New(ChatCompletions, Messages).Request(nil, mustRequest(t, []byte(`{"model":"m","messages":[{"role":"user","content":"x"}],"n":3}`)), "")
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.Field != "n" {
		t.Fatalf("got %v", err)
	}
	if got, want := err.Error(), "field n: Anthropic returns one choice; n must be 1"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

// An empty model argument keeps the client's model.
func TestRequestKeepsModel(t *testing.T) {
	out, err := New(ChatCompletions, Messages).Request(nil, mustRequest(t, []byte(`{"model":"claude-x","messages":[{"role":"user","content":"x"}]}`)), "")
	if err != nil || !bytes.Contains(out, []byte(`"model":"claude-x"`)) {
		t.Fatalf("%s, %v", out, err)
	}
	out, err = New(Messages, ChatCompletions).Request(nil, mustRequest(t, []byte(`{"model":"gpt-x","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`)), "")
	if err != nil || !bytes.Contains(out, []byte(`"model":"gpt-x"`)) {
		t.Fatalf("%s, %v", out, err)
	}
}

// The identity replaces the model and nothing else, and copies nothing when
// the model stays.
func TestIdentityRequest(t *testing.T) {
	body := []byte(` {"messages":[{"role":"user","content":"\"model\": x"}], "model" : "gpt-4o" ,"stream":true} `)
	r := mustRequest(t, body)
	if r.Model != "gpt-4o" || !r.Stream {
		t.Fatalf("read %+v", r)
	}
	tr := New(ChatCompletions, ChatCompletions)
	out, err := tr.Request(make([]byte, 0, 256), r, "llama3.2")
	want := ` {"messages":[{"role":"user","content":"\"model\": x"}], "model" : "llama3.2" ,"stream":true} `
	if err != nil || string(out) != want {
		t.Fatalf("got %s, %v", out, err)
	}
	if out, _ := tr.Request(nil, r, "gpt-4o"); &out[0] != &body[0] {
		t.Fatal("an unchanged model copied the body")
	}
	noModel := mustRequest(t, []byte(`{"input":"x"}`))
	if out, _ := tr.Request(nil, noModel, "m"); string(out) != `{"input":"x"}` {
		t.Fatalf("a body without a model changed: %s", out)
	}
}

func TestReadRequest(t *testing.T) {
	tests := []struct {
		body, model string
		stream      bool
		err         string
	}{
		{`{"model":"m","stream":false}`, "m", false, ""},
		{`{}`, "", false, ""},
		{`{"mod\u0065l":"a\u00e9"}`, "aé", false, ""},
		{`{"model":1}`, "", false, `"model" must be a string`},
		{`[1]`, "", false, "not a JSON object"},
		{`{"model":"m"} x`, "", false, "not a JSON object"},
		{`{"model":"m",}`, "", false, "not a JSON object"},
		{`{"a":[1,2}`, "", false, "not a JSON object"},
		{``, "", false, "not a JSON object"},
	}
	for _, tt := range tests {
		r, err := ReadRequest([]byte(tt.body))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ReadRequest(%s) error %v, want %q", tt.body, err, tt.err)
			}
			continue
		}
		if err != nil || r.Model != tt.model || r.Stream != tt.stream {
			t.Errorf("ReadRequest(%s) = %q %v, %v", tt.body, r.Model, r.Stream, err)
		}
	}
}

// Without a request, responses report the backend's model.
func TestResponseModelWithoutRequest(t *testing.T) {
	out, _, err := New(ChatCompletions, Messages).Response([]byte(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-real","content":[],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":2}}`))
	if err != nil || !bytes.Contains(out, []byte(`"model":"claude-real"`)) || !bytes.Contains(out, []byte(`"content":null`)) {
		t.Fatalf("%s, %v", out, err)
	}
}

func TestUsageFromResponses(t *testing.T) {
	tests := []struct {
		client, backend Format
		body            string
		want            Usage
	}{
		{ChatCompletions, Messages, `{"id":"m","type":"message","content":[],"usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":7}}`, Usage{115, 7}},
		{Messages, ChatCompletions, `{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":120,"completion_tokens":8,"prompt_tokens_details":{"cached_tokens":100}}}`, Usage{120, 8}},
		{ChatCompletions, ChatCompletions, `{"id":"c","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3}}`, Usage{12, 3}},
		{Messages, Messages, `{"id":"m","type":"message","content":[],"usage":{"input_tokens":10,"cache_read_input_tokens":90,"output_tokens":7}}`, Usage{100, 7}},
		{Responses, Responses, `{"id":"resp_1","object":"response","output":[],"usage":{"input_tokens":30,"input_tokens_details":{"cached_tokens":20},"output_tokens":4,"total_tokens":34}}`, Usage{30, 4}},
		{Embeddings, Embeddings, `{"object":"list","data":[],"usage":{"prompt_tokens":8,"total_tokens":8}}`, Usage{8, 0}},
		{ChatCompletions, ChatCompletions, `{"id":"c","choices":[]}`, Usage{}},
	}
	for _, tt := range tests {
		_, u, err := New(tt.client, tt.backend).Response([]byte(tt.body))
		if err != nil || u != tt.want {
			t.Errorf("%v from %v: usage %+v, %v; want %+v", tt.client, tt.backend, u, err, tt.want)
		}
	}
}

func TestErrorBody(t *testing.T) {
	tests := []struct {
		f                  Format
		status             int
		errType, code, msg string
		want               string
	}{
		{ChatCompletions, 429, "", "", "slow down", `{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`},
		{ChatCompletions, 400, "invalid_request_error", "", "bad \"x\"\n", `{"error":{"message":"bad \"x\"\n","type":"invalid_request_error","param":null,"code":null}}`},
		{Responses, 503, "", "", "no backend", `{"error":{"message":"no backend","type":"server_error","param":null,"code":null}}`},
		{Embeddings, 400, "invalid_request_error", "unsupported_parameter", "n", `{"error":{"message":"n","type":"invalid_request_error","param":null,"code":"unsupported_parameter"}}`},
		{Messages, 529, "", "", "all providers overloaded", `{"type":"error","error":{"type":"overloaded_error","message":"all providers overloaded"}}`},
		{Messages, 401, "", "", "no key", `{"type":"error","error":{"type":"authentication_error","message":"no key"}}`},
		{Messages, 400, "invalid_request_error", "ignored", "<b>", `{"type":"error","error":{"type":"invalid_request_error","message":"<b>"}}`},
	}
	for _, tt := range tests {
		got := string(tt.f.ErrorBody(tt.status, tt.errType, tt.code, tt.msg))
		if got != tt.want {
			t.Errorf("%v.ErrorBody(%d, %q, %q) = %s, want %s", tt.f, tt.status, tt.errType, tt.code, got, tt.want)
		}
	}
}

// Error keeps a same-family body as it is, and with a message of the
// sidecar's own keeps the provider's category in the client's vocabulary:
// an OpenAI client never receives Anthropic's error types.
func TestError(t *testing.T) {
	body := []byte(`{"error":{"message":"x"}}`)
	if got := New(ChatCompletions, ChatCompletions).Error(500, body, ""); !bytes.Equal(got, body) {
		t.Fatalf("identity changed the body: %s", got)
	}
	if got := New(Responses, Responses).Error(500, body, ""); !bytes.Equal(got, body) {
		t.Fatalf("identity changed the body: %s", got)
	}
	overloaded := []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
	tests := []struct {
		client, backend Format
		status          int
		body            []byte
		message, want   string
	}{
		{ChatCompletions, Messages, 529, overloaded, "llmroute: tried claude", `{"error":{"message":"llmroute: tried claude","type":"server_error","param":null,"code":null}}`},
		{Messages, Messages, 529, overloaded, "llmroute: tried claude", `{"type":"error","error":{"type":"overloaded_error","message":"llmroute: tried claude"}}`},
		{ChatCompletions, ChatCompletions, 429, []byte(`{"error":{"message":"Rate limit","type":"requests","code":"rate_limit_exceeded"}}`), "llmroute: tried openai",
			`{"error":{"message":"llmroute: tried openai","type":"requests","param":null,"code":"rate_limit_exceeded"}}`},
		{Messages, ChatCompletions, 429, []byte(`{"error":{"message":"Rate limit","type":"requests","code":"rate_limit_exceeded"}}`), "m",
			`{"type":"error","error":{"type":"rate_limit_error","message":"m"}}`},
		{ChatCompletions, ChatCompletions, 502, []byte(`<html>bad gateway</html>`), "m", `{"error":{"message":"m","type":"server_error","param":null,"code":null}}`},
	}
	for _, tt := range tests {
		if got := string(New(tt.client, tt.backend).Error(tt.status, tt.body, tt.message)); got != tt.want {
			t.Errorf("%v from %v: %s, want %s", tt.client, tt.backend, got, tt.want)
		}
	}
}

func TestErrorLongText(t *testing.T) {
	body := []byte(strings.Repeat("é", 2000))
	out := New(ChatCompletions, Messages).Error(502, body, "")
	var e oaError
	if err := json.Unmarshal(out, &e); err != nil {
		t.Fatal(err)
	}
	if !utf8.ValidString(e.Error.Message) || len(e.Error.Message) > maxErrorText+len("…") {
		t.Fatalf("message of %d bytes", len(e.Error.Message))
	}
}

// Fail ends a stream with an error event the client's SDK recognises as one.
func TestFail(t *testing.T) {
	for _, f := range []Format{ChatCompletions, Messages, Responses} {
		st := New(f, f).Stream()
		out := st.Fail(nil, "", "upstream \"died\"")
		ev, err := sse.NewReader(bytes.NewReader(out)).Next()
		if err != nil {
			t.Fatal(err)
		}
		if _, kind, _ := New(f, f).Stream().Event(nil, ev); !json.Valid(ev.Data) || kind != Failed {
			t.Fatalf("%v: %q is not a valid error event", f, out)
		}
		if !bytes.Contains(ev.Data, []byte(`upstream \"died\"`)) {
			t.Fatalf("%v: message lost: %s", f, ev.Data)
		}
	}
	if got := string(New(ChatCompletions, ChatCompletions).Stream().Fail(nil, "", "x")); got != `data: {"error":{"message":"x","type":"server_error","param":null,"code":null}}`+"\n\n" {
		t.Fatalf("chat: %q", got)
	}
	if got := string(New(Messages, Messages).Stream().Fail(nil, "overloaded_error", "x")); got != "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"x\"}}\n\n" {
		t.Fatalf("messages: %q", got)
	}
	// A Responses error event follows the last sequence number seen.
	st := New(Responses, Responses).Stream()
	ev, _ := sse.NewReader(strings.NewReader("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"sequence_number\",\"sequence_number\":41}\n\n")).Next()
	if _, kind, _ := st.Event(nil, ev); kind != Content {
		t.Fatal("a text delta is not content")
	}
	if got := string(st.Fail(nil, "", "x")); got != "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"x\",\"param\":null,\"sequence_number\":42}\n\n" {
		t.Fatalf("responses: %q", got)
	}
}

// Each format's events are told apart the way its SDKs tell them.
func TestIdentityEventKinds(t *testing.T) {
	tests := []struct {
		f    Format
		in   string
		want EventKind
	}{
		{ChatCompletions, `data: {"error":{"message":"x","type":"server_error"}}`, Failed},
		{ChatCompletions, "event: error\ndata: {\"error\":{\"message\":\"x\"}}", Failed},
		{ChatCompletions, `data: {"error":null,"choices":[]}`, Content},
		{ChatCompletions, `data: {"choices":[{"delta":{"content":"the \"error\" word"}}]}`, Content},
		{ChatCompletions, `data: {"choices":[],"x":{"error":1}}`, Content},
		{ChatCompletions, `data: [DONE]`, Done},
		{Completions, `data: [DONE]`, Done},
		{ChatCompletions, `: comment`, Preamble},
		{Messages, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}", Failed},
		{Messages, `data: {"type":"error","error":{"type":"api_error","message":"x"}}`, Failed},
		{Messages, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"error\"}}", Content},
		{Messages, "event: ping\ndata: {\"type\":\"ping\"}", Preamble},
		{Messages, `data: {"type": "ping"}`, Preamble}, // unnamed: a keep-alive must not commit the attempt
		{Messages, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}", Preamble},
		{Messages, `data: {"type":"message_stop"}`, Done},
		{Responses, "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0}", Preamble},
		{Responses, "event: response.in_progress\ndata: {\"type\":\"response.in_progress\",\"sequence_number\":1}", Preamble},
		{Responses, "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":2}", Content},
		{Responses, `data: {"type":"response.function_call_arguments.delta","delta":"{","sequence_number":3}`, Content},
		{Responses, "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{},\"sequence_number\":9}", Done},
		{Responses, "event: response.incomplete\ndata: {\"type\":\"response.incomplete\",\"response\":{},\"sequence_number\":9}", Done},
		{Responses, "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"x\",\"sequence_number\":3}", Failed},
		{Responses, "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{},\"sequence_number\":3}", Failed},
		// Unnamed, the type in the data decides.
		{Responses, `data: {"type":"response.created","response":{},"sequence_number":0}`, Preamble},
		{Responses, `data: {"type":"response.incomplete","response":{},"sequence_number":9}`, Done},
		{Responses, `data: {"type":"error","code":"server_error","message":"x","sequence_number":3}`, Failed},
	}
	for _, tt := range tests {
		ev, err := sse.NewReader(strings.NewReader(tt.in + "\n\n")).Next()
		if err != nil {
			t.Fatal(err)
		}
		out, kind, err := New(tt.f, tt.f).Stream().Event(nil, ev)
		if err != nil || kind != tt.want {
			t.Errorf("%v %q: kind %d, %v; want %d", tt.f, tt.in, kind, err, tt.want)
		}
		if !bytes.Equal(out, ev.Raw) {
			t.Errorf("%v %q: relayed %q", tt.f, tt.in, out)
		}
	}
}

// Identity streams read the usage as it passes.
func TestIdentityStreamUsage(t *testing.T) {
	responses := "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"usage\"}]}],\"usage\":{\"input_tokens\":11,\"output_tokens\":5,\"total_tokens\":16}},\"sequence_number\":7}\n\n"
	for _, tt := range []struct {
		f      Format
		stream []byte
		want   Usage
	}{
		{ChatCompletions, openAIStream(3), Usage{27, 200}},
		{Messages, anthropicStream(3), Usage{25, 200}},
		{Responses, []byte(responses), Usage{11, 5}},
	} {
		st := New(tt.f, tt.f).Stream()
		out, err := translateStream(st, tt.stream)
		if err != nil || !bytes.Equal(out, tt.stream) {
			t.Fatalf("%v: relayed %q, %v", tt.f, out, err)
		}
		if st.Usage() != tt.want {
			t.Errorf("%v: usage %+v, want %+v", tt.f, st.Usage(), tt.want)
		}
	}
}

// A chat chunk's usage is read however the backend spaces it, and chunks
// whose usage is null, or that only mention "usage" in their text, leave it.
func TestIdentityChatUsageChunks(t *testing.T) {
	st := New(ChatCompletions, ChatCompletions).Stream()
	for _, c := range []struct {
		data string
		want Usage
	}{
		{`{"choices":[],"usage": {"prompt_tokens": 5, "completion_tokens": 2}}`, Usage{5, 2}},
		{`{"choices":[{"index":0,"delta":{"content":"\"usage\": {"}}],"usage":null}`, Usage{5, 2}},
		{`{"choices":[{"index":0,"delta":{"content":"\"usage\":{\"prompt_tokens\":9}"}}]}`, Usage{5, 2}},
		{"{\"choices\":[],\"usage\"\t:  {\"prompt_tokens\":7,\"completion_tokens\":3}}", Usage{7, 3}},
	} {
		if _, kind, err := st.Event(nil, readOne(t, "data: "+c.data)); err != nil || kind != Content {
			t.Fatalf("%s: kind %d, %v", c.data, kind, err)
		}
		if st.Usage() != c.want {
			t.Errorf("after %s: usage %+v, want %+v", c.data, st.Usage(), c.want)
		}
	}
}

// Each attempt gets its own Stream: the second attempt's stream is not
// affected by what the first one saw.
func TestFreshStreamPerAttempt(t *testing.T) {
	stream := anthropicStream(3)
	tr := newTestTranslator(ChatCompletions, Messages)
	if _, err := tr.Request(nil, mustRequest(t, []byte(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Hi"}]}`)), "claude"); err != nil {
		t.Fatal(err)
	}
	var outs [2][]byte
	for i := range outs {
		var err error
		if outs[i], err = translateStream(tr.Stream(), stream); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Fatal("two attempts translated the same stream differently")
	}
}

// Events after the closing event are ignored: the stream was complete.
func TestEventsAfterClose(t *testing.T) {
	for _, c := range []struct {
		client, backend Format
		stream          []byte
	}{{ChatCompletions, Messages, anthropicStream(1)}, {Messages, ChatCompletions, openAIStream(1)}} {
		st := New(c.client, c.backend).Stream()
		out, err := translateStream(st, c.stream)
		if err != nil {
			t.Fatal(err)
		}
		if more, kind, _ := st.Event(nil, readEvents(c.stream)[0]); kind != Done || len(more) != 0 {
			t.Fatalf("an event after the close wrote %q (after %q)", more, out)
		}
	}
}

func TestScanner(t *testing.T) {
	data := []byte(` { "a" : "x\"y" , "b":[1,{"c":"]"}],"d":{"e":null},"f":-1.5e3,"g":true,"h":"\u00e9\ud83d\ude00"} `)
	want := map[string]string{"a": `"x\"y"`, "b": `[1,{"c":"]"}]`, "d": `{"e":null}`, "f": `-1.5e3`, "g": `true`, "h": `"\u00e9\ud83d\ude00"`}
	it := objectMembers(data)
	n := 0
	for it.next() {
		if want[string(it.key)] != string(it.val) {
			t.Errorf("%s = %s, want %s", it.key, it.val, want[string(it.key)])
		}
		n++
	}
	if it.err || n != len(want) {
		t.Fatalf("err=%v, %d members", it.err, n)
	}
	if got := stringValue([]byte(`"\u00e9\ud83d\ude00\n\"\\\/"`)); got != "é😀\n\"\\/" {
		t.Fatalf("stringValue = %q", got)
	}
	for _, bad := range []string{`{"a":"x`, `{"a" "x"}`, `{"a":"\x"}`, `{"a":"` + "\n" + `"}`, `{"a":1,}`, `[`, `{"a":tru}`} {
		it := objectMembers([]byte(bad))
		for it.next() {
		}
		if !it.err {
			t.Errorf("%q: no error", bad)
		}
	}
	el := arrayElements([]byte(`[ 1 , "two" , [3] ]`))
	var got []string
	for el.next() {
		got = append(got, string(el.val))
	}
	if el.err || strings.Join(got, "|") != `1|"two"|[3]` {
		t.Fatalf("elements %q err=%v", got, el.err)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\ nl\n tab\t ctl\x01", "é😀", "\u2028\u2029", "bad \xff utf8", "<>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q: invalid JSON %q: %v", s, out, err)
		}
		if back != strings.ToValidUTF8(s, "\uFFFD") && utf8.ValidString(s) {
			t.Fatalf("%q came back as %q", s, back)
		}
		if !isString(out) || scanString(out, 0) != len(out) {
			t.Fatalf("scanString rejects %q", out)
		}
		if got := stringValue(out); got != back {
			t.Fatalf("stringValue(%q) = %q, want %q", out, got, back)
		}
	})
}

func TestTranslateStreamReadError(t *testing.T) {
	_, err := translateStream(New(ChatCompletions, Messages).Stream(), []byte("event: message_start\ndata: {"))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v", err)
	}
}

// An Anthropic stream counts the same tokens whatever the client's format:
// the identity and the translators read its usage one way. A compatible
// server's message_delta that repeats the input as 0 does not erase it.
func TestAnthropicStreamUsageAgreesAcrossFormats(t *testing.T) {
	stream := []byte("event: message_start\n" +
		`data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","usage":{"input_tokens":25,"cache_read_input_tokens":5,"cache_creation_input_tokens":0,"output_tokens":1}}}` + "\n\n" +
		"event: content_block_start\n" + `data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}` + "\n\n" +
		"event: content_block_delta\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}` + "\n\n" +
		"event: content_block_stop\n" + `data: {"type":"content_block_stop","index":0}` + "\n\n" +
		"event: message_delta\n" + `data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":0,"output_tokens":12}}` + "\n\n" +
		"event: message_stop\n" + `data: {"type":"message_stop"}` + "\n\n")
	want := Usage{InputTokens: 30, OutputTokens: 12}
	for _, client := range []Format{Messages, ChatCompletions, Responses} {
		st := New(client, Messages).Stream()
		var out []byte
		for _, ev := range readEvents(stream) {
			var err error
			if out, _, err = st.Event(out[:0], ev); err != nil {
				t.Fatalf("%s client: %v", client, err)
			}
		}
		if got := st.Usage(); got != want {
			t.Errorf("%s client: usage %+v, want %+v", client, got, want)
		}
	}
}
