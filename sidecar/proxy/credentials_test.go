package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

// startTokenServer serves a mock identity platform on loopback.
func startTokenServer(t *testing.T, opts mock.TokenOptions) (*mock.TokenServer, string) {
	t.Helper()
	ts := mock.NewTokenServer(opts)
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	return ts, srv.URL
}

func writeTestFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// useOAuth2 makes the config's first provider authenticate with the client
// credentials grant at tokenURL, with the client secret in a file.
func useOAuth2(t *testing.T, tokenURL string) func(*config.Config) {
	secret := writeTestFile(t, t.TempDir(), "client-secret", "s3cret\n")
	return func(c *config.Config) {
		c.Providers[0].APIKeyEnv = ""
		c.Providers[0].OAuth2ClientCredentials = &config.OAuth2ClientCredentials{
			TokenURL: tokenURL + mock.TokenPath, ClientID: "llmroute", ClientSecretFile: secret}
	}
}

// readyz asks the admin handler's /readyz.
func readyz(h *harness) (int, string) {
	rec := httptest.NewRecorder()
	h.px.Admin(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	return rec.Code, rec.Body.String()
}

// waitReady polls /readyz until it answers 200, which it does once every
// provider's first token attempt is over.
func waitReady(t *testing.T, h *harness) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := readyz(h)
		if code == http.StatusOK {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d after 10 s: %s", code, body)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tries returns the access log's tries of the last request.
func lastTries(t *testing.T, h *harness) []any {
	t.Helper()
	tries, _ := accessLine(t, h.logs.String())["tries"].([]any)
	return tries
}

// A provider that accepts only short-lived tokens: over more than three
// token lifetimes every call succeeds at the first attempt and no call ever
// carries an expired token, because tokens are refreshed ahead of expiry,
// not after a 401. Calls passed through carry the token too.
func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	const lifetime = time.Second // expires_in is in whole seconds
	ts, url := startTokenServer(t, mock.TokenOptions{ClientID: "llmroute", ClientSecret: "s3cret", Lifetime: lifetime})
	h := newHarness(t, []upstream{{name: "azure", typ: config.OpenAICompatible, opts: mock.Options{Tokens: ts}}}, useOAuth2(t, url))
	waitReady(t, h)
	var calls int
	for start := time.Now(); time.Since(start) < 3*lifetime+lifetime/2; calls++ {
		r := h.chat()
		if r.status != 200 || r.header.Get("x-llmroute-attempts") != "1" {
			t.Fatalf("call %d after %s: %d, attempts %s: %s", calls, time.Since(start), r.status, r.header.Get("x-llmroute-attempts"), r.body)
		}
	}
	if r := h.do(http.MethodGet, "/v1/files", ""); r.status != 200 {
		t.Errorf("a call passed through: %d %s", r.status, r.body)
	}
	st := ts.Stats()
	if st.Rejected != 0 {
		t.Errorf("%d calls carried a token the provider refused", st.Rejected)
	}
	if st.Issued < 4 {
		t.Errorf("%d tokens issued over %d calls in 3.5 lifetimes: not refreshed ahead of expiry", st.Issued, calls)
	}
	if got := counterValue(t, h.px, `llmroute_token_fetches_total{provider="azure",result="success"}`); got != float64(st.Issued) {
		t.Errorf("token fetches counted %v, issued %d", got, st.Issued)
	}
	t.Logf("%d calls, %d tokens", calls, st.Issued)
}

// A provider's 401 (it revoked the token) makes the sidecar fetch a token
// and send the call again with it at once: one attempt of the retry policy,
// no backoff, no retry, nothing against the breaker. If the provider
// refuses the fresh token too, the credential itself is refused: the call
// falls back, the state says refused, and later calls cost no more token
// fetches (no 401 storm against the token endpoint).
func TestProvider401RefreshesTokenOnce(t *testing.T) {
	ts, url := startTokenServer(t, mock.TokenOptions{ClientID: "llmroute", ClientSecret: "s3cret"})
	h := newHarness(t, []upstream{{name: "azure", typ: config.OpenAICompatible, opts: mock.Options{Tokens: ts}}, openaiUp("backup", mock.Faults{})}, useOAuth2(t, url))
	waitReady(t, h)
	if r := h.chat(); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	ts.Revoke()
	r := h.chat()
	if r.status != 200 || r.header.Get("x-llmroute-provider") != "azure" || r.header.Get("x-llmroute-attempts") != "2" {
		t.Fatalf("after a revocation: %d from %q, attempts %s: %s", r.status, r.header.Get("x-llmroute-provider"), r.header.Get("x-llmroute-attempts"), r.body)
	}
	tries := lastTries(t, h)
	if len(tries) != 2 || tries[0].(map[string]any)["status"] != 401.0 || tries[1].(map[string]any)["outcome"] != "success" {
		t.Errorf("tries %v", tries)
	}
	if ts.Stats().Issued != 2 {
		t.Errorf("%d tokens issued, want 2", ts.Stats().Issued)
	}
	if w := h.recordedWaits(); len(w) != 0 {
		t.Errorf("a refreshed token waited a backoff: %v", w)
	}
	if got := counterValue(t, h.px, `llmroute_retries_total{provider="azure"}`); got != 0 {
		t.Errorf("the refresh counted as a retry: %v", got)
	}
	if st := h.provider("azure"); st.TotalFailures != 0 {
		t.Errorf("the refused token counted against the breaker: %+v", st)
	}

	// A provider that refuses every token of this client.
	other := mock.NewTokenServer(mock.TokenOptions{})
	h2 := newHarness(t, []upstream{{name: "azure", typ: config.OpenAICompatible, opts: mock.Options{Tokens: other}}, openaiUp("backup", mock.Faults{})}, useOAuth2(t, url))
	waitReady(t, h2)
	issued := ts.Stats().Issued
	for range 3 {
		if r := h2.chat(); r.status != 200 || r.header.Get("x-llmroute-provider") != "backup" {
			t.Fatalf("%d from %q: %s", r.status, r.header.Get("x-llmroute-provider"), r.body)
		}
	}
	if got := ts.Stats().Issued - issued; got != 1 {
		t.Errorf("%d tokens fetched for 3 calls to a provider refusing them all, want 1 (one refresh)", got)
	}
	if got := counterValue(t, h2.px, `llmroute_credential_state{key="oauth2",provider="azure"}`); got != 2 {
		t.Errorf("credential state %v, want 2 (refused)", got)
	}
}

// A token endpoint that is down: /readyz stays 200 once the first attempt
// is over but names the provider and why; the provider is passed over
// without a call (no 401 storm) and its calls fall back; the metrics and
// the access log say so; and when the endpoint recovers, the retries with
// backoff get a token and the provider serves again.
func TestTokenEndpointOutage(t *testing.T) {
	ts, url := startTokenServer(t, mock.TokenOptions{})
	ts.SetDown(true)
	h := newHarness(t, []upstream{{name: "vertex", typ: config.OpenAICompatible, opts: mock.Options{Tokens: ts}}, openaiUp("backup", mock.Faults{})}, useOAuth2(t, url))
	body := waitReady(t, h)
	if !strings.Contains(body, "not ready: ") || !strings.Contains(body, `"vertex"`) || !strings.Contains(body, "503 Service Unavailable") {
		t.Errorf("/readyz does not say why vertex is not ready:\n%s", body)
	}
	r := h.chat()
	if r.status != 200 || r.header.Get("x-llmroute-provider") != "backup" || r.header.Get("x-llmroute-attempts") != "1" {
		t.Fatalf("%d from %q, attempts %s: %s", r.status, r.header.Get("x-llmroute-provider"), r.header.Get("x-llmroute-attempts"), r.body)
	}
	if h.calls("vertex") != 0 {
		t.Error("a call went to the provider without a token")
	}
	if tries := lastTries(t, h); len(tries) != 2 || tries[0].(map[string]any)["outcome"] != "no_credential" {
		t.Errorf("tries %v", tries)
	}
	for sel, want := range map[string]float64{
		`llmroute_credential_state{key="oauth2",provider="vertex"}`:                  3,
		`llmroute_fallbacks_total{from="vertex",reason="no_credential",to="backup"}`: 1,
	} {
		if got := counterValue(t, h.px, sel); got != want {
			t.Errorf("%s = %v, want %v", sel, got, want)
		}
	}
	if got := counterValue(t, h.px, `llmroute_token_fetches_total{provider="vertex",result="failure"}`); got < 1 {
		t.Errorf("failed token fetches counted %v", got)
	}

	ts.SetDown(false)
	deadline := time.Now().Add(10 * time.Second)
	for h.chat().header.Get("x-llmroute-provider") != "vertex" {
		if time.Now().After(deadline) {
			t.Fatalf("vertex did not serve again within 10 s of its token endpoint's recovery: %s", h.provider("vertex").Credential.Error)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, body := readyz(h); code != 200 || strings.Contains(body, "not ready") {
		t.Errorf("after recovery /readyz: %d %s", code, body)
	}
	if got := counterValue(t, h.px, `llmroute_credential_state{key="oauth2",provider="vertex"}`); got != 0 {
		t.Errorf("credential state %v after recovery", got)
	}
}

// At start, /readyz is 503 until the first token attempt is over (the
// injected startup probe waits on it, so the app starts with a token at
// hand), and a call that arrives meanwhile waits for the token rather than
// failing. Once ready, it stays 200 whatever the providers' tokens do.
func TestReadyzWaitsForTheFirstToken(t *testing.T) {
	ts, url := startTokenServer(t, mock.TokenOptions{})
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		ts.ServeHTTP(w, r)
	}))
	t.Cleanup(slow.Close)
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	_ = url
	h := newHarness(t, []upstream{{name: "azure", typ: config.OpenAICompatible, opts: mock.Options{Tokens: ts}}}, useOAuth2(t, slow.URL))
	if code, body := readyz(h); code != http.StatusServiceUnavailable || !strings.Contains(body, "waiting for the first token of: azure") {
		t.Fatalf("/readyz while the first token is fetched: %d %s", code, body)
	}
	done := make(chan response, 1)
	go func() { done <- h.chat() }()
	once.Do(func() { close(release) })
	if r := <-done; r.status != 200 || r.header.Get("x-llmroute-attempts") != "1" {
		t.Fatalf("the call that waited for the first token: %d %s", r.status, r.body)
	}
	waitReady(t, h)
	ts.SetDown(true)
	ts.Revoke()
	h.chat() // refused, and no token to be had
	if code, body := readyz(h); code != 200 {
		t.Errorf("/readyz tied to a provider's token after start: %d %s", code, body)
	}
}

// roundTripperFunc makes a function an http.RoundTripper.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Two keys, one rate-limited: the call it failed goes to the other key at
// once — no backoff, no retry, nothing against the breaker — and the
// limited key cools down for its Retry-After while the other serves.
func TestRateLimitedKeySpreadsToTheOther(t *testing.T) {
	t.Setenv("LLMROUTE_KEY_A", "sk-a")
	t.Setenv("LLMROUTE_KEY_B", "sk-b")
	h := newHarness(t, []upstream{{name: "openai", typ: config.OpenAI, opts: mock.Options{APIKeys: []string{"sk-a", "sk-b"}}}}, func(c *config.Config) {
		c.Providers[0].APIKeyEnv = ""
		c.Providers[0].APIKeys = []config.APIKey{{Name: "team-a", Env: "LLMROUTE_KEY_A"}, {Name: "team-b", Env: "LLMROUTE_KEY_B"}}
	})
	var limited atomic.Int64
	next := h.px.transport
	h.px.transport = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if r.Header.Get("Authorization") == "Bearer sk-a" {
			limited.Add(1)
			return &http.Response{StatusCode: http.StatusTooManyRequests, Request: r,
				Header: http.Header{"Retry-After": {"30"}, "Content-Type": {"application/json"}},
				Body:   io.NopCloser(strings.NewReader(`{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`))}, nil
		}
		return next.RoundTrip(r)
	})
	for i := range 10 {
		r := h.chat()
		want := "1"
		if i == 0 {
			want = "2"
		}
		if r.status != 200 || r.header.Get("x-llmroute-attempts") != want {
			t.Fatalf("call %d: %d, attempts %s: %s", i, r.status, r.header.Get("x-llmroute-attempts"), r.body)
		}
		if i == 0 {
			tries := lastTries(t, h)
			if len(tries) != 2 || tries[0].(map[string]any)["key"] != "team-a" || tries[0].(map[string]any)["status"] != 429.0 ||
				tries[1].(map[string]any)["key"] != "team-b" {
				t.Errorf("tries %v", tries)
			}
		}
	}
	if limited.Load() != 1 {
		t.Errorf("the rate-limited key was called %d times, want once (then it cools down)", limited.Load())
	}
	if w := h.recordedWaits(); len(w) != 0 {
		t.Errorf("switching keys waited a backoff: %v", w)
	}
	if st := h.provider("openai"); st.TotalFailures != 0 {
		t.Errorf("a key's 429 counted against the provider's breaker: %+v", st)
	}
	for sel, want := range map[string]float64{
		`llmroute_retries_total{provider="openai"}`:                                          0,
		`llmroute_credential_state{key="team-a",provider="openai"}`:                          1,
		`llmroute_credential_state{key="team-b",provider="openai"}`:                          0,
		`llmroute_key_attempts_total{key="team-a",outcome="rate_limited",provider="openai"}`: 1,
		`llmroute_key_attempts_total{key="team-b",outcome="success",provider="openai"}`:      10,
	} {
		if got := counterValue(t, h.px, sel); got != want {
			t.Errorf("%s = %v, want %v", sel, got, want)
		}
	}
}

// A revoked key is set aside: named in the log and the state metric, never
// called again while its file holds it, and back in the rotation once the
// file holds a new key.
func TestRevokedKeySetAsideUntilFileChanges(t *testing.T) {
	dir := t.TempDir()
	fa := writeTestFile(t, dir, "a", "sk-revoked")
	fb := writeTestFile(t, dir, "b", "sk-b")
	h := newHarness(t, []upstream{{name: "openai", typ: config.OpenAI, opts: mock.Options{APIKey: "sk-b"}}}, func(c *config.Config) {
		c.Providers[0].APIKeyEnv = ""
		c.Providers[0].APIKeys = []config.APIKey{{Name: "openai-a/api-key", File: fa}, {Name: "openai-b/api-key", File: fb}}
	})
	for range 5 {
		if r := h.chat(); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	m := h.mocks["openai"]
	if got := m.Stats().Statuses[401]; got != 1 {
		t.Errorf("the revoked key was sent %d times, want once", got)
	}
	if got := counterValue(t, h.px, `llmroute_credential_state{key="openai-a/api-key",provider="openai"}`); got != 2 {
		t.Errorf("state of the revoked key %v, want 2", got)
	}
	if logs := h.logs.String(); !strings.Contains(logs, `"msg":"Key set aside: the provider refused it; it is used again once its file changes","provider":"openai","key":"openai-a/api-key","status":401`) ||
		strings.Contains(logs, "sk-revoked") {
		t.Errorf("the log does not name the key set aside, or shows it:\n%s", logs)
	}
	if st := h.provider("openai"); st.TotalFailures != 0 {
		t.Errorf("a key's refusal counted against the breaker: %+v", st)
	}

	writeTestFile(t, dir, "a", "sk-a2\n")
	m.SetAPIKeys([]string{"sk-a2", "sk-b"})
	if err := h.px.Reload(h.px.Config()); err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, h.px, `llmroute_credential_state{key="openai-a/api-key",provider="openai"}`); got != 0 {
		t.Errorf("state of the rotated key %v, want 0", got)
	}
	m.ResetStats()
	for range 4 {
		h.chat()
	}
	if got := counterValue(t, h.px, `llmroute_key_attempts_total{key="openai-a/api-key",outcome="success",provider="openai"}`); got != 2 {
		t.Errorf("the rotated key served %v of 4 calls, want 2", got)
	}
	if m.Stats().Statuses[401] != 0 {
		t.Error("a refused call after the rotation")
	}
}

// A credential rotated under load: the new one is written and the provider
// refuses the old one at once, before the sidecar's reload (the kubelet's
// update and the watcher's debounce take a while). No call fails: a
// single key or token file is read again on the 401, a pool switches to
// another key until the reload brings the rotated one back, and a client
// secret is read by the token fetch the 401 causes.
func TestRotationUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup configures the provider; rotate writes the new credential
		// and makes the provider accept only it.
		setup  func(t *testing.T, dir string, c *config.Config)
		up     func(ts *mock.TokenServer) mock.Options
		rotate func(t *testing.T, dir string, m *mock.Server, ts *mock.TokenServer)
	}{
		{"apiKeyFile",
			func(t *testing.T, dir string, c *config.Config) {
				c.Providers[0].APIKeyEnv, c.Providers[0].APIKeyFile = "", writeTestFile(t, dir, "key", "sk-old")
			},
			func(*mock.TokenServer) mock.Options { return mock.Options{APIKey: "sk-old"} },
			func(t *testing.T, dir string, m *mock.Server, _ *mock.TokenServer) {
				writeTestFile(t, dir, "key", "sk-new")
				m.SetAPIKeys([]string{"sk-new"})
			}},
		{"apiKeys",
			func(t *testing.T, dir string, c *config.Config) {
				c.Providers[0].APIKeyEnv = ""
				c.Providers[0].APIKeys = []config.APIKey{{Name: "a", File: writeTestFile(t, dir, "a", "sk-a")}, {Name: "b", File: writeTestFile(t, dir, "b", "sk-b")}}
			},
			func(*mock.TokenServer) mock.Options { return mock.Options{APIKeys: []string{"sk-a", "sk-b"}} },
			func(t *testing.T, dir string, m *mock.Server, _ *mock.TokenServer) {
				writeTestFile(t, dir, "a", "sk-a2")
				m.SetAPIKeys([]string{"sk-a2", "sk-b"})
			}},
		{"tokenFile",
			func(t *testing.T, dir string, c *config.Config) {
				c.Providers[0].APIKeyEnv, c.Providers[0].TokenFile = "", writeTestFile(t, dir, "token", "jwt-old")
			},
			func(*mock.TokenServer) mock.Options { return mock.Options{APIKey: "jwt-old"} },
			func(t *testing.T, dir string, m *mock.Server, _ *mock.TokenServer) {
				writeTestFile(t, dir, "token", "jwt-new")
				m.SetAPIKeys([]string{"jwt-new"})
			}},
		{"oauth2ClientCredentials",
			func(t *testing.T, dir string, c *config.Config) {},
			func(ts *mock.TokenServer) mock.Options { return mock.Options{Tokens: ts} },
			func(t *testing.T, dir string, _ *mock.Server, ts *mock.TokenServer) {
				writeTestFile(t, dir, "client-secret", "n3w")
				ts.SetClientSecret("n3w")
				ts.Revoke()
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ts, url := startTokenServer(t, mock.TokenOptions{ClientID: "llmroute", ClientSecret: "s3cret"})
			secret := writeTestFile(t, dir, "client-secret", "s3cret")
			h := newHarness(t, []upstream{{name: "openai", typ: config.OpenAI, opts: tc.up(ts)}}, func(c *config.Config) {
				if tc.name == "oauth2ClientCredentials" {
					c.Providers[0].APIKeyEnv = ""
					c.Providers[0].OAuth2ClientCredentials = &config.OAuth2ClientCredentials{TokenURL: url + mock.TokenPath, ClientID: "llmroute", ClientSecretFile: secret}
				}
				tc.setup(t, dir, c)
			})
			waitReady(t, h)
			load := h.load()
			load.waitCalls(50)
			tc.rotate(t, dir, h.mocks["openai"], ts)
			load.waitCalls(50)
			if err := h.px.Reload(h.px.Config()); err != nil {
				t.Error(err)
			}
			load.waitCalls(50)
			if done, failed := load.end(); failed != 0 {
				t.Errorf("%d of %d calls failed", failed, done)
			}
			for _, st := range h.provider("openai").Credential.Keys {
				if st.State != 0 {
					t.Errorf("after the rotation and reload, key %s is %s", st.Name, st.State)
				}
			}
		})
	}
}

// A reload that leaves a provider's token config alone keeps its token:
// no fetch, and the next call uses it.
func TestReloadKeepsToken(t *testing.T) {
	ts, url := startTokenServer(t, mock.TokenOptions{ClientID: "llmroute", ClientSecret: "s3cret"})
	h := newHarness(t, []upstream{{name: "azure", typ: config.OpenAICompatible, opts: mock.Options{Tokens: ts}}}, useOAuth2(t, url))
	waitReady(t, h)
	next := *h.px.Config()
	next.Retry.Attempts = 2
	if err := h.px.Reload(&next); err != nil {
		t.Fatal(err)
	}
	if r := h.chat(); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if got := ts.Stats().Issued; got != 1 {
		t.Errorf("%d tokens issued: the reload dropped a valid token", got)
	}
}

// Google workload identity federation, end to end: the pod's token is
// exchanged at the STS, then for a service account's token, which the
// provider accepts.
func TestGoogleExternalAccountCalls(t *testing.T) {
	const audience = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/k8s/providers/cluster"
	ts, url := startTokenServer(t, mock.TokenOptions{SubjectToken: "projected-sa-token", Audience: audience})
	subject := writeTestFile(t, t.TempDir(), "token", "projected-sa-token")
	h := newHarness(t, []upstream{{name: "vertex", typ: config.OpenAICompatible, opts: mock.Options{Tokens: ts}}}, func(c *config.Config) {
		c.Providers[0].APIKeyEnv = ""
		c.Providers[0].GoogleExternalAccount = &config.GoogleExternalAccount{Audience: audience, SubjectTokenFile: subject,
			TokenURL: url + mock.STSPath, ServiceAccountImpersonationURL: url + mock.ImpersonationPrefix + "llm@p.iam.gserviceaccount.com:generateAccessToken"}
	})
	waitReady(t, h)
	if r := h.chat(); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if st := ts.Stats(); st.Issued != 2 || st.Accepted != 2 { // the impersonation checks the STS token, the provider the account's
		t.Errorf("stats %+v", st)
	}
}

// Calls passed through stay on the pool's first usable key, since what a
// key creates (files, batches, stored responses) may be visible to it
// alone; a 429 moves such a call to the next key at once when it can be
// sent again; a 403 there is about the resource, and sets no key aside.
func TestPassThroughKeys(t *testing.T) {
	t.Setenv("LLMROUTE_KEY_A", "sk-a")
	t.Setenv("LLMROUTE_KEY_B", "sk-b")
	h := newHarness(t, []upstream{{name: "openai", typ: config.OpenAI, opts: mock.Options{APIKeys: []string{"sk-a", "sk-b"}}}}, func(c *config.Config) {
		c.Providers[0].APIKeyEnv = ""
		c.Providers[0].APIKeys = []config.APIKey{{Name: "a", Env: "LLMROUTE_KEY_A"}, {Name: "b", Env: "LLMROUTE_KEY_B", Weight: 5}}
	})
	m := h.mocks["openai"]
	for range 3 {
		if r := h.do(http.MethodGet, "/v1/files", ""); r.status != 200 || m.Stats().LastAuthorization != "Bearer sk-a" {
			t.Fatalf("%d with %q", r.status, m.Stats().LastAuthorization)
		}
	}
	if r := h.do(http.MethodGet, "/v1/files", "", "x-mock-status", "403"); r.status != 403 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if got := counterValue(t, h.px, `llmroute_credential_state{key="a",provider="openai"}`); got != 0 {
		t.Errorf("a 403 to a call passed through set the key aside: state %v", got)
	}
	r := h.do(http.MethodGet, "/v1/files", "", "x-mock-status", "429,200")
	if r.status != 200 || r.header.Get("X-Llmroute-Attempts") != "2" || m.Stats().LastAuthorization != "Bearer sk-b" {
		t.Fatalf("after a 429: %d, attempts %s, with %q", r.status, r.header.Get("X-Llmroute-Attempts"), m.Stats().LastAuthorization)
	}
	if w := h.recordedWaits(); len(w) != 0 {
		t.Errorf("switching keys waited: %v", w)
	}
	if r := h.do(http.MethodGet, "/v1/files", ""); r.status != 200 || m.Stats().LastAuthorization != "Bearer sk-b" {
		t.Errorf("while a cools down, b serves: %d with %q", r.status, m.Stats().LastAuthorization)
	}
}
