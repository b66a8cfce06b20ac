package mock

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osmen-ai/llmroute/sidecar/sse"
	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// The wire formats, as a client decodes them. Pointers tell null from absent
// or empty where the format makes a point of it.

type oaUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type oaToolCall struct {
	Index    *int   `json:"index"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type oaChat struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role      string       `json:"role"`
			Content   *string      `json:"content"`
			Refusal   *string      `json:"refusal"`
			ToolCalls []oaToolCall `json:"tool_calls"`
		} `json:"message"`
		Text         string          `json:"text"` // legacy completions
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason string          `json:"finish_reason"`
	} `json:"choices"`
	Usage oaUsage `json:"usage"`
}

type oaChunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role      string       `json:"role"`
			Content   *string      `json:"content"`
			ToolCalls []oaToolCall `json:"tool_calls"`
		} `json:"delta"`
		Text         string  `json:"text"` // legacy completions
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *oaUsage `json:"usage"`
}

type oaError struct {
	Error *struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Param   *string         `json:"param"`
		Code    json.RawMessage `json:"code"`
	} `json:"error"`
}

type anBlock struct {
	Type  string          `json:"type"`
	Text  *string         `json:"text"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

type anUsage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
}

type anMessage struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"`
	Role         string    `json:"role"`
	Model        string    `json:"model"`
	Content      []anBlock `json:"content"`
	StopReason   *string   `json:"stop_reason"`
	StopSequence *string   `json:"stop_sequence"`
	Usage        anUsage   `json:"usage"`
}

type anEvent struct {
	Type         string     `json:"type"`
	Index        *int       `json:"index"`
	Message      *anMessage `json:"message"`
	ContentBlock *anBlock   `json:"content_block"`
	Delta        *struct {
		Type         string  `json:"type"`
		Text         string  `json:"text"`
		PartialJSON  string  `json:"partial_json"`
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	} `json:"delta"`
	Usage *anUsage `json:"usage"`
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

type anError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
	RequestID string `json:"request_id"`
}

type sseEvent struct{ name, data string }

// readEvents reads a text/event-stream with the sidecar's own SSE reader,
// the mock's real consumer. It returns the events read (comment-only blocks
// left out) and the read error, if the stream did not end cleanly.
func readEvents(r io.Reader) ([]sseEvent, error) {
	sr := sse.NewReader(r)
	var evs []sseEvent
	for {
		ev, err := sr.Next()
		if err == io.EOF {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		if ev.HasData() || ev.Name != "" {
			evs = append(evs, sseEvent{ev.Name, string(ev.Data)})
		}
	}
}

const anthropicVersion = "2023-06-01"

// harness is a Server behind an httptest.Server.
type harness struct {
	t     *testing.T
	s     *Server
	ts    *httptest.Server
	ended chan struct{} // a request's handler returned
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	ended := make(chan struct{}, 4096)
	opts.Logf = func(string, ...any) { ended <- struct{}{} }
	s := New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return &harness{t: t, s: s, ts: ts, ended: ended}
}

// settle waits until no request is in flight. The client may be done with a
// request (it was reset, or gave up) before its handler returns and counts
// it; httptest.Server.Close doesn't wait for handlers whose connection was
// hijacked, so the log hook tells when one ends.
func (h *harness) settle() {
	h.t.Helper()
	timeout := time.After(10 * time.Second)
	for h.s.Stats().InFlight > 0 {
		select {
		case <-h.ended:
		case <-timeout:
			h.t.Fatal("requests still in flight")
		}
	}
}

// giveUp sends a chat request with header, as the n-th request to the
// server, and cancels it once the server has it: a client that gives up,
// at a moment no timer has to guess. It returns the client's error.
func (h *harness) giveUp(n int64, header ...string) error {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", h.ts.URL+"/v1/chat/completions", strings.NewReader(chatBody))
	if err != nil {
		return err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	errc := make(chan error, 1)
	go func() {
		resp, err := h.ts.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for h.s.Stats().Requests < n {
		if time.Now().After(deadline) {
			h.t.Fatalf("request %d never arrived", n)
		}
		runtime.Gosched()
	}
	cancel()
	return <-errc
}

// do sends a request and returns the response; the caller closes its body.
func (h *harness) do(method, path, body string, header ...string) *http.Response {
	h.t.Helper()
	resp, err := h.try(h.ts.Client(), method, path, body, header...)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

func (h *harness) try(c *http.Client, method, path, body string, header ...string) (*http.Response, error) {
	req, err := http.NewRequest(method, h.ts.URL+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.Do(req)
}

// call sends a request and returns its status, headers and body.
func (h *harness) call(method, path, body string, header ...string) (int, http.Header, []byte) {
	h.t.Helper()
	resp := h.do(method, path, body, header...)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// anthropic sends a Messages request with the headers Anthropic requires.
func (h *harness) anthropic(body string, header ...string) (int, http.Header, []byte) {
	h.t.Helper()
	return h.call("POST", "/v1/messages", body, append([]string{"anthropic-version", anthropicVersion}, header...)...)
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

const (
	chatBody      = `{"model":"gpt-test","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello there, mock"}]}`
	chatWords     = 5 // be brief + hello there, mock
	messagesBody  = `{"model":"claude-test","max_tokens":100,"system":"be brief","messages":[{"role":"user","content":[{"type":"text","text":"hello there, mock"}]}]}`
	messagesWords = 5
	weatherTool   = `{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"type":["integer","null"]}},"required":["city"]}`
)

func TestOpenAIChatCompletion(t *testing.T) {
	h := newHarness(t, Options{Name: "alpha"})
	status, hdr, body := h.call("POST", "/v1/chat/completions", chatBody)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if id := hdr.Get("X-Request-Id"); !strings.HasPrefix(id, "req_") {
		t.Errorf("x-request-id = %q", id)
	}
	if n := hdr.Get("X-Mock-Name"); n != "alpha" {
		t.Errorf("x-mock-name = %q", n)
	}
	c := decode[oaChat](t, body)
	if !strings.HasPrefix(c.ID, "chatcmpl-") || c.Object != "chat.completion" || c.Model != "gpt-test" || c.Created == 0 {
		t.Errorf("envelope = %q %q %q %d", c.ID, c.Object, c.Model, c.Created)
	}
	if len(c.Choices) != 1 {
		t.Fatalf("choices = %d", len(c.Choices))
	}
	ch := c.Choices[0]
	want := h.s.reply.text
	if ch.Message.Role != "assistant" || ch.Message.Content == nil || *ch.Message.Content != want {
		t.Errorf("message = %q %v, want content %q", ch.Message.Role, ch.Message.Content, want)
	}
	if !strings.HasPrefix(want, "Hello from alpha.") {
		t.Errorf("text %q doesn't name the server", want)
	}
	if ch.FinishReason != "stop" || string(ch.Logprobs) != "null" {
		t.Errorf("finish_reason %q, logprobs %s", ch.FinishReason, ch.Logprobs)
	}
	for _, s := range []string{`"refusal":null`, `"logprobs":null`} {
		if !bytes.Contains(body, []byte(s)) {
			t.Errorf("body lacks %s", s)
		}
	}
	if c.Usage != (oaUsage{chatWords, 12, chatWords + 12}) {
		t.Errorf("usage = %+v", c.Usage)
	}
}

func TestOpenAIChatStream(t *testing.T) {
	for _, includeUsage := range []bool{false, true} {
		t.Run(fmt.Sprint("include_usage=", includeUsage), func(t *testing.T) {
			h := newHarness(t, Options{StreamChunks: 4})
			body := strings.Replace(chatBody, `{"model"`, fmt.Sprintf(`{"stream":true,"stream_options":{"include_usage":%v},"model"`, includeUsage), 1)
			resp := h.do("POST", "/v1/chat/completions", body)
			defer resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Fatalf("Content-Type = %q", ct)
			}
			evs, err := readEvents(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			// role chunk, 4 content chunks, finish chunk, [usage chunk], [DONE]
			want := 7
			if includeUsage {
				want = 8
			}
			if len(evs) != want {
				t.Fatalf("got %d events, want %d: %v", len(evs), want, evs)
			}
			if last := evs[len(evs)-1]; last.data != "[DONE]" || last.name != "" {
				t.Fatalf("last event = %+v", last)
			}
			var chunks []oaChunk
			for _, e := range evs[:len(evs)-1] {
				chunks = append(chunks, decode[oaChunk](t, []byte(e.data)))
			}
			var text strings.Builder
			for i, c := range chunks {
				if c.ID != chunks[0].ID || c.Object != "chat.completion.chunk" || c.Model != "gpt-test" || c.Created != chunks[0].Created {
					t.Errorf("chunk %d envelope = %q %q %q", i, c.ID, c.Object, c.Model)
				}
				if includeUsage && i < len(chunks)-1 && !strings.Contains(evs[i].data, `"usage":null`) {
					t.Errorf("chunk %d lacks usage:null", i)
				}
				if !includeUsage && c.Usage != nil {
					t.Errorf("chunk %d has usage", i)
				}
				if len(c.Choices) == 1 && c.Choices[0].Delta.Content != nil {
					text.WriteString(*c.Choices[0].Delta.Content)
				}
			}
			first := chunks[0].Choices[0]
			if first.Delta.Role != "assistant" || first.Delta.Content == nil || *first.Delta.Content != "" || first.FinishReason != nil {
				t.Errorf("first chunk = %+v", first)
			}
			fin := chunks[5].Choices[0]
			if fin.FinishReason == nil || *fin.FinishReason != "stop" || fin.Delta.Content != nil {
				t.Errorf("finish chunk = %s", evs[5].data)
			}
			if text.String() != h.s.reply.text {
				t.Errorf("streamed text = %q, want %q", text.String(), h.s.reply.text)
			}
			if includeUsage {
				u := chunks[6]
				if len(u.Choices) != 0 || !strings.Contains(evs[6].data, `"choices":[]`) || u.Usage == nil || *u.Usage != (oaUsage{chatWords, 12, chatWords + 12}) {
					t.Errorf("usage chunk = %s", evs[6].data)
				}
			}
			st := h.s.Stats()
			if st.Streams != 1 || st.StreamsCompleted != 1 {
				t.Errorf("streams %d completed %d", st.Streams, st.StreamsCompleted)
			}
		})
	}
}

func TestOpenAIToolCalls(t *testing.T) {
	h := newHarness(t, Options{})
	tools := `"tools":[{"type":"function","function":{"name":"get_weather","parameters":` + weatherTool + `}},{"type":"function","function":{"name":"other"}}]`
	const wantArgs = `{"city": "mock", "days": 1, "unit": "celsius"}`

	t.Run("call", func(t *testing.T) {
		status, _, body := h.call("POST", "/v1/chat/completions", `{"model":"m",`+tools+`,"messages":[{"role":"user","content":"weather?"}]}`)
		if status != 200 {
			t.Fatalf("status %d: %s", status, body)
		}
		c := decode[oaChat](t, body)
		ch := c.Choices[0]
		if ch.FinishReason != "tool_calls" || ch.Message.Content != nil || len(ch.Message.ToolCalls) != 1 {
			t.Fatalf("choice = %s", body)
		}
		tc := ch.Message.ToolCalls[0]
		if !strings.HasPrefix(tc.ID, "call_") || tc.Type != "function" || tc.Function.Name != "get_weather" || tc.Function.Arguments != wantArgs {
			t.Errorf("tool call = %+v", tc)
		}
		if c.Usage.CompletionTokens != countWords(wantArgs) {
			t.Errorf("completion tokens = %d", c.Usage.CompletionTokens)
		}
	})

	t.Run("named", func(t *testing.T) {
		_, _, body := h.call("POST", "/v1/chat/completions", `{"model":"m",`+tools+`,"tool_choice":{"type":"function","function":{"name":"other"}},"messages":[{"role":"user","content":"x"}]}`)
		if c := decode[oaChat](t, body); c.Choices[0].Message.ToolCalls[0].Function.Name != "other" || c.Choices[0].Message.ToolCalls[0].Function.Arguments != "{}" {
			t.Errorf("tool call = %s", body)
		}
	})

	t.Run("stream", func(t *testing.T) {
		resp := h.do("POST", "/v1/chat/completions", `{"model":"m","stream":true,`+tools+`,"messages":[{"role":"user","content":"weather?"}]}`)
		defer resp.Body.Close()
		evs, err := readEvents(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if evs[len(evs)-1].data != "[DONE]" {
			t.Fatalf("no [DONE]")
		}
		var args strings.Builder
		var finish string
		for i, e := range evs[:len(evs)-1] {
			c := decode[oaChunk](t, []byte(e.data))
			d := c.Choices[0].Delta
			if i == 0 {
				if d.Role != "assistant" || len(d.ToolCalls) != 1 || d.ToolCalls[0].ID == "" || d.ToolCalls[0].Type != "function" || d.ToolCalls[0].Function.Name != "get_weather" {
					t.Fatalf("first chunk = %s", e.data)
				}
			} else if len(d.ToolCalls) == 1 && (d.ToolCalls[0].ID != "" || d.ToolCalls[0].Function.Name != "") {
				t.Errorf("chunk %d repeats id or name: %s", i, e.data)
			}
			for _, tc := range d.ToolCalls {
				if tc.Index == nil || *tc.Index != 0 {
					t.Errorf("chunk %d: tool call index missing: %s", i, e.data)
				}
				args.WriteString(tc.Function.Arguments)
			}
			if f := c.Choices[0].FinishReason; f != nil {
				finish = *f
			}
		}
		if args.String() != wantArgs || finish != "tool_calls" {
			t.Errorf("arguments %q, finish %q", args.String(), finish)
		}
	})

	t.Run("after tool result", func(t *testing.T) {
		msgs := `"messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"sunny"}]`
		_, _, body := h.call("POST", "/v1/chat/completions", `{"model":"m",`+tools+`,`+msgs+`}`)
		c := decode[oaChat](t, body)
		if c.Choices[0].FinishReason != "stop" || c.Choices[0].Message.Content == nil || len(c.Choices[0].Message.ToolCalls) != 0 {
			t.Errorf("reply = %s", body)
		}
	})

	t.Run("tool_choice none", func(t *testing.T) {
		_, _, body := h.call("POST", "/v1/chat/completions", `{"model":"m",`+tools+`,"tool_choice":"none","messages":[{"role":"user","content":"x"}]}`)
		if c := decode[oaChat](t, body); c.Choices[0].FinishReason != "stop" {
			t.Errorf("reply = %s", body)
		}
	})
}

func TestOpenAIMaxTokens(t *testing.T) {
	h := newHarness(t, Options{CompletionWords: 20})
	for _, field := range []string{"max_tokens", "max_completion_tokens"} {
		_, _, body := h.call("POST", "/v1/chat/completions", `{"model":"m","`+field+`":3,"messages":[{"role":"user","content":"x"}]}`)
		c := decode[oaChat](t, body)
		if c.Choices[0].FinishReason != "length" || *c.Choices[0].Message.Content != "Hello from mock." || c.Usage.CompletionTokens != 3 {
			t.Errorf("%s: %s", field, body)
		}
	}
}

func TestOpenAIValidation(t *testing.T) {
	h := newHarness(t, Options{})
	for _, tc := range []struct{ name, body, param string }{
		{"bad json", `{"model":`, ""},
		{"no model", `{"messages":[{"role":"user","content":"x"}]}`, ""},
		{"no messages", `{"model":"m"}`, "messages"},
	} {
		status, _, body := h.call("POST", "/v1/chat/completions", tc.body)
		e := decode[oaError](t, body)
		if status != 400 || e.Error == nil || e.Error.Type != "invalid_request_error" || e.Error.Message == "" {
			t.Errorf("%s: %d %s", tc.name, status, body)
			continue
		}
		if tc.param != "" && (e.Error.Param == nil || *e.Error.Param != tc.param) {
			t.Errorf("%s: param = %v", tc.name, e.Error.Param)
		}
	}
	status, _, body := h.call("POST", "/v1/nope", `{}`)
	if e := decode[oaError](t, body); status != 404 || e.Error == nil || !strings.Contains(e.Error.Message, "/v1/nope") {
		t.Errorf("unknown path: %d %s", status, body)
	}
}

func TestOpenAICompletions(t *testing.T) {
	h := newHarness(t, Options{CompletionWords: 6, StreamChunks: 2})
	status, _, body := h.call("POST", "/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"say this is a test"}`)
	c := decode[oaChat](t, body)
	if status != 200 || !strings.HasPrefix(c.ID, "cmpl-") || c.Object != "text_completion" || c.Model != "gpt-3.5-turbo-instruct" ||
		c.Choices[0].Text != h.s.reply.text || c.Choices[0].FinishReason != "stop" || c.Usage != (oaUsage{5, 6, 11}) {
		t.Errorf("completion = %s", body)
	}

	resp := h.do("POST", "/v1/completions", `{"model":"i","prompt":["a b","c"],"stream":true,"stream_options":{"include_usage":true}}`)
	defer resp.Body.Close()
	evs, err := readEvents(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 5 || evs[4].data != "[DONE]" {
		t.Fatalf("events = %v", evs)
	}
	var text strings.Builder
	for _, e := range evs[:2] {
		c := decode[oaChunk](t, []byte(e.data))
		if c.Object != "text_completion" || c.Choices[0].FinishReason != nil {
			t.Errorf("chunk = %s", e.data)
		}
		text.WriteString(c.Choices[0].Text)
	}
	if text.String() != h.s.reply.text {
		t.Errorf("text = %q", text.String())
	}
	if c := decode[oaChunk](t, []byte(evs[2].data)); c.Choices[0].FinishReason == nil || *c.Choices[0].FinishReason != "stop" {
		t.Errorf("finish chunk = %s", evs[2].data)
	}
	if c := decode[oaChunk](t, []byte(evs[3].data)); c.Usage == nil || *c.Usage != (oaUsage{3, 6, 9}) {
		t.Errorf("usage chunk = %s", evs[3].data)
	}
}

func TestOpenAIEmbeddings(t *testing.T) {
	h := newHarness(t, Options{EmbeddingDims: 8})
	type embeddings struct {
		Object string `json:"object"`
		Data   []struct {
			Object    string          `json:"object"`
			Index     int             `json:"index"`
			Embedding json.RawMessage `json:"embedding"`
		} `json:"data"`
		Model string `json:"model"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
	}
	vector := func(raw json.RawMessage) []float64 {
		if raw[0] == '"' {
			var s string
			json.Unmarshal(raw, &s)
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				t.Fatal(err)
			}
			v := make([]float64, len(b)/4)
			for i := range v {
				v[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i*4:])))
			}
			return v
		}
		return decode[[]float64](t, raw)
	}
	for _, tc := range []struct {
		name, input, extra string
		n, tokens, dims    int
	}{
		{"string", `"the quick fox"`, "", 1, 3, 8},
		{"strings", `["the quick fox","jumps"]`, "", 2, 4, 8},
		{"tokens", `[1,2,3,4]`, "", 1, 4, 8},
		{"token arrays", `[[1,2],[3]]`, "", 2, 3, 8},
		{"dimensions", `"x"`, `,"dimensions":5,"encoding_format":"float"`, 1, 1, 5},
		{"base64", `"the quick fox"`, `,"encoding_format":"base64"`, 1, 3, 8},
	} {
		status, _, body := h.call("POST", "/v1/embeddings", `{"model":"text-embedding-3-small","input":`+tc.input+tc.extra+`}`)
		e := decode[embeddings](t, body)
		if status != 200 || e.Object != "list" || e.Model != "text-embedding-3-small" || len(e.Data) != tc.n ||
			e.Usage.PromptTokens != tc.tokens || e.Usage.TotalTokens != tc.tokens {
			t.Errorf("%s: %s", tc.name, body)
			continue
		}
		for i, d := range e.Data {
			v := vector(d.Embedding)
			var norm float64
			for _, x := range v {
				norm += x * x
			}
			if d.Object != "embedding" || d.Index != i || len(v) != tc.dims || math.Abs(norm-1) > 1e-4 {
				t.Errorf("%s: embedding %d = %s (norm %v)", tc.name, i, d.Embedding, norm)
			}
		}
	}
	// The same text embeds the same, float or base64.
	_, _, f := h.call("POST", "/v1/embeddings", `{"model":"e","input":"the quick fox"}`)
	_, _, b := h.call("POST", "/v1/embeddings", `{"model":"e","input":"the quick fox","encoding_format":"base64"}`)
	vf, vb := vector(decode[embeddings](t, f).Data[0].Embedding), vector(decode[embeddings](t, b).Data[0].Embedding)
	for i := range vf {
		vf[i] = float64(float32(vf[i]))
	}
	if !slices.Equal(vf, vb) {
		t.Errorf("float %v != base64 %v", vf, vb)
	}
	if status, _, body := h.call("POST", "/v1/embeddings", `{"model":"e"}`); status != 400 {
		t.Errorf("no input: %d %s", status, body)
	}
}

func TestModels(t *testing.T) {
	h := newHarness(t, Options{})
	type openaiModels struct {
		Object string `json:"object"`
		Data   []struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Created int64  `json:"created"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	_, _, body := h.call("GET", "/v1/models", "")
	list := decode[openaiModels](t, body)
	if list.Object != "list" || len(list.Data) != len(defaultOpenAIModels) || list.Data[0].ID != "gpt-4o-mini" ||
		list.Data[0].Object != "model" || list.Data[0].Created == 0 || list.Data[0].OwnedBy == "" {
		t.Errorf("openai models = %s", body)
	}
	_, _, body = h.call("GET", "/v1/models/any-model", "")
	if !bytes.Contains(body, []byte(`"id":"any-model","object":"model"`)) {
		t.Errorf("model = %s", body)
	}

	status, hdr, body := h.call("GET", "/v1/models", "", "anthropic-version", anthropicVersion)
	var an struct {
		Data []struct {
			Type        string `json:"type"`
			ID          string `json:"id"`
			DisplayName string `json:"display_name"`
			CreatedAt   string `json:"created_at"`
		} `json:"data"`
		HasMore bool   `json:"has_more"`
		FirstID string `json:"first_id"`
		LastID  string `json:"last_id"`
	}
	if err := json.Unmarshal(body, &an); err != nil || status != 200 || hdr.Get("Request-Id") == "" ||
		len(an.Data) != 2 || an.Data[0].Type != "model" || an.FirstID != an.Data[0].ID || an.LastID != an.Data[1].ID || an.HasMore {
		t.Errorf("anthropic models = %d %s", status, body)
	}
}

func TestAnthropicMessage(t *testing.T) {
	h := newHarness(t, Options{Name: "beta"})
	status, hdr, body := h.anthropic(messagesBody)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	if id := hdr.Get("Request-Id"); !strings.HasPrefix(id, "req_") {
		t.Errorf("request-id = %q", id)
	}
	m := decode[anMessage](t, body)
	if !strings.HasPrefix(m.ID, "msg_") || m.Type != "message" || m.Role != "assistant" || m.Model != "claude-test" {
		t.Errorf("envelope = %s", body)
	}
	if len(m.Content) != 1 || m.Content[0].Type != "text" || m.Content[0].Text == nil || *m.Content[0].Text != h.s.reply.text {
		t.Errorf("content = %+v", m.Content)
	}
	if m.StopReason == nil || *m.StopReason != "end_turn" || m.StopSequence != nil || !bytes.Contains(body, []byte(`"stop_sequence":null`)) {
		t.Errorf("stop = %s", body)
	}
	if m.Usage != (anUsage{messagesWords, 12}) {
		t.Errorf("usage = %+v", m.Usage)
	}

	status, _, body = h.anthropic(strings.Replace(messagesBody, `"max_tokens":100`, `"max_tokens":2`, 1))
	if m := decode[anMessage](t, body); status != 200 || *m.StopReason != "max_tokens" || *m.Content[0].Text != "Hello from" || m.Usage.OutputTokens != 2 {
		t.Errorf("max_tokens 2: %s", body)
	}

	status, _, body = h.call("POST", "/v1/messages/count_tokens", messagesBody, "anthropic-version", anthropicVersion)
	if status != 200 || string(body) != fmt.Sprintf(`{"input_tokens":%d}`, messagesWords) {
		t.Errorf("count_tokens: %d %s", status, body)
	}
}

// eventOrder checks a Messages stream: each event's data type matches its
// name, and the names come in the documented order.
func anthropicEvents(t *testing.T, evs []sseEvent) []anEvent {
	t.Helper()
	var out []anEvent
	for _, e := range evs {
		ev := decode[anEvent](t, []byte(e.data))
		if ev.Type != e.name {
			t.Errorf("event %q carries type %q", e.name, ev.Type)
		}
		out = append(out, ev)
	}
	return out
}

func eventNames(evs []sseEvent) string {
	var names []string
	for i, e := range evs {
		if i > 0 && e.name == evs[i-1].name {
			if !strings.HasSuffix(names[len(names)-1], "*") {
				names[len(names)-1] += "*"
			}
			continue
		}
		names = append(names, e.name)
	}
	return strings.Join(names, " ")
}

func TestAnthropicStream(t *testing.T) {
	h := newHarness(t, Options{StreamChunks: 3})
	resp := h.do("POST", "/v1/messages", strings.Replace(messagesBody, `"max_tokens"`, `"stream":true,"max_tokens"`, 1), "anthropic-version", anthropicVersion)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") || resp.Header.Get("Request-Id") == "" {
		t.Fatalf("headers = %v", resp.Header)
	}
	evs, err := readEvents(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	const order = "message_start content_block_start ping content_block_delta* content_block_stop message_delta message_stop"
	if got := eventNames(evs); got != order {
		t.Fatalf("events = %s, want %s", got, order)
	}
	if len(evs) != 9 {
		t.Errorf("got %d events, want 3 deltas", len(evs))
	}
	ae := anthropicEvents(t, evs)
	start := ae[0].Message
	if start == nil || !strings.HasPrefix(start.ID, "msg_") || start.Model != "claude-test" || len(start.Content) != 0 ||
		start.StopReason != nil || start.Usage != (anUsage{messagesWords, 1}) {
		t.Errorf("message_start = %s", evs[0].data)
	}
	if b := ae[1].ContentBlock; b == nil || b.Type != "text" || b.Text == nil || *b.Text != "" || *ae[1].Index != 0 {
		t.Errorf("content_block_start = %s", evs[1].data)
	}
	var text strings.Builder
	for _, e := range ae[3:6] {
		if e.Delta.Type != "text_delta" || *e.Index != 0 {
			t.Errorf("delta = %+v", e.Delta)
		}
		text.WriteString(e.Delta.Text)
	}
	if text.String() != h.s.reply.text {
		t.Errorf("text = %q", text.String())
	}
	md := ae[7]
	if md.Delta.StopReason != "end_turn" || !strings.Contains(evs[7].data, `"stop_sequence":null`) || md.Usage == nil || md.Usage.OutputTokens != 12 {
		t.Errorf("message_delta = %s", evs[7].data)
	}
	if evs[2].data != `{"type": "ping"}` {
		t.Errorf("ping = %s", evs[2].data)
	}
}

func TestAnthropicToolUse(t *testing.T) {
	h := newHarness(t, Options{})
	tools := `"tools":[{"name":"get_weather","description":"weather","input_schema":` + weatherTool + `},{"name":"other","input_schema":{"type":"object"}}]`
	user := `"messages":[{"role":"user","content":"weather?"}]`

	status, _, body := h.anthropic(`{"model":"c","max_tokens":50,` + tools + `,` + user + `}`)
	m := decode[anMessage](t, body)
	if status != 200 || *m.StopReason != "tool_use" || len(m.Content) != 1 {
		t.Fatalf("reply = %s", body)
	}
	b := m.Content[0]
	if b.Type != "tool_use" || !strings.HasPrefix(b.ID, "toolu_") || b.Name != "get_weather" {
		t.Errorf("block = %s", body)
	}
	var input map[string]any
	if err := json.Unmarshal(b.Input, &input); err != nil || input["city"] != "mock" || input["unit"] != "celsius" || input["days"] != 1.0 {
		t.Errorf("input = %s", b.Input)
	}

	_, _, body = h.anthropic(`{"model":"c","max_tokens":50,` + tools + `,"tool_choice":{"type":"tool","name":"other"},` + user + `}`)
	if m := decode[anMessage](t, body); m.Content[0].Name != "other" || string(m.Content[0].Input) != "{}" {
		t.Errorf("named tool = %s", body)
	}

	resp := h.do("POST", "/v1/messages", `{"model":"c","max_tokens":50,"stream":true,`+tools+`,`+user+`}`, "anthropic-version", anthropicVersion)
	defer resp.Body.Close()
	evs, err := readEvents(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	const order = "message_start content_block_start ping content_block_delta* content_block_stop message_delta message_stop"
	if got := eventNames(evs); got != order {
		t.Fatalf("events = %s", got)
	}
	ae := anthropicEvents(t, evs)
	if cb := ae[1].ContentBlock; cb.Type != "tool_use" || cb.Name != "get_weather" || !strings.HasPrefix(cb.ID, "toolu_") || string(cb.Input) != "{}" {
		t.Errorf("content_block_start = %s", evs[1].data)
	}
	var partial strings.Builder
	for _, e := range ae[3 : len(ae)-3] {
		if e.Delta.Type != "input_json_delta" {
			t.Errorf("delta = %+v", e.Delta)
		}
		partial.WriteString(e.Delta.PartialJSON)
	}
	if partial.String() != string(b.Input) {
		t.Errorf("partial_json = %q, want %s", partial.String(), b.Input)
	}
	if ae[len(ae)-2].Delta.StopReason != "tool_use" {
		t.Errorf("message_delta = %s", evs[len(evs)-2].data)
	}

	result := `"messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"sunny and warm"}]}]`
	_, _, body = h.anthropic(`{"model":"c","max_tokens":50,` + tools + `,` + result + `}`)
	if m := decode[anMessage](t, body); *m.StopReason != "end_turn" || m.Content[0].Type != "text" || m.Usage.InputTokens != 4 {
		t.Errorf("after tool_result = %s", body)
	}
}

func TestAnthropicValidation(t *testing.T) {
	h := newHarness(t, Options{})
	for _, tc := range []struct {
		name, body string
		header     []string
		message    string
	}{
		{"no version", messagesBody, nil, "anthropic-version"},
		{"no max_tokens", `{"model":"c","messages":[{"role":"user","content":"x"}]}`, []string{"anthropic-version", anthropicVersion}, "max_tokens"},
		{"no model", `{"max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, []string{"anthropic-version", anthropicVersion}, "model"},
		{"no messages", `{"model":"c","max_tokens":5}`, []string{"anthropic-version", anthropicVersion}, "messages"},
		{"bad json", `{`, []string{"anthropic-version", anthropicVersion}, "body"},
	} {
		status, hdr, body := h.call("POST", "/v1/messages", tc.body, tc.header...)
		e := decode[anError](t, body)
		if status != 400 || e.Type != "error" || e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, tc.message) ||
			e.RequestID == "" || e.RequestID != hdr.Get("Request-Id") {
			t.Errorf("%s: %d %s", tc.name, status, body)
		}
	}
}

func TestAuth(t *testing.T) {
	h := newHarness(t, Options{APIKey: "sk-good-key-123456"})
	for _, tc := range []struct {
		name      string
		anthropic bool
		header    []string
		status    int
		code      string
	}{
		{"openai none", false, nil, 401, "null"},
		{"openai wrong", false, []string{"Authorization", "Bearer sk-bad-key-0000000"}, 401, `"invalid_api_key"`},
		{"openai not bearer", false, []string{"Authorization", "sk-good-key-123456"}, 401, `"invalid_api_key"`},
		{"openai good", false, []string{"Authorization", "Bearer sk-good-key-123456"}, 200, ""},
		{"anthropic none", true, nil, 401, ""},
		{"anthropic wrong", true, []string{"x-api-key", "nope"}, 401, ""},
		{"anthropic bearer", true, []string{"Authorization", "Bearer sk-good-key-123456"}, 200, ""},
		{"anthropic wrong bearer", true, []string{"Authorization", "Bearer nope"}, 401, ""},
		{"anthropic good", true, []string{"x-api-key", "sk-good-key-123456"}, 200, ""},
	} {
		var (
			status int
			body   []byte
		)
		if tc.anthropic {
			status, _, body = h.anthropic(messagesBody, tc.header...)
		} else {
			status, _, body = h.call("POST", "/v1/chat/completions", chatBody, tc.header...)
		}
		if status != tc.status {
			t.Errorf("%s: status %d: %s", tc.name, status, body)
			continue
		}
		if status == 200 {
			continue
		}
		if tc.anthropic {
			if e := decode[anError](t, body); e.Error.Type != "authentication_error" {
				t.Errorf("%s: %s", tc.name, body)
			}
		} else if e := decode[oaError](t, body); e.Error.Type != "invalid_request_error" || string(e.Error.Code) != tc.code ||
			strings.Contains(e.Error.Message, "sk-bad-key-0000000") {
			t.Errorf("%s: %s", tc.name, body)
		}
	}
	h.call("POST", "/v1/chat/completions", chatBody, "Authorization", "Bearer sk-which")
	h.anthropic(messagesBody, "x-api-key", "sk-ant-which")
	if st := h.s.Stats(); st.LastAuthorization != "" || st.LastAPIKey != "sk-ant-which" {
		t.Errorf("last credentials = %q %q", st.LastAuthorization, st.LastAPIKey)
	}
	h.call("POST", "/v1/chat/completions", chatBody, "Authorization", "Bearer sk-which")
	if st := h.s.Stats(); st.LastAuthorization != "Bearer sk-which" || st.LastModel != "gpt-test" {
		t.Errorf("last authorization = %q, model %q", st.LastAuthorization, st.LastModel)
	}
}

func TestStatusSequence(t *testing.T) {
	h := newHarness(t, Options{Faults: Faults{StatusSequence: []int{503, 429, 200, 500}}})
	var got []int
	for range 6 {
		status, _, _ := h.call("POST", "/v1/chat/completions", chatBody)
		got = append(got, status)
	}
	if want := []int{503, 429, 200, 500, 200, 200}; !slices.Equal(got, want) {
		t.Errorf("statuses = %v, want %v", got, want)
	}
	h.s.SetFaults(Faults{StatusSequence: []int{502}})
	if status, _, _ := h.anthropic(messagesBody); status != 502 {
		t.Errorf("after SetFaults: %d", status)
	}
	st := h.s.Stats()
	if st.Statuses[200] != 3 || st.Statuses[503] != 1 || st.Statuses[502] != 1 || st.Faults["status_sequence"] != 4 || st.Requests != 7 {
		t.Errorf("stats = %+v", st)
	}
}

func TestHeaderStatusSequence(t *testing.T) {
	h := newHarness(t, Options{Faults: Faults{StatusSequence: []int{500, 500, 500, 500, 500, 500, 500}}})
	seq := func(hdr ...string) []int {
		var got []int
		for range 3 {
			status, _, _ := h.call("POST", "/v1/chat/completions", chatBody, hdr...)
			got = append(got, status)
		}
		return got
	}
	if got := seq("x-mock-status", "503,200"); !slices.Equal(got, []int{503, 200, 200}) {
		t.Errorf("503,200 = %v", got)
	}
	// A new value, or a new key, starts a sequence of its own.
	if got := seq("x-mock-status", "429,429,200"); !slices.Equal(got, []int{429, 429, 200}) {
		t.Errorf("429,429,200 = %v", got)
	}
	if got := seq("x-mock-status", "503,200", "x-mock-key", "other"); !slices.Equal(got, []int{503, 200, 200}) {
		t.Errorf("keyed 503,200 = %v", got)
	}
	if got := seq("x-mock-status", "503,200"); !slices.Equal(got, []int{200, 200, 200}) {
		t.Errorf("503,200 again = %v", got)
	}
	// Headers take precedence: the server-wide sequence was never consumed.
	if status, _, _ := h.call("POST", "/v1/chat/completions", chatBody); status != 500 {
		t.Errorf("server-wide = %d", status)
	}
	h.s.ResetStats()
	if got := seq("x-mock-status", "503,200"); !slices.Equal(got, []int{503, 200, 200}) {
		t.Errorf("after ResetStats = %v", got)
	}
}

func TestErrorBodies(t *testing.T) {
	h := newHarness(t, Options{})
	for _, tc := range []struct {
		status int
		typ    string
		code   string // OpenAI error.code as JSON
	}{
		{400, "invalid_request_error", "null"},
		{404, "invalid_request_error", `"model_not_found"`},
		{429, "requests", `"rate_limit_exceeded"`},
		{500, "server_error", "null"},
		{502, "cf_bad_gateway", "502"},
		{503, "server_error", "null"},
		{524, "cf_gateway_timeout", "524"},
	} {
		status, hdr, body := h.call("POST", "/v1/chat/completions", chatBody, "x-mock-status", fmt.Sprint(tc.status), "x-mock-key", "openai")
		e := decode[oaError](t, body)
		if status != tc.status || e.Error == nil || e.Error.Type != tc.typ || string(e.Error.Code) != tc.code || e.Error.Message == "" ||
			!bytes.Contains(body, []byte(`"param":null`)) || hdr.Get("Content-Type") != "application/json" {
			t.Errorf("openai %d: %d %s", tc.status, status, body)
		}
	}
	if _, _, body := h.call("POST", "/v1/chat/completions", chatBody, "x-mock-status", "429", "x-mock-key", "model"); !bytes.Contains(body, []byte("gpt-test")) {
		t.Errorf("rate limit message doesn't name the model: %s", body)
	}
	for _, tc := range []struct {
		status int
		typ    string
	}{
		{400, "invalid_request_error"},
		{401, "authentication_error"},
		{403, "permission_error"},
		{404, "not_found_error"},
		{413, "request_too_large"},
		{429, "rate_limit_error"},
		{500, "api_error"},
		{503, "api_error"},
		{504, "timeout_error"},
		{529, "overloaded_error"},
	} {
		status, hdr, body := h.anthropic(messagesBody, "x-mock-status", fmt.Sprint(tc.status))
		e := decode[anError](t, body)
		if status != tc.status || e.Type != "error" || e.Error.Type != tc.typ || e.Error.Message == "" ||
			e.RequestID == "" || e.RequestID != hdr.Get("Request-Id") {
			t.Errorf("anthropic %d: %d %s", tc.status, status, body)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	h := newHarness(t, Options{Faults: Faults{RetryAfter: "2", RetryAfterMs: "1500"}})
	for _, tc := range []struct {
		status int
		want   bool
	}{{429, true}, {503, true}, {529, true}, {500, false}, {200, false}} {
		_, hdr, _ := h.call("POST", "/v1/chat/completions", chatBody, "x-mock-status", fmt.Sprint(tc.status))
		got := hdr.Get("Retry-After") == "2" && hdr.Get("Retry-After-Ms") == "1500"
		none := hdr.Get("Retry-After") == "" && hdr.Get("Retry-After-Ms") == ""
		if tc.want && !got || !tc.want && !none {
			t.Errorf("%d: Retry-After %q, retry-after-ms %q", tc.status, hdr.Get("Retry-After"), hdr.Get("Retry-After-Ms"))
		}
	}
	_, hdr, _ := h.call("POST", "/v1/chat/completions", chatBody, "x-mock-status", "429", "x-mock-key", "override", "x-mock-retry-after", "Wed, 21 Oct 2015 07:28:00 GMT", "x-mock-retry-after-ms", "10")
	if hdr.Get("Retry-After") != "Wed, 21 Oct 2015 07:28:00 GMT" || hdr.Get("Retry-After-Ms") != "10" {
		t.Errorf("header override: %v", hdr)
	}
}

func TestFailRate(t *testing.T) {
	run := func(f Faults) []int {
		h := newHarness(t, Options{Faults: f})
		var got []int
		for range 40 {
			status, _, _ := h.call("POST", "/v1/chat/completions", chatBody)
			got = append(got, status)
		}
		return got
	}
	a := run(Faults{FailRate: 0.5, Seed: 7})
	b := run(Faults{FailRate: 0.5, Seed: 7})
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different runs:\n%v\n%v", a, b)
	}
	fails := 0
	for _, s := range a {
		switch s {
		case 500:
			fails++
		case 200:
		default:
			t.Fatalf("unexpected status %d", s)
		}
	}
	if fails == 0 || fails == len(a) {
		t.Errorf("rate 0.5 failed %d of %d", fails, len(a))
	}
	for _, s := range run(Faults{FailRate: 1, FailStatus: 502}) {
		if s != 502 {
			t.Fatalf("rate 1: status %d", s)
		}
	}
	h := newHarness(t, Options{})
	if status, _, _ := h.call("POST", "/v1/chat/completions", chatBody, "x-mock-fail-rate", "1", "x-mock-fail-status", "503"); status != 503 {
		t.Errorf("header fail rate: %d", status)
	}
}

func TestQuotaAndContextLength(t *testing.T) {
	h := newHarness(t, Options{})
	status, _, body := h.call("POST", "/v1/chat/completions", chatBody, "x-mock-insufficient-quota", "1")
	if e := decode[oaError](t, body); status != 429 || e.Error.Type != "insufficient_quota" || string(e.Error.Code) != `"insufficient_quota"` {
		t.Errorf("openai quota: %d %s", status, body)
	}
	status, _, body = h.call("POST", "/v1/chat/completions", chatBody, "x-mock-context-length", "true")
	if e := decode[oaError](t, body); status != 400 || e.Error.Type != "invalid_request_error" || string(e.Error.Code) != `"context_length_exceeded"` || *e.Error.Param != "messages" {
		t.Errorf("openai context length: %d %s", status, body)
	}
	status, _, body = h.anthropic(messagesBody, "x-mock-insufficient-quota", "1")
	if e := decode[anError](t, body); status != 400 || e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, "credit balance") {
		t.Errorf("anthropic quota: %d %s", status, body)
	}
	h.s.SetFaults(Faults{ContextLengthExceeded: true})
	status, _, body = h.anthropic(messagesBody)
	if e := decode[anError](t, body); status != 400 || !strings.Contains(e.Error.Message, "prompt is too long") {
		t.Errorf("anthropic context length: %d %s", status, body)
	}
}

func TestLatency(t *testing.T) {
	const d = 30 * time.Millisecond
	h := newHarness(t, Options{Faults: Faults{Latency: d}})
	start := time.Now()
	if status, _, _ := h.call("POST", "/v1/chat/completions", chatBody); status != 200 {
		t.Fatalf("status %d", status)
	}
	if el := time.Since(start); el < d {
		t.Errorf("server-wide latency: answered in %v", el)
	}
	h.s.SetFaults(Faults{})
	start = time.Now()
	h.anthropic(messagesBody, "x-mock-latency", "30")
	if el := time.Since(start); el < d {
		t.Errorf("header latency: answered in %v", el)
	}
	// A client that gives up doesn't keep the handler waiting.
	if err := h.giveUp(3, "x-mock-latency", "1h"); err == nil {
		t.Fatal("request with 1h latency succeeded")
	}
	h.settle()
	if st := h.s.Stats(); st.Canceled != 1 || st.InFlight != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// freshClient doesn't reuse connections, so that a reset connection can't
// be mistaken for a stale idle one.
func freshClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func TestReset(t *testing.T) {
	h := newHarness(t, Options{})
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"openai", []string{"x-mock-reset", "1"}},
		{"anthropic", []string{"x-mock-reset", "1", "anthropic-version", anthropicVersion}},
	} {
		path := "/v1/chat/completions"
		if tc.name == "anthropic" {
			path = "/v1/messages"
		}
		resp, err := h.try(freshClient(), "POST", path, chatBody, tc.header...)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: got a response, status %d", tc.name, resp.StatusCode)
		}
	}
	h.settle()
	st := h.s.Stats()
	if st.Resets != 2 || len(st.Statuses) != 0 || st.Faults["reset"] != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestResetMidBody(t *testing.T) {
	h := newHarness(t, Options{CompletionBytes: 2000})
	resp, err := h.try(freshClient(), "POST", "/v1/chat/completions", chatBody, "x-mock-reset-mid-body", "1")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err == nil || len(body) == 0 || int64(len(body)) >= resp.ContentLength {
		t.Errorf("status %d, read %d of %d bytes, err %v", resp.StatusCode, len(body), resp.ContentLength, err)
	}

	resp, err = h.try(freshClient(), "POST", "/v1/messages", strings.Replace(messagesBody, `"max_tokens"`, `"stream":true,"max_tokens"`, 1),
		"anthropic-version", anthropicVersion, "x-mock-reset-mid-body", "1", "x-mock-stream-cut-after", "0")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := readEvents(resp.Body)
	resp.Body.Close()
	if err == nil || len(evs) == 0 || evs[len(evs)-1].name == "message_stop" {
		t.Errorf("stream: %d events, err %v", len(evs), err)
	}
	h.settle()
	st := h.s.Stats()
	if st.Resets != 2 || st.Faults["reset_mid_body"] != 2 || st.Statuses[200] != 2 || st.StreamsCompleted != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestHangHeaders(t *testing.T) {
	h := newHarness(t, Options{Faults: Faults{HangHeaders: true}})
	if err := h.giveUp(1); err == nil {
		t.Fatal("hung request answered")
	}
	h.settle()
	if st := h.s.Stats(); st.Hangs != 1 || st.Canceled != 1 || st.InFlight != 0 || len(st.Statuses) != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestCloseReleasesHungRequests(t *testing.T) {
	h := newHarness(t, Options{})
	errc := make(chan error, 1)
	go func() {
		resp, err := h.try(freshClient(), "POST", "/v1/chat/completions", chatBody, "x-mock-hang", "1")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for h.s.Stats().InFlight == 0 {
		if time.Now().After(deadline) {
			t.Fatal("request never arrived")
		}
		runtime.Gosched()
	}
	h.s.Close()
	if err := <-errc; err == nil {
		t.Error("released request got a response")
	}
}

func TestStreamCutAfter(t *testing.T) {
	for _, tc := range []struct {
		name, path, body string
		header           []string
		cut, want        int
		last             string
	}{
		{"openai", "/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`, nil, 3, 3, "[DONE]"},
		{"openai past end", "/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`, nil, 100, 14, "[DONE]"},
		{"anthropic", "/v1/messages", `{"model":"c","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"x"}]}`, []string{"anthropic-version", anthropicVersion}, 4, 4, "message_stop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			resp, err := h.try(freshClient(), "POST", tc.path, tc.body, append(tc.header, "x-mock-stream-cut-after", fmt.Sprint(tc.cut))...)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			evs, err := readEvents(resp.Body)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("read error = %v, want unexpected EOF", err)
			}
			if resp.StatusCode != 200 || len(evs) != tc.want {
				t.Errorf("status %d, %d events, want %d", resp.StatusCode, len(evs), tc.want)
			}
			for _, e := range evs {
				if e.data == tc.last || e.name == tc.last {
					t.Errorf("terminating event %q was sent", tc.last)
				}
			}
			h.settle()
			if st := h.s.Stats(); st.Streams != 1 || st.StreamsCompleted != 0 || st.Resets != 1 || st.Faults["stream_cut"] != 1 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
	// Non-streaming requests ignore it.
	h := newHarness(t, Options{Faults: Faults{StreamCutAfter: 1}})
	if status, _, _ := h.call("POST", "/v1/chat/completions", chatBody); status != 200 {
		t.Errorf("non-streaming: %d", status)
	}
}

func TestStreamErrorBeforeContent(t *testing.T) {
	h := newHarness(t, Options{Faults: Faults{StreamErrorBeforeContent: true}})
	resp := h.do("POST", "/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	evs, err := readEvents(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(evs) != 1 || evs[0].name != "" {
		t.Fatalf("openai: status %d, events %v, err %v", resp.StatusCode, evs, err)
	}
	if e := decode[oaError](t, []byte(evs[0].data)); e.Error == nil || e.Error.Type != "server_error" || e.Error.Message == "" {
		t.Errorf("openai error event = %s", evs[0].data)
	}

	resp = h.do("POST", "/v1/messages", `{"model":"c","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"x"}]}`, "anthropic-version", anthropicVersion)
	evs, err = readEvents(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(evs) != 1 || evs[0].name != "error" {
		t.Fatalf("anthropic: status %d, events %v, err %v", resp.StatusCode, evs, err)
	}
	if e := decode[anError](t, []byte(evs[0].data)); e.Type != "error" || e.Error.Type != "overloaded_error" {
		t.Errorf("anthropic error event = %s", evs[0].data)
	}

	// Non-streaming requests ignore it; a header turns it on per request.
	if status, _, _ := h.call("POST", "/v1/chat/completions", chatBody); status != 200 {
		t.Errorf("non-streaming: %d", status)
	}
	h.s.SetFaults(Faults{})
	resp = h.do("POST", "/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`, "x-mock-stream-error-before-content", "1")
	evs, _ = readEvents(resp.Body)
	resp.Body.Close()
	if len(evs) != 1 || !strings.HasPrefix(evs[0].data, `{"error":`) {
		t.Errorf("header: %v", evs)
	}
	if st := h.s.Stats(); st.Faults["stream_error"] != 3 || st.StreamsCompleted != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestStreamErrorAfter(t *testing.T) {
	for _, tc := range []struct {
		name, path, body string
		header           []string
		want             int    // events
		last             string // the error event's name, or its data's prefix
	}{
		// role chunk, 2 content chunks, error
		{"chat", "/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`, nil, 4, `{"error":{`},
		{"completions", "/v1/completions", `{"model":"m","stream":true,"prompt":"x"}`, nil, 3, `{"error":{`},
		// message_start, content_block_start, ping, 2 deltas, error
		{"anthropic", "/v1/messages", `{"model":"c","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"x"}]}`, []string{"anthropic-version", anthropicVersion}, 6, "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{StreamChunks: 4})
			resp := h.do("POST", tc.path, tc.body, append(tc.header, "x-mock-stream-error-after", "2")...)
			evs, err := readEvents(resp.Body)
			resp.Body.Close()
			// The stream ends cleanly, but with an error and not its end.
			if err != nil || resp.StatusCode != 200 || len(evs) != tc.want {
				t.Fatalf("status %d, %d events, err %v: %v", resp.StatusCode, len(evs), err, evs)
			}
			last := evs[len(evs)-1]
			if last.name != tc.last && !strings.HasPrefix(last.data, tc.last) {
				t.Errorf("last event = %+v", last)
			}
			h.settle()
			if st := h.s.Stats(); st.Faults["stream_error_after"] != 1 || st.StreamsCompleted != 0 || st.Resets != 0 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
	// More than the reply has: the error follows the last delta.
	h := newHarness(t, Options{StreamChunks: 2})
	resp := h.do("POST", "/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`, "x-mock-stream-error-after", "50")
	evs, _ := readEvents(resp.Body)
	resp.Body.Close()
	if len(evs) != 4 || !strings.HasPrefix(evs[3].data, `{"error":`) {
		t.Errorf("events = %v", evs)
	}
}

func TestDownAndControlAPI(t *testing.T) {
	h := newHarness(t, Options{})
	post := func(path, body string) (int, []byte) {
		resp, err := http.Post(h.ts.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if status, body := post("/mock/faults", `{"down":true,"retry_after":"1"}`); status != 200 || !bytes.Contains(body, []byte(`"down": true`)) {
		t.Fatalf("POST /mock/faults: %d %s", status, body)
	}
	status, hdr, body := h.call("POST", "/v1/chat/completions", chatBody)
	if e := decode[oaError](t, body); status != 503 || e.Error.Type != "server_error" || hdr.Get("Retry-After") != "1" {
		t.Errorf("openai down: %d %s", status, body)
	}
	if status, _, body := h.anthropic(messagesBody); status != 503 || decode[anError](t, body).Error.Type != "api_error" {
		t.Errorf("anthropic down: %d %s", status, body)
	}
	if status, _, _ := h.call("GET", "/v1/models", ""); status != 503 {
		t.Errorf("models down: %d", status)
	}

	if status, body := post("/mock/faults", `{"status_sequence":[429],"latency":"1ms","seed":3}`); status != 200 {
		t.Fatalf("POST /mock/faults: %d %s", status, body)
	}
	if f := h.s.Faults(); f.Down || !slices.Equal(f.StatusSequence, []int{429}) || f.Latency != time.Millisecond || f.Seed != 3 {
		t.Errorf("faults = %+v", f)
	}
	if status, _, _ := h.call("POST", "/v1/chat/completions", chatBody); status != 429 {
		t.Errorf("after POST /mock/faults: %d", status)
	}
	if status, body := post("/mock/faults", `{"dwon":true}`); status != 400 {
		t.Errorf("unknown field: %d %s", status, body)
	}
	if status, body := post("/mock/faults", `{"latency":"soon"}`); status != 400 {
		t.Errorf("bad latency: %d %s", status, body)
	}

	_, _, body = h.call("GET", "/mock/stats", "")
	st := decode[Stats](t, body)
	if st.Name != "mock" || st.Requests != 4 || st.Statuses[503] != 3 || st.Statuses[429] != 1 || st.Faults["down"] != 3 || st.Paths["/v1/messages"] != 1 {
		t.Errorf("GET /mock/stats = %s", body)
	}
	_, _, body = h.call("GET", "/mock/faults", "")
	if f := decode[Faults](t, body); f.Latency != time.Millisecond || !bytes.Contains(body, []byte(`"latency": "1ms"`)) {
		t.Errorf("GET /mock/faults = %s", body)
	}
	if status, _ := post("/mock/reset", ""); status != http.StatusNoContent {
		t.Errorf("POST /mock/reset: %d", status)
	}
	if st := h.s.Stats(); st.Requests != 0 || len(st.Statuses) != 0 {
		t.Errorf("after reset: %+v", st)
	}
}

func TestRoutes(t *testing.T) {
	h := newHarness(t, Options{})
	for _, id := range []string{"a", "b", "org/model-1"} {
		_, _, body := h.call("GET", "/v1/models/"+id, "")
		if !bytes.Contains(body, []byte(`"id":"`+id+`"`)) {
			t.Errorf("model %s = %s", id, body)
		}
	}
	// Paths that hold an id count under their pattern, so ids don't grow
	// the map.
	if st := h.s.Stats(); st.Paths["/v1/models/{id}"] != 3 || len(st.Paths) != 1 {
		t.Errorf("paths = %v", st.Paths)
	}
	// A path or method the mock lacks is a 404 in the caller's format.
	for _, tc := range []struct {
		method, path string
		header       []string
		anthropic    bool
	}{
		{"GET", "/v1/nothing", nil, false},
		{"GET", "/v1/embeddings", nil, false},
		{"GET", "/v1/nothing", []string{"anthropic-version", anthropicVersion}, true},
		{"GET", "/v1/messages", nil, true},
		{"GET", "/v1/messages/count_tokens", nil, true},
	} {
		status, _, body := h.call(tc.method, tc.path, "", tc.header...)
		if status != 404 {
			t.Errorf("%s %s: %d", tc.method, tc.path, status)
		} else if tc.anthropic && decode[anError](t, body).Error.Type != "not_found_error" ||
			!tc.anthropic && !bytes.Contains(body, []byte("Invalid URL ("+tc.method+" "+tc.path+")")) {
			t.Errorf("%s %s: %s", tc.method, tc.path, body)
		}
	}
}

func TestBadFaultHeader(t *testing.T) {
	h := newHarness(t, Options{})
	for _, hdr := range [][]string{
		{"x-mock-status", "503,abc"},
		{"x-mock-fail-rate", "2"},
		{"x-mock-latency", "soon"},
		{"x-mock-reset", "maybe"},
		{"x-mock-stream-cut-after", "-1"},
		{"x-mock-stream-error-after", "x"},
	} {
		status, _, body := h.call("POST", "/v1/chat/completions", chatBody, hdr...)
		if e := decode[oaError](t, body); status != 400 || !strings.HasPrefix(e.Error.Message, "mock: "+hdr[0]) {
			t.Errorf("%s: %d %s", hdr, status, body)
		}
	}
}

// TestConcurrency runs a mix of requests, fault changes and stats reads at
// once; run it with -race.
func TestConcurrency(t *testing.T) {
	h := newHarness(t, Options{StreamChunks: 3, Faults: Faults{FailRate: 0.2, Seed: 1}})
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				var hdr []string
				if i%3 == 0 {
					hdr = []string{"x-mock-status", "503,200", "x-mock-key", fmt.Sprint(w)}
				}
				switch i % 4 {
				case 0:
					h.call("POST", "/v1/chat/completions", chatBody, hdr...)
				case 1:
					resp := h.do("POST", "/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`, hdr...)
					readEvents(resp.Body)
					resp.Body.Close()
				case 2:
					h.anthropic(messagesBody, hdr...)
				case 3:
					resp := h.do("POST", "/v1/messages", `{"model":"c","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"x"}]}`, append(hdr, "anthropic-version", anthropicVersion)...)
					readEvents(resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			h.s.SetFaults(Faults{FailRate: float64(i%3) / 10, StatusSequence: []int{500, 200}})
			_ = h.s.Stats()
			_ = h.s.Faults()
		}
	})
	wg.Wait()
	st := h.s.Stats()
	var statuses int64
	for _, n := range st.Statuses {
		statuses += n
	}
	if st.Requests != workers*each || statuses != workers*each || st.InFlight != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestFaultsJSON(t *testing.T) {
	f := Faults{StatusSequence: []int{503, 200}, Latency: 1500 * time.Millisecond, Down: true}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"latency":"1.5s"`)) {
		t.Errorf("marshal = %s", b)
	}
	var g Faults
	if err := json.Unmarshal(b, &g); err != nil || g.Latency != f.Latency || !g.Down || !slices.Equal(g.StatusSequence, f.StatusSequence) {
		t.Errorf("round trip = %+v, %v", g, err)
	}
	if err := json.Unmarshal([]byte(`{"latency":250}`), &g); err != nil || g.Latency != 250*time.Millisecond {
		t.Errorf("latency as milliseconds = %v, %v", g.Latency, err)
	}
	if b, _ := json.Marshal(Faults{}); string(b) != "{}" {
		t.Errorf("zero Faults = %s", b)
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ back`, "new\nline\ttab\r\x00\x1f\x7f", "héllo wörld ☃", "\u2028\u2029", "bad \xff utf8", "<html>&amp;"} {
		want, _ := json.Marshal(s)
		want = bytes.ReplaceAll(want, []byte(`\u003c`), []byte("<"))
		want = bytes.ReplaceAll(want, []byte(`\u003e`), []byte(">"))
		want = bytes.ReplaceAll(want, []byte(`\u0026`), []byte("&"))
		if got := translate.AppendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestReplyText(t *testing.T) {
	for _, n := range []int{1, 2, 3, 12, 40} {
		if r := newReply(buildText("x y", n, 0), 0); len(r.words) != n || len(r.pieces) != n {
			t.Errorf("%d words: got %d words, %d pieces", n, len(r.words), len(r.pieces))
		}
	}
	text := buildText("mock", 0, 1024)
	if len(text) < 1024 || len(text) > 1024+20 {
		t.Errorf("1 KB text is %d bytes", len(text))
	}
	for _, chunks := range []int{0, 1, 7, 100, 5000} {
		r := newReply(text, chunks)
		var got strings.Builder
		for _, p := range r.pieces {
			var s string
			if err := json.Unmarshal(p, &s); err != nil {
				t.Fatal(err)
			}
			got.WriteString(s)
		}
		if got.String() != text {
			t.Errorf("%d chunks don't add up to the text", chunks)
		}
		if chunks > 0 && len(r.pieces) != min(chunks, len(text)) {
			t.Errorf("%d chunks: got %d pieces", chunks, len(r.pieces))
		}
	}
}

func BenchmarkChatCompletion(b *testing.B) {
	s := New(Options{CompletionBytes: 1024})
	body := []byte(chatBody)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("POST", "/v1/chat/completions", bytes.NewReader(body))
			s.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}

func BenchmarkChatStream(b *testing.B) {
	s := New(Options{CompletionBytes: 1024, StreamChunks: 16})
	body := []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("POST", "/v1/chat/completions", bytes.NewReader(body))
			s.ServeHTTP(w, r)
		}
	})
}

func BenchmarkMessages(b *testing.B) {
	s := New(Options{CompletionBytes: 1024})
	body := []byte(messagesBody)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("POST", "/v1/messages", bytes.NewReader(body))
			r.Header.Set("anthropic-version", anthropicVersion)
			s.ServeHTTP(w, r)
		}
	})
}

func TestReplyTruncate(t *testing.T) {
	for _, chunks := range []int{0, 3} {
		r := newReply(buildText("a b", 30, 0), chunks)
		for _, n := range []int{1, 2, 7, 29} {
			got, cut := r.truncate(n)
			want := newReply(strings.Join(r.words[:n], " "), chunks)
			if !cut || got.text != want.text || !slices.Equal(got.words, want.words) || !bytes.Equal(got.quoted, want.quoted) ||
				!slices.EqualFunc(got.pieces, want.pieces, bytes.Equal) {
				t.Errorf("chunks %d, truncate(%d) = %q, want %q", chunks, n, got.text, want.text)
			}
		}
		if got, cut := r.truncate(30); cut || got != r {
			t.Errorf("truncate(30) cut")
		}
	}
}

func TestStreamInterval(t *testing.T) {
	const interval = 10 * time.Millisecond
	h := newHarness(t, Options{StreamChunks: 3, StreamInterval: interval})
	start := time.Now()
	resp := h.do("POST", "/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	evs, err := readEvents(resp.Body)
	resp.Body.Close()
	// Three content deltas, two pauses between them.
	if el := time.Since(start); err != nil || len(evs) != 6 || el < 2*interval {
		t.Errorf("%d events in %v, err %v", len(evs), el, err)
	}
}
