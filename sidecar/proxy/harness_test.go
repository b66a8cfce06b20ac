package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

// harness is a proxy in front of fake providers, all on loopback, with the
// backoff waits recorded instead of slept.
type harness struct {
	t     *testing.T
	px    *Proxy
	srv   *httptest.Server
	mocks map[string]*mock.Server
	logs  *syncBuffer

	mu    sync.Mutex
	waits []time.Duration

	sent, handled atomic.Int64 // requests sent by do and handled by the proxy
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// upstream is a fake provider in a test config.
type upstream struct {
	name string
	typ  config.ProviderType
	opts mock.Options
	dead bool // a port nobody listens on: connection refused
}

const testKey = "sk-provider-secret-0123456789"

// newHarness starts the providers and a proxy whose config lists them, in
// order, as the backends of one catch-all rule. edit may change the config.
func newHarness(t *testing.T, ups []upstream, edit func(*config.Config)) *harness {
	t.Helper()
	h := &harness{t: t, mocks: map[string]*mock.Server{}, logs: &syncBuffer{}}
	t.Setenv("LLMROUTE_TEST_KEY", testKey)
	cfg := &config.Config{Rules: []config.Rule{{}}}
	for _, u := range ups {
		var url string
		if u.dead {
			url = "http://" + deadAddr(t)
		} else {
			u.opts.Name = u.name
			if u.opts.APIKey == "" {
				u.opts.APIKey = testKey // a test may set another: a revoked key
			}
			m := mock.New(u.opts)
			s := httptest.NewServer(m)
			t.Cleanup(func() { m.Close(); s.Close() })
			h.mocks[u.name] = m
			url = s.URL
		}
		if u.typ != config.Anthropic {
			url += "/v1"
		}
		cfg.Providers = append(cfg.Providers, config.Provider{Name: u.name, Type: u.typ, BaseURL: url, APIKeyEnv: "LLMROUTE_TEST_KEY"})
		cfg.Rules[0].Backends = append(cfg.Rules[0].Backends, u.name)
	}
	cfg.Retry.InitialBackoff = config.D(100 * time.Millisecond)
	cfg.Retry.MaxBackoff = config.D(time.Second)
	cfg.CircuitBreaker.ConsecutiveFailures = 1000 // tests that want a breaker set it
	if edit != nil {
		edit(cfg)
	}
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	h.start(cfg)
	return h
}

// start serves cfg through a proxy that logs to h.logs and records its
// backoff waits, with jitter fixed at the middle of its range.
func (h *harness) start(cfg *config.Config) {
	h.t.Helper()
	px, err := New(cfg, Options{
		Log: logr.FromSlogHandler(newJSONHandler(h.logs)),
		Sleep: func(ctx context.Context, d time.Duration) error {
			h.mu.Lock()
			h.waits = append(h.waits, d)
			h.mu.Unlock()
			return ctx.Err()
		},
		Rand: func() float64 { return 0.5 },
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(px.Close)
	h.serve(px)
}

// serve starts the test server in front of px. It counts the requests whose
// handler has returned, so that a client call can wait for its access log
// line: a streamed or flushed answer reaches the client before the handler's
// deferred log line is written.
func (h *harness) serve(px *Proxy) {
	h.px = px
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer h.handled.Add(1)
		px.ServeHTTP(w, r)
	}))
	h.t.Cleanup(h.srv.Close)
}

// waitHandled waits until every request sent has been handled to its end.
func (h *harness) waitHandled() {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.handled.Load() < h.sent.Load() {
		if time.Now().After(deadline) {
			h.t.Fatalf("%d requests sent, %d handled after 10 s", h.sent.Load(), h.handled.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) recordedWaits() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Duration(nil), h.waits...)
}

// deadAddr returns a loopback address with no listener: connection refused.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// response is what a client saw.
type response struct {
	status int
	header http.Header
	body   string
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, r.body)
	}
	return m
}

// errorMessage returns error.message from an error body of either format.
func (r response) errorMessage(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

func (h *harness) do(method, path, body string, headers ...string) response {
	h.t.Helper()
	return h.doContext(context.Background(), method, path, body, headers...)
}

func (h *harness) doContext(ctx context.Context, method, path, body string, headers ...string) response {
	h.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-placeholder-from-the-app")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	h.sent.Add(1)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.waitHandled()
		return response{status: -1, body: err.Error()}
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	h.waitHandled()
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}`
const streamBody = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello"}]}`

func (h *harness) chat(headers ...string) response {
	h.t.Helper()
	return h.do(http.MethodPost, "/v1/chat/completions", chatBody, headers...)
}

func (h *harness) calls(name string) int64 { return h.mocks[name].Stats().Requests }

// provider returns a provider's breaker counts and request counts.
func (h *harness) provider(name string) ProviderStatus {
	h.t.Helper()
	for _, st := range h.px.Providers() {
		if st.Name == name {
			return st
		}
	}
	h.t.Fatalf("no provider %q", name)
	return ProviderStatus{}
}

// chatLoad is four clients making chat calls one after the other, for tests
// that change the proxy (a reload, a rotated key) while calls are in flight.
type chatLoad struct {
	h              *harness
	stop           chan struct{}
	stopOnce       sync.Once
	wg             sync.WaitGroup
	done, failures atomic.Int64
}

// load starts the clients; they stop at end, or when the test ends. A call
// that does not get a 200 fails the test.
func (h *harness) load() *chatLoad {
	l := &chatLoad{h: h, stop: make(chan struct{})}
	for range 4 {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				if r := h.chat(); r.status != 200 && l.failures.Add(1) <= 3 {
					h.t.Errorf("a call failed under load: %d %s", r.status, r.body)
				}
				l.done.Add(1)
			}
		})
	}
	h.t.Cleanup(func() { l.end() })
	return l
}

// waitCalls waits until n more calls have been made, and fails the test if
// they are not made within 10 s: the proxy stalled.
func (l *chatLoad) waitCalls(n int64) {
	l.h.t.Helper()
	target := l.done.Load() + n
	deadline := time.Now().Add(10 * time.Second)
	for l.done.Load() < target {
		if time.Now().After(deadline) {
			l.h.t.Fatalf("%d calls made in 10 s, want %d", n-(target-l.done.Load()), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// end stops the clients and returns how many calls they made and how many
// of those failed.
func (l *chatLoad) end() (done, failed int64) {
	l.stopOnce.Do(func() {
		close(l.stop)
		l.wg.Wait()
	})
	return l.done.Load(), l.failures.Load()
}
