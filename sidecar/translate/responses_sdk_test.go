package translate

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/respjson"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"
)

// The Responses translators' output is decoded with the official Go SDK,
// as applications receive it: non-streamed responses as responses.Response,
// streams through the SDK's own SSE decoder as ResponseStreamEventUnion. A
// field the SDK cannot read, a required field left out, or events that do
// not add up (sequence numbers, item ids, indexes, the done events repeating
// the deltas) fail the test.

// sdkOnlyRequired are fields the SDK marks required that the OpenAPI
// specification's Response does not have, and that a translated response
// has no value for.
var sdkOnlyRequired = map[string]bool{"AccessPrograms": true}

// checkRequired checks that every field of an SDK type marked
// api:"required" is present in what it was decoded from (null allowed) and
// decoded as its type.
func checkRequired(t *testing.T, where string, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	js := rv.FieldByName("JSON")
	if !js.IsValid() {
		t.Fatalf("%s: %T has no JSON metadata", where, v)
	}
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		if !strings.Contains(f.Tag.Get("api"), "required") || sdkOnlyRequired[f.Name] {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		jf := js.FieldByName(f.Name).Interface().(respjson.Field)
		switch {
		case jf.Raw() == respjson.Omitted:
			t.Errorf("%s: required field %s is missing", where, name)
		case !jf.Valid() && jf.Raw() != respjson.Null:
			t.Errorf("%s: field %s does not decode: %s", where, name, jf.Raw())
		}
	}
}

// sdkAnswer is what a decoded response says.
type sdkAnswer struct {
	status, reason string
	text, refusal  string
	calls          []string // "name arguments"
	usage          Usage
	cached, cacheW int64
	reasoning      int64
}

// checkResponse checks a decoded response object and reads its answer.
func checkResponse(t *testing.T, where string, r *responses.Response) sdkAnswer {
	t.Helper()
	checkRequired(t, where, *r)
	if !strings.HasPrefix(r.ID, "resp_") || r.Object != "response" || r.CreatedAt == 0 {
		t.Errorf("%s: id %q, object %q, created_at %v", where, r.ID, r.Object, r.CreatedAt)
	}
	a := sdkAnswer{status: string(r.Status), reason: r.IncompleteDetails.Reason, text: r.OutputText()}
	ids := map[string]bool{}
	for i, item := range r.Output {
		if ids[item.ID] {
			t.Errorf("%s: output[%d] repeats id %s", where, i, item.ID)
		}
		ids[item.ID] = true
		switch v := item.AsAny().(type) {
		case responses.ResponseOutputMessage:
			checkRequired(t, where+": message", v)
			if !strings.HasPrefix(v.ID, "msg_") || v.Role != "assistant" {
				t.Errorf("%s: message id %q, role %q", where, v.ID, v.Role)
			}
			for _, c := range v.Content {
				switch p := c.AsAny().(type) {
				case responses.ResponseOutputText:
					checkRequired(t, where+": output_text", p)
				case responses.ResponseOutputRefusal:
					checkRequired(t, where+": refusal", p)
					a.refusal += p.Refusal
				default:
					t.Errorf("%s: content part %T", where, p)
				}
			}
		case responses.ResponseFunctionToolCall:
			checkRequired(t, where+": function_call", v)
			if !strings.HasPrefix(v.ID, "fc_") || v.CallID == "" || v.Status != "completed" && r.Status != "incomplete" {
				t.Errorf("%s: function call id %q, call_id %q, status %q", where, v.ID, v.CallID, v.Status)
			}
			a.calls = append(a.calls, v.Name+" "+v.Arguments)
		default:
			t.Errorf("%s: output item %T", where, v)
		}
	}
	if r.JSON.Usage.Valid() {
		checkRequired(t, where+": usage", r.Usage)
		checkRequired(t, where+": input_tokens_details", r.Usage.InputTokensDetails)
		checkRequired(t, where+": output_tokens_details", r.Usage.OutputTokensDetails)
		u := r.Usage
		if u.TotalTokens != u.InputTokens+u.OutputTokens {
			t.Errorf("%s: total_tokens %d", where, u.TotalTokens)
		}
		a.usage = Usage{InputTokens: int(u.InputTokens), OutputTokens: int(u.OutputTokens)}
		a.cached, a.cacheW, a.reasoning = u.InputTokensDetails.CachedTokens, u.InputTokensDetails.CacheWriteTokens, u.OutputTokensDetails.ReasoningTokens
	}
	return a
}

// sdkStreamItem is an output item as the events have built it.
type sdkStreamItem struct {
	id, typ string
	parts   []*strings.Builder
	args    strings.Builder
	done    bool
}

// checkStream decodes a translated stream with the SDK, checks that its
// events add up, and reads the answer of its last event (or the message of
// its error event).
func checkStream(t *testing.T, where string, stream []byte) (a sdkAnswer, errMessage string) {
	t.Helper()
	res := &http.Response{Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(bytes.NewReader(stream))}
	st := ssestream.NewStream[responses.ResponseStreamEventUnion](ssestream.NewDecoder(res), nil)
	var items []*sdkStreamItem
	var seq int64
	ended := false
	item := func(id string, index int64) *sdkStreamItem {
		t.Helper()
		if index < 0 || index >= int64(len(items)) || items[index].id != id || items[index].done {
			t.Fatalf("%s: event %d names item %s at %d, which is not open", where, seq, id, index)
		}
		return items[index]
	}
	part := func(it *sdkStreamItem, k int64) *strings.Builder {
		t.Helper()
		if k < 0 || k >= int64(len(it.parts)) {
			t.Fatalf("%s: event %d names content part %d of %s, which has %d", where, seq, k, it.id, len(it.parts))
		}
		return it.parts[k]
	}
	for st.Next() {
		ev := st.Current()
		if ended {
			t.Fatalf("%s: event %s after the end", where, ev.Type)
		}
		if ev.SequenceNumber != seq {
			t.Fatalf("%s: %s has sequence_number %d, want %d", where, ev.Type, ev.SequenceNumber, seq)
		}
		v := ev.AsAny()
		checkRequired(t, where+": "+ev.Type, v)
		switch e := v.(type) {
		case responses.ResponseCreatedEvent, responses.ResponseInProgressEvent:
			if seq > 1 {
				t.Errorf("%s: %s at %d", where, ev.Type, seq)
			}
			if ev.Response.Status != "in_progress" || len(ev.Response.Output) != 0 {
				t.Errorf("%s: %s status %s", where, ev.Type, ev.Response.Status)
			}
			checkResponse(t, where+": "+ev.Type, &ev.Response)
		case responses.ResponseOutputItemAddedEvent:
			if e.OutputIndex != int64(len(items)) {
				t.Fatalf("%s: item added at %d, want %d", where, e.OutputIndex, len(items))
			}
			if n := len(items); n > 0 && !items[n-1].done {
				t.Errorf("%s: item %d added while %d is open", where, n, n-1)
			}
			items = append(items, &sdkStreamItem{id: e.Item.ID, typ: e.Item.Type})
			if e.Item.Status != "in_progress" {
				t.Errorf("%s: item added with status %s", where, e.Item.Status)
			}
		case responses.ResponseContentPartAddedEvent:
			it := item(e.ItemID, e.OutputIndex)
			if e.ContentIndex != int64(len(it.parts)) {
				t.Fatalf("%s: part added at %d, want %d", where, e.ContentIndex, len(it.parts))
			}
			it.parts = append(it.parts, &strings.Builder{})
		case responses.ResponseTextDeltaEvent:
			part(item(e.ItemID, e.OutputIndex), e.ContentIndex).WriteString(e.Delta)
		case responses.ResponseRefusalDeltaEvent:
			part(item(e.ItemID, e.OutputIndex), e.ContentIndex).WriteString(e.Delta)
		case responses.ResponseTextDoneEvent:
			if got := part(item(e.ItemID, e.OutputIndex), e.ContentIndex).String(); e.Text != got {
				t.Errorf("%s: output_text.done %q, deltas %q", where, e.Text, got)
			}
		case responses.ResponseRefusalDoneEvent:
			if got := part(item(e.ItemID, e.OutputIndex), e.ContentIndex).String(); e.Refusal != got {
				t.Errorf("%s: refusal.done %q, deltas %q", where, e.Refusal, got)
			}
		case responses.ResponseContentPartDoneEvent:
			got := part(item(e.ItemID, e.OutputIndex), e.ContentIndex).String()
			if p := e.Part; p.Text+p.Refusal != got {
				t.Errorf("%s: content_part.done %q, deltas %q", where, p.Text+p.Refusal, got)
			}
		case responses.ResponseFunctionCallArgumentsDeltaEvent:
			item(e.ItemID, e.OutputIndex).args.WriteString(e.Delta)
		case responses.ResponseFunctionCallArgumentsDoneEvent:
			if got := item(e.ItemID, e.OutputIndex).args.String(); e.Arguments != got {
				t.Errorf("%s: function_call_arguments.done %q, deltas %q", where, e.Arguments, got)
			}
		case responses.ResponseOutputItemDoneEvent:
			it := item(e.Item.ID, e.OutputIndex)
			switch e.Item.Type {
			case "message":
				msg := e.Item.AsMessage()
				if len(msg.Content) != len(it.parts) {
					t.Fatalf("%s: message done with %d parts, %d added", where, len(msg.Content), len(it.parts))
				}
				for k, c := range msg.Content {
					if c.Text+c.Refusal != it.parts[k].String() {
						t.Errorf("%s: message done with %q, deltas %q", where, c.Text+c.Refusal, it.parts[k].String())
					}
				}
			case "function_call":
				if e.Item.Arguments.OfString != it.args.String() {
					t.Errorf("%s: function call done with %q, deltas %q", where, e.Item.Arguments.OfString, it.args.String())
				}
			}
			it.done = true
		case responses.ResponseCompletedEvent, responses.ResponseIncompleteEvent:
			ended = true
			a = checkResponse(t, where+": "+ev.Type, &ev.Response)
			if len(ev.Response.Output) != len(items) {
				t.Errorf("%s: %d items in the response, %d streamed", where, len(ev.Response.Output), len(items))
			}
			for i, it := range items {
				if !it.done || ev.Response.Output[i].ID != it.id {
					t.Errorf("%s: item %d (%s) done %v, the response has %s", where, i, it.id, it.done, ev.Response.Output[i].ID)
				}
			}
			if (ev.Type == "response.completed") != (a.status == "completed") {
				t.Errorf("%s: %s with status %s", where, ev.Type, a.status)
			}
		case responses.ResponseErrorEvent:
			ended = true
			errMessage = e.Message
			if e.Message == "" || e.Code == "" {
				t.Errorf("%s: error event %+v", where, e)
			}
		default:
			t.Errorf("%s: unexpected event %s", where, ev.Type)
		}
		seq++
	}
	if err := st.Err(); err != nil {
		t.Fatalf("%s: the SDK's stream failed: %v", where, err)
	}
	if !ended {
		t.Errorf("%s: the stream has no closing event", where)
	}
	return a, errMessage
}

// responsesGoldenRun runs a golden input through the translator after its
// request, as TestGolden does.
func responsesGoldenRun(t *testing.T, name string, backend Format) Translator {
	t.Helper()
	tr := newTestTranslator(Responses, backend)
	requestFirst(t, tr, name, Responses)
	return tr
}

func TestResponsesSDKDecodesResponses(t *testing.T) {
	want := map[string]sdkAnswer{
		"responses_chat_response_text": {status: "completed", text: "Hello! How can I help you today?", usage: Usage{19, 10}},
		"responses_chat_response_tool_calls": {status: "completed", usage: Usage{19, 10},
			calls: []string{`get_weather {"city":"Paris"}`, `get_time {}`}},
		"responses_chat_response_length":         {status: "incomplete", reason: "max_output_tokens", text: "The history of Rome begins", usage: Usage{19, 10}},
		"responses_chat_response_content_filter": {status: "incomplete", reason: "content_filter", usage: Usage{19, 10}},
		"responses_chat_response_refusal":        {status: "completed", refusal: "I'm sorry, I can't help with that.", usage: Usage{19, 10}},
		"responses_chat_response_reasoning":      {status: "completed", text: "391", usage: Usage{1200, 300}, cached: 1024, reasoning: 256},
		"responses_messages_response_text":       {status: "completed", text: "Hi! My name is Claude.\n\"Quoted\" <b>", usage: Usage{2095, 503}},
		"responses_messages_response_tool_use": {status: "completed", text: "I'll check both.", usage: Usage{2095, 503},
			calls: []string{`get_weather {"city":"Paris"}`, `get_time {}`}},
		"responses_messages_response_max_tokens": {status: "incomplete", reason: "max_output_tokens", text: "The history of Rome begins", usage: Usage{2095, 503}},
		"responses_messages_response_refusal":    {status: "incomplete", reason: "content_filter", text: "I", usage: Usage{2095, 503}},
		"responses_messages_response_thinking":   {status: "completed", text: "391", usage: Usage{1112, 40}, cached: 1000, cacheW: 100, reasoning: 30},
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			backend := Messages
			if strings.HasPrefix(name, "responses_chat_") {
				backend = ChatCompletions
			}
			in, err := os.ReadFile(goldenPath(name, ".in.json"))
			if err != nil {
				t.Fatal(err)
			}
			out, u, err := responsesGoldenRun(t, name, backend).Response(in)
			if err != nil {
				t.Fatal(err)
			}
			var r responses.Response
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("the SDK cannot decode the response: %v\n%s", err, out)
			}
			got := checkResponse(t, name, &r)
			if !reflect.DeepEqual(got, w) {
				t.Errorf("the SDK reads\n %+v\nwant\n %+v", got, w)
			}
			if u != w.usage {
				t.Errorf("Response reported usage %+v, the body says %+v", u, w.usage)
			}
		})
	}
	files, _ := filepath.Glob("testdata/responses_*_response_*.in.json")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".in.json")
		if _, ok := want[name]; !ok && strings.SplitN(name, "_", 4)[2] == "response" && !strings.Contains(name, "_response_err_") {
			t.Errorf("%s is not checked with the SDK", name)
		}
	}
}

func TestResponsesSDKDecodesStreams(t *testing.T) {
	type result struct {
		answer sdkAnswer
		err    string // the error event's message
	}
	const cut = "the provider's stream ended without its closing event"
	want := map[string]result{
		"responses_chat_stream_text": {answer: sdkAnswer{status: "completed", text: "Hello world\n\"q\"", usage: Usage{1200, 3}, cached: 1024}},
		"responses_chat_stream_tools": {answer: sdkAnswer{status: "completed", text: "Let me check.", usage: Usage{80, 30},
			calls: []string{`get_weather {"location": "Paris"}`, `get_time {}`}}},
		"responses_chat_stream_refusal":                  {answer: sdkAnswer{status: "completed", refusal: "I'm sorry, I can't help with that."}},
		"responses_chat_stream_incomplete":               {answer: sdkAnswer{status: "incomplete", reason: "max_output_tokens", text: "Once upon a time", usage: Usage{12, 4}}},
		"responses_chat_stream_error_before_content":     {err: "Provider returned error"},
		"responses_chat_stream_error_after_content":      {err: "The server had an error while processing your request. Sorry about that!"},
		"responses_chat_stream_cut_short":                {err: cut},
		"responses_messages_stream_text":                 {answer: sdkAnswer{status: "completed", text: "Hello!\n\"quoted\" <b> & é\u2028", usage: Usage{35, 15}, cached: 10}},
		"responses_messages_stream_incomplete":           {answer: sdkAnswer{status: "incomplete", reason: "max_output_tokens", text: "Once upon a time", usage: Usage{12, 4}}},
		"responses_messages_stream_refusal":              {answer: sdkAnswer{status: "incomplete", reason: "content_filter", text: "Here is how", usage: Usage{30, 3}}},
		"responses_messages_stream_error_before_content": {err: "Overloaded"},
		"responses_messages_stream_error_after_content":  {err: "Overloaded"},
		"responses_messages_stream_cut_short":            {err: cut},
		"responses_messages_stream_tools": {answer: sdkAnswer{status: "completed", text: "Okay, let's check", usage: Usage{472, 89},
			calls: []string{`get_weather {"location": "San Francisco, CA"}`, `get_time {}`}}},
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			backend := Messages
			if strings.HasPrefix(name, "responses_chat_") {
				backend = ChatCompletions
			}
			in, err := os.ReadFile(goldenPath(name, ".in.sse"))
			if err != nil {
				t.Fatal(err)
			}
			st := responsesGoldenRun(t, name, backend).Stream()
			out, err := translateStream(st, in)
			if err != nil {
				t.Fatal(err)
			}
			answer, errMessage := checkStream(t, name, out)
			if got := (result{answer, errMessage}); !reflect.DeepEqual(got, w) {
				t.Errorf("the SDK reads\n %+v\nwant\n %+v", got, w)
			}
			if w.err == "" && st.Usage() != w.answer.usage {
				t.Errorf("Usage() = %+v, the stream says %+v", st.Usage(), w.answer.usage)
			}
		})
	}
	files, _ := filepath.Glob("testdata/responses_*_stream_*.in.sse")
	for _, f := range files {
		if _, ok := want[strings.TrimSuffix(filepath.Base(f), ".in.sse")]; !ok {
			t.Errorf("%s is not checked with the SDK", f)
		}
	}
}

// An application's tool loop, written with the SDK: its requests (the
// second one sending the first answer's output items back, as the SDK's
// ToParam writes them, with the function's output) are accepted by both
// translators and reach the backend as the same conversation.
func TestResponsesSDKToolLoop(t *testing.T) {
	backends := []struct {
		backend Format
		answer  string // a backend's answer with a function call
		callID  string // its call_id, as the backend request must carry it
	}{
		{ChatCompletions, "responses_chat_response_tool_calls", "call_12345xyz"},
		{Messages, "responses_messages_response_tool_use", "toolu_01A09q90qw90lq917835lq9"},
	}
	for _, b := range backends {
		t.Run(b.backend.String(), func(t *testing.T) {
			params := responses.ResponseNewParams{
				Model:        "gpt-4o",
				Instructions: openai.String("Use the tools."),
				Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
					responses.ResponseInputItemParamOfMessage("Weather in Paris?", responses.EasyInputMessageRoleUser),
				}},
				Tools: []responses.ToolUnionParam{{OfFunction: &responses.FunctionToolParam{
					Name:        "get_weather",
					Description: openai.String("Current weather"),
					Parameters:  map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
					Strict:      openai.Bool(false),
				}}, {OfFunction: &responses.FunctionToolParam{Name: "get_time", Strict: openai.Bool(false)}}},
				ToolChoice:      responses.ResponseNewParamsToolChoiceUnion{OfToolChoiceMode: openai.Opt(responses.ToolChoiceOptionsAuto)},
				MaxOutputTokens: openai.Int(500),
				Temperature:     openai.Float(0.2),
				Store:           openai.Bool(false),
				Include:         []responses.ResponseIncludable{responses.ResponseIncludableReasoningEncryptedContent},
			}
			first, err := json.Marshal(params)
			if err != nil {
				t.Fatal(err)
			}
			tr := newTestTranslator(Responses, b.backend)
			if _, err := tr.Request(nil, mustRequest(t, first), "m"); err != nil {
				t.Fatalf("the SDK's first request: %v\n%s", err, first)
			}
			in, err := os.ReadFile(goldenPath(b.answer, ".in.json"))
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := tr.Response(in)
			if err != nil {
				t.Fatal(err)
			}
			var r responses.Response
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatal(err)
			}
			input := params.Input.OfInputItemList
			for _, item := range r.Output {
				switch v := item.AsAny().(type) {
				case responses.ResponseOutputMessage:
					p := v.ToParam()
					input = append(input, responses.ResponseInputItemUnionParam{OfOutputMessage: &p})
				case responses.ResponseFunctionToolCall:
					p := v.ToParam()
					input = append(input, responses.ResponseInputItemUnionParam{OfFunctionCall: &p},
						responses.ResponseInputItemUnionParam{OfFunctionCallOutput: &responses.ResponseInputItemFunctionCallOutputParam{
							CallID: openai.String(v.CallID),
							Output: responses.ResponseInputItemFunctionCallOutputOutputUnionParam{OfString: openai.String(v.Name + " answered")},
						}})
				}
			}
			params.Input.OfInputItemList = input
			second, err := json.Marshal(params)
			if err != nil {
				t.Fatal(err)
			}
			req, err := newTestTranslator(Responses, b.backend).Request(nil, mustRequest(t, second), "m")
			if err != nil {
				t.Fatalf("the SDK's second request: %v\n%s", err, second)
			}
			for _, want := range []string{b.callID, "get_weather answered", "get_time answered", `Weather in Paris?`} {
				if !bytes.Contains(req, []byte(want)) {
					t.Errorf("the backend request lacks %q:\n%s", want, req)
				}
			}
		})
	}
}
