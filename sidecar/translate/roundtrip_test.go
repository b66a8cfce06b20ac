package translate

import (
	"encoding/json"
	"reflect"
	"testing"
)

// An OpenAI request sent to Anthropic and back must mean what it meant: the
// same conversation, tools and parameters, up to the spellings both formats
// allow for one thing (normalizeOpenAI).
func TestRoundTripOpenAIRequest(t *testing.T) {
	cases := map[string]string{
		"basic": `{"model":"gpt-4o","messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"Hi"}],
			"max_tokens":100,"temperature":0.3,"top_p":0.5,"stop":"END","user":"u1"}`,
		"developer and hoisted system": `{"model":"gpt-4o","messages":[{"role":"developer","content":[{"type":"text","text":"A"},{"type":"text","text":"B"}]},
			{"role":"user","content":"Hi"},{"role":"system","content":"C"},{"role":"assistant","content":"Hello"},{"role":"user","content":"Bye"}]}`,
		"merged user turns": `{"model":"gpt-4o","messages":[{"role":"user","content":"one"},{"role":"user","content":[{"type":"text","text":"two"}]},
			{"role":"assistant","content":"ok"},{"role":"assistant","content":"more"}],"max_completion_tokens":64}`,
		"images": `{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"look"},
			{"type":"image_url","image_url":{"url":"data:image/webp;base64,UklGRg=="}},
			{"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"high"}}]}]}`,
		"tool loop": `{"model":"gpt-4o","messages":[{"role":"user","content":"weather?"},
			{"role":"assistant","content":"Checking","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}},
				{"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]},
			{"role":"tool","tool_call_id":"call_1","content":"-3C"},
			{"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"noon"}]},
			{"role":"user","content":"thanks"}],
			"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}},
				{"type":"function","function":{"name":"get_time"}}],
			"tool_choice":"required","parallel_tool_calls":false}`,
		"named tool choice": `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],
			"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{}}}}],
			"tool_choice":{"type":"function","function":{"name":"f"}}}`,
		"tool choice none": `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],
			"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"none"}`,
		"parallel off only": `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],
			"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"parallel_tool_calls":false}`,
		"json schema": `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],
			"response_format":{"type":"json_schema","json_schema":{"name":"out","strict":true,"schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}}}}`,
		"stream with stops": `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true,
			"stream_options":{"include_usage":true},"stop":["a","b"],"safety_identifier":"s1"}`,
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			anthropic, err := New(ChatCompletions, Messages).Request(nil, mustRequest(t, []byte(req)), "claude")
			if err != nil {
				t.Fatalf("to Anthropic: %v", err)
			}
			back, err := New(Messages, ChatCompletions).Request(nil, mustRequest(t, anthropic), "gpt-4o")
			if err != nil {
				t.Fatalf("back to OpenAI: %v\n%s", err, anthropic)
			}
			want, got := normalizeOpenAI(t, []byte(req)), normalizeOpenAI(t, back)
			if !reflect.DeepEqual(want, got) {
				w, _ := json.MarshalIndent(want, "", " ")
				g, _ := json.MarshalIndent(got, "", " ")
				t.Fatalf("meaning changed\nwant %s\n got %s\nvia %s", w, g, anthropic)
			}
		})
	}
}

// normalizeOpenAI rewrites a request into one canonical spelling: content as
// text parts, system prompts merged in front, consecutive turns of a role
// merged, max tokens under one name with its default, tool arguments as
// objects, and the fields that only tune delivery removed.
func normalizeOpenAI(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	delete(req, "model")
	delete(req, "stream_options")
	max := req["max_completion_tokens"]
	if max == nil {
		max = req["max_tokens"]
	}
	if max == nil {
		max = float64(DefaultMaxTokens)
	}
	delete(req, "max_completion_tokens")
	req["max_tokens"] = max
	if s, ok := req["stop"].(string); ok {
		req["stop"] = []any{s}
	}
	if id, ok := req["safety_identifier"]; ok {
		req["user"] = id
		delete(req, "safety_identifier")
	}
	if req["top_p"] == 1.0 {
		delete(req, "top_p")
	}
	if rf, ok := req["response_format"].(map[string]any); ok {
		if js, ok := rf["json_schema"].(map[string]any); ok {
			delete(js, "name")
			delete(js, "strict")
		}
	}
	if tools, ok := req["tools"].([]any); ok {
		for _, tool := range tools {
			fn := tool.(map[string]any)["function"].(map[string]any)
			if fn["parameters"] == nil {
				fn["parameters"] = map[string]any{"type": "object", "properties": map[string]any{}}
			}
		}
		if req["parallel_tool_calls"] == true {
			delete(req, "parallel_tool_calls")
		}
		if req["parallel_tool_calls"] == false && req["tool_choice"] == nil {
			req["tool_choice"] = "auto"
		}
	} else {
		delete(req, "tool_choice")
		delete(req, "parallel_tool_calls")
	}

	var system []any
	var msgs []map[string]any
	for _, raw := range req["messages"].([]any) {
		m := raw.(map[string]any)
		delete(m, "name")
		role := m["role"].(string)
		parts := normalizeContent(m["content"])
		if r, ok := m["refusal"].(string); ok {
			parts = append(parts, map[string]any{"type": "text", "text": r})
			delete(m, "refusal")
		}
		if calls, ok := m["tool_calls"].([]any); ok {
			for _, c := range calls {
				fn := c.(map[string]any)["function"].(map[string]any)
				var args any = map[string]any{}
				if s := fn["arguments"].(string); s != "" {
					if err := json.Unmarshal([]byte(s), &args); err != nil {
						t.Fatal(err)
					}
				}
				fn["arguments"] = args
			}
		}
		if role == "system" || role == "developer" {
			system = append(system, parts...)
			continue
		}
		m["content"] = parts
		if n := len(msgs); n > 0 && role != "tool" && msgs[n-1]["role"] == role && msgs[n-1]["tool_calls"] == nil && m["tool_calls"] == nil {
			msgs[n-1]["content"] = append(msgs[n-1]["content"].([]any), parts...)
			continue
		}
		msgs = append(msgs, m)
	}
	all := []any{}
	if len(system) > 0 {
		all = append(all, map[string]any{"role": "system", "content": system})
	}
	for _, m := range msgs {
		all = append(all, m)
	}
	req["messages"] = all
	return req
}

func normalizeContent(c any) []any {
	parts := []any{}
	switch c := c.(type) {
	case string:
		if c != "" {
			parts = append(parts, map[string]any{"type": "text", "text": c})
		}
	case []any:
		for _, p := range c {
			pm := p.(map[string]any)
			if pm["type"] == "text" && pm["text"] == "" {
				continue
			}
			if img, ok := pm["image_url"].(map[string]any); ok {
				delete(img, "detail")
			}
			parts = append(parts, pm)
		}
	}
	return parts
}
