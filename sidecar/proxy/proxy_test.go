package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.uber.org/goleak"

	"bufio"
	"errors"
	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/sidecar/config"
	"net"
	"os"
	"path/filepath"
	"reflect"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The HTTP client's idle keep-alive connections outlive single tests.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

func newJSONHandler(w io.Writer) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
}

func openaiUp(name string, f mock.Faults) upstream {
	return upstream{name: name, typ: config.OpenAI, opts: mock.Options{Faults: f}}
}

func TestRetryableStatusesAreRetried(t *testing.T) {
	for _, status := range []int{429, 500, 502, 503, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{StatusSequence: []int{status, status, 200}})}, nil)
			r := h.chat()
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if got := r.header.Get("x-llmroute-attempts"); got != "3" {
				t.Errorf("x-llmroute-attempts %s, want 3", got)
			}
			if got := r.header.Get("x-llmroute-provider"); got != "openai" {
				t.Errorf("x-llmroute-provider %q", got)
			}
			// Backoff 100ms then 200ms, with the jitter draw fixed at 0.5: 75% of each.
			want := []time.Duration{75 * time.Millisecond, 150 * time.Millisecond}
			if got := h.recordedWaits(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("waits %v, want %v", got, want)
			}
		})
	}
}

// A refusal of the request itself would come from any provider: it goes
// back to the app at once, and says nothing of the provider's health.
func TestRequestRefusalsFailFast(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault mock.Faults
		want  int
	}{
		{"400", mock.Faults{StatusSequence: []int{400}}, 400},
		{"413", mock.Faults{StatusSequence: []int{413}}, 413},
		{"422", mock.Faults{StatusSequence: []int{422}}, 422},
		{"context length", mock.Faults{ContextLengthExceeded: true}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, []upstream{openaiUp("openai", tc.fault), openaiUp("backup", mock.Faults{})}, nil)
			r := h.chat()
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.body)
			}
			if h.calls("openai") != 1 || h.calls("backup") != 0 {
				t.Errorf("calls openai=%d backup=%d, want 1 and 0: a 4xx is the request's fault", h.calls("openai"), h.calls("backup"))
			}
			if r.header.Get("x-should-retry") != "false" {
				t.Error("missing x-should-retry: false")
			}
			if tc.name == "context length" && !strings.Contains(r.body, "context_length_exceeded") {
				t.Errorf("the provider's error must pass through, got %s", r.body)
			}
			if st := h.px.Providers()[1]; st.Name == "openai" && st.TotalFailures != 0 {
				t.Errorf("a 4xx counted against the breaker: %+v", st)
			}
		})
	}
}

// A provider that refuses us — a revoked key, no permission, no such
// model, no credit — is not retried, but the next provider may well serve
// the same request: the route falls back, and the refusal counts against
// the provider's breaker.
func TestProviderRefusalsFallBack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault mock.Faults
		up    upstream
	}{
		{"401 revoked key", mock.Faults{}, upstream{name: "openai", typ: config.OpenAICompatible, opts: mock.Options{APIKey: "sk-other"}}},
		{"402", mock.Faults{StatusSequence: []int{402}}, upstream{}},
		{"403", mock.Faults{StatusSequence: []int{403}}, upstream{}},
		{"404 no such model", mock.Faults{StatusSequence: []int{404}}, upstream{}},
		{"429 insufficient quota", mock.Faults{InsufficientQuota: true}, upstream{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := openaiUp("openai", tc.fault)
			if tc.up.name != "" {
				first = tc.up
			}
			h := newHarness(t, []upstream{first, openaiUp("backup", mock.Faults{})}, nil)
			r := h.chat()
			if r.status != 200 || r.header.Get("x-llmroute-provider") != "backup" {
				t.Fatalf("want backup to serve, got %d %q: %s", r.status, r.header.Get("x-llmroute-provider"), r.body)
			}
			if h.calls("openai") != 1 {
				t.Errorf("a refusal was retried: %d calls", h.calls("openai"))
			}
			if len(h.recordedWaits()) != 0 {
				t.Errorf("fallback must not wait: %v", h.recordedWaits())
			}
			if st := h.provider("openai"); st.TotalFailures != 1 {
				t.Errorf("the refusal did not count against the breaker: %+v", st)
			}
			if !strings.Contains(h.logs.String(), `{"provider":"openai","status":`) || !strings.Contains(h.logs.String(), `"outcome":"refused"`) {
				t.Errorf("the access log does not say why openai was left: %s", h.logs.String())
			}
		})
	}
}

// With no other provider, the refusal reaches the app in its own format,
// with the provider named.
func TestProviderRefusalWithNoFallback(t *testing.T) {
	h := newHarness(t, []upstream{{name: "claude", typ: config.Anthropic, opts: mock.Options{APIKey: "sk-ant-other"}}}, nil)
	r := h.chat()
	if r.status != 401 || r.header.Get("x-llmroute-provider") != "claude" || r.header.Get("x-should-retry") != "false" {
		t.Fatalf("got %d %q: %s", r.status, r.header.Get("x-llmroute-provider"), r.body)
	}
	var e struct {
		Error struct{ Type, Code, Message string }
	}
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error.Type != "authentication_error" || e.Error.Code != "invalid_api_key" || !strings.Contains(e.Error.Message, "claude 401") {
		t.Fatalf("want an OpenAI-format authentication error naming claude, got %s", r.body)
	}
	if !strings.Contains(h.logs.String(), `"provider":"claude"`) {
		t.Errorf("the access log does not name the provider: %s", h.logs.String())
	}
}

func TestNetworkFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		first   upstream
		edit    func(*config.Config)
		outcome string
	}{
		{"connection refused", upstream{name: "openai", typ: config.OpenAI, dead: true}, nil, "connect_failure"},
		{"reset before response", openaiUp("openai", mock.Faults{Reset: true}), nil, "reset"},
		{"reset mid body", openaiUp("openai", mock.Faults{ResetMidBody: true}), nil, "reset"},
		{"headers never arrive", openaiUp("openai", mock.Faults{HangHeaders: true}), func(c *config.Config) {
			c.Providers[0].Timeout = config.D(50 * time.Millisecond)
		}, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, []upstream{tc.first, openaiUp("backup", mock.Faults{})}, tc.edit)
			r := h.chat()
			if r.status != 200 || r.header.Get("x-llmroute-provider") != "backup" {
				t.Fatalf("want backup to serve, got %d: %s", r.status, r.body)
			}
			if got := r.header.Get("x-llmroute-attempts"); got != "4" {
				t.Errorf("attempts %s, want 3 on the failing provider + 1", got)
			}
			if !strings.Contains(h.logs.String(), `"outcome":"`+tc.outcome+`"`) {
				t.Errorf("access log lacks outcome %s:\n%s", tc.outcome, h.logs.String())
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fault    mock.Faults
		wantWait []time.Duration
		wantBy   string
	}{
		{"seconds", mock.Faults{StatusSequence: []int{429, 200}, RetryAfter: "2"}, []time.Duration{2 * time.Second}, "openai"},
		{"http date", mock.Faults{StatusSequence: []int{503, 200}, RetryAfter: time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)}, nil, "openai"},
		{"milliseconds", mock.Faults{StatusSequence: []int{429, 200}, RetryAfterMs: "250", RetryAfter: "1"}, []time.Duration{250 * time.Millisecond}, "openai"},
		{"over the cap falls back now", mock.Faults{StatusSequence: []int{429, 200}, RetryAfter: "3600"}, []time.Duration{}, "backup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, []upstream{openaiUp("openai", tc.fault), openaiUp("backup", mock.Faults{})}, nil)
			r := h.chat()
			if r.status != 200 || r.header.Get("x-llmroute-provider") != tc.wantBy {
				t.Fatalf("got %d from %q, want 200 from %s: %s", r.status, r.header.Get("x-llmroute-provider"), tc.wantBy, r.body)
			}
			waits := h.recordedWaits()
			if tc.wantWait == nil { // an HTTP date: about 3 s, to the second
				if len(waits) != 1 || waits[0] < 1*time.Second || waits[0] > 3*time.Second {
					t.Errorf("waits %v, want one of about 3s", waits)
				}
				return
			}
			if len(waits)+len(tc.wantWait) > 0 && fmt.Sprint(waits) != fmt.Sprint(tc.wantWait) {
				t.Errorf("waits %v, want %v", waits, tc.wantWait)
			}
		})
	}
}

func TestAllProvidersDown(t *testing.T) {
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{Down: true}), openaiUp("backup", mock.Faults{Down: true})}, func(c *config.Config) {
		c.Retry.BudgetPercent = new(int) // off
	})
	r := h.chat()
	if r.status != 503 {
		t.Fatalf("status %d, want the last upstream status 503: %s", r.status, r.body)
	}
	if r.header.Get("x-should-retry") != "false" {
		t.Error("a failure after the sidecar's own retries must carry x-should-retry: false")
	}
	msg := r.errorMessage(t)
	for _, want := range []string{"openai 503", "backup 503", `model "gpt-4o-mini"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not say %q", msg, want)
		}
	}
	if h.calls("openai") != 3 || h.calls("backup") != 3 {
		t.Errorf("calls %d/%d, want 3 each", h.calls("openai"), h.calls("backup"))
	}
}

func TestRetryBudgetStopsRetryStorms(t *testing.T) {
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{Down: true}), openaiUp("backup", mock.Faults{Down: true})}, func(c *config.Config) {
		c.Retry.BudgetPercent = new(int)
		*c.Retry.BudgetPercent = 20
		c.Retry.MinRetriesPerSecond = new(int)
	})
	const n = 50
	budgetFailures := 0
	for range n {
		r := h.chat()
		if r.status != 503 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if strings.Contains(r.errorMessage(t), "retry budget is spent") {
			budgetFailures++
		}
	}
	calls := h.calls("openai") + h.calls("backup")
	if ratio := float64(calls) / n; ratio > 1.3 {
		t.Errorf("%d upstream calls for %d requests (%.2f per request): the budget should hold it near 1.2", calls, n, ratio)
	}
	if budgetFailures == 0 {
		t.Error("no request said the retry budget was spent")
	}
	if got := counterValue(t, h.px, "llmroute_retry_budget_exhausted_total"); got == 0 {
		t.Error("llmroute_retry_budget_exhausted_total did not move")
	}
}

func TestBreakerOpensFallsBackAndRecovers(t *testing.T) {
	const openTimeout = 200 * time.Millisecond
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{Down: true}), openaiUp("backup", mock.Faults{})}, func(c *config.Config) {
		c.Retry.Attempts = 1
		c.CircuitBreaker.ConsecutiveFailures = 2
		c.CircuitBreaker.OpenTimeout = config.D(openTimeout)
	})
	for range 2 {
		if r := h.chat(); r.header.Get("x-llmroute-provider") != "backup" {
			t.Fatalf("want fallback to backup: %d %s", r.status, r.body)
		}
	}
	if h.calls("openai") != 2 {
		t.Fatalf("openai calls %d, want 2", h.calls("openai"))
	}
	// Open: the next requests go straight to the backup, no call to openai.
	for range 5 {
		r := h.chat()
		if r.status != 200 || r.header.Get("x-llmroute-attempts") != "1" {
			t.Fatalf("with the breaker open: %d attempts=%s", r.status, r.header.Get("x-llmroute-attempts"))
		}
	}
	if h.calls("openai") != 2 {
		t.Fatalf("an open breaker let %d calls through", h.calls("openai")-2)
	}
	if st := h.provider("openai"); st.Breaker != gobreaker.StateOpen.String() {
		t.Fatalf("breaker %s, want open", st.Breaker)
	}
	if st := h.provider("backup"); st.Breaker != gobreaker.StateClosed.String() || st.TotalFailures != 0 {
		t.Fatalf("the backup's breaker moved: %+v", st)
	}
	// The provider recovers; after openTimeout the next call is a probe, and
	// its success closes the breaker. gobreaker has no clock to inject, so
	// the test waits out the configured 200 ms itself, once.
	h.mocks["openai"].SetFaults(mock.Faults{})
	time.Sleep(openTimeout)
	if r := h.chat(); r.header.Get("x-llmroute-provider") != "openai" {
		t.Fatalf("the probe after openTimeout did not go to openai: %q", r.header.Get("x-llmroute-provider"))
	}
	if st := h.provider("openai").Breaker; st != gobreaker.StateClosed.String() {
		t.Fatalf("breaker %s after a successful probe, want closed", st)
	}
	if got := counterValue(t, h.px, `llmroute_circuit_breaker_transitions_total{from="closed",provider="openai",to="open"}`); got != 1 {
		t.Errorf("closed→open transitions %v, want 1", got)
	}
}

func TestFallbackOrderAndModelMapping(t *testing.T) {
	h := newHarness(t, []upstream{
		// A status sequence fails after the mock decoded the body, so it records the model.
		openaiUp("openai", mock.Faults{StatusSequence: []int{503}}),
		openaiUp("second", mock.Faults{StatusSequence: []int{503}}),
		{name: "local", typ: config.Ollama},
	}, func(c *config.Config) {
		c.Retry.Attempts = 1
		c.Rules = []config.Rule{
			{Models: []string{"claude-*"}, Backends: []string{"local"}},
			{Models: []string{"gpt-*"}, Backends: []string{"openai", "second", "local"}},
		}
		c.Providers[0].Models = map[string]string{"gpt-4o-mini": "gpt-4o-mini-2024-07-18"}
		c.Providers[2].DefaultModel = "llama3.2"
	})
	r := h.chat()
	if r.status != 200 || r.header.Get("x-llmroute-provider") != "local" {
		t.Fatalf("got %d from %q", r.status, r.header.Get("x-llmroute-provider"))
	}
	if got := h.mocks["openai"].Stats().LastModel; got != "gpt-4o-mini-2024-07-18" {
		t.Errorf("openai got model %q, want the mapped name", got)
	}
	if got := h.mocks["second"].Stats().LastModel; got != "gpt-4o-mini" {
		t.Errorf("an unmapped provider with no default must get the requested name, got %q", got)
	}
	if got := h.mocks["local"].Stats().LastModel; got != "llama3.2" {
		t.Errorf("local got %q, want its defaultModel", got)
	}
	if !strings.Contains(h.logs.String(), `"tries":[{"provider":"openai","status":503`) {
		t.Errorf("access log does not list the tries in order:\n%s", h.logs.String())
	}
}

func TestCredentialsAreReplaced(t *testing.T) {
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{})}, nil)
	r := h.chat("x-api-key", "app-key", "api-key", "azure-key")
	if r.status != 200 {
		t.Fatalf("status %d: %s (the mock refuses any key but the provider's)", r.status, r.body)
	}
	st := h.mocks["openai"].Stats()
	if st.LastAuthorization != "Bearer "+testKey || st.LastAPIKey != "" {
		t.Errorf("upstream saw Authorization %q x-api-key %q", st.LastAuthorization, st.LastAPIKey)
	}
	h.px.Metrics()
	for _, leak := range []string{testKey, "Say hello"} {
		if strings.Contains(h.logs.String(), leak) {
			t.Errorf("the log contains %q:\n%s", leak, h.logs.String())
		}
	}
}

func TestClientCancellation(t *testing.T) {
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{Latency: 10 * time.Second})}, func(c *config.Config) {
		c.CircuitBreaker.ConsecutiveFailures = 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if r := h.doContext(ctx, http.MethodPost, "/v1/chat/completions", chatBody); r.status != -1 {
		t.Fatalf("want the client to give up, got %d", r.status)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.mocks["openai"].Stats().Canceled == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the upstream call was not cancelled when the client left: %+v\n%s", h.mocks["openai"].Stats(), h.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := h.provider("openai")
	if st.Breaker != "closed" || st.TotalFailures != 0 {
		t.Errorf("a client cancellation counted against the provider: %+v", st)
	}
	if len(h.recordedWaits()) != 0 {
		t.Errorf("a cancelled request was retried: %v", h.recordedWaits())
	}
}

func TestBadInput(t *testing.T) {
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{})}, func(c *config.Config) {
		c.Rules[0].Models = []string{"gpt-*"}
	})
	h.px.maxBody = 1024
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"not JSON", "POST", "/v1/chat/completions", `model=gpt`, 400, "not a JSON object"},
		{"truncated JSON", "POST", "/v1/chat/completions", `{"model":"gpt-4o","messages":[`, 400, "not a JSON object"},
		{"no model", "POST", "/v1/chat/completions", `{"messages":[]}`, 400, `no "model"`},
		{"model not a string", "POST", "/v1/chat/completions", `{"model":4}`, 400, `"model" must be a string`},
		{"no rule", "POST", "/v1/chat/completions", `{"model":"llama3"}`, 400, `no rule matches model "llama3"`},
		{"too large", "POST", "/v1/chat/completions", `{"model":"gpt-4o","x":"` + strings.Repeat("a", 2000) + `"}`, 413, "larger than 1024 bytes"},
		{"unknown path", "POST", "/v2/chat", `{}`, 404, "llmroute serves the OpenAI and Anthropic APIs under /v1/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.method, tc.path, tc.body)
			if r.status != tc.status || !strings.Contains(r.errorMessage(t), tc.want) {
				t.Errorf("got %d %s, want %d containing %q", r.status, r.body, tc.status, tc.want)
			}
		})
	}
	if h.calls("openai") != 0 {
		t.Errorf("bad input reached the provider %d times", h.calls("openai"))
	}
	// Every answer, refusals included, carries a request id and leaves an
	// access log line.
	if n := strings.Count(h.logs.String(), `"msg":"Request"`); n != 7 {
		t.Errorf("%d access log lines for 7 requests:\n%s", n, h.logs.String())
	}
}

func TestModelsFromConfig(t *testing.T) {
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{})}, func(c *config.Config) {
		c.Rules[0].Models = []string{"gpt-*", "o3"}
		c.Providers[0].Models = map[string]string{"fast": "gpt-4o-mini"}
		c.Providers[0].DefaultModel = "gpt-4o"
	})
	r := h.do(http.MethodGet, "/v1/models", "")
	var ids []string
	for _, m := range r.json(t)["data"].([]any) {
		ids = append(ids, m.(map[string]any)["id"].(string))
	}
	if fmt.Sprint(ids) != "[o3 fast gpt-4o]" {
		t.Errorf("models %v, want [o3 fast gpt-4o] (globs are not models)", ids)
	}
	if h.calls("openai") != 0 {
		t.Error("/v1/models called the provider")
	}
}

func TestStreamRetriedBeforeFirstByte(t *testing.T) {
	h := newHarness(t, []upstream{
		openaiUp("openai", mock.Faults{StreamErrorBeforeContent: true}),
		openaiUp("backup", mock.Faults{}),
	}, nil)
	r := h.do(http.MethodPost, "/v1/chat/completions", streamBody)
	if r.status != 200 || r.header.Get("x-llmroute-provider") != "backup" {
		t.Fatalf("got %d from %q: %s", r.status, r.header.Get("x-llmroute-provider"), r.body)
	}
	if h.calls("openai") != 3 {
		t.Errorf("openai calls %d, want 3: an error event before content is a failed attempt", h.calls("openai"))
	}
	if strings.Contains(r.body, `"error"`) || !strings.HasSuffix(r.body, "data: [DONE]\n\n") {
		t.Errorf("the client must see one clean stream:\n%s", r.body)
	}
	if !strings.Contains(r.body, `" backup."`) {
		t.Errorf("stream content missing:\n%s", r.body)
	}
}

func TestStreamBrokenAfterContentEndsWithErrorEvent(t *testing.T) {
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{StreamCutAfter: 3}), openaiUp("backup", mock.Faults{})}, nil)
	r := h.do(http.MethodPost, "/v1/chat/completions", streamBody)
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if h.calls("openai") != 1 || h.calls("backup") != 0 {
		t.Errorf("calls %d/%d: nothing may be retried once content reached the client", h.calls("openai"), h.calls("backup"))
	}
	events := strings.Split(strings.TrimSuffix(r.body, "\n\n"), "\n\n")
	last := events[len(events)-1]
	if !strings.HasPrefix(last, `data: {"error":`) || !strings.Contains(last, "broke off") {
		t.Errorf("want a final error event, got %q in:\n%s", last, r.body)
	}
	if len(events) != 4 {
		t.Errorf("want the 3 content events then the error event, got %d:\n%s", len(events), r.body)
	}
}

func TestStreamIdleTimeout(t *testing.T) {
	h := newHarness(t, []upstream{{name: "openai", typ: config.OpenAI, opts: mock.Options{StreamInterval: 300 * time.Millisecond, StreamChunks: 3}}}, func(c *config.Config) {
		c.Timeouts.StreamIdle = config.D(50 * time.Millisecond)
	})
	r := h.do(http.MethodPost, "/v1/chat/completions", streamBody)
	if !strings.Contains(r.body, "timeouts.streamIdle") {
		t.Errorf("want the stream ended by the idle timeout with an error event:\n%s", r.body)
	}
}

func TestStreamFlushesEachEvent(t *testing.T) {
	h := newHarness(t, []upstream{{name: "openai", typ: config.OpenAI, opts: mock.Options{StreamInterval: 30 * time.Millisecond, StreamChunks: 4}}}, nil)
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/chat/completions", strings.NewReader(streamBody))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Each read returns as soon as an event arrives: with 30 ms between
	// events, reads that each return a single event prove nothing is held.
	buf := make([]byte, 64<<10)
	reads := 0
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			reads++
		}
		if err != nil {
			break
		}
	}
	if reads < 4 {
		t.Errorf("the stream arrived in %d reads: events were coalesced", reads)
	}
}

func TestReloadUnderLoad(t *testing.T) {
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{}), openaiUp("backup", mock.Faults{})}, nil)
	load := h.load()
	base := *h.px.Config()
	for i := range 20 {
		next := base
		next.Rules = []config.Rule{{Backends: []string{"backup", "openai"}}}
		if i%2 == 0 {
			next.Rules[0].Backends = []string{"openai", "backup"}
		}
		if err := h.px.Reload(&next); err != nil {
			t.Fatal(err)
		}
		bad := next
		bad.Providers = append([]config.Provider{}, next.Providers...)
		bad.Providers[0].APIKeyEnv = "LLMROUTE_UNSET_VARIABLE"
		if err := h.px.Reload(&bad); err == nil {
			t.Fatal("a config whose key is missing was accepted")
		}
		load.waitCalls(4) // each config serves calls
	}
	if done, failed := load.end(); failed != 0 {
		t.Errorf("%d of %d requests failed during reloads", failed, done)
	}
	if got := counterValue(t, h.px, `llmroute_config_reloads_total{result="failure"}`); got != 20 {
		t.Errorf("failed reloads counted %v, want 20", got)
	}
}

// A reload keeps the breaker of a provider whose settings did not change.
func TestReloadKeepsBreakerState(t *testing.T) {
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{Down: true}), openaiUp("backup", mock.Faults{})}, func(c *config.Config) {
		c.Retry.Attempts = 1
		c.CircuitBreaker.ConsecutiveFailures = 1
	})
	h.chat()
	next := *h.px.Config()
	next.Timeouts.StreamIdle = config.D(time.Minute)
	if err := h.px.Reload(&next); err != nil {
		t.Fatal(err)
	}
	if st := h.provider("openai"); st.Breaker != "open" {
		t.Errorf("reload forgot the open breaker: %s", st.Breaker)
	}
}

func TestRequestRateLimit(t *testing.T) {
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{})}, func(c *config.Config) {
		c.RateLimit = config.RateLimit{RequestsPerSecond: 0.001, Burst: 2}
	})
	for i := range 2 {
		if r := h.chat(); r.status != 200 {
			t.Fatalf("request %d within the burst: %d", i, r.status)
		}
	}
	r := h.chat()
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("want 429 with Retry-After, got %d %v", r.status, r.header)
	}
	if h.calls("openai") != 2 {
		t.Errorf("a rate-limited request reached the provider")
	}
}

func TestProviderRequestsPerMinuteSkipsToNext(t *testing.T) {
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{}), openaiUp("backup", mock.Faults{})}, func(c *config.Config) {
		c.Providers[0].RequestsPerMinute = 2
	})
	var by []string
	for range 3 {
		by = append(by, h.chat().header.Get("x-llmroute-provider"))
	}
	if fmt.Sprint(by) != "[openai openai backup]" {
		t.Errorf("served by %v, want openai twice then backup", by)
	}
}

func TestProviderTokensPerMinuteSkipsToNext(t *testing.T) {
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{}), openaiUp("backup", mock.Faults{})}, func(c *config.Config) {
		c.Providers[0].TokensPerMinute = 10 // one reply of the mock costs more
	})
	first, second := h.chat(), h.chat()
	if first.header.Get("x-llmroute-provider") != "openai" || second.header.Get("x-llmroute-provider") != "backup" {
		t.Errorf("served by %s then %s, want openai then backup", first.header.Get("x-llmroute-provider"), second.header.Get("x-llmroute-provider"))
	}
}

// A request the Anthropic format cannot express (n > 1) skips an Anthropic
// backend with the reason logged, and gets a 400 naming the field when no
// backend can take it; it is never sent with the field silently dropped.
func TestUntranslatableRequest(t *testing.T) {
	const body = `{"model":"gpt-4o-mini","n":2,"messages":[{"role":"user","content":"hi"}]}`
	t.Run("skipped during fallback", func(t *testing.T) {
		h := newHarness(t, []upstream{{name: "claude", typ: config.Anthropic}, openaiUp("openai", mock.Faults{})}, nil)
		r := h.do(http.MethodPost, "/v1/chat/completions", body)
		if r.status != 200 || r.header.Get("x-llmroute-provider") != "openai" {
			t.Fatalf("got %d from %q: %s", r.status, r.header.Get("x-llmroute-provider"), r.body)
		}
		if h.calls("claude") != 0 {
			t.Error("the untranslatable request reached the Anthropic backend")
		}
		if !strings.Contains(h.logs.String(), "Skipped provider: request cannot be translated") {
			t.Errorf("the skip was not logged:\n%s", h.logs.String())
		}
	})
	t.Run("no backend can take it", func(t *testing.T) {
		h := newHarness(t, []upstream{{name: "claude", typ: config.Anthropic}}, nil)
		r := h.do(http.MethodPost, "/v1/chat/completions", body)
		if r.status != 400 || !strings.Contains(r.errorMessage(t), "n") || h.calls("claude") != 0 {
			t.Fatalf("got %d: %s", r.status, r.body)
		}
		if e := r.json(t)["error"].(map[string]any); e["code"] != "unsupported_by_providers" {
			t.Errorf("error code %v", e["code"])
		}
	})
}

// A reload says what changed — the config, or which provider's key — and
// never the key itself; a key-only change used to log "Config reloaded"
// with the config file's name.
func TestReloadFileSaysWhatChanged(t *testing.T) {
	dir := t.TempDir()
	file, key := filepath.Join(dir, "config.json"), filepath.Join(dir, "openai")
	write := func(name, content string) {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(key, "sk-old")
	cfgText := `{"providers":[{"name":"openai","type":"OpenAI","apiKeyFile":"` + key + `"}],"rules":[{"backends":["openai"]}]%s}`
	write(file, fmt.Sprintf(cfgText, ""))
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	px, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		file, content string
		want          []string
	}{
		{key, "sk-new\n", []string{"key of openai"}},
		{file, fmt.Sprintf(cfgText, `,"retry":{"attempts":2}`), []string{"config"}},
		{file, fmt.Sprintf(cfgText, `,"retry":{"attempts":2}`), nil},
	} {
		write(step.file, step.content)
		_, changed, err := px.ReloadFile(file)
		if err != nil || !reflect.DeepEqual(changed, step.want) {
			t.Errorf("after writing %s: changed %q, %v; want %q", filepath.Base(step.file), changed, err, step.want)
		}
	}
}

// A client that never finishes sending its body is cut off at the request's
// deadline; it used to hold a goroutine for good, since the deadline started
// only once the body was read.
func TestSlowBodyIsCutOff(t *testing.T) {
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{})}, func(c *config.Config) {
		c.Timeouts.Request = config.D(300 * time.Millisecond)
	})
	for _, path := range []string{"/v1/chat/completions", "/v1/files"} {
		c, err := net.Dial("tcp", h.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\":", path)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: a body that never ends held the request open", path)
		}
		if err == nil {
			resp.Body.Close()
			if path == "/v1/chat/completions" && resp.StatusCode != http.StatusRequestTimeout {
				t.Errorf("%s: status %d, want 408", path, resp.StatusCode)
			}
		}
	}
	if h.calls("openai") != 0 {
		t.Errorf("an unfinished body reached the provider")
	}
}

// headerTap records the headers of each upstream request.
type headerTap struct {
	next http.RoundTripper
	mu   sync.Mutex
	got  []http.Header
}

func (h *headerTap) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.got = append(h.got, req.Header.Clone())
	h.mu.Unlock()
	return h.next.RoundTrip(req)
}

// The app's OpenAI-Organization and OpenAI-Project belong to its own key and
// would make the provider refuse the sidecar's; headers the app's
// Connection header names are for the hop to the sidecar only (RFC 9110
// §7.6.1). A provider's configured headers replace the app's.
func TestRoutedHeaders(t *testing.T) {
	h := newHarness(t, []upstream{openaiUp("openai", mock.Faults{})}, func(c *config.Config) {
		c.Providers[0].Headers = map[string]string{"OpenAI-Project": "proj-provider", "X-Gateway-Route": "llm"}
	})
	tap := &headerTap{next: h.px.transport}
	h.px.transport = tap
	r := h.chat("OpenAI-Organization", "org-app", "OpenAI-Project", "proj-app", "Connection", "X-Hop-Secret", "X-Hop-Secret", "s", "X-App", "kept")
	if r.status != 200 || len(tap.got) != 1 {
		t.Fatalf("%d, %d upstream calls", r.status, len(tap.got))
	}
	got := tap.got[0]
	for name, want := range map[string]string{
		"OpenAI-Organization": "", "OpenAI-Project": "proj-provider", "X-Gateway-Route": "llm",
		"X-Hop-Secret": "", "Connection": "", "X-App": "kept", "Authorization": "Bearer " + testKey,
	} {
		if v := got.Get(name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
}
