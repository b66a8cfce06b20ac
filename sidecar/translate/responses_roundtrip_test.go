package translate

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A Responses request means one thing whichever backend serves it: sent to
// chat completions, and separately to Anthropic (then read back into chat
// completions by the Messages translator), it must mean what the chat
// completions request written by hand for it means, up to the spellings
// both formats allow for one thing (normalizeOpenAI).
func TestRoundTripResponsesRequest(t *testing.T) {
	tools := `"tools":[{"type":"function","name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true},
		{"type":"function","name":"get_time","parameters":null,"strict":false}]`
	chatTools := `"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}},
		{"type":"function","function":{"name":"get_time","strict":false}}]`
	cases := []struct {
		name, responses, chat string
	}{
		{"basic",
			`{"model":"gpt-4o","instructions":"Be terse.","input":"Hi","max_output_tokens":100,"temperature":0.3,"top_p":0.5,"safety_identifier":"u1"}`,
			`{"model":"gpt-4o","messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"Hi"}],"max_tokens":100,"temperature":0.3,"top_p":0.5,"user":"u1"}`},
		{"developer and system in the middle",
			`{"model":"gpt-4o","input":[{"role":"developer","content":[{"type":"input_text","text":"A"},{"type":"input_text","text":"B"}]},
				{"role":"user","content":"Hi"},{"type":"message","role":"system","content":[{"type":"input_text","text":"C"}]},
				{"role":"assistant","content":"Hello"},{"role":"user","content":"Bye"}]}`,
			`{"model":"gpt-4o","messages":[{"role":"developer","content":[{"type":"text","text":"A"},{"type":"text","text":"B"}]},
				{"role":"user","content":"Hi"},{"role":"system","content":"C"},{"role":"assistant","content":"Hello"},{"role":"user","content":"Bye"}]}`},
		{"history sent back",
			`{"model":"gpt-4o","input":[{"role":"user","content":"one"},{"role":"user","content":[{"type":"input_text","text":"two"}]},
				{"type":"reasoning","id":"rs_1","summary":[]},
				{"type":"message","id":"msg_1","role":"assistant","status":"completed","content":[{"type":"output_text","text":"ok","annotations":[],"logprobs":[]}]},
				{"role":"assistant","content":[{"type":"refusal","refusal":"not that"}]},{"role":"user","content":"fine"}]}`,
			`{"model":"gpt-4o","messages":[{"role":"user","content":"one"},{"role":"user","content":"two"},
				{"role":"assistant","content":"ok"},{"role":"assistant","content":null,"refusal":"not that"},{"role":"user","content":"fine"}]}`},
		{"images",
			`{"model":"gpt-4o","input":[{"role":"user","content":[{"type":"input_text","text":"look"},
				{"type":"input_image","image_url":"data:image/webp;base64,UklGRg==","detail":"auto"},
				{"type":"input_image","image_url":"https://example.com/a.png","detail":"high"}]}]}`,
			`{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"look"},
				{"type":"image_url","image_url":{"url":"data:image/webp;base64,UklGRg=="}},
				{"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"high"}}]}]}`},
		{"tool loop",
			`{"model":"gpt-4o","input":[{"role":"user","content":"weather?"},
				{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Checking"}]},
				{"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Oslo\"}"},
				{"type":"function_call","call_id":"call_2","name":"get_time","arguments":""},
				{"type":"function_call_output","call_id":"call_1","output":"-3C"},
				{"type":"function_call_output","call_id":"call_2","output":[{"type":"input_text","text":"noon"}]},
				{"role":"user","content":"thanks"}],` + tools + `,"tool_choice":"required","parallel_tool_calls":false}`,
			`{"model":"gpt-4o","messages":[{"role":"user","content":"weather?"},
				{"role":"assistant","content":"Checking","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}},
					{"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},
				{"role":"tool","tool_call_id":"call_1","content":"-3C"},
				{"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"noon"}]},
				{"role":"user","content":"thanks"}],` + chatTools + `,"tool_choice":"required","parallel_tool_calls":false}`},
		{"calls without text",
			`{"model":"gpt-4o","input":[{"role":"user","content":"time?"},
				{"type":"function_call","call_id":"c1","name":"get_time","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"noon"},
				{"type":"function_call","call_id":"c2","name":"get_time","arguments":"{}"},{"type":"function_call_output","call_id":"c2","output":"one"}],` + tools + `}`,
			`{"model":"gpt-4o","messages":[{"role":"user","content":"time?"},
				{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_time","arguments":"{}"}}]},
				{"role":"tool","tool_call_id":"c1","content":"noon"},
				{"role":"assistant","content":null,"tool_calls":[{"id":"c2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},
				{"role":"tool","tool_call_id":"c2","content":"one"}],` + chatTools + `}`},
		{"named tool choice",
			`{"model":"gpt-4o","input":"x",` + tools + `,"tool_choice":{"type":"function","name":"get_weather"}}`,
			`{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],` + chatTools + `,"tool_choice":{"type":"function","function":{"name":"get_weather"}}}`},
		{"tool choice none",
			`{"model":"gpt-4o","input":"x",` + tools + `,"tool_choice":"none"}`,
			`{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],` + chatTools + `,"tool_choice":"none"}`},
		{"parallel off only",
			`{"model":"gpt-4o","input":"x",` + tools + `,"parallel_tool_calls":false}`,
			`{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],` + chatTools + `,"parallel_tool_calls":false}`},
		{"json schema",
			`{"model":"gpt-4o","input":"x","text":{"format":{"type":"json_schema","name":"out","strict":true,"schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}}}}`,
			`{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],
				"response_format":{"type":"json_schema","json_schema":{"name":"out","strict":true,"schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}}}}`},
		{"stream with dropped fields",
			`{"model":"gpt-4o","input":"x","stream":true,"store":true,"metadata":{"k":"v"},"service_tier":"auto","truncation":"auto",
				"include":["reasoning.encrypted_content"],"reasoning":{"summary":"auto"},"user":"u2"}`,
			`{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true,"user":"u2"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := normalizeOpenAI(t, []byte(c.chat))
			chat, err := New(Responses, ChatCompletions).Request(nil, mustRequest(t, []byte(c.responses)), "gpt-4o")
			if err != nil {
				t.Fatalf("to chat completions: %v", err)
			}
			if got := normalizeOpenAI(t, chat); !reflect.DeepEqual(got, want) {
				t.Errorf("to chat completions, the meaning changed\n%s", meaningDiff(want, got, chat))
			}
			anthropic, err := New(Responses, Messages).Request(nil, mustRequest(t, []byte(c.responses)), "claude")
			if err != nil {
				t.Fatalf("to Anthropic: %v", err)
			}
			back, err := New(Messages, ChatCompletions).Request(nil, mustRequest(t, anthropic), "gpt-4o")
			if err != nil {
				t.Fatalf("Anthropic's request read back: %v\n%s", err, anthropic)
			}
			if got := normalizeOpenAI(t, back); !reflect.DeepEqual(got, want) {
				t.Errorf("to Anthropic, the meaning changed\n%s", meaningDiff(want, got, anthropic))
			}
		})
	}
}

func meaningDiff(want, got map[string]any, via []byte) string {
	w, _ := json.MarshalIndent(want, "", " ")
	g, _ := json.MarshalIndent(got, "", " ")
	return "want " + string(w) + "\n got " + string(g) + "\nvia " + string(via)
}
