package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// recorder is a fake provider for pass-through calls: it records what
// arrived and answers with the next scripted status (200 when the script is
// done), echoing the request as JSON.
type recorder struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	got    []recorded
	script []int
}

type recorded struct {
	method, path, query string
	header              http.Header
	body                []byte
}

func newRecorder(t *testing.T, script ...int) *recorder {
	rec := &recorder{t: t, script: script}
	rec.srv = httptest.NewServer(http.HandlerFunc(rec.serve))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") == "websocket" {
		rec.echoWebSocket(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.got = append(rec.got, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
	status := http.StatusOK
	if len(rec.script) > 0 {
		status, rec.script = rec.script[0], rec.script[1:]
	}
	rec.mu.Unlock()
	w.Header().Set("X-Request-Id", "req_upstream_1")
	if r.URL.Path == "/v1/audio/speech" && status == http.StatusOK {
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Write(speechBytes)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	sum := sha256.Sum256(body)
	json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "path": r.URL.Path, "bodySha256": hex.EncodeToString(sum[:]), "status": status})
}

// echoWebSocket answers an upgrade like the Realtime API: it checks the key,
// then echoes each message.
func (rec *recorder) echoWebSocket(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.got = append(rec.got, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), nil})
	rec.mu.Unlock()
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		typ, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		if err := c.Write(r.Context(), typ, append([]byte("echo: "), msg...)); err != nil {
			return
		}
	}
}

func (rec *recorder) calls() []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]recorded(nil), rec.got...)
}

var speechBytes = bytes.Repeat([]byte{0xff, 0xf3, 0x00, 0x80, 'I', 'D', '3'}, 4096)

// passHarness is a proxy in front of recorders: "openai" (OpenAI, serving
// the Responses API), "local" (OpenAI-compatible, chat only) and "claude"
// (Anthropic). A call without a model goes to the first provider of its
// family in the first rule that lists one: openai, or claude.
type passHarness struct {
	*harness
	openai, local, claude *recorder
}

func newPassHarness(t *testing.T, edit func(*config.Config)) *passHarness {
	t.Helper()
	ph := &passHarness{openai: newRecorder(t), local: newRecorder(t), claude: newRecorder(t)}
	t.Setenv("LLMROUTE_TEST_KEY", testKey)
	t.Setenv("LLMROUTE_TEST_KEY_2", testKey+"-claude")
	cfg := &config.Config{
		Providers: []config.Provider{
			{Name: "openai", Type: config.OpenAI, BaseURL: ph.openai.srv.URL + "/v1", APIKeyEnv: "LLMROUTE_TEST_KEY",
				Headers: map[string]string{"OpenAI-Organization": "org-provider"}},
			{Name: "local", Type: config.OpenAICompatible, BaseURL: ph.local.srv.URL + "/v1"},
			{Name: "claude", Type: config.Anthropic, BaseURL: ph.claude.srv.URL, APIKeyEnv: "LLMROUTE_TEST_KEY_2"},
		},
		Rules: []config.Rule{
			{Models: []string{"gpt-*"}, Backends: []string{"openai", "local", "claude"}},
			{Models: []string{"llama*"}, Backends: []string{"local", "openai"}},
			{Backends: []string{"claude"}},
		},
	}
	cfg.Retry.InitialBackoff = config.D(100 * time.Millisecond)
	if edit != nil {
		edit(cfg)
	}
	cfg.Default()
	ph.harness = &harness{t: t, logs: &syncBuffer{}}
	ph.start(cfg)
	return ph
}

// The calls the sidecar does not route reach one provider of the caller's
// family, under the path that provider's SDK would use, with the
// provider's credentials, and with what the app sent otherwise unchanged.
func TestPassThroughReachesTheProvider(t *testing.T) {
	ph := newPassHarness(t, nil)
	tests := []struct {
		name, method, path, body string
		headers                  []string
		rec                      *recorder
		wantPath, wantQuery      string
		wantAuth                 [2]string
	}{
		{"files list", "GET", "/v1/files?purpose=batch&limit=2", "", nil, ph.openai, "/v1/files", "purpose=batch&limit=2", [2]string{"Authorization", "Bearer " + testKey}},
		{"delete a file", "DELETE", "/v1/files/file-abc", "", nil, ph.openai, "/v1/files/file-abc", "", [2]string{"Authorization", "Bearer " + testKey}},
		{"moderations", "POST", "/v1/moderations", `{"input":"hi"}`, nil, ph.openai, "/v1/moderations", "", [2]string{"Authorization", "Bearer " + testKey}},
		{"stored chat completions", "GET", "/v1/chat/completions?limit=1", "", nil, ph.openai, "/v1/chat/completions", "limit=1", [2]string{"Authorization", "Bearer " + testKey}},
		{"a model of another rule", "POST", "/v1/images/generations", `{"model":"llama-image","prompt":"x"}`, nil, ph.local, "/v1/images/generations", "", [2]string{"Authorization", ""}},
		{"stored response needs the Responses API", "GET", "/v1/responses/resp_1/input_items", "", nil, ph.openai, "/v1/responses/resp_1/input_items", "", [2]string{"Authorization", "Bearer " + testKey}},
		{"anthropic count_tokens", "POST", "/v1/messages/count_tokens", `{"model":"claude-x","messages":[]}`, []string{"anthropic-version", "2023-06-01"}, ph.claude, "/v1/messages/count_tokens", "", [2]string{"X-Api-Key", testKey + "-claude"}},
		{"anthropic models by header", "GET", "/v1/models?limit=5", "", []string{"anthropic-version", "2023-06-01"}, ph.claude, "/v1/models", "limit=5", [2]string{"X-Api-Key", testKey + "-claude"}},
		{"anthropic batches", "GET", "/v1/messages/batches/msgbatch_1", "", []string{"anthropic-version", "2023-06-01"}, ph.claude, "/v1/messages/batches/msgbatch_1", "", [2]string{"X-Api-Key", testKey + "-claude"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tt.rec.calls())
			headers := append([]string{"OpenAI-Organization", "org-of-the-app", "X-App-Trace", "t1", "Connection", "X-Hop", "X-Hop", "secret-for-the-next-hop"}, tt.headers...)
			r := ph.do(tt.method, tt.path, tt.body, headers...)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			calls := tt.rec.calls()
			if len(calls) != before+1 {
				t.Fatalf("%d calls reached the provider, want 1", len(calls)-before)
			}
			got := calls[len(calls)-1]
			if got.method != tt.method || got.path != tt.wantPath || got.query != tt.wantQuery {
				t.Errorf("provider got %s %s?%s, want %s %s?%s", got.method, got.path, got.query, tt.method, tt.wantPath, tt.wantQuery)
			}
			if v := got.header.Get(tt.wantAuth[0]); v != tt.wantAuth[1] {
				t.Errorf("%s = %q, want %q", tt.wantAuth[0], v, tt.wantAuth[1])
			}
			if tt.rec != ph.openai && got.header.Get("Authorization") != "" {
				t.Errorf("the app's placeholder key reached the provider: %q", got.header.Get("Authorization"))
			}
			if v := got.header.Get("X-App-Trace"); v != "t1" {
				t.Errorf("the app's own header was lost: %q", v)
			}
			if v := got.header.Get("X-Hop"); v != "" {
				t.Errorf("a header named in Connection was forwarded: %q", v)
			}
			wantOrg := ""
			if tt.rec == ph.openai {
				wantOrg = "org-provider"
			}
			if v := got.header.Get("OpenAI-Organization"); v != wantOrg {
				t.Errorf("OpenAI-Organization = %q, want %q (the app's is dropped, the provider's configured one set)", v, wantOrg)
			}
			if !bytes.Equal(got.body, []byte(tt.body)) {
				t.Errorf("body changed: %q", got.body)
			}
			if r.header.Get("X-Request-Id") == "" || r.header.Get("X-Llmroute-Upstream-Request-Id") != "req_upstream_1" {
				t.Errorf("request ids: x-request-id %q, upstream %q", r.header.Get("X-Request-Id"), r.header.Get("X-Llmroute-Upstream-Request-Id"))
			}
			if r.header.Get("X-Llmroute-Provider") == "" || r.header.Get("X-Llmroute-Attempts") != "1" {
				t.Errorf("route headers: %v", r.header)
			}
		})
	}
	log := ph.logs.String()
	if n := strings.Count(log, `"passthrough":true`); n != len(tests) {
		t.Errorf("%d pass-through access log lines for %d calls", n, len(tests))
	}
	if strings.Contains(log, "purpose=batch") {
		t.Error("the access log shows a query string")
	}
}

// A multipart upload passes through byte for byte, and a binary answer
// comes back whole.
func TestPassThroughMultipartAndBinary(t *testing.T) {
	ph := newPassHarness(t, nil)
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	mw.WriteField("model", "whisper-1")
	fw, _ := mw.CreateFormFile("file", "speech.mp3")
	fw.Write(bytes.Repeat(speechBytes, 80)) // over 2 MB: streamed, not held in memory
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, ph.srv.URL+"/v1/audio/transcriptions", bytes.NewReader(form.Bytes()))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	calls := ph.openai.calls()
	if resp.StatusCode != 200 || len(calls) != 1 || !bytes.Equal(calls[0].body, form.Bytes()) {
		t.Fatalf("status %d, %d calls; upload arrived whole: %v", resp.StatusCode, len(calls), len(calls) == 1 && bytes.Equal(calls[0].body, form.Bytes()))
	}
	if ct := calls[0].header.Get("Content-Type"); ct != mw.FormDataContentType() {
		t.Errorf("content type %q", ct)
	}

	r := ph.do(http.MethodPost, "/v1/audio/speech", `{"model":"tts-1","input":"hi","voice":"alloy"}`)
	if r.status != 200 || r.header.Get("Content-Type") != "audio/mpeg" || r.body != string(speechBytes) {
		t.Fatalf("speech: %d %q, %d bytes", r.status, r.header.Get("Content-Type"), len(r.body))
	}
}

// Retries only where sending twice is safe: a connection never made, or a
// 429/5xx for an idempotent method or a body held in memory — never across
// providers, where files and stored responses do not exist.
func TestPassThroughRetries(t *testing.T) {
	t.Run("GET retried on 503", func(t *testing.T) {
		ph := newPassHarness(t, nil)
		ph.openai.script = []int{503, 503}
		r := ph.do(http.MethodGet, "/v1/files/file-1", "")
		if r.status != 200 || r.header.Get("X-Llmroute-Attempts") != "3" || len(ph.openai.calls()) != 3 {
			t.Fatalf("status %d after %d calls: %s", r.status, len(ph.openai.calls()), r.body)
		}
		if len(ph.local.calls())+len(ph.claude.calls()) != 0 {
			t.Error("a pass-through call went to another provider")
		}
	})
	t.Run("small POST retried with the same body", func(t *testing.T) {
		ph := newPassHarness(t, nil)
		ph.openai.script = []int{429}
		r := ph.do(http.MethodPost, "/v1/batches", `{"input_file_id":"file-1","endpoint":"/v1/chat/completions"}`)
		calls := ph.openai.calls()
		if r.status != 200 || len(calls) != 2 || !bytes.Equal(calls[0].body, calls[1].body) || len(calls[1].body) == 0 {
			t.Fatalf("status %d after %d calls", r.status, len(calls))
		}
	})
	t.Run("streamed upload not retried", func(t *testing.T) {
		ph := newPassHarness(t, nil)
		ph.openai.script = []int{503}
		big := strings.Repeat("x", 3<<20)
		r := ph.do(http.MethodPost, "/v1/files", big)
		if r.status != 503 || len(ph.openai.calls()) != 1 {
			t.Fatalf("status %d after %d calls, want the provider's 503 after one", r.status, len(ph.openai.calls()))
		}
		if r.header.Get("X-Should-Retry") != "" {
			t.Error("the app's SDK may retry an upload the sidecar could not")
		}
	})
	t.Run("provider down", func(t *testing.T) {
		ph := newPassHarness(t, func(c *config.Config) {
			c.Providers[0].BaseURL = "http://" + deadAddr(t) + "/v1"
			c.Retry.Attempts = 2
		})
		r := ph.do(http.MethodPost, "/v1/files", strings.Repeat("x", 3<<20))
		if r.status != http.StatusBadGateway || r.header.Get("X-Llmroute-Attempts") != "2" || r.header.Get("X-Request-Id") == "" {
			t.Fatalf("status %d, attempts %q: %s", r.status, r.header.Get("X-Llmroute-Attempts"), r.body)
		}
		if msg := r.errorMessage(t); !strings.Contains(msg, "openai") || !strings.Contains(msg, "connection failed") {
			t.Errorf("message %q does not say what failed", msg)
		}
	})
}

// Calls that need a provider the route does not have are refused in the
// caller's format, saying what is missing.
func TestPassThroughWithoutProvider(t *testing.T) {
	ph := newPassHarness(t, func(c *config.Config) {
		c.Providers = c.Providers[1:2] // local only
		c.Rules = []config.Rule{{Backends: []string{"local"}}}
	})
	r := ph.do(http.MethodGet, "/v1/responses/resp_1", "")
	if r.status != 404 || !strings.Contains(r.errorMessage(t), "whose apis include Responses") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r = ph.do(http.MethodPost, "/v1/messages/count_tokens", `{}`, "anthropic-version", "2023-06-01")
	if r.status != 404 || !strings.Contains(r.body, `"type":"error"`) || !strings.Contains(r.errorMessage(t), "type Anthropic") {
		t.Fatalf("want an Anthropic-format 404, got %d %s", r.status, r.body)
	}
}

// The Realtime API's WebSocket is tunnelled both ways, with the provider's
// key on the upgrade.
func TestPassThroughWebSocket(t *testing.T) {
	ph := newPassHarness(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(ph.srv.URL, "http") + "/v1/realtime?model=gpt-realtime"
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer sk-placeholder"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for _, msg := range []string{`{"type":"session.update"}`, `{"type":"response.create"}`} {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil || string(got) != "echo: "+msg {
			t.Fatalf("got %q, %v", got, err)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	calls := ph.openai.calls()
	if len(calls) != 1 || calls[0].header.Get("Authorization") != "Bearer "+testKey || calls[0].query != "model=gpt-realtime" {
		t.Fatalf("upgrade reached the provider as %+v", calls)
	}
}

// A model the route maps for the chosen provider is replaced as a routed
// call would replace it; defaultModel is not (it names a chat model).
func TestPassThroughMapsModels(t *testing.T) {
	ph := newPassHarness(t, func(c *config.Config) {
		c.Providers[2].Models = map[string]string{"claude-fast": "claude-haiku-4-5"}
		c.Providers[2].DefaultModel = "claude-sonnet-4-5"
	})
	ph.do(http.MethodPost, "/v1/messages/count_tokens", `{"model":"claude-fast","messages":[]}`, "anthropic-version", "2023-06-01")
	ph.do(http.MethodPost, "/v1/messages/count_tokens", `{"model":"claude-other","messages":[]}`, "anthropic-version", "2023-06-01")
	calls := ph.claude.calls()
	if len(calls) != 2 || string(calls[0].body) != `{"model":"claude-haiku-4-5","messages":[]}` || string(calls[1].body) != `{"model":"claude-other","messages":[]}` {
		t.Fatalf("bodies %q", calls)
	}
}
