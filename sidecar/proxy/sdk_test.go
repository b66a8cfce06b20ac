package proxy

// End-to-end tests with the official OpenAI and Anthropic Go SDKs as the
// callers: what an application sees through the proxy, in either format,
// whichever format the backend that serves it speaks.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	anoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	oaoption "github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

const (
	sdkOpenAIClient    = "openai-go"
	sdkAnthropicClient = "anthropic-sdk-go"

	// The providers' names in the proxy config, and so in the mocks' replies
	// ("Hello from NAME.") and in x-llmroute-provider.
	sdkOpenAIBackend    = "openai-mock"
	sdkAnthropicBackend = "anthropic-mock"

	sdkOpenAIModel    = "gpt-4o-mini"
	sdkAnthropicModel = "claude-sonnet-4-5"

	// The mock counts tokens as words: the question is 6, the tool result 4,
	// a text reply 12 (the mock's default length), and the tool call's
	// arguments, {"city": "mock", "unit": "celsius"}, 4.
	sdkQuestion     = "What is the weather in Paris?"
	sdkToolResult   = "21 degrees and sunny"
	sdkQuestionToks = 6
	sdkResultToks   = 4
	sdkReplyToks    = 12
	sdkCallToks     = 4

	sdkToolName = "get_weather"
)

// The SDKs send their own key; the proxy drops it and sets the provider's.
const sdkPlaceholderKey = "sk-placeholder-from-the-app"

// sdkWeatherSchema is the tool's parameters. The mock calls it with the
// first enum value or "mock" for each property.
func sdkWeatherSchema() map[string]any {
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"city": map[string]any{"type": "string", "description": "The city name"},
			"unit": map[string]any{"type": "string", "enum": []string{"celsius", "fahrenheit"}},
		},
		"required": []string{"city"},
	}
}

// sdkWeatherArgs are the tool call's arguments, decoded strictly.
type sdkWeatherArgs struct {
	City string `json:"city"`
	Unit string `json:"unit"`
}

// anthropicToolID is what Anthropic accepts as a tool_use id, and so what an
// Anthropic client must get to send the result back.
var anthropicToolID = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

func sdkBackendName(typ config.ProviderType) string {
	if typ == config.Anthropic {
		return sdkAnthropicBackend
	}
	return sdkOpenAIBackend
}

func sdkUpstream(typ config.ProviderType, f mock.Faults) upstream {
	return upstream{name: sdkBackendName(typ), typ: typ, opts: mock.Options{Faults: f}}
}

// countRequests counts the HTTP requests an SDK makes, its retries included.
type countRequests struct{ n atomic.Int64 }

func (c *countRequests) openai(req *http.Request, next oaoption.MiddlewareNext) (*http.Response, error) {
	c.n.Add(1)
	return next(req)
}

func (c *countRequests) anthropic(req *http.Request, next anoption.MiddlewareNext) (*http.Response, error) {
	c.n.Add(1)
	return next(req)
}

// wireTap keeps a copy of the bytes of each response body an SDK reads, so
// a test can check the wire format the SDK may be lenient about (a stream
// without its closing event, events without names).
type wireTap struct {
	mu     sync.Mutex
	bodies []*bytes.Buffer
}

func (w *wireTap) tap(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	buf := &bytes.Buffer{}
	w.mu.Lock()
	w.bodies = append(w.bodies, buf)
	w.mu.Unlock()
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.TeeReader(resp.Body, buf), resp.Body}
}

func (w *wireTap) openai(req *http.Request, next oaoption.MiddlewareNext) (*http.Response, error) {
	resp, err := next(req)
	w.tap(resp)
	return resp, err
}

func (w *wireTap) anthropic(req *http.Request, next anoption.MiddlewareNext) (*http.Response, error) {
	resp, err := next(req)
	w.tap(resp)
	return resp, err
}

// last returns the bytes of the latest response body read so far.
func (w *wireTap) last() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.bodies) == 0 {
		return ""
	}
	return w.bodies[len(w.bodies)-1].String()
}

// sseEvents splits a stream into its events, each a list of "field: value"
// lines, and fails on anything but a whole number of events.
func sseEvents(t *testing.T, raw string) [][]string {
	t.Helper()
	if !strings.HasSuffix(raw, "\n\n") {
		t.Errorf("the stream does not end with a complete event: %q", raw[max(0, len(raw)-200):])
	}
	var events [][]string
	for _, block := range strings.Split(strings.TrimSuffix(raw, "\n\n"), "\n\n") {
		var lines []string
		for _, line := range strings.Split(block, "\n") {
			if line != "" && !strings.HasPrefix(line, ":") {
				lines = append(lines, line)
			}
		}
		if len(lines) > 0 {
			events = append(events, lines)
		}
	}
	return events
}

// checkOpenAIWire checks a chat completions stream as sent: data-only
// events, each a chat.completion.chunk, closed by data: [DONE].
func checkOpenAIWire(t *testing.T, raw string) {
	t.Helper()
	events := sseEvents(t, raw)
	for i, ev := range events {
		if len(ev) != 1 || !strings.HasPrefix(ev[0], "data: ") {
			t.Errorf("event %d is not a single data line: %q", i, ev)
			continue
		}
		data := strings.TrimPrefix(ev[0], "data: ")
		if i == len(events)-1 {
			if data != "[DONE]" {
				t.Errorf("the stream ends with %q, not data: [DONE]", data)
			}
			continue
		}
		var chunk struct {
			Object string          `json:"object"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil || chunk.Object != "chat.completion.chunk" || chunk.Error != nil {
			t.Errorf("event %d is not a chat.completion.chunk: %s", i, data)
		}
	}
}

// checkAnthropicWire checks a Messages stream as sent: each event named,
// with data whose type is that name (the SDKs route on the name and skip
// unnamed events), and no OpenAI-style [DONE].
func checkAnthropicWire(t *testing.T, raw string) {
	t.Helper()
	for i, ev := range sseEvents(t, raw) {
		if len(ev) != 2 || !strings.HasPrefix(ev[0], "event: ") || !strings.HasPrefix(ev[1], "data: ") {
			t.Errorf("event %d is not an event line then a data line: %q", i, ev)
			continue
		}
		name := strings.TrimPrefix(ev[0], "event: ")
		var data struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(ev[1], "data: ")), &data); err != nil || data.Type != name {
			t.Errorf("event %d is named %q but its data has type %q: %q", i, name, data.Type, ev[1])
		}
	}
}

// upstreamTap records what the proxy sends to its providers and what they
// answer, so a test can check the backend's side of a translation.
type upstreamTap struct {
	next http.RoundTripper

	mu        sync.Mutex
	exchanges []*upstreamExchange
}

type upstreamExchange struct {
	path string
	req  []byte
	resp lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tapUpstream puts a recorder between the proxy and its providers.
func tapUpstream(h *harness) *upstreamTap {
	u := &upstreamTap{next: h.px.transport}
	h.px.transport = u
	return u
}

func (u *upstreamTap) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	x := &upstreamExchange{path: req.URL.Path, req: body}
	u.mu.Lock()
	u.exchanges = append(u.exchanges, x)
	u.mu.Unlock()
	resp, err := u.next.RoundTrip(req)
	if resp != nil && resp.Body != nil {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(resp.Body, &x.resp), resp.Body}
	}
	return resp, err
}

func (u *upstreamTap) recorded() []*upstreamExchange {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*upstreamExchange(nil), u.exchanges...)
}

// checkBackendFollowUp checks the follow-up of a tool round trip as the
// backend got it, in its own format: the assistant's tool call is the one the
// backend made (same id, name and arguments), and the tool result that
// follows answers that id, as the real APIs require.
func checkBackendFollowUp(t *testing.T, backend config.ProviderType, xs []*upstreamExchange) {
	t.Helper()
	if len(xs) != 2 {
		t.Fatalf("%d upstream calls recorded, want 2", len(xs))
	}
	issued := xs[0].resp.String()
	var callID, resultID, name, args, result string
	if backend == config.Anthropic {
		type block struct {
			Type      string          `json:"type"`
			ID        string          `json:"id"`
			Name      string          `json:"name"`
			Input     json.RawMessage `json:"input"`
			ToolUseID string          `json:"tool_use_id"`
			Content   json.RawMessage `json:"content"`
		}
		var req struct {
			Messages []struct {
				Role    string          `json:"role"`
				Content json.RawMessage `json:"content"` // a string or blocks
			} `json:"messages"`
		}
		var asked, answered []block
		err := json.Unmarshal(xs[1].req, &req)
		if err == nil && len(req.Messages) == 3 {
			err = errors.Join(json.Unmarshal(req.Messages[1].Content, &asked), json.Unmarshal(req.Messages[2].Content, &answered))
		}
		if err != nil || len(req.Messages) != 3 ||
			req.Messages[1].Role != "assistant" || len(asked) != 1 || asked[0].Type != "tool_use" ||
			req.Messages[2].Role != "user" || len(answered) != 1 || answered[0].Type != "tool_result" {
			t.Fatalf("the follow-up is not question, tool_use, tool_result (%v): %s", err, xs[1].req)
		}
		use, res := asked[0], answered[0]
		callID, resultID, name, args = use.ID, res.ToolUseID, use.Name, string(use.Input)
		result = toolResultText(res.Content)
	} else {
		var req struct {
			Messages []struct {
				Role      string          `json:"role"`
				Content   json.RawMessage `json:"content"`
				ToolCalls []struct {
					ID       string `json:"id"`
					Type     string `json:"type"`
					Function struct {
						Name      string `json:"name"`
						Arguments string `json:"arguments"`
					} `json:"function"`
				} `json:"tool_calls"`
				ToolCallID string `json:"tool_call_id"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(xs[1].req, &req); err != nil || len(req.Messages) != 3 ||
			req.Messages[1].Role != "assistant" || len(req.Messages[1].ToolCalls) != 1 || req.Messages[2].Role != "tool" {
			t.Fatalf("the follow-up is not question, tool call, tool message (%v): %s", err, xs[1].req)
		}
		call := req.Messages[1].ToolCalls[0]
		if call.Type != "function" {
			t.Errorf("tool call type %q, want function", call.Type)
		}
		callID, resultID, name, args = call.ID, req.Messages[2].ToolCallID, call.Function.Name, call.Function.Arguments
		result = toolResultText(req.Messages[2].Content)
	}
	if callID == "" || callID != resultID {
		t.Errorf("the tool result answers id %q, the tool call has id %q", resultID, callID)
	}
	if !strings.Contains(issued, `"`+callID+`"`) {
		t.Errorf("the tool call id %q sent back is not the one the backend issued:\n%s", callID, issued)
	}
	if name != sdkToolName {
		t.Errorf("tool name %q sent back, want %s", name, sdkToolName)
	}
	var got sdkWeatherArgs
	if err := json.Unmarshal([]byte(args), &got); err != nil || got != (sdkWeatherArgs{City: "mock", Unit: "celsius"}) {
		t.Errorf("tool arguments sent back %s, want the backend's", args)
	}
	if result != sdkToolResult {
		t.Errorf("tool result %q, want %q", result, sdkToolResult)
	}
}

// toolResultText reads a tool result's content: a string or text parts.
func toolResultText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	_ = json.Unmarshal(raw, &parts)
	for _, p := range parts {
		s += p.Text
	}
	return s
}

// apiCalls counts the LLM API calls a mock got. Stats().Requests would also
// count stray requests from other processes on loopback (a port reused
// after another program's server went away, polled for /readyz, say).
func apiCalls(h *harness, name string) int64 {
	st := h.mocks[name].Stats()
	return st.Paths["/v1/chat/completions"] + st.Paths["/v1/messages"]
}

// sdkHarness is newHarness, with the proxy's log shown when the test fails.
func sdkHarness(t *testing.T, ups []upstream, edit func(*config.Config)) *harness {
	t.Helper()
	h := newHarness(t, ups, edit)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy log:\n%s", h.logs.String())
			for name, m := range h.mocks {
				t.Logf("%s: %+v", name, m.Stats())
			}
		}
	})
	return h
}

// newOpenAIClient returns an openai-go client of the proxy, with the SDK's
// default retries.
func newOpenAIClient(h *harness, opts ...oaoption.RequestOption) openai.Client {
	return openai.NewClient(append([]oaoption.RequestOption{
		oaoption.WithBaseURL(h.srv.URL + "/v1"),
		oaoption.WithAPIKey(sdkPlaceholderKey),
	}, opts...)...)
}

// newAnthropicClient returns an anthropic-sdk-go client of the proxy, with
// the SDK's default retries and nothing read from the environment.
func newAnthropicClient(h *harness, opts ...anoption.RequestOption) anthropic.Client {
	return anthropic.NewClient(append([]anoption.RequestOption{
		anoption.WithoutEnvironmentDefaults(),
		anoption.WithBaseURL(h.srv.URL),
		anoption.WithAPIKey(sdkPlaceholderKey),
	}, opts...)...)
}

// sdkTurn is one answer as a client SDK parsed it, in terms common to both.
type sdkTurn struct {
	header   http.Header
	model    string
	text     string
	calls    []sdkToolCall
	reason   string // finish_reason or stop_reason
	input    int64
	output   int64
	hasUsage bool
}

type sdkToolCall struct {
	id, name, args string
}

// --- openai-go ---

func openAIWeatherTool() openai.ChatCompletionToolUnionParam {
	return openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:        sdkToolName,
		Description: openai.String("Get the current weather in a city"),
		Parameters:  shared.FunctionParameters(sdkWeatherSchema()),
	})
}

// openAIChat makes one chat completion call with openai-go, whole or
// streamed (then with stream_options.include_usage, and accumulated with
// the SDK's accumulator), and returns the completion.
func openAIChat(t *testing.T, c openai.Client, wire *wireTap, params openai.ChatCompletionNewParams, stream bool) (*openai.ChatCompletion, *http.Response) {
	t.Helper()
	var resp *http.Response
	if !stream {
		cc, err := c.Chat.Completions.New(t.Context(), params, oaoption.WithResponseInto(&resp))
		if err != nil {
			t.Fatalf("openai-go: %v%s", err, sdkErrorDetail(err))
		}
		return cc, resp
	}
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	s := c.Chat.Completions.NewStreaming(t.Context(), params, oaoption.WithResponseInto(&resp))
	defer s.Close()
	var (
		acc           openai.ChatCompletionAccumulator
		chunks        int
		usageChunks   int
		finishedText  []string
		finishedCalls []openai.FinishedChatCompletionToolCall
	)
	for s.Next() {
		chunk := s.Current()
		chunks++
		if chunk.Object != "chat.completion.chunk" {
			t.Errorf("chunk %d: object %q, want chat.completion.chunk: %s", chunks, chunk.Object, chunk.RawJSON())
		}
		if chunk.Usage.TotalTokens > 0 {
			usageChunks++
			if len(chunk.Choices) != 0 {
				t.Errorf("chunk %d: the usage chunk must have no choices: %s", chunks, chunk.RawJSON())
			}
		}
		if !acc.AddChunk(chunk) {
			t.Errorf("chunk %d could not be accumulated (id or indices inconsistent): %s", chunks, chunk.RawJSON())
		}
		if text, ok := acc.JustFinishedContent(); ok {
			finishedText = append(finishedText, text)
		}
		if call, ok := acc.JustFinishedToolCall(); ok {
			finishedCalls = append(finishedCalls, call)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("openai-go stream after %d chunks: %v%s", chunks, err, sdkErrorDetail(err))
	}
	if resp == nil {
		t.Fatal("openai-go: no response captured")
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("stream Content-Type %q", ct)
	}
	if usageChunks != 1 {
		t.Errorf("%d chunks carried usage, want exactly 1 (stream_options.include_usage)", usageChunks)
	}
	checkOpenAIWire(t, wire.last())
	cc := acc.ChatCompletion
	if len(cc.Choices) == 1 {
		msg := cc.Choices[0].Message
		// The accumulator reports each part as finished once the next part
		// (or the finish chunk) begins: a well-formed stream closes them all.
		if msg.Content != "" && (len(finishedText) != 1 || finishedText[0] != msg.Content) {
			t.Errorf("finished content %q, want the accumulated %q", finishedText, msg.Content)
		}
		if len(finishedCalls) != len(msg.ToolCalls) {
			t.Errorf("%d tool calls reported finished, %d accumulated", len(finishedCalls), len(msg.ToolCalls))
		}
		for i, fc := range finishedCalls {
			if i < len(msg.ToolCalls) && (fc.ID != msg.ToolCalls[i].ID || fc.Name != msg.ToolCalls[i].Function.Name || fc.Arguments != msg.ToolCalls[i].Function.Arguments) {
				t.Errorf("finished tool call %+v differs from the accumulated %+v", fc, msg.ToolCalls[i])
			}
		}
	}
	return &cc, resp
}

func openAITurn(cc *openai.ChatCompletion, resp *http.Response) sdkTurn {
	turn := sdkTurn{
		model:    cc.Model,
		input:    cc.Usage.PromptTokens,
		output:   cc.Usage.CompletionTokens,
		hasUsage: cc.Usage.TotalTokens > 0,
	}
	if resp != nil {
		turn.header = resp.Header
	}
	if len(cc.Choices) > 0 {
		ch := cc.Choices[0]
		turn.text = ch.Message.Content
		turn.reason = ch.FinishReason
		for _, tc := range ch.Message.ToolCalls {
			turn.calls = append(turn.calls, sdkToolCall{id: tc.ID, name: tc.Function.Name, args: tc.Function.Arguments})
		}
	}
	return turn
}

// openAIConversation asks the question with openai-go; with tools, it
// answers the tool call and asks again. It returns the turns.
func openAIConversation(t *testing.T, h *harness, stream, tools bool) []sdkTurn {
	t.Helper()
	wire := &wireTap{}
	c := newOpenAIClient(h, oaoption.WithMiddleware(wire.openai))
	params := openai.ChatCompletionNewParams{
		Model:    sdkOpenAIModel,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(sdkQuestion)},
	}
	if tools {
		params.Tools = []openai.ChatCompletionToolUnionParam{openAIWeatherTool()}
	}
	cc, resp := openAIChat(t, c, wire, params, stream)
	if len(cc.Choices) != 1 {
		t.Fatalf("%d choices, want 1: %s", len(cc.Choices), cc.RawJSON())
	}
	first := openAITurn(cc, resp)
	if !tools {
		return []sdkTurn{first}
	}
	msg := cc.Choices[0].Message
	if len(msg.ToolCalls) != 1 {
		t.Fatalf("want one tool call, got %d (finish_reason %q)", len(msg.ToolCalls), cc.Choices[0].FinishReason)
	}
	if typ := msg.ToolCalls[0].Type; typ != "function" {
		t.Errorf("tool call type %q, want function", typ)
	}
	if msg.Role != "assistant" {
		t.Errorf("role %q, want assistant", msg.Role)
	}
	// Send the assistant message back as the SDK turns it into a param, then
	// the tool's result under the call's id; the tools stay offered, so a
	// text answer shows the backend saw a tool result and not a new question.
	params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage(sdkToolResult, msg.ToolCalls[0].ID))
	cc2, resp2 := openAIChat(t, c, wire, params, stream)
	if len(cc2.Choices) != 1 {
		t.Fatalf("follow-up: %d choices, want 1", len(cc2.Choices))
	}
	return []sdkTurn{first, openAITurn(cc2, resp2)}
}

// --- anthropic-sdk-go ---

func anthropicWeatherTool() anthropic.ToolUnionParam {
	schema := sdkWeatherSchema()
	return anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
		Name:        sdkToolName,
		Description: anthropic.String("Get the current weather in a city"),
		InputSchema: anthropic.ToolInputSchemaParam{
			Properties: schema["properties"],
			Required:   schema["required"].([]string),
		},
	}}
}

// anthropicMessage makes one Messages call with anthropic-sdk-go, whole or
// streamed (then accumulated with Message.Accumulate), and returns the
// message.
func anthropicMessage(t *testing.T, c anthropic.Client, wire *wireTap, params anthropic.MessageNewParams, stream bool) (*anthropic.Message, *http.Response) {
	t.Helper()
	var resp *http.Response
	if !stream {
		msg, err := c.Messages.New(t.Context(), params, anoption.WithResponseInto(&resp))
		if err != nil {
			t.Fatalf("anthropic-sdk-go: %v%s", err, sdkErrorDetail(err))
		}
		return msg, resp
	}
	s := c.Messages.NewStreaming(t.Context(), params, anoption.WithResponseInto(&resp))
	defer s.Close()
	var (
		msg   anthropic.Message
		types []string
	)
	for s.Next() {
		ev := s.Current()
		types = append(types, ev.Type)
		if err := msg.Accumulate(ev); err != nil {
			t.Errorf("event %d (%s) could not be accumulated: %v: %s", len(types), ev.Type, err, ev.RawJSON())
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("anthropic-sdk-go stream after events %v: %v%s", types, err, sdkErrorDetail(err))
	}
	if resp == nil {
		t.Fatal("anthropic-sdk-go: no response captured")
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("stream Content-Type %q", ct)
	}
	checkAnthropicEventOrder(t, types)
	checkAnthropicWire(t, wire.last())
	return &msg, resp
}

// checkAnthropicEventOrder checks the shape of a Messages stream:
// message_start, then content blocks each opened, filled and stopped, then
// one message_delta, then message_stop, with pings anywhere.
func checkAnthropicEventOrder(t *testing.T, types []string) {
	t.Helper()
	var seq []string
	for _, ty := range types {
		if ty != "ping" {
			seq = append(seq, ty)
		}
	}
	bad := func(why string) { t.Errorf("malformed event sequence (%s): %v", why, types) }
	if len(seq) < 4 || seq[0] != "message_start" || seq[len(seq)-1] != "message_stop" || seq[len(seq)-2] != "message_delta" {
		bad("want message_start … message_delta, message_stop")
		return
	}
	open := false
	blocks := 0
	for _, ty := range seq[1 : len(seq)-2] {
		switch ty {
		case "content_block_start":
			if open {
				bad("a block started before the previous one stopped")
			}
			open = true
			blocks++
		case "content_block_delta":
			if !open {
				bad("a delta outside a block")
			}
		case "content_block_stop":
			if !open {
				bad("a stop outside a block")
			}
			open = false
		default:
			bad("unexpected " + ty + " inside the message")
		}
	}
	if open || blocks == 0 {
		bad("want at least one block, all stopped")
	}
}

func anthropicTurn(msg *anthropic.Message, resp *http.Response) sdkTurn {
	turn := sdkTurn{
		model:    msg.Model,
		reason:   string(msg.StopReason),
		input:    msg.Usage.InputTokens + msg.Usage.CacheCreationInputTokens + msg.Usage.CacheReadInputTokens,
		output:   msg.Usage.OutputTokens,
		hasUsage: msg.Usage.OutputTokens > 0,
	}
	if resp != nil {
		turn.header = resp.Header
	}
	for _, b := range msg.Content {
		switch b.Type {
		case "text":
			turn.text += b.Text
		case "tool_use":
			turn.calls = append(turn.calls, sdkToolCall{id: b.ID, name: b.Name, args: string(b.Input)})
		}
	}
	return turn
}

// anthropicConversation asks the question with anthropic-sdk-go; with tools,
// it answers the tool call and asks again. It returns the turns.
func anthropicConversation(t *testing.T, h *harness, stream, tools bool) []sdkTurn {
	t.Helper()
	wire := &wireTap{}
	c := newAnthropicClient(h, anoption.WithMiddleware(wire.anthropic))
	params := anthropic.MessageNewParams{
		Model:     sdkAnthropicModel,
		MaxTokens: 1024,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(sdkQuestion))},
	}
	if tools {
		params.Tools = []anthropic.ToolUnionParam{anthropicWeatherTool()}
	}
	msg, resp := anthropicMessage(t, c, wire, params, stream)
	if msg.Type != "message" || msg.Role != "assistant" || msg.ID == "" {
		t.Errorf("message type %q role %q id %q, want a message from the assistant with an id", msg.Type, msg.Role, msg.ID)
	}
	first := anthropicTurn(msg, resp)
	if !tools {
		return []sdkTurn{first}
	}
	if len(first.calls) != 1 {
		t.Fatalf("want one tool_use block, got %d (stop_reason %q)", len(first.calls), msg.StopReason)
	}
	params.Messages = append(params.Messages,
		msg.ToParam(),
		anthropic.NewUserMessage(anthropic.NewToolResultBlock(first.calls[0].id, sdkToolResult, false)))
	msg2, resp2 := anthropicMessage(t, c, wire, params, stream)
	return []sdkTurn{first, anthropicTurn(msg2, resp2)}
}

// --- checks ---

// sdkConversation runs the question (and with tools the round trip) with the
// named client.
func sdkConversation(t *testing.T, h *harness, client string, stream, tools bool) []sdkTurn {
	t.Helper()
	if client == sdkOpenAIClient {
		return openAIConversation(t, h, stream, tools)
	}
	return anthropicConversation(t, h, stream, tools)
}

// checkTextTurn checks a text answer served by backend.
func checkTextTurn(t *testing.T, client, backend string, turn sdkTurn, input int64) {
	t.Helper()
	want := map[string]string{sdkOpenAIClient: "stop", sdkAnthropicClient: "end_turn"}[client]
	if turn.reason != want {
		t.Errorf("stop reason %q, want %q", turn.reason, want)
	}
	if !strings.HasPrefix(turn.text, "Hello from "+backend+".") || len(strings.Fields(turn.text)) != sdkReplyToks {
		t.Errorf("text %q, want the %d words of %s's reply", turn.text, sdkReplyToks, backend)
	}
	if len(turn.calls) != 0 {
		t.Errorf("a text answer with tool calls: %+v", turn.calls)
	}
	checkTurnCommon(t, client, backend, turn, input, sdkReplyToks)
}

// checkToolTurn checks a tool call answer served by backend.
func checkToolTurn(t *testing.T, client, backend string, turn sdkTurn) {
	t.Helper()
	want := map[string]string{sdkOpenAIClient: "tool_calls", sdkAnthropicClient: "tool_use"}[client]
	if turn.reason != want {
		t.Errorf("stop reason %q, want %q", turn.reason, want)
	}
	if turn.text != "" {
		t.Errorf("a tool call answer with text %q", turn.text)
	}
	if len(turn.calls) != 1 {
		t.Fatalf("want one tool call, got %+v", turn.calls)
	}
	call := turn.calls[0]
	if call.name != sdkToolName {
		t.Errorf("tool %q, want %s", call.name, sdkToolName)
	}
	if call.id == "" {
		t.Error("the tool call has no id")
	}
	if client == sdkAnthropicClient && !anthropicToolID.MatchString(call.id) {
		t.Errorf("tool_use id %q is not one Anthropic accepts back", call.id)
	}
	var args sdkWeatherArgs
	dec := json.NewDecoder(strings.NewReader(call.args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&args); err != nil {
		t.Errorf("arguments %q do not decode: %v", call.args, err)
	} else if args != (sdkWeatherArgs{City: "mock", Unit: "celsius"}) {
		t.Errorf("arguments %+v, want city mock and unit celsius", args)
	}
	checkTurnCommon(t, client, backend, turn, sdkQuestionToks, sdkCallToks)
}

func checkTurnCommon(t *testing.T, client, backend string, turn sdkTurn, input, output int64) {
	t.Helper()
	if got := turn.header.Get("x-llmroute-provider"); got != backend {
		t.Errorf("x-llmroute-provider %q, want %s", got, backend)
	}
	wantModel := map[string]string{sdkOpenAIClient: sdkOpenAIModel, sdkAnthropicClient: sdkAnthropicModel}[client]
	if turn.model != wantModel {
		t.Errorf("model %q, want the requested %s", turn.model, wantModel)
	}
	if !turn.hasUsage {
		t.Error("no usage reported")
	}
	if turn.input != input || turn.output != output {
		t.Errorf("usage %d in / %d out, want %d / %d", turn.input, turn.output, input, output)
	}
}

// sdkErrorDetail renders what an SDK error carries beyond its summary: the
// status and the response body.
func sdkErrorDetail(err error) string {
	var oe *openai.Error
	if errors.As(err, &oe) {
		return fmt.Sprintf(" (status %d, body %s)", oe.StatusCode, sdkErrorBody(oe.Response))
	}
	var ae *anthropic.Error
	if errors.As(err, &ae) {
		return fmt.Sprintf(" (status %d, body %s)", ae.StatusCode, sdkErrorBody(ae.Response))
	}
	return ""
}

// sdkErrorBody reads the body of an error response; both SDKs put it back
// for inspection.
func sdkErrorBody(resp *http.Response) []byte {
	if resp == nil || resp.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

func sdkCaseName(client string, backend config.ProviderType, stream bool, extra string) string {
	mode := "whole"
	if stream {
		mode = "stream"
	}
	name := client + "/" + strings.ToLower(string(backend)) + "-backend/" + mode
	if extra != "" {
		name += "/" + extra
	}
	return name
}

// --- tests ---

// TestSDKMatrix: each official SDK, against a backend of each format, whole
// and streamed, for a text answer and for a tool call round trip.
func TestSDKMatrix(t *testing.T) {
	for _, client := range []string{sdkOpenAIClient, sdkAnthropicClient} {
		for _, backend := range []config.ProviderType{config.OpenAI, config.Anthropic} {
			for _, stream := range []bool{false, true} {
				for _, tools := range []bool{false, true} {
					scenario := "text"
					if tools {
						scenario = "tool-round-trip"
					}
					t.Run(sdkCaseName(client, backend, stream, scenario), func(t *testing.T) {
						name := sdkBackendName(backend)
						h := sdkHarness(t, []upstream{sdkUpstream(backend, mock.Faults{})}, nil)
						up := tapUpstream(h)
						turns := sdkConversation(t, h, client, stream, tools)
						if !tools {
							checkTextTurn(t, client, name, turns[0], sdkQuestionToks)
						} else {
							checkToolTurn(t, client, name, turns[0])
							// The follow-up's prompt is the question and the tool result.
							checkTextTurn(t, client, name, turns[1], sdkQuestionToks+sdkResultToks)
							checkBackendFollowUp(t, backend, up.recorded())
						}
						if got, want := apiCalls(h, name), int64(len(turns)); got != want {
							t.Errorf("the backend got %d calls, want %d: one per SDK call", got, want)
						}
						st := h.mocks[name].Stats()
						// The mock counts a stream once its handler returns, which may
						// be just after the client has read the last event.
						for deadline := time.Now().Add(5 * time.Second); stream && st.StreamsCompleted < int64(len(turns)) && time.Now().Before(deadline); {
							time.Sleep(5 * time.Millisecond)
							st = h.mocks[name].Stats()
						}
						if stream && st.StreamsCompleted != int64(len(turns)) {
							t.Errorf("the backend completed %d streams, want %d", st.StreamsCompleted, len(turns))
						}
						if st.LastAuthorization == "Bearer "+sdkPlaceholderKey || st.LastAPIKey == sdkPlaceholderKey {
							t.Error("the SDK's placeholder key reached the backend")
						}
					})
				}
			}
		}
	}
}

// TestSDKFallbackAcrossFormats: the first backend fails every attempt before
// anything is sent, the second, of the other format, serves; the SDK sees one
// clean answer from the second. In the tool round trip, the follow-up goes
// to the second backend again while the first is down (openai-go), or back
// to the recovered first one (anthropic-sdk-go), which then gets a tool call
// id that the other provider issued.
func TestSDKFallbackAcrossFormats(t *testing.T) {
	for _, tc := range []struct {
		client    string
		first     upstream
		second    upstream
		stillDown bool // the first backend still fails after the first turn
	}{
		{sdkOpenAIClient, sdkUpstream(config.OpenAI, mock.Faults{Down: true}), sdkUpstream(config.Anthropic, mock.Faults{}), true},
		{sdkAnthropicClient, sdkUpstream(config.Anthropic, mock.Faults{StatusSequence: []int{529, 529, 529}}), sdkUpstream(config.OpenAI, mock.Faults{}), false},
	} {
		for _, stream := range []bool{true, false} {
			for _, tools := range []bool{false, true} {
				scenario := "text"
				if tools {
					scenario = "tool-round-trip"
				}
				t.Run(sdkCaseName(tc.client, tc.first.typ, stream, "falls-back-to-"+tc.second.name+"/"+scenario), func(t *testing.T) {
					h := sdkHarness(t, []upstream{tc.first, tc.second}, nil)
					turns := sdkConversation(t, h, tc.client, stream, tools)
					if !tools {
						checkTextTurn(t, tc.client, tc.second.name, turns[0], sdkQuestionToks)
					} else {
						checkToolTurn(t, tc.client, tc.second.name, turns[0])
					}
					if got := turns[0].header.Get("x-llmroute-attempts"); got != "4" {
						t.Errorf("x-llmroute-attempts %q, want 4: 3 on %s then 1 on %s", got, tc.first.name, tc.second.name)
					}
					wantFirst, wantSecond := int64(3), int64(1)
					if tools {
						by := tc.first.name
						if tc.stillDown {
							by = tc.second.name
							wantFirst, wantSecond = 6, 2
						} else {
							wantFirst = 4
						}
						checkTextTurn(t, tc.client, by, turns[1], sdkQuestionToks+sdkResultToks)
					}
					if apiCalls(h, tc.first.name) != wantFirst || apiCalls(h, tc.second.name) != wantSecond {
						t.Errorf("calls %s=%d %s=%d, want %d and %d", tc.first.name, apiCalls(h, tc.first.name), tc.second.name, apiCalls(h, tc.second.name), wantFirst, wantSecond)
					}
				})
			}
		}
	}
}

// TestSDKRetriesAreNotMultiplied: an SDK left at its default retries (2) in
// front of a proxy whose only backend is down must not retry the proxy's
// answer: the backend sees retry.attempts calls, not attempts × 3.
func TestSDKRetriesAreNotMultiplied(t *testing.T) {
	for _, client := range []string{sdkOpenAIClient, sdkAnthropicClient} {
		for _, backend := range []config.ProviderType{config.OpenAI, config.Anthropic} {
			for _, stream := range []bool{false, true} {
				t.Run(sdkCaseName(client, backend, stream, "backend-down"), func(t *testing.T) {
					name := sdkBackendName(backend)
					h := sdkHarness(t, []upstream{sdkUpstream(backend, mock.Faults{Down: true})}, nil)
					var sdkCalls countRequests
					var resp *http.Response
					var err error
					if client == sdkOpenAIClient {
						c := newOpenAIClient(h, oaoption.WithMiddleware(sdkCalls.openai))
						params := openai.ChatCompletionNewParams{
							Model:    sdkOpenAIModel,
							Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(sdkQuestion)},
						}
						if stream {
							s := c.Chat.Completions.NewStreaming(t.Context(), params, oaoption.WithResponseInto(&resp))
							for s.Next() {
								t.Errorf("a chunk from a failed request: %s", s.Current().RawJSON())
							}
							err = s.Err()
							s.Close()
						} else {
							_, err = c.Chat.Completions.New(t.Context(), params, oaoption.WithResponseInto(&resp))
						}
						var apiErr *openai.Error
						if !errors.As(err, &apiErr) {
							t.Fatalf("want an *openai.Error, got %T %v", err, err)
						}
						if apiErr.StatusCode != http.StatusServiceUnavailable {
							t.Errorf("status %d, want 503%s", apiErr.StatusCode, sdkErrorDetail(err))
						}
					} else {
						c := newAnthropicClient(h, anoption.WithMiddleware(sdkCalls.anthropic))
						params := anthropic.MessageNewParams{
							Model:     sdkAnthropicModel,
							MaxTokens: 1024,
							Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(sdkQuestion))},
						}
						if stream {
							s := c.Messages.NewStreaming(t.Context(), params, anoption.WithResponseInto(&resp))
							for s.Next() {
								t.Errorf("an event from a failed request: %s", s.Current().RawJSON())
							}
							err = s.Err()
							s.Close()
						} else {
							_, err = c.Messages.New(t.Context(), params, anoption.WithResponseInto(&resp))
						}
						var apiErr *anthropic.Error
						if !errors.As(err, &apiErr) {
							t.Fatalf("want an *anthropic.Error, got %T %v", err, err)
						}
						if apiErr.StatusCode != http.StatusServiceUnavailable {
							t.Errorf("status %d, want 503%s", apiErr.StatusCode, sdkErrorDetail(err))
						}
					}
					attempts := int64(h.px.Config().Retry.Attempts)
					if got := apiCalls(h, name); got != attempts {
						t.Errorf("the backend got %d calls, want retry.attempts = %d (the SDK retried %d times)", got, attempts, sdkCalls.n.Load()-1)
					}
					if got := sdkCalls.n.Load(); got != 1 {
						t.Errorf("the SDK sent %d requests, want 1: x-should-retry: false must stop its retries", got)
					}
					if resp == nil {
						t.Fatal("no response captured")
					}
					if got := resp.Header.Get("x-should-retry"); got != "false" {
						t.Errorf("x-should-retry %q, want false", got)
					}
				})
			}
		}
	}
}

// checkRefusalHeaders checks the headers of a provider's refusal passed on:
// who refused, and that the SDK must not retry.
func checkRefusalHeaders(t *testing.T, resp *http.Response, backend string) {
	t.Helper()
	if resp == nil {
		t.Fatal("no response captured")
	}
	if got := resp.Header.Get("x-llmroute-provider"); got != backend {
		t.Errorf("x-llmroute-provider %q, want %s", got, backend)
	}
	if got := resp.Header.Get("x-should-retry"); got != "false" {
		t.Errorf("x-should-retry %q, want false", got)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
}

// TestSDKErrorTranslation: a backend's refusal of the request reaches the
// SDK in the SDK's own error format, as its typed error.
func TestSDKErrorTranslation(t *testing.T) {
	t.Run("anthropic-sdk-go/openai-backend/context-length", func(t *testing.T) {
		for _, stream := range []bool{false, true} {
			t.Run(map[bool]string{false: "whole", true: "stream"}[stream], func(t *testing.T) {
				h := sdkHarness(t, []upstream{sdkUpstream(config.OpenAI, mock.Faults{ContextLengthExceeded: true})}, nil)
				var sdkCalls countRequests
				c := newAnthropicClient(h, anoption.WithMiddleware(sdkCalls.anthropic))
				params := anthropic.MessageNewParams{
					Model:     sdkAnthropicModel,
					MaxTokens: 1024,
					Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(sdkQuestion))},
				}
				var resp *http.Response
				var err error
				if stream {
					s := c.Messages.NewStreaming(t.Context(), params, anoption.WithResponseInto(&resp))
					for s.Next() {
						t.Errorf("an event from a refused request: %s", s.Current().RawJSON())
					}
					err = s.Err()
					s.Close()
				} else {
					_, err = c.Messages.New(t.Context(), params, anoption.WithResponseInto(&resp))
				}
				checkRefusalHeaders(t, resp, sdkOpenAIBackend)
				var apiErr *anthropic.Error
				if !errors.As(err, &apiErr) {
					t.Fatalf("want an *anthropic.Error, got %T %v", err, err)
				}
				if apiErr.StatusCode != http.StatusBadRequest {
					t.Errorf("status %d, want 400", apiErr.StatusCode)
				}
				if apiErr.Type() != "invalid_request_error" {
					t.Errorf("SDK error type %q, want invalid_request_error", apiErr.Type())
				}
				if !strings.Contains(apiErr.Message, "maximum context length") {
					t.Errorf("message %q lost the provider's explanation", apiErr.Message)
				}
				body := sdkErrorBody(apiErr.Response)
				var shape struct {
					Type  string `json:"type"`
					Error *struct {
						Type    string `json:"type"`
						Message string `json:"message"`
					} `json:"error"`
				}
				if err := json.Unmarshal(body, &shape); err != nil || shape.Type != "error" || shape.Error == nil ||
					shape.Error.Type != "invalid_request_error" || shape.Error.Message == "" {
					t.Errorf("body is not an Anthropic invalid_request_error: %s", body)
				}
				if apiCalls(h, sdkOpenAIBackend) != 1 || sdkCalls.n.Load() != 1 {
					t.Errorf("calls backend=%d sdk=%d, want 1 and 1: a 400 is not retried", apiCalls(h, sdkOpenAIBackend), sdkCalls.n.Load())
				}
			})
		}
	})
	for _, tc := range []struct {
		name     string
		fault    mock.Faults
		wantCode string
		wantMsg  string
	}{
		{"400", mock.Faults{StatusSequence: []int{400}}, "", ""},
		{"context-length", mock.Faults{ContextLengthExceeded: true}, "context_length_exceeded", "prompt is too long"},
	} {
		for _, stream := range []bool{false, true} {
			t.Run("openai-go/anthropic-backend/"+tc.name+"/"+map[bool]string{false: "whole", true: "stream"}[stream], func(t *testing.T) {
				h := sdkHarness(t, []upstream{sdkUpstream(config.Anthropic, tc.fault)}, nil)
				var sdkCalls countRequests
				c := newOpenAIClient(h, oaoption.WithMiddleware(sdkCalls.openai))
				params := openai.ChatCompletionNewParams{
					Model:    sdkOpenAIModel,
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(sdkQuestion)},
				}
				var resp *http.Response
				var err error
				if stream {
					s := c.Chat.Completions.NewStreaming(t.Context(), params, oaoption.WithResponseInto(&resp))
					for s.Next() {
						t.Errorf("a chunk from a refused request: %s", s.Current().RawJSON())
					}
					err = s.Err()
					s.Close()
				} else {
					_, err = c.Chat.Completions.New(t.Context(), params, oaoption.WithResponseInto(&resp))
				}
				checkRefusalHeaders(t, resp, sdkAnthropicBackend)
				var apiErr *openai.Error
				if !errors.As(err, &apiErr) {
					t.Fatalf("want an *openai.Error, got %T %v", err, err)
				}
				if apiErr.StatusCode != http.StatusBadRequest {
					t.Errorf("status %d, want 400", apiErr.StatusCode)
				}
				if apiErr.Type != "invalid_request_error" || apiErr.Code != tc.wantCode || apiErr.Message == "" {
					t.Errorf("SDK error type %q code %q message %q, want invalid_request_error, code %q and a message",
						apiErr.Type, apiErr.Code, apiErr.Message, tc.wantCode)
				}
				if !strings.Contains(apiErr.Message, tc.wantMsg) {
					t.Errorf("message %q lost the provider's explanation %q", apiErr.Message, tc.wantMsg)
				}
				body := sdkErrorBody(apiErr.Response)
				var shape map[string]json.RawMessage
				var inner map[string]json.RawMessage
				if json.Unmarshal(body, &shape) != nil || json.Unmarshal(shape["error"], &inner) != nil || len(shape) != 1 {
					t.Fatalf("body is not an OpenAI error, {\"error\":{...}} alone: %s", body)
				}
				for _, k := range []string{"message", "type", "param", "code"} {
					if _, ok := inner[k]; !ok {
						t.Errorf("error has no %q: %s", k, body)
					}
				}
				if apiCalls(h, sdkAnthropicBackend) != 1 || sdkCalls.n.Load() != 1 {
					t.Errorf("calls backend=%d sdk=%d, want 1 and 1: a 400 is not retried", apiCalls(h, sdkAnthropicBackend), sdkCalls.n.Load())
				}
			})
		}
	}
}
