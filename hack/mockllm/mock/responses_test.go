package mock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// openaiClient returns an openai-go client of the harness's server that
// doesn't retry, so a test sees each fault once.
func (h *harness) openaiClient() openai.Client {
	return openai.NewClient(
		option.WithBaseURL(h.ts.URL+"/v1"),
		option.WithAPIKey("sk-test"),
		option.WithMaxRetries(0),
	)
}

// rsEvent is a Responses API stream event as the wire carries it.
type rsEvent struct {
	Type           string          `json:"type"`
	SequenceNumber *int            `json:"sequence_number"`
	ItemID         string          `json:"item_id"`
	OutputIndex    *int            `json:"output_index"`
	ContentIndex   *int            `json:"content_index"`
	Delta          string          `json:"delta"`
	Text           string          `json:"text"`
	Name           string          `json:"name"`
	Arguments      string          `json:"arguments"`
	Logprobs       json.RawMessage `json:"logprobs"`
	Code           string          `json:"code"`
	Message        string          `json:"message"`
	Param          json.RawMessage `json:"param"`
	Part           *struct {
		Type        string          `json:"type"`
		Text        *string         `json:"text"`
		Annotations json.RawMessage `json:"annotations"`
	} `json:"part"`
	Item     *rsItem     `json:"item"`
	Response *rsResponse `json:"response"`
}

type rsItem struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	Role      string `json:"role"`
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
	Content   []struct {
		Type        string          `json:"type"`
		Text        string          `json:"text"`
		Annotations json.RawMessage `json:"annotations"`
	} `json:"content"`
}

type rsResponse struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	CreatedAt         int64           `json:"created_at"`
	Status            string          `json:"status"`
	Model             string          `json:"model"`
	Output            []rsItem        `json:"output"`
	Error             json.RawMessage `json:"error"`
	IncompleteDetails json.RawMessage `json:"incomplete_details"`
	Usage             *struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
	Instructions       json.RawMessage `json:"instructions"`
	PreviousResponseID *string         `json:"previous_response_id"`
	Background         bool            `json:"background"`
	Store              bool            `json:"store"`
	Metadata           json.RawMessage `json:"metadata"`
}

// rsStream posts a streaming Responses request and returns its events,
// checking what every Responses stream must hold: an event name equal to
// the data's type, sequence numbers from 0 up by one, and no [DONE].
func (h *harness) rsStream(t *testing.T, body string, header ...string) []rsEvent {
	t.Helper()
	resp := h.do("POST", "/v1/responses", body, header...)
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	raw, err := readEvents(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var evs []rsEvent
	for i, e := range raw {
		if e.data == "[DONE]" {
			t.Fatalf("event %d is [DONE]; the Responses API sends none", i)
		}
		ev := decode[rsEvent](t, []byte(e.data))
		if ev.Type != e.name {
			t.Errorf("event %d: event: %q but type %q", i, e.name, ev.Type)
		}
		if ev.SequenceNumber == nil || *ev.SequenceNumber != i {
			t.Errorf("event %d (%s): sequence_number %v", i, ev.Type, ev.SequenceNumber)
		}
		evs = append(evs, ev)
	}
	return evs
}

func rsTypes(evs []rsEvent) []string {
	types := make([]string, len(evs))
	for i, e := range evs {
		types[i] = e.Type
	}
	return types
}

const (
	rsBody   = `{"model":"gpt-test","instructions":"be brief","input":"hello there, mock"}`
	rsWords  = 5 // be brief + hello there, mock
	rsParams = `{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"type":["integer","null"]}},"required":["city"]}`
	rsArgs   = `{"city": "mock", "days": 1, "unit": "celsius"}`
)

func TestResponsesSDK(t *testing.T) {
	h := newHarness(t, Options{Name: "alpha"})
	c := h.openaiClient()
	ctx := context.Background()

	resp, err := c.Responses.New(ctx, responses.ResponseNewParams{
		Model:        "gpt-test",
		Instructions: openai.String("be brief"),
		Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("hello there, mock")},
		Metadata:     map[string]string{"run": "7"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.ID, "resp_") || resp.Object != "response" || resp.Status != responses.ResponseStatusCompleted ||
		resp.Model != "gpt-test" || resp.CreatedAt == 0 || resp.CompletedAt == 0 {
		t.Errorf("envelope = %s", resp.RawJSON())
	}
	if got := resp.OutputText(); got != h.s.reply.text || !strings.HasPrefix(got, "Hello from alpha.") {
		t.Errorf("OutputText = %q, want %q", got, h.s.reply.text)
	}
	if len(resp.Output) != 1 {
		t.Fatalf("output = %s", resp.RawJSON())
	}
	msg := resp.Output[0].AsMessage()
	if !strings.HasPrefix(msg.ID, "msg_") || msg.Role != "assistant" || msg.Status != "completed" || len(msg.Content) != 1 ||
		msg.Content[0].Type != "output_text" || !msg.Content[0].JSON.Annotations.Valid() {
		t.Errorf("message = %s", resp.Output[0].RawJSON())
	}
	u := resp.Usage
	if u.InputTokens != rsWords || u.OutputTokens != 12 || u.TotalTokens != rsWords+12 ||
		!u.InputTokensDetails.JSON.CachedTokens.Valid() || !u.OutputTokensDetails.JSON.ReasoningTokens.Valid() {
		t.Errorf("usage = %s", u.RawJSON())
	}
	// The settings the request left out come back with their defaults.
	if resp.Instructions.OfString != "be brief" || resp.Metadata["run"] != "7" || !resp.ParallelToolCalls ||
		resp.Temperature != 1 || resp.TopP != 1 || resp.ToolChoice.OfToolChoiceMode != "auto" || resp.Truncation != "disabled" ||
		resp.Text.Format.Type != "text" || !resp.JSON.Tools.Valid() || resp.JSON.Error.Raw() != "null" ||
		resp.JSON.IncompleteDetails.Raw() != "null" || resp.JSON.PreviousResponseID.Raw() != "null" || resp.ServiceTier != "default" {
		t.Errorf("echoed settings = %s", resp.RawJSON())
	}
	for _, field := range []string{"id", "object", "created_at", "error", "incomplete_details", "instructions", "model", "tools", "output",
		"parallel_tool_calls", "metadata", "tool_choice", "temperature", "top_p", "status", "usage", "store", "text", "truncation"} {
		if _, ok := decode[map[string]json.RawMessage](t, []byte(resp.RawJSON()))[field]; !ok {
			t.Errorf("response lacks %q", field)
		}
	}
}

func TestResponsesStreamSDK(t *testing.T) {
	h := newHarness(t, Options{StreamChunks: 3})
	c := h.openaiClient()
	stream := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{
		Model: "gpt-test",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hello")},
	})
	var types []string
	var text strings.Builder
	var final responses.Response
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		if int(ev.SequenceNumber) != len(types)-1 {
			t.Errorf("%s: sequence_number %d", ev.Type, ev.SequenceNumber)
		}
		switch e := ev.AsAny().(type) {
		case responses.ResponseTextDeltaEvent:
			text.WriteString(e.Delta)
			if !e.JSON.Logprobs.Valid() {
				t.Errorf("delta without logprobs: %s", e.RawJSON())
			}
		case responses.ResponseCompletedEvent:
			final = e.Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
		"response.output_text.delta", "response.output_text.delta", "response.output_text.delta",
		"response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"}
	if !slices.Equal(types, want) {
		t.Errorf("events = %v\nwant     %v", types, want)
	}
	if text.String() != h.s.reply.text || final.OutputText() != h.s.reply.text || final.Status != "completed" || final.Usage.OutputTokens != 12 {
		t.Errorf("text %q, final %s", text.String(), final.RawJSON())
	}
	if st := h.s.Stats(); st.Streams != 1 || st.StreamsCompleted != 1 || st.Paths["/v1/responses"] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// TestResponsesStreamWire checks what the SDK doesn't: that every event
// names the same item, that the text events agree, and that the stream's
// last event holds the whole response.
func TestResponsesStreamWire(t *testing.T) {
	h := newHarness(t, Options{StreamChunks: 4})
	evs := h.rsStream(t, strings.Replace(rsBody, `{`, `{"stream":true,`, 1))
	if len(evs) != 12 {
		t.Fatalf("%d events: %v", len(evs), rsTypes(evs))
	}
	created, last := evs[0].Response, evs[len(evs)-1].Response
	if created == nil || created.Status != "in_progress" || len(created.Output) != 0 || created.Usage != nil || string(created.Instructions) != `"be brief"` {
		t.Errorf("response.created = %+v", created)
	}
	if last == nil || last.ID != created.ID || last.Status != "completed" || last.Usage == nil || last.Usage.InputTokens != rsWords || len(last.Output) != 1 {
		t.Fatalf("response.completed = %+v", last)
	}
	added := evs[2].Item
	if added == nil || added.Type != "message" || added.Status != "in_progress" || added.Role != "assistant" || len(added.Content) != 0 ||
		added.ID != last.Output[0].ID {
		t.Errorf("output_item.added = %+v", added)
	}
	var text strings.Builder
	for _, e := range evs[3:10] {
		if e.ItemID != added.ID || e.OutputIndex == nil || *e.OutputIndex != 0 || e.ContentIndex == nil || *e.ContentIndex != 0 {
			t.Errorf("%s names item %q/%v/%v, want %q/0/0", e.Type, e.ItemID, e.OutputIndex, e.ContentIndex, added.ID)
		}
		if e.Type == "response.output_text.delta" {
			text.WriteString(e.Delta)
			if string(e.Logprobs) != "[]" {
				t.Errorf("delta logprobs = %s", e.Logprobs)
			}
		}
	}
	want := h.s.reply.text
	if p := evs[3].Part; p == nil || p.Type != "output_text" || p.Text == nil || *p.Text != "" || string(p.Annotations) != "[]" {
		t.Errorf("content_part.added part = %+v", p)
	}
	if text.String() != want || evs[8].Text != want || evs[9].Part == nil || *evs[9].Part.Text != want {
		t.Errorf("deltas %q, done %q, part %+v; want %q", text.String(), evs[8].Text, evs[9].Part, want)
	}
	done := evs[10].Item
	if done == nil || done.Status != "completed" || len(done.Content) != 1 || done.Content[0].Text != want || string(done.Content[0].Annotations) != "[]" {
		t.Errorf("output_item.done = %+v", done)
	}
}

func TestResponsesFunctionCall(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.openaiClient()
	ctx := context.Background()
	var params map[string]any
	if err := json.Unmarshal([]byte(rsParams), &params); err != nil {
		t.Fatal(err)
	}
	tools := []responses.ToolUnionParam{{OfFunction: &responses.FunctionToolParam{Name: "get_weather", Parameters: params}}}

	first, err := c.Responses.New(ctx, responses.ResponseNewParams{
		Model: "gpt-test",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("weather in town?")},
		Tools: tools,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Output) != 1 || first.Output[0].Type != "function_call" {
		t.Fatalf("output = %s", first.RawJSON())
	}
	call := first.Output[0].AsFunctionCall()
	if !strings.HasPrefix(call.ID, "fc_") || !strings.HasPrefix(call.CallID, "call_") || call.Name != "get_weather" ||
		call.Arguments != rsArgs || call.Status != "completed" {
		t.Errorf("function call = %s", first.Output[0].RawJSON())
	}
	if first.Usage.OutputTokens != int64(countWords(rsArgs)) || len(first.Tools) != 1 || first.Tools[0].Name != "get_weather" {
		t.Errorf("usage %s, tools %s", first.Usage.RawJSON(), first.JSON.Tools.Raw())
	}

	// The client runs the tool and sends its output on: the answer is text.
	out := responses.ResponseInputItemParamOfFunctionCallOutput("sunny")
	out.OfFunctionCallOutput.CallID = openai.String(call.CallID)
	second, err := c.Responses.New(ctx, responses.ResponseNewParams{
		Model:              "gpt-test",
		PreviousResponseID: openai.String(first.ID),
		Input:              responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{out}},
		Tools:              tools,
	})
	if err != nil {
		t.Fatal(err)
	}
	if second.Output[0].Type != "message" || second.OutputText() != h.s.reply.text || second.PreviousResponseID != first.ID {
		t.Errorf("second = %s", second.RawJSON())
	}
	// The continued conversation is input: the first request and its call.
	if want := first.Usage.TotalTokens + 1; second.Usage.InputTokens != want {
		t.Errorf("second input tokens = %d, want %d", second.Usage.InputTokens, want)
	}

	t.Run("stream", func(t *testing.T) {
		h := newHarness(t, Options{StreamChunks: 2})
		evs := h.rsStream(t, `{"model":"m","stream":true,"input":"weather?","tools":[{"type":"function","name":"get_weather","parameters":`+rsParams+`}]}`)
		want := []string{"response.created", "response.in_progress", "response.output_item.added",
			"response.function_call_arguments.delta", "response.function_call_arguments.delta",
			"response.function_call_arguments.done", "response.output_item.done", "response.completed"}
		if got := rsTypes(evs); !slices.Equal(got, want) {
			t.Fatalf("events = %v\nwant     %v", got, want)
		}
		added, done := evs[2].Item, evs[6].Item
		if added.Type != "function_call" || added.Status != "in_progress" || added.Arguments != "" || added.Name != "get_weather" ||
			!strings.HasPrefix(added.CallID, "call_") || done.ID != added.ID || done.CallID != added.CallID || done.Arguments != rsArgs || done.Status != "completed" {
			t.Errorf("items added %+v, done %+v", added, done)
		}
		if evs[3].ItemID != added.ID || evs[3].Delta+evs[4].Delta != rsArgs || evs[5].Arguments != rsArgs || evs[5].Name != "get_weather" || evs[5].ItemID != added.ID {
			t.Errorf("argument events = %+v %+v %+v", evs[3], evs[4], evs[5])
		}
		if f := evs[7].Response; f.Output[0].Type != "function_call" || f.Output[0].CallID != added.CallID {
			t.Errorf("completed = %+v", f)
		}
	})

	t.Run("tool_choice", func(t *testing.T) {
		for _, tc := range []struct{ choice, want string }{
			{`"none"`, "message"},
			{`"required"`, "function_call"},
			{`{"type":"function","name":"other"}`, "function_call"},
		} {
			_, _, body := h.call("POST", "/v1/responses", `{"model":"m","input":"x","tool_choice":`+tc.choice+`,"tools":[{"type":"web_search"},{"type":"function","name":"get_weather"},{"type":"function","name":"other"}]}`)
			r := decode[rsResponse](t, body)
			if len(r.Output) != 1 || r.Output[0].Type != tc.want || tc.choice[0] == '{' && r.Output[0].Name != "other" {
				t.Errorf("tool_choice %s: %s", tc.choice, body)
			}
		}
	})
}

func TestResponsesMaxOutputTokens(t *testing.T) {
	h := newHarness(t, Options{CompletionWords: 20})
	c := h.openaiClient()
	resp, err := c.Responses.New(context.Background(), responses.ResponseNewParams{
		Model:           "gpt-test",
		Input:           responses.ResponseNewParamsInputUnion{OfString: openai.String("x")},
		MaxOutputTokens: openai.Int(3),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != "incomplete" || resp.IncompleteDetails.Reason != "max_output_tokens" || resp.OutputText() != "Hello from mock." ||
		resp.Usage.OutputTokens != 3 || resp.MaxOutputTokens != 3 || resp.Output[0].AsMessage().Status != "incomplete" {
		t.Errorf("response = %s", resp.RawJSON())
	}
	evs := h.rsStream(t, `{"model":"m","stream":true,"max_output_tokens":3,"input":"x"}`)
	last := evs[len(evs)-1]
	if last.Type != "response.incomplete" || last.Response.Status != "incomplete" || string(last.Response.IncompleteDetails) != `{"reason":"max_output_tokens"}` {
		t.Errorf("last event = %+v", last)
	}
	if h.s.Stats().StreamsCompleted != 1 {
		t.Errorf("an incomplete response's stream still ends: %+v", h.s.Stats())
	}
}

func TestResponsesStored(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.openaiClient()
	ctx := context.Background()
	input := responses.ResponseInputParam{
		responses.ResponseInputItemParamOfMessage("be brief", responses.EasyInputMessageRoleDeveloper),
		responses.ResponseInputItemParamOfMessage("hello there, mock", responses.EasyInputMessageRoleUser),
	}
	created, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-test", Input: responses.ResponseNewParamsInputUnion{OfInputItemList: input}})
	if err != nil {
		t.Fatal(err)
	}

	got, err := c.Responses.Get(ctx, created.ID, responses.ResponseGetParams{})
	if err != nil || got.ID != created.ID || got.OutputText() != created.OutputText() || got.Usage.TotalTokens != created.Usage.TotalTokens {
		t.Fatalf("get = %v, %v", got, err)
	}

	items, err := c.Responses.InputItems.List(ctx, created.ID, responses.InputItemListParams{})
	if err != nil {
		t.Fatal(err)
	}
	// Newest first, by default.
	if len(items.Data) != 2 || items.HasMore || items.Data[0].Role != "user" || items.Data[1].Role != "developer" ||
		items.Data[0].Type != "message" || !strings.Contains(items.RawJSON(), `"first_id":"`+items.Data[0].ID+`"`) ||
		!strings.Contains(items.RawJSON(), `"last_id":"`+items.Data[1].ID+`"`) ||
		len(items.Data[0].AsMessage().Content) != 1 || items.Data[0].AsMessage().Content[0].Type != "input_text" ||
		items.Data[0].AsMessage().Content[0].Text != "hello there, mock" || items.Data[0].AsMessage().Status != "completed" {
		t.Errorf("input items = %s", items.RawJSON())
	}
	asc, err := c.Responses.InputItems.List(ctx, created.ID, responses.InputItemListParams{Order: responses.InputItemListParamsOrderAsc, Limit: openai.Int(1)})
	if err != nil || len(asc.Data) != 1 || asc.Data[0].Role != "developer" || !asc.HasMore {
		t.Errorf("asc, limit 1 = %v, %v", asc, err)
	}

	count, err := c.Responses.InputTokens.Count(ctx, responses.InputTokenCountParams{
		Model:              openai.String("gpt-test"),
		Input:              responses.InputTokenCountParamsInputUnion{OfString: openai.String("and one more")},
		PreviousResponseID: openai.String(created.ID),
	})
	if err != nil || count.Object != "response.input_tokens" || count.InputTokens != created.Usage.TotalTokens+3 {
		t.Errorf("input tokens = %+v, %v", count, err)
	}

	if err := c.Responses.Delete(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.Responses.Get(ctx, created.ID, responses.ResponseGetParams{})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Type != "invalid_request_error" || !strings.Contains(apiErr.Message, created.ID) {
		t.Errorf("get after delete = %v", err)
	}
	for _, tc := range []struct{ method, path string }{
		{"DELETE", "/v1/responses/resp_none"},
		{"GET", "/v1/responses/resp_none/input_items"},
		{"POST", "/v1/responses/resp_none/cancel"},
	} {
		status, _, body := h.call(tc.method, tc.path, "")
		if e := decode[oaError](t, body); status != 404 || e.Error == nil || e.Error.Message != "Response with id 'resp_none' not found." {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, status, body)
		}
	}

	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-test", PreviousResponseID: openai.String(created.ID),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("x")}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "previous_response_not_found" || apiErr.Param != "previous_response_id" {
		t.Errorf("unknown previous_response_id = %v", err)
	}

	_, _, body := h.call("POST", "/v1/responses", `{"model":"m","input":"x","store":false}`)
	unstored := decode[rsResponse](t, body)
	if status, _, _ := h.call("GET", "/v1/responses/"+unstored.ID, ""); status != 404 || unstored.Store {
		t.Errorf("store:false response: retrievable (%d), store %v", status, unstored.Store)
	}
	if st := h.s.Stats(); st.Paths["/v1/responses/{id}"] != 5 || st.Paths["/v1/responses/{id}/input_items"] != 3 {
		t.Errorf("paths = %v", st.Paths)
	}
}

func TestResponsesCancel(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.openaiClient()
	ctx := context.Background()
	newResponse := func(background bool) *responses.Response {
		t.Helper()
		r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-test", Background: openai.Bool(background),
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("x")}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	sync := newResponse(false)
	_, err := c.Responses.Cancel(ctx, sync.ID)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Message != "Cannot cancel a synchronous response." {
		t.Errorf("cancel synchronous = %v", err)
	}

	queued := newResponse(true)
	if queued.Status != "queued" || !queued.Background || len(queued.Output) != 0 || queued.JSON.Usage.Raw() != "null" {
		t.Errorf("background response = %s", queued.RawJSON())
	}
	cancelled, err := c.Responses.Cancel(ctx, queued.ID)
	if err != nil || cancelled.Status != "cancelled" {
		t.Fatalf("cancel = %v, %v", cancelled, err)
	}
	if got, _ := c.Responses.Get(ctx, queued.ID, responses.ResponseGetParams{}); got.Status != "cancelled" {
		t.Errorf("after cancel, get = %s", got.RawJSON())
	}

	// A background response is done once retrieved; cancelling it then
	// changes nothing.
	done := newResponse(true)
	got, err := c.Responses.Get(ctx, done.ID, responses.ResponseGetParams{})
	if err != nil || got.Status != "completed" || got.OutputText() == "" {
		t.Fatalf("get background = %v, %v", got, err)
	}
	again, err := c.Responses.Cancel(ctx, done.ID)
	if err != nil || again.Status != "completed" {
		t.Errorf("cancel a finished response = %v, %v", again, err)
	}
}

func TestResponsesFaults(t *testing.T) {
	streamBody := `{"model":"m","stream":true,"input":"x"}`
	t.Run("errors", func(t *testing.T) {
		h := newHarness(t, Options{APIKey: "sk-test"})
		c := h.openaiClient()
		for _, tc := range []struct {
			name   string
			opts   []option.RequestOption
			status int
			typ    string
		}{
			{"status", []option.RequestOption{option.WithHeader("x-mock-status", "503")}, 503, "server_error"},
			{"rate limit", []option.RequestOption{option.WithHeader("x-mock-status", "429"), option.WithHeader("x-mock-retry-after", "7")}, 429, "requests"},
			{"down", []option.RequestOption{option.WithHeader("x-mock-down", "1")}, 503, "server_error"},
			{"quota", []option.RequestOption{option.WithHeader("x-mock-insufficient-quota", "1")}, 429, "insufficient_quota"},
			{"context length", []option.RequestOption{option.WithHeader("x-mock-context-length", "1")}, 400, "invalid_request_error"},
			{"key", []option.RequestOption{option.WithAPIKey("sk-wrong")}, 401, "invalid_request_error"},
		} {
			var raw *http.Response
			_, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "gpt-test",
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("x")}}, append(tc.opts, option.WithResponseInto(&raw))...)
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status || apiErr.Type != tc.typ {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if tc.name == "rate limit" && raw.Header.Get("Retry-After") != "7" {
				t.Errorf("rate limit: Retry-After = %q", raw.Header.Get("Retry-After"))
			}
		}
		status, _, body := h.call("POST", "/v1/responses", `{"input":"x"}`, "Authorization", "Bearer sk-test")
		if e := decode[oaError](t, body); status != 400 || string(e.Error.Code) != `"missing_required_parameter"` {
			t.Errorf("no model: %d %s", status, body)
		}
		status, _, body = h.call("POST", "/v1/responses", `{"model":"m","input":42}`, "Authorization", "Bearer sk-test")
		if e := decode[oaError](t, body); status != 400 || e.Error.Param == nil || *e.Error.Param != "input" {
			t.Errorf("bad input: %d %s", status, body)
		}
	})

	t.Run("error before content", func(t *testing.T) {
		h := newHarness(t, Options{})
		evs := h.rsStream(t, streamBody, "x-mock-stream-error-before-content", "1")
		if len(evs) != 1 || evs[0].Type != "error" || evs[0].Code != "server_error" || evs[0].Message == "" || string(evs[0].Param) != "null" {
			t.Fatalf("events = %+v", evs)
		}
		// The SDK hands it over as a typed event, not as a transport error.
		c := h.openaiClient()
		stream := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "m",
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("x")}}, option.WithHeader("x-mock-stream-error-before-content", "1"))
		var got []responses.ResponseErrorEvent
		for stream.Next() {
			if e, ok := stream.Current().AsAny().(responses.ResponseErrorEvent); ok {
				got = append(got, e)
			}
		}
		if stream.Err() != nil || len(got) != 1 || got[0].Code != "server_error" {
			t.Errorf("SDK: %v, %v", got, stream.Err())
		}
		if st := h.s.Stats(); st.Faults["stream_error"] != 2 || st.StreamsCompleted != 0 {
			t.Errorf("stats = %+v", st)
		}
	})

	t.Run("error after content", func(t *testing.T) {
		h := newHarness(t, Options{StreamChunks: 4})
		evs := h.rsStream(t, streamBody, "x-mock-stream-error-after", "2")
		want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
			"response.output_text.delta", "response.output_text.delta", "error", "response.failed"}
		if got := rsTypes(evs); !slices.Equal(got, want) {
			t.Fatalf("events = %v\nwant     %v", got, want)
		}
		failed := evs[7].Response
		if failed.Status != "failed" || failed.ID != evs[0].Response.ID || !strings.Contains(string(failed.Error), `"code":"server_error"`) || failed.Usage != nil {
			t.Errorf("response.failed = %+v", failed)
		}
		_, _, body := h.call("GET", "/v1/responses/"+failed.ID, "")
		if r := decode[rsResponse](t, body); r.Status != "failed" {
			t.Errorf("stored failed response = %s", body)
		}
	})

	t.Run("cut", func(t *testing.T) {
		h := newHarness(t, Options{})
		resp, err := h.try(freshClient(), "POST", "/v1/responses", streamBody, "x-mock-stream-cut-after", "3")
		if err != nil {
			t.Fatal(err)
		}
		evs, err := readEvents(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) || len(evs) != 3 {
			t.Errorf("%d events, err %v", len(evs), err)
		}
		resp, err = h.try(freshClient(), "POST", "/v1/responses", `{"model":"m","input":"x"}`, "x-mock-reset-mid-body", "1")
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Error("reset mid body: read the whole body")
		}
		h.settle()
		if st := h.s.Stats(); st.Resets != 2 {
			t.Errorf("stats = %+v", st)
		}
	})
}

// TestResponsesInputWords checks how the mock counts a request's input
// items, which is what makes usage predictable in a proxy's tests.
func TestResponsesInputWords(t *testing.T) {
	h := newHarness(t, Options{})
	for _, tc := range []struct {
		name, input string
		want        int
	}{
		{"string", `"one two three"`, 3},
		{"parts", `[{"role":"user","content":[{"type":"input_text","text":"one two"},{"type":"input_image","image_url":"data:x"}]}]`, 2},
		{"easy messages", `[{"role":"system","content":"a b"},{"role":"user","content":"c"}]`, 3},
		{"tool round", `[{"role":"user","content":"a"},{"type":"function_call","call_id":"c1","name":"f","arguments":"{\"x\": 1}"},{"type":"function_call_output","call_id":"c1","output":"sunny today"}]`, 5},
	} {
		_, _, body := h.call("POST", "/v1/responses/input_tokens", fmt.Sprintf(`{"model":"m","input":%s}`, tc.input))
		var got struct {
			Object      string `json:"object"`
			InputTokens int    `json:"input_tokens"`
		}
		if err := json.Unmarshal(body, &got); err != nil || got.Object != "response.input_tokens" || got.InputTokens != tc.want {
			t.Errorf("%s: %s, want %d", tc.name, body, tc.want)
		}
	}
}
