package proxy

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/sidecar/config"
	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// A 1 KB chat request, the size the overhead benchmarks use.
var benchBody = []byte(`{"model":"gpt-4o-mini","temperature":0.2,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"` +
	strings.Repeat("lorem ipsum ", 80) + `"}],"stream":false}`)

func BenchmarkRouteMatch(b *testing.B) {
	cfg := &config.Config{
		Providers: []config.Provider{{Name: "a", Type: config.Ollama}},
		Rules: []config.Rule{
			{Models: []string{"claude-*", "o1*"}, Backends: []string{"a"}},
			{Models: []string{"gpt-4*"}, Backends: []string{"a"}},
			{Backends: []string{"a"}},
		},
	}
	cfg.Default()
	px, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	rt := px.route.Load()
	b.ReportAllocs()
	for b.Loop() {
		if rt.match("gpt-4o-mini") == nil {
			b.Fatal("no match")
		}
	}
}

// benchProxy is the proxy in front of one in-process mock, driven through
// its handler without a network hop to the client, so the figure is the
// request path's own cost (plus the upstream round trip on loopback). The
// provider has one static key, the common case whose cost the credentials
// must not raise.
func benchProxy(b *testing.B, opts mock.Options) (*Proxy, func()) {
	const key = "sk-bench-0123456789"
	b.Setenv("LLMROUTE_BENCH_KEY", key)
	opts.APIKey = key
	m := mock.New(opts)
	up := httptest.NewServer(m)
	cfg := &config.Config{
		Providers: []config.Provider{{Name: "openai", Type: config.OpenAICompatible, BaseURL: up.URL + "/v1", APIKeyEnv: "LLMROUTE_BENCH_KEY"}},
		Rules:     []config.Rule{{Backends: []string{"openai"}}},
	}
	cfg.Default()
	px, err := New(cfg, Options{Log: logr.Discard()})
	if err != nil {
		b.Fatal(err)
	}
	return px, func() { m.Close(); up.Close() }
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Flush()                      {}

// SetReadDeadline is there as on a real connection's writer, where setting
// the body's read deadline costs nothing.
func (w *discardWriter) SetReadDeadline(time.Time) error { return nil }

func BenchmarkProxyChat(b *testing.B) {
	px, stop := benchProxy(b, mock.Options{CompletionBytes: 1024})
	defer stop()
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(benchBody))
		clear(w.h)
		px.ServeHTTP(w, r)
	}
}

func BenchmarkProxyStream(b *testing.B) {
	px, stop := benchProxy(b, mock.Options{StreamChunks: 50})
	defer stop()
	body := bytes.Replace(benchBody, []byte(`"stream":false`), []byte(`"stream":true`), 1)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(body))
		clear(w.h)
		px.ServeHTTP(w, r)
	}
}

// BenchmarkFinishMetrics is the per-request cost of the metrics and the
// (disabled) access log, to set against the request path's total.
func BenchmarkFinishMetrics(b *testing.B) {
	px, stop := benchProxy(b, mock.Options{})
	defer stop()
	rt := px.route.Load()
	p := rt.providers["openai"]
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	b.ReportAllocs()
	for b.Loop() {
		ex := exchange{px: px, rt: rt, r: r, client: translate.ChatCompletions, routed: true, start: px.now(), rule: &rt.rules[0], provider: p, status: 200, model: "gpt-4o-mini"}
		ex.usage.InputTokens, ex.usage.OutputTokens = 10, 20
		ex.finish()
	}
}
