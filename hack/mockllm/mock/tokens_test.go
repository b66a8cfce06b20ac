package mock

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// manualClock is a clock a test moves by hand.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func postForm(t *testing.T, u string, form url.Values, basic ...string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	return resp.StatusCode, resp.Header, body
}

// The client credentials grant as x/oauth2 speaks it: the client's id and
// secret form-encoded into a Basic header (RFC 6749 §2.3.1), or in the form;
// tokens that the provider routes accept until they expire, by the
// server's clock. Refusals are RFC 6749 §5.2 errors.
func TestTokenServerClientCredentials(t *testing.T) {
	clock := &manualClock{now: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	ts := NewTokenServer(TokenOptions{ClientID: "app:1", ClientSecret: "s3cr&t", Lifetime: 1500 * time.Millisecond, Now: clock.Now})
	srv := httptest.NewServer(ts)
	defer srv.Close()
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cc := clientcredentials.Config{ClientID: "app:1", ClientSecret: "s3cr&t", TokenURL: srv.URL + TokenPath, Scopes: []string{"a", "b"}, AuthStyle: style}
		tok, err := cc.Token(context.Background())
		if err != nil {
			t.Fatalf("style %v: %v", style, err)
		}
		if tok.TokenType != "Bearer" || tok.Extra("expires_in") != 2.0 {
			t.Errorf("token %+v, expires_in %v (1.5 s rounds up to 2)", tok, tok.Extra("expires_in"))
		}
		if want := map[oauth2.AuthStyle]string{oauth2.AuthStyleInHeader: "basic", oauth2.AuthStyleInParams: "post"}[style]; ts.Stats().LastAuth != want {
			t.Errorf("auth %q, want %q", ts.Stats().LastAuth, want)
		}
		if !ts.Valid(tok.AccessToken) {
			t.Fatal("a fresh token is not valid")
		}
		clock.Advance(2 * time.Second)
		if ts.Valid(tok.AccessToken) {
			t.Fatal("an expired token is valid")
		}
	}
	if ts.Stats().LastForm["scope"] != "a b" {
		t.Errorf("form %v", ts.Stats().LastForm)
	}
	code, h, body := postForm(t, srv.URL+TokenPath, url.Values{"grant_type": {"client_credentials"}}, "app%3A1", "wrong")
	if code != 401 || body["error"] != "invalid_client" || h.Get("Www-Authenticate") == "" {
		t.Errorf("a wrong secret in a Basic header: %d %v %v", code, h, body)
	}
	code, _, body = postForm(t, srv.URL+TokenPath, url.Values{"grant_type": {"password"}, "client_id": {"app:1"}, "client_secret": {"s3cr&t"}})
	if code != 400 || body["error"] != "unsupported_grant_type" {
		t.Errorf("another grant: %d %v", code, body)
	}
	if ts.Stats().Refused != 2 || ts.Stats().Issued != 2 {
		t.Errorf("stats %+v", ts.Stats())
	}
}

// A client that authenticates with an assertion (RFC 7523 §2.2) sends it
// with its type; the server takes only the assertion it was told, so a test
// can rotate it.
func TestTokenServerClientAssertion(t *testing.T) {
	ts := NewTokenServer(TokenOptions{ClientID: "app", ClientAssertion: "jwt-1"})
	srv := httptest.NewServer(ts)
	defer srv.Close()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_assertion_type": {AssertionTypeJWTBearer}, "client_assertion": {"jwt-1"}}
	if code, _, body := postForm(t, srv.URL+TokenPath, form); code != 200 || body["access_token"] == nil {
		t.Fatalf("%d %v", code, body)
	}
	if ts.Stats().LastAuth != "assertion" || !strings.HasPrefix(ts.Stats().LastForm["client_assertion"], "sha256:") {
		t.Errorf("stats %+v", ts.Stats())
	}
	ts.SetClientAssertion("jwt-2")
	if code, _, body := postForm(t, srv.URL+TokenPath, form); code != 401 || body["error"] != "invalid_client" {
		t.Errorf("a stale assertion: %d %v", code, body)
	}
	form.Set("client_assertion_type", "urn:other")
	if code, _, body := postForm(t, srv.URL+TokenPath, form); code != 400 || body["error"] != "invalid_request" {
		t.Errorf("another assertion type: %d %v", code, body)
	}
	secretForm := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"guess"}}
	if code, _, _ := postForm(t, srv.URL+TokenPath, secretForm); code != 401 {
		t.Errorf("a secret for a client that uses assertions: %d", code)
	}
}

// The token exchange as Google's STS answers it (RFC 8693), and
// generateAccessToken for the bearer of a token it issued.
func TestTokenServerExchangeAndImpersonation(t *testing.T) {
	ts := NewTokenServer(TokenOptions{SubjectToken: "k8s", Audience: "//iam/pool"})
	srv := httptest.NewServer(ts)
	defer srv.Close()
	form := url.Values{"grant_type": {GrantTokenExchange}, "requested_token_type": {TokenTypeAccessToken},
		"subject_token": {"k8s"}, "subject_token_type": {TokenTypeJWT}, "audience": {"//iam/pool"}, "scope": {"https://www.googleapis.com/auth/cloud-platform"}}
	code, _, body := postForm(t, srv.URL+STSPath, form)
	if code != 200 || body["issued_token_type"] != TokenTypeAccessToken || body["token_type"] != "Bearer" || body["expires_in"] != 3600.0 {
		t.Fatalf("%d %v", code, body)
	}
	federated := body["access_token"].(string)
	for field, wantErr := range map[string]string{"subject_token": "invalid_grant", "audience": "invalid_target", "grant_type": "unsupported_grant_type"} {
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set(field, "other")
		if code, _, body := postForm(t, srv.URL+STSPath, bad); code != 400 || body["error"] != wantErr {
			t.Errorf("another %s: %d %v", field, code, body)
		}
	}

	imp := srv.URL + ImpersonationPrefix + "sa@p.iam.gserviceaccount.com:generateAccessToken"
	call := func(bearer string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, imp, strings.NewReader(`{"scope":["https://www.googleapis.com/auth/cloud-platform"],"lifetime":"3600s"}`))
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, got := call(federated)
	if code != 200 || got["accessToken"] == nil {
		t.Fatalf("impersonation: %d %v", code, got)
	}
	if exp, err := time.Parse(time.RFC3339, got["expireTime"].(string)); err != nil || time.Until(exp) < 59*time.Minute {
		t.Errorf("expireTime %v (%v)", got["expireTime"], err)
	}
	if code, got := call("not-issued"); code != 401 || got["error"].(map[string]any)["status"] != "UNAUTHENTICATED" {
		t.Errorf("impersonation without a token: %d %v", code, got)
	}
}

// A provider that takes only the token server's tokens refuses a token
// once it expires or is revoked, with the provider's own 401 in either
// family's format; during an outage the token routes answer 503 and
// tokens already issued keep working. The control API steers all of it.
func TestProviderAcceptsOnlyLiveTokens(t *testing.T) {
	clock := &manualClock{now: time.Now()}
	ts := NewTokenServer(TokenOptions{Lifetime: time.Minute, Now: clock.Now})
	tsrv := httptest.NewServer(ts)
	defer tsrv.Close()
	m := New(Options{Tokens: ts, APIKey: "sk-ignored"})
	psrv := httptest.NewServer(m)
	defer psrv.Close()
	issue := func() string {
		_, _, body := postForm(t, tsrv.URL+TokenPath, url.Values{"grant_type": {"client_credentials"}, "client_id": {"x"}})
		tok, _ := body["access_token"].(string)
		return tok
	}
	chat := func(auth string, anthropic bool) (int, string) {
		path, body := "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
		if anthropic {
			path, body = "/v1/messages", `{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
		}
		req, _ := http.NewRequest(http.MethodPost, psrv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		if anthropic {
			req.Header.Set("Anthropic-Version", "2023-06-01")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tok := issue()
	for _, anthropic := range []bool{false, true} {
		if code, body := chat("Bearer "+tok, anthropic); code != 200 {
			t.Fatalf("a live token: %d %s", code, body)
		}
	}
	if code, _ := chat("Bearer sk-ignored", false); code != 401 {
		t.Errorf("an API key was accepted by a provider that takes tokens: %d", code)
	}
	clock.Advance(time.Minute)
	if code, body := chat("Bearer "+tok, false); code != 401 || !strings.Contains(body, `"code":"invalid_token"`) {
		t.Errorf("an expired token (OpenAI): %d %s", code, body)
	}
	if code, body := chat("Bearer "+tok, true); code != 401 || !strings.Contains(body, `"type":"authentication_error"`) {
		t.Errorf("an expired token (Anthropic): %d %s", code, body)
	}

	tok = issue()
	control := func(body string) TokenState {
		resp, err := http.Post(tsrv.URL+"/mock/token", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st TokenState
		json.NewDecoder(resp.Body).Decode(&st)
		return st
	}
	if st := control(`{"down":true,"lifetime":"2s"}`); !st.Down || st.Lifetime != "2s" {
		t.Errorf("state %+v", st)
	}
	if code, _, body := postForm(t, tsrv.URL+TokenPath, url.Values{"grant_type": {"client_credentials"}}); code != 503 || body["error"] != "temporarily_unavailable" {
		t.Errorf("during an outage: %d %v", code, body)
	}
	if code, _ := chat("Bearer "+tok, false); code != 200 {
		t.Error("an outage of the token endpoint invalidated a live token")
	}
	control(`{"revoke":true}`)
	if code, _ := chat("Bearer "+tok, false); code != 401 {
		t.Error("a revoked token was accepted")
	}
	if st := ts.Stats(); st.Requests[TokenPath] != 3 || st.Refused != 1 || st.Accepted != 3 || st.Rejected != 4 {
		t.Errorf("stats %+v", st)
	}
}

// InFrontOf puts the token routes and their control API on the provider's
// address and leaves every other path, /mock/ ones included, to the
// provider.
func TestTokenServerInFrontOfProvider(t *testing.T) {
	ts := NewTokenServer(TokenOptions{})
	m := New(Options{Name: "fronted", Tokens: ts})
	srv := httptest.NewServer(ts.InFrontOf(m))
	defer srv.Close()
	defer m.Close()

	code, _, body := postForm(t, srv.URL+TokenPath, url.Values{"grant_type": {"client_credentials"}})
	tok, _ := body["access_token"].(string)
	if code != 200 || tok == "" {
		t.Fatalf("POST %s: %d %v", TokenPath, code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Mock-Name") != "fronted" {
		t.Errorf("GET /v1/models with the token: %d, x-mock-name %q", resp.StatusCode, resp.Header.Get("X-Mock-Name"))
	}
	if _, err := (Client{URL: srv.URL}).Stats(t.Context()); err != nil {
		t.Errorf("the provider's control API: %v", err)
	}
	resp, err = http.Get(srv.URL + "/mock/token/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st TokenStats
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Issued != 1 || st.Accepted != 1 {
		t.Errorf("GET /mock/token/stats: %v %+v", err, st)
	}
}
