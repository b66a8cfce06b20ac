package proxy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/osmen-ai/llmroute/sidecar/translate"
)

func TestScanRequest(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		model   string
		stream  bool
		wantErr string
	}{
		{"plain", `{"model":"gpt-4o","stream":true}`, "gpt-4o", true, ""},
		{"whitespace everywhere", " {\n \"messages\" : [ {\"content\":\"a \\\"model\\\": b\"} ] ,\n \"model\" : \"m\" , \"stream\" : false } ", "m", false, ""},
		{"escaped model", `{"model":"a\"b\u00e9"}`, "a\"bé", false, ""},
		{"escaped key", `{"mod\u0065l":"x"}`, "x", false, ""},
		{"nested model ignored", `{"metadata":{"model":"inner"},"model":"outer"}`, "outer", false, ""},
		{"no model", `{"messages":[]}`, "", false, ""},
		{"empty object", `{}`, "", false, ""},
		{"model not a string", `{"model":["a"]}`, "", false, `"model" must be a string`},
		{"array", `[{"model":"x"}]`, "", false, "not a JSON object"},
		{"trailing garbage", `{"model":"x"} {}`, "", false, "not a JSON object"},
		{"unterminated", `{"model":"x"`, "", false, "not a JSON object"},
		{"unterminated string", `{"model":"x`, "", false, "not a JSON object"},
		{"missing colon", `{"model" "x"}`, "", false, "not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := scanRequest([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || f.model != tc.model || f.stream != tc.stream {
				t.Fatalf("got (%q, %v, %v), want (%q, %v)", f.model, f.stream, err, tc.model, tc.stream)
			}
		})
	}
}

// withModel must change the model and nothing else, whatever the spacing.
func TestWithModel(t *testing.T) {
	body := []byte(`{ "messages":[{"role":"user","content":"model"}], "model" : "gpt-4o" ,"n":1}`)
	f, err := scanRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	out := withModel(nil, body, f, "new\"model")
	var got, want map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	json.Unmarshal(body, &want)
	want["model"] = "new\"model"
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("got %s\nwant %s", gb, wb)
	}
	if string(body) != `{ "messages":[{"role":"user","content":"model"}], "model" : "gpt-4o" ,"n":1}` {
		t.Error("the input was modified")
	}
}

func FuzzScanRequest(f *testing.F) {
	for _, s := range []string{`{"model":"gpt-4o","stream":true}`, `{"a":[1,{"b":"}"}],"model":"x\"y"}`, `{}`, `[`, `{"model":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fields, err := scanRequest(b)
		if err != nil || fields.modelPos[1] == 0 {
			return
		}
		// Whatever the scanner accepted with a model, replacing it must
		// yield JSON exactly when the input was JSON.
		out := withModel(nil, b, fields, "m")
		if json.Valid(b) && !json.Valid(out) {
			t.Fatalf("valid input %q became invalid %q", b, out)
		}
	})
}

func TestParseUsage(t *testing.T) {
	tests := []struct {
		name      string
		anthropic bool
		raw       string
		in, out   int
	}{
		{"openai", false, `{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19,"prompt_tokens_details":{"cached_tokens":3}}`, 12, 7},
		{"anthropic with cache", true, `{"input_tokens":5,"cache_creation_input_tokens":100,"cache_read_input_tokens":20,"output_tokens":9}`, 125, 9},
		{"anthropic cache null", true, `{"input_tokens":5,"cache_read_input_tokens":null,"output_tokens":1}`, 5, 1},
		{"spacing", false, ` { "completion_tokens" : 3 , "prompt_tokens" : 4 } `, 4, 3},
	}
	for _, tc := range tests {
		f := translate.OpenAI
		if tc.anthropic {
			f = translate.Anthropic
		}
		u, ok := parseUsage(f, []byte(strings.TrimSpace(tc.raw)))
		if !ok || u.InputTokens != tc.in || u.OutputTokens != tc.out {
			t.Errorf("%s: got %+v ok=%v, want in=%d out=%d", tc.name, u, ok, tc.in, tc.out)
		}
	}
}
