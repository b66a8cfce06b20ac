package credentials

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/sidecar/config"
	"github.com/osmen-ai/llmroute/sidecar/metrics"
)

// startEndpoint serves a mock identity platform on loopback.
func startEndpoint(t *testing.T, opts mock.TokenOptions) (*mock.TokenServer, string) {
	t.Helper()
	ts := mock.NewTokenServer(opts)
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	return ts, srv.URL
}

// startSource builds and starts provider p's source from pc and waits for
// its first token fetch to end.
func startSource(t *testing.T, pc config.Provider) *tokens {
	t.Helper()
	pc.Name, pc.Type = "p", config.OpenAI
	cfg := &config.Config{Providers: []config.Provider{pc}, Rules: []config.Rule{{Backends: []string{"p"}}}}
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	set, err := Build(cfg, nil, &Env{Log: logr.Discard(), Metrics: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	set.Activate(nil)
	s := set.Get("p").(*tokens)
	t.Cleanup(func() {
		set.Close()
		s.waitIdle(t)
	})
	select {
	case <-s.first:
	case <-time.After(5 * time.Second):
		t.Fatal("no first token fetch within 5 s")
	}
	return s
}

func sha(v string) string {
	sum := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// bearer returns the token a credential sends.
func bearer(t *testing.T, c *Credential) string {
	t.Helper()
	tok, ok := strings.CutPrefix(c.Value, "Bearer ")
	if !ok || c.Header != "Authorization" {
		t.Fatalf("not a bearer token: %s", c.Header)
	}
	return tok
}

// The client credentials grant with a client secret: the form carries the
// grant, scopes, audience and extra parameters; the secret is read from its
// file for each request, so a rotated secret is used by the next fetch
// without a reload; and a refused client is reported by the endpoint's own
// error, never with the secret.
func TestOAuth2ClientSecret(t *testing.T) {
	ts, url := startEndpoint(t, mock.TokenOptions{ClientID: "llmroute", ClientSecret: "s3cret"})
	dir := t.TempDir()
	secret := writeFile(t, dir, "client-secret", "s3cret\n")
	s := startSource(t, config.Provider{OAuth2ClientCredentials: &config.OAuth2ClientCredentials{
		TokenURL: url + mock.TokenPath, ClientID: "llmroute", ClientSecretFile: secret,
		Scopes: []string{"api://llm/.default", "offline"}, Audience: "https://llm.example", Params: map[string]string{"resource": "r1"}}})
	c, err := s.Pick(context.Background(), Call{})
	if err != nil || !ts.Valid(bearer(t, c)) {
		t.Fatalf("pick %+v, %v", c, err)
	}
	st := ts.Stats()
	want := map[string]string{"grant_type": "client_credentials", "scope": "api://llm/.default offline", "audience": "https://llm.example", "resource": "r1"}
	for k, v := range want {
		if st.LastForm[k] != v {
			t.Errorf("form %s = %q, want %q (form %v)", k, st.LastForm[k], v, st.LastForm)
		}
	}
	if st.LastAuth != "basic" {
		t.Errorf("client authenticated by %q, want basic (RFC 6749 §2.3.1)", st.LastAuth)
	}

	writeFile(t, dir, "client-secret", "n3w")
	ts.SetClientSecret("n3w")
	ts.Revoke()
	next := s.Answered(context.Background(), c, Call{}, Answer{Status: http.StatusUnauthorized})
	if next == nil || !ts.Valid(bearer(t, next)) {
		t.Fatalf("after a rotation and a 401: %+v", next)
	}

	ts.SetClientSecret("someone-else's")
	s.Answered(context.Background(), next, Call{}, Answer{Status: http.StatusOK})
	ts.Revoke()
	if again := s.Answered(context.Background(), next, Call{}, Answer{Status: http.StatusUnauthorized}); again != nil {
		t.Fatal("a refused client got a token")
	}
	s.mu.Lock()
	err = s.lastErr
	s.mu.Unlock()
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized: invalid_client") || strings.Contains(err.Error(), "n3w") {
		t.Errorf("the refusal: %v", err)
	}
}

// The client assertion variant (RFC 7523 §2.2): the client_id and the
// assertion go in the form, with its type, and the assertion is read from
// its file for every request — a projected ServiceAccount token is renewed
// in place, and an old one would be refused.
func TestOAuth2ClientAssertion(t *testing.T) {
	ts, url := startEndpoint(t, mock.TokenOptions{ClientID: "app-id", ClientAssertion: "jwt-1"})
	dir := t.TempDir()
	assertion := writeFile(t, dir, "token", "jwt-1\n")
	s := startSource(t, config.Provider{OAuth2ClientCredentials: &config.OAuth2ClientCredentials{
		TokenURL: url + mock.TokenPath, ClientID: "app-id", ClientAssertionFile: assertion, Scopes: []string{"https://cognitiveservices.azure.com/.default"}}})
	c, err := s.Pick(context.Background(), Call{})
	if err != nil || !ts.Valid(bearer(t, c)) {
		t.Fatalf("pick %+v, %v", c, err)
	}
	st := ts.Stats()
	if st.LastAuth != "assertion" || st.LastForm["client_id"] != "app-id" || st.LastForm["client_assertion"] != sha("jwt-1") ||
		st.LastForm["client_assertion_type"] != config.DefaultClientAssertionType || st.LastForm["client_secret"] != "" {
		t.Fatalf("form %v (auth %s)", st.LastForm, st.LastAuth)
	}
	writeFile(t, dir, "token", "jwt-2")
	ts.SetClientAssertion("jwt-2")
	ts.Revoke()
	next := s.Answered(context.Background(), c, Call{}, Answer{Status: http.StatusUnauthorized})
	if next == nil || !ts.Valid(bearer(t, next)) || ts.Stats().LastForm["client_assertion"] != sha("jwt-2") {
		t.Fatalf("the renewed assertion was not sent: %+v, form %v", next, ts.Stats().LastForm)
	}
}

// Workload identity federation: the token file is exchanged at the STS
// (RFC 8693) for a federated token, then, with a service account named, for
// that account's token, which is the one sent.
func TestGoogleExternalAccount(t *testing.T) {
	const audience = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/k8s"
	for _, impersonate := range []bool{false, true} {
		ts, url := startEndpoint(t, mock.TokenOptions{SubjectToken: "k8s-sa-token", Audience: audience})
		dir := t.TempDir()
		g := &config.GoogleExternalAccount{Audience: audience, SubjectTokenFile: writeFile(t, dir, "token", "k8s-sa-token\n"), TokenURL: url + mock.STSPath}
		if impersonate {
			g.ServiceAccountImpersonationURL = url + mock.ImpersonationPrefix + "llm@proj.iam.gserviceaccount.com:generateAccessToken"
		}
		s := startSource(t, config.Provider{GoogleExternalAccount: g})
		c, err := s.Pick(context.Background(), Call{})
		if err != nil || !ts.Valid(bearer(t, c)) {
			t.Fatalf("impersonate %v: pick %+v, %v (status %+v)", impersonate, c, err, s.Status())
		}
		st := ts.Stats()
		if st.LastForm["grant_type"] != mock.GrantTokenExchange || st.LastForm["subject_token"] != sha("k8s-sa-token") ||
			st.LastForm["subject_token_type"] != config.DefaultSubjectTokenType || st.LastForm["audience"] != audience {
			t.Errorf("STS form %v", st.LastForm)
		}
		wantImp := int64(0)
		if impersonate {
			wantImp = 1
		}
		if got := st.Requests[mock.ImpersonationPrefix+"{account}:generateAccessToken"]; got != wantImp || st.Requests[mock.STSPath] != 1 {
			t.Errorf("impersonate %v: requests %v", impersonate, st.Requests)
		}
		if st.Issued != 1+wantImp {
			t.Errorf("issued %d", st.Issued)
		}
		if until := s.cur.Load().usableUntil; until.Before(time.Now().Add(59*time.Minute)) || until.After(time.Now().Add(time.Hour)) {
			t.Errorf("usable until %s, want in about an hour", until)
		}
	}
}
