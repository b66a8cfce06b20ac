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
	if New(OpenAI, OpenAI) != nil || New(Anthropic, Anthropic) != nil {
		t.Fatal("same formats must pass through (nil translator)")
	}
	if _, ok := New(OpenAI, Anthropic).(*openAIToAnthropic); !ok {
		t.Fatal("OpenAI client, Anthropic backend")
	}
	if _, ok := New(Anthropic, OpenAI).(*anthropicToOpenAI); !ok {
		t.Fatal("Anthropic client, OpenAI backend")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an unknown format must panic")
		}
	}()
	New(Format(0), OpenAI)
}

func TestFormatString(t *testing.T) {
	if OpenAI.String() != "openai" || Anthropic.String() != "anthropic" || Format(7).String() != "Format(7)" {
		t.Fatal(OpenAI.String(), Anthropic.String(), Format(7).String())
	}
}

func TestUnsupportedError(t *testing.T) {
	_, err := New(OpenAI, Anthropic).Request([]byte(`{"model":"m","messages":[{"role":"user","content":"x"}],"n":3}`), "")
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
	out, err := New(OpenAI, Anthropic).Request([]byte(`{"model":"claude-x","messages":[{"role":"user","content":"x"}]}`), "")
	if err != nil || !bytes.Contains(out, []byte(`"model":"claude-x"`)) {
		t.Fatalf("%s, %v", out, err)
	}
	out, err = New(Anthropic, OpenAI).Request([]byte(`{"model":"gpt-x","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`), "")
	if err != nil || !bytes.Contains(out, []byte(`"model":"gpt-x"`)) {
		t.Fatalf("%s, %v", out, err)
	}
}

// Without a request, responses report the backend's model.
func TestResponseModelWithoutRequest(t *testing.T) {
	out, err := New(OpenAI, Anthropic).Response([]byte(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-real","content":[],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":2}}`))
	if err != nil || !bytes.Contains(out, []byte(`"model":"claude-real"`)) || !bytes.Contains(out, []byte(`"content":null`)) {
		t.Fatalf("%s, %v", out, err)
	}
}

func TestUsageFromResponses(t *testing.T) {
	tr := New(OpenAI, Anthropic)
	if _, err := tr.Response([]byte(`{"id":"m","type":"message","content":[],"usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":7}}`)); err != nil {
		t.Fatal(err)
	}
	if u := tr.Usage(); u != (Usage{InputTokens: 115, OutputTokens: 7}) {
		t.Fatalf("Anthropic backend usage %+v", u)
	}
	tr = New(Anthropic, OpenAI)
	if _, err := tr.Response([]byte(`{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":120,"completion_tokens":8,"prompt_tokens_details":{"cached_tokens":100}}}`)); err != nil {
		t.Fatal(err)
	}
	if u := tr.Usage(); u != (Usage{InputTokens: 120, OutputTokens: 8}) {
		t.Fatalf("OpenAI backend usage %+v", u)
	}
}

func TestErrorBody(t *testing.T) {
	tests := []struct {
		f                  Format
		status             int
		errType, code, msg string
		want               string
	}{
		{OpenAI, 429, "", "", "slow down", `{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`},
		{OpenAI, 400, "invalid_request_error", "", "bad \"x\"\n", `{"error":{"message":"bad \"x\"\n","type":"invalid_request_error","param":null,"code":null}}`},
		{OpenAI, 503, "", "", "no backend", `{"error":{"message":"no backend","type":"server_error","param":null,"code":null}}`},
		{OpenAI, 400, "invalid_request_error", "unsupported_parameter", "n", `{"error":{"message":"n","type":"invalid_request_error","param":null,"code":"unsupported_parameter"}}`},
		{Anthropic, 529, "", "", "all providers overloaded", `{"type":"error","error":{"type":"overloaded_error","message":"all providers overloaded"}}`},
		{Anthropic, 401, "", "", "no key", `{"type":"error","error":{"type":"authentication_error","message":"no key"}}`},
		{Anthropic, 400, "invalid_request_error", "ignored", "<b>", `{"type":"error","error":{"type":"invalid_request_error","message":"<b>"}}`},
	}
	for _, tt := range tests {
		got := string(ErrorBody(tt.f, tt.status, tt.errType, tt.code, tt.msg))
		if got != tt.want {
			t.Errorf("ErrorBody(%v, %d, %q, %q) = %s, want %s", tt.f, tt.status, tt.errType, tt.code, got, tt.want)
		}
	}
}

func TestConvertErrorSameFormat(t *testing.T) {
	body := []byte(`{"error":{"message":"x"}}`)
	if got := ConvertError(OpenAI, OpenAI, 500, body); !bytes.Equal(got, body) {
		t.Fatalf("got %s", got)
	}
}

func TestConvertErrorLongText(t *testing.T) {
	body := []byte(strings.Repeat("é", 2000))
	out := ConvertError(OpenAI, Anthropic, 502, body)
	var e oaError
	if err := json.Unmarshal(out, &e); err != nil {
		t.Fatal(err)
	}
	if !utf8.ValidString(e.Error.Message) || len(e.Error.Message) > maxErrorText+len("…") {
		t.Fatalf("message of %d bytes", len(e.Error.Message))
	}
}

func TestStreamErrorEvent(t *testing.T) {
	for _, f := range []Format{OpenAI, Anthropic} {
		out := StreamErrorEvent(nil, f, "", "upstream \"died\"")
		ev, err := sse.NewReader(bytes.NewReader(out)).Next()
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(ev.Data) || !IsErrorEvent(f, ev) {
			t.Fatalf("%v: %q is not a valid error event", f, out)
		}
		if !bytes.Contains(ev.Data, []byte(`upstream \"died\"`)) {
			t.Fatalf("%v: message lost: %s", f, ev.Data)
		}
	}
	if got := string(StreamErrorEvent(nil, OpenAI, "", "x")); got != `data: {"error":{"message":"x","type":"server_error","param":null,"code":null}}`+"\n\n" {
		t.Fatalf("OpenAI: %q", got)
	}
	if got := string(StreamErrorEvent(nil, Anthropic, "overloaded_error", "x")); got != "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"x\"}}\n\n" {
		t.Fatalf("Anthropic: %q", got)
	}
}

func TestIsErrorEvent(t *testing.T) {
	tests := []struct {
		f    Format
		in   string
		want bool
	}{
		{OpenAI, `data: {"error":{"message":"x","type":"server_error"}}`, true},
		{OpenAI, "event: error\ndata: {\"error\":{\"message\":\"x\"}}", true},
		{OpenAI, `data: {"error":null,"choices":[]}`, false},
		{OpenAI, `data: {"choices":[{"delta":{"content":"the \"error\" word"}}]}`, false},
		{OpenAI, `data: {"choices":[],"x":{"error":1}}`, false},
		{OpenAI, `data: [DONE]`, false},
		{OpenAI, `: comment`, false},
		{Anthropic, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}", true},
		{Anthropic, `data: {"type":"error","error":{"type":"api_error","message":"x"}}`, true},
		{Anthropic, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"error\"}}", false},
		{Anthropic, "event: ping\ndata: {\"type\":\"ping\"}", false},
	}
	for _, tt := range tests {
		ev, err := sse.NewReader(strings.NewReader(tt.in + "\n\n")).Next()
		if err != nil {
			t.Fatal(err)
		}
		if got := IsErrorEvent(tt.f, ev); got != tt.want {
			t.Errorf("IsErrorEvent(%v, %q) = %v, want %v", tt.f, tt.in, got, tt.want)
		}
	}
}

// A fresh translator per attempt: the second attempt's stream is not
// affected by what the first one saw.
func TestFreshTranslatorPerAttempt(t *testing.T) {
	stream := anthropicStream(3)
	req := []byte(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Hi"}]}`)
	var outs [2][]byte
	for i := range outs {
		tr := newTestTranslator(OpenAI, Anthropic)
		if _, err := tr.Request(req, "claude"); err != nil {
			t.Fatal(err)
		}
		var err error
		if outs[i], err = translateStream(tr, stream); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Fatal("two attempts translated the same stream differently")
	}
}

// StreamEnd is idempotent and adds nothing after the stream was closed.
func TestStreamEndAfterClose(t *testing.T) {
	for _, c := range []struct {
		client, backend Format
		stream          []byte
	}{{OpenAI, Anthropic, anthropicStream(1)}, {Anthropic, OpenAI, openAIStream(1)}} {
		tr := New(c.client, c.backend)
		out, err := translateStream(tr, c.stream)
		if err != nil {
			t.Fatal(err)
		}
		if more := tr.StreamEnd(nil); len(more) != 0 {
			t.Fatalf("StreamEnd after a closed stream wrote %q (after %q)", more, out)
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
	tr := New(OpenAI, Anthropic)
	_, err := translateStream(tr, []byte("event: message_start\ndata: {"))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v", err)
	}
}
