package proxy

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

// scrape reads /metrics through the admin handler, as Prometheus would.
func scrape(t *testing.T, px *Proxy) string {
	t.Helper()
	srv := httptest.NewServer(px.Admin(nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestMetricsAfterScriptedScenarios(t *testing.T) {
	h := newHarness(t, []upstream{
		openaiUp("openai", mock.Faults{StatusSequence: []int{503, 200, 503, 503, 503, 503}}),
		openaiUp("backup", mock.Faults{}),
	}, func(c *config.Config) {
		c.Retry.Attempts = 2
		c.CircuitBreaker.ConsecutiveFailures = 3
		c.RateLimit = config.RateLimit{RequestsPerSecond: 0.001, Burst: 4}
		c.Providers[0].Models = map[string]string{"gpt-4o-mini": "gpt-4o-mini"}
	})
	h.chat() // 503 then 200: a retry on openai
	h.chat() // 503, 503: falls back to backup
	h.chat() // 503: the third failure in a row opens the breaker, so the retry finds it open
	h.chat() // breaker open: straight to backup
	if r := h.chat(); r.status != 429 {
		t.Fatalf("fifth request should be rate limited, got %d", r.status)
	}
	next := *h.px.Config()
	if err := h.px.Reload(&next); err != nil {
		t.Fatal(err)
	}
	out := scrape(t, h.px)
	for _, want := range []string{
		`llmroute_retries_total{provider="openai"} 2`,
		`llmroute_upstream_attempts_total{outcome="server_error",provider="openai"} 4`,
		`llmroute_upstream_attempts_total{outcome="success",provider="openai"} 1`,
		`llmroute_upstream_attempts_total{outcome="success",provider="backup"} 3`,
		`llmroute_fallbacks_total{from="openai",reason="server_error",to="backup"} 1`,
		`llmroute_fallbacks_total{from="openai",reason="breaker_open",to="backup"} 2`,
		`llmroute_circuit_breaker_state{provider="openai"} 2`,
		`llmroute_circuit_breaker_state{provider="backup"} 0`,
		`llmroute_circuit_breaker_transitions_total{from="closed",provider="openai",to="open"} 1`,
		`llmroute_rate_limited_total{provider="",scope="request"} 1`,
		`llmroute_config_reloads_total{result="success"} 1`,
		`llmroute_requests_total{provider="openai",rule="0",status_class="2xx"} 1`,
		`llmroute_requests_total{provider="backup",rule="0",status_class="2xx"} 3`,
		`llmroute_requests_total{provider="",rule="",status_class="4xx"} 1`,
		`llmroute_in_flight_requests 0`,
		`gen_ai_client_operation_duration_seconds_count{error_type="",gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o-mini",llmroute_rule="0"} 1`,
		`gen_ai_client_token_usage_count{gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o-mini",gen_ai_token_type="input"} 1`,
		// An unmapped model is reported as "other": labels stay bounded whatever apps send.
		`gen_ai_client_token_usage_count{gen_ai_operation_name="chat",gen_ai_provider_name="backup",gen_ai_request_model="other",gen_ai_token_type="output"} 3`,
		`llmroute_overhead_seconds_count 5`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Log(grepLines(out, "llmroute_", "gen_ai_"))
	}
}

func grepLines(s string, prefixes ...string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				b.WriteString(l + "\n")
			}
		}
	}
	return b.String()
}

// accessLine returns the last access log line, decoded.
func accessLine(t *testing.T, logs string) map[string]any {
	t.Helper()
	var last map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "Request" {
			last = m
		}
	}
	if last == nil {
		t.Fatalf("no access log line in:\n%s", logs)
	}
	return last
}

func TestAccessLogFields(t *testing.T) {
	h := newHarness(t, []upstream{
		openaiUp("openai", mock.Faults{StatusSequence: []int{503}}),
		openaiUp("backup", mock.Faults{}),
	}, func(c *config.Config) { c.Retry.Attempts = 1 })
	r := h.do(http.MethodPost, "/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"the secret plan is pineapple"}]}`,
		"x-request-id", "req-42")
	if r.header.Get("x-request-id") != "req-42" {
		t.Errorf("request id not echoed: %q", r.header.Get("x-request-id"))
	}
	overhead, err := strconv.ParseFloat(r.header.Get("x-llmroute-overhead-ms"), 64)
	if err != nil || overhead < 0 || overhead > 1000 {
		t.Errorf("x-llmroute-overhead-ms %q", r.header.Get("x-llmroute-overhead-ms"))
	}
	line := accessLine(t, h.logs.String())
	want := map[string]any{
		"id": "req-42", "method": "POST", "path": "/v1/chat/completions", "model": "gpt-4o-mini",
		"rule": "0", "provider": "backup", "attempts": float64(2), "status": float64(200), "stream": true,
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v", k, line[k], v)
		}
	}
	tries, _ := line["tries"].([]any)
	if len(tries) != 2 {
		t.Fatalf("tries %v", line["tries"])
	}
	first := tries[0].(map[string]any)
	if first["provider"] != "openai" || first["status"] != float64(503) || first["outcome"] != "server_error" || first["ms"] == nil {
		t.Errorf("first try %v", first)
	}
	for _, k := range []string{"latencyMs", "ttftMs", "overheadMs", "inputTokens", "outputTokens"} {
		if n, ok := line[k].(float64); !ok || n <= 0 {
			t.Errorf("%s = %v, want a positive number", k, line[k])
		}
	}
	if strings.Contains(h.logs.String(), "pineapple") || strings.Contains(h.logs.String(), testKey) {
		t.Errorf("the log leaks the prompt or the key:\n%s", h.logs.String())
	}
}

// The time a provider takes to stream its answer is the provider's, not the
// sidecar's own overhead: one 270 ms stream used to log overheadMs 255.
func TestStreamOverheadExcludesTheStream(t *testing.T) {
	h := newHarness(t, []upstream{{name: "openai", typ: config.OpenAI, opts: mock.Options{StreamChunks: 10, StreamInterval: 30 * time.Millisecond}}}, nil)
	if r := h.do(http.MethodPost, "/v1/chat/completions", streamBody); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	line := accessLine(t, h.logs.String())
	latency, _ := line["latencyMs"].(float64)
	overhead, _ := line["overheadMs"].(float64)
	if latency < 270 || overhead > latency/4 {
		t.Fatalf("a %v ms stream logged overheadMs %v: the relay counted as the sidecar's own time", latency, overhead)
	}
}

// The text log format writes the tries with the same keys as the JSON one.
func TestTextLogTries(t *testing.T) {
	l := tryList{{Provider: "openai", Status: 503, Outcome: "server_error", Ms: 2.5}, {Provider: "backup", Outcome: "breaker_open"}}
	text, _ := l.MarshalText()
	if got, want := string(text), "[provider=openai status=503 outcome=server_error ms=2.5] [provider=backup outcome=breaker_open]"; got != want {
		t.Errorf("text %q, want %q", got, want)
	}
	js, _ := l.MarshalJSON()
	if got, want := string(js), `[{"provider":"openai","status":503,"outcome":"server_error","ms":2.5},{"provider":"backup","outcome":"breaker_open"}]`; got != want {
		t.Errorf("JSON %s, want %s", got, want)
	}
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, nil)).Info("Request", "tries", l)
	if !strings.Contains(buf.String(), `tries="[provider=openai status=503`) {
		t.Errorf("text handler wrote %s", buf.String())
	}
}

// Token usage comes from the response's usage object, or from the final
// chunk of a stream, as the provider counted it (the mock counts words).
func TestTokenCounts(t *testing.T) {
	for _, tc := range []struct {
		name, body string
	}{
		{"non-streaming", `{"model":"m","messages":[{"role":"user","content":"one two three"}]}`},
		{"streaming", `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two three"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, []upstream{{name: "openai", typ: config.OpenAI, opts: mock.Options{CompletionWords: 7}}}, nil)
			if r := h.do(http.MethodPost, "/v1/chat/completions", tc.body); r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			line := accessLine(t, h.logs.String())
			if line["inputTokens"] != float64(3) || line["outputTokens"] != float64(7) {
				t.Errorf("tokens in=%v out=%v, want 3 and 7", line["inputTokens"], line["outputTokens"])
			}
			out := scrape(t, h.px)
			if !strings.Contains(out, `gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="other",gen_ai_token_type="output"} 7`) {
				t.Errorf("token histogram:\n%s", grepLines(out, "gen_ai_client_token_usage_sum"))
			}
		})
	}
}

func TestAdminEndpoints(t *testing.T) {
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{})}, nil)
	srv := httptest.NewServer(h.px.Admin(nil))
	defer srv.Close()
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ok", "/debug/providers": `"breaker": "closed"`} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
	if resp, _ := http.Get(srv.URL + "/v1/chat/completions"); resp.StatusCode != 404 {
		t.Error("the admin listener must not proxy")
	}
}

// /debug/ shows the route's providers: for the pod itself (or kubectl
// port-forward), not for every pod of the cluster that can reach :9089; and
// never a credential a base URL may carry in its query string.
func TestDebugEndpointsLoopbackOnly(t *testing.T) {
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{})}, func(c *config.Config) {
		c.Providers[0].BaseURL += "?api-key=sk-in-the-url"
	})
	admin := h.px.Admin(nil)
	for _, tt := range []struct {
		remote string
		want   int
	}{{"127.0.0.1:5000", 200}, {"[::1]:5000", 200}, {"198.18.0.7:5000", 403}} {
		r := httptest.NewRequest(http.MethodGet, "/debug/providers", nil)
		r.RemoteAddr = tt.remote
		w := httptest.NewRecorder()
		admin.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("from %s: %d, want %d", tt.remote, w.Code, tt.want)
		}
		if strings.Contains(w.Body.String(), "sk-in-the-url") {
			t.Errorf("from %s: the base URL's query string is shown: %s", tt.remote, w.Body.String())
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.RemoteAddr = "198.18.0.7:5000" // the kubelet and Prometheus come from the pod network
		w := httptest.NewRecorder()
		admin.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Errorf("%s from the pod network: %d", path, w.Code)
		}
	}
}
