package credentials

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// A token is fetched when the source starts and refreshed between half and
// three quarters of its lifetime, as the jitter says, before it expires:
// over many lifetimes the token held is never expired. A refresh that
// waited for expiry would leave calls with a dead token (the 401 storm the
// issue describes).
func TestTokenRefreshedAheadOfExpiry(t *testing.T) {
	clock := newFakeClock()
	e := newFakeEndpoint(time.Hour)
	for _, jitter := range []float64{0, 0.999} {
		s := newTestTokens(t, testEnv(clock, jitter), e)
		first := s.fetched(t, e)
		c, err := s.Pick(context.Background(), Call{})
		if err != nil || c.Value != "Bearer "+first || c.Header != "Authorization" || c.Key != KindOAuth2 {
			t.Fatalf("jitter %v: first pick %+v, %v", jitter, c, err)
		}
		want := time.Duration(float64(time.Hour) * (0.5 + 0.25*jitter))
		in, ok := clock.next()
		if !ok || in < want-time.Second || in > want {
			t.Fatalf("jitter %v: refresh scheduled in %s, want about %s", jitter, in, want)
		}
		for range 5 {
			in, _ := clock.next()
			clock.Advance(in)
			tok := e.wait(t)
			s.waitIdle(t)
			c, err := s.Pick(context.Background(), Call{})
			if err != nil || c.Value != "Bearer "+tok {
				t.Fatalf("jitter %v: after a refresh, pick %+v, %v; want the new token", jitter, c, err)
			}
			if st := s.Status(); st.Keys[0].State != Usable || st.Err != nil || st.Starting {
				t.Fatalf("status %+v", st)
			}
		}
		s.stop()
	}
}

// A token endpoint that fails is retried with backoff (1 s, 2 s, 4 s …, equal
// jitter); while it fails and no token is held the source is unavailable,
// says why, and Pick fails at once instead of waiting; the next success
// makes it usable again.
func TestTokenEndpointDown(t *testing.T) {
	clock := newFakeClock()
	e := newFakeEndpoint(time.Hour, errEndpointDown, errEndpointDown, errEndpointDown)
	s := newTestTokens(t, testEnv(clock, 0.999), e)
	if got := e.wait(t); got != "" {
		t.Fatal("the first fetch should fail")
	}
	s.waitIdle(t)
	st := s.Status()
	if st.Starting || st.Keys[0].State != Unavailable || st.Err == nil || !errors.Is(st.Err, ErrNoCredential) ||
		!strings.Contains(st.Err.Error(), "503 Service Unavailable") {
		t.Fatalf("status after a failed fetch: %+v", st)
	}
	if _, err := s.Pick(context.Background(), Call{}); !errors.Is(err, ErrNoCredential) {
		t.Fatalf("pick without a token: %v", err)
	}
	for _, want := range []time.Duration{time.Second, 2 * time.Second} {
		in, _ := clock.next()
		if in < want-time.Millisecond || in > want {
			t.Fatalf("retry in %s, want %s", in, want)
		}
		clock.Advance(in)
		if got := e.wait(t); got != "" {
			t.Fatal("the scripted failure should fail")
		}
		s.waitIdle(t)
	}
	in, _ := clock.next()
	clock.Advance(in)
	tok := e.wait(t)
	s.waitIdle(t)
	if c, err := s.Pick(context.Background(), Call{}); err != nil || c.Value != "Bearer "+tok {
		t.Fatalf("after recovery: %+v, %v", c, err)
	}
}

// A token that expires while the endpoint is down stops being sent before
// its expiry (the provider would refuse it), and the source says why.
func TestTokenExpiresWhileEndpointDown(t *testing.T) {
	clock := newFakeClock()
	script := []error{nil}
	for range 20 {
		script = append(script, errEndpointDown)
	}
	e := newFakeEndpoint(100*time.Second, script...)
	s := newTestTokens(t, testEnv(clock, 0), e)
	s.fetched(t, e)
	start := clock.Now()
	// advanceTo moves the clock to start+d, through every retry on the way.
	advanceTo := func(d time.Duration) {
		for {
			in, ok := clock.next()
			if !ok || clock.Now().Add(in).After(start.Add(d)) {
				clock.Advance(start.Add(d).Sub(clock.Now()))
				return
			}
			clock.Advance(in)
			e.wait(t)
			s.waitIdle(t)
		}
	}
	advanceTo(89 * time.Second) // the refresh at 50 s failed, and every retry since
	if _, err := s.Pick(context.Background(), Call{}); err != nil {
		t.Fatalf("the token is good until 90 s (its expiry less a tenth): %v", err)
	}
	advanceTo(91 * time.Second)
	if _, err := s.Pick(context.Background(), Call{}); !errors.Is(err, ErrNoCredential) {
		t.Fatalf("a token within its expiry margin was sent: %v", err)
	}
	if st := s.Status(); st.Keys[0].State != Unavailable || !strings.Contains(st.Err.Error(), "503") {
		t.Fatalf("status %+v", st)
	}
}

// A call refused with 401 gets one refreshed token, and concurrent
// refusals of the same token share the fetch. If the fresh token is refused
// too, the credential itself is: no fetch per call, the state says refused,
// and a success clears it.
func TestTokenRefreshedOnce401(t *testing.T) {
	clock := newFakeClock()
	e := newFakeEndpoint(time.Hour)
	s := newTestTokens(t, testEnv(clock, 0), e)
	first := s.fetched(t, e)
	c, _ := s.Pick(context.Background(), Call{})

	results := make(chan *Credential, 3)
	for range 3 {
		go func() {
			results <- s.Answered(context.Background(), c, Call{}, Answer{Status: http.StatusUnauthorized})
		}()
	}
	second := e.wait(t)
	for range 3 {
		if next := <-results; next == nil || next.Value != "Bearer "+second || second == first {
			t.Fatalf("after a 401: %+v (first %s, second %s)", next, first, second)
		}
	}
	e.none(t)
	c2, _ := s.Pick(context.Background(), Call{})
	if next := s.Answered(context.Background(), c2, Call{}, Answer{Status: http.StatusUnauthorized}); next != nil {
		t.Fatalf("a fresh token refused again was refreshed again: %+v", next)
	}
	e.none(t)
	if st := s.Status(); st.Keys[0].State != Refused || st.Err != nil {
		t.Fatalf("status %+v", st)
	}
	s.Answered(context.Background(), c2, Call{}, Answer{Status: http.StatusOK})
	if st := s.Status(); st.Keys[0].State != Usable {
		t.Fatalf("a success did not clear the refusal: %+v", st)
	}
	// Proven good, the token may be refreshed on a later 401 (the provider
	// revoked every token it had issued, say).
	if next := s.Answered(context.Background(), c2, Call{}, Answer{Status: http.StatusUnauthorized}); next == nil {
		t.Fatal("a token that had worked was not refreshed after a 401")
	}
	e.wait(t)
}

// A reload that keeps a provider's token config keeps its source, token and
// all: no fetch. One that changes it builds a new source, which fetches,
// and Activate stops the old one's refreshes.
func TestTokensCarriedOverReload(t *testing.T) {
	clock := newFakeClock()
	env := testEnv(clock, 0)
	dir := t.TempDir()
	secret := writeFile(t, dir, "secret", "s3cret")
	cfg := func(scope string) *config.Config {
		c := &config.Config{Providers: []config.Provider{{Name: "p", Type: config.OpenAI, OAuth2ClientCredentials: &config.OAuth2ClientCredentials{
			TokenURL: "http://127.0.0.1:1/token", ClientID: "id", ClientSecretFile: secret, Scopes: []string{scope}}}}}
		c.Default()
		return c
	}
	e := newFakeEndpoint(time.Hour)
	one, err := Build(cfg("a"), nil, env)
	if err != nil {
		t.Fatal(err)
	}
	one.Get("p").(*tokens).fetch = e.fetch
	one.Activate(nil)
	defer one.Close()
	e.wait(t)

	two, err := Build(cfg("a"), one, env)
	if err != nil {
		t.Fatal(err)
	}
	if two.Get("p") != one.Get("p") {
		t.Fatal("an unchanged token config got a new source: its token would be fetched again")
	}
	two.Activate(one)
	two.Get("p").(*tokens).waitIdle(t) // a fetch Activate started would report before this returns
	e.none(t)

	three, err := Build(cfg("b"), two, env)
	if err != nil {
		t.Fatal(err)
	}
	old, next := two.Get("p").(*tokens), three.Get("p").(*tokens)
	if next == old {
		t.Fatal("a changed scope kept the old source")
	}
	next.fetch = e.fetch
	three.Activate(two)
	defer three.Close()
	e.wait(t)
	next.waitIdle(t)
	old.mu.Lock()
	stopped := old.stopped
	old.mu.Unlock()
	if !stopped {
		t.Error("the replaced source still refreshes")
	}
	if _, err := Build(cfg("a"), nil, env); err != nil {
		t.Fatal(err)
	}
	if err := removeAndBuild(t, secret, cfg("a"), three, env); err == nil || !strings.Contains(err.Error(), "oauth2 credential of provider \"p\"") {
		t.Errorf("a client secret not there yet: %v", err)
	}
}

// removeAndBuild builds cfg after removing file: a config whose files have
// not arrived must not be applied.
func removeAndBuild(t *testing.T, file string, cfg *config.Config, prev *Set, env *Env) error {
	t.Helper()
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	_, err := Build(cfg, prev, env)
	return err
}

// A Pick while the first token is on its way waits for it, as long as the
// call may, rather than failing the first calls after a start.
func TestPickWaitsForFirstToken(t *testing.T) {
	clock := newFakeClock()
	release := make(chan struct{})
	e := newFakeEndpoint(time.Hour)
	slow := func(ctx context.Context) (*oauth2.Token, error) {
		<-release
		return e.fetch(ctx)
	}
	s, err := newTokens(config.Provider{Name: "p"}, nil, KindGoogle, "spec", nil, slow, testEnv(clock, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	s.start()
	if st := s.Status(); !st.Starting || st.Keys[0].State != Unavailable {
		t.Fatalf("status while fetching the first token: %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.Pick(ctx, Call{}); !errors.Is(err, ErrNoCredential) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a pick that gave up waiting: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := s.Pick(context.Background(), Call{})
		got <- err
	}()
	close(release)
	if err := <-got; err != nil {
		t.Fatalf("the pick waiting for the first token: %v", err)
	}
	e.wait(t)
	s.waitIdle(t)
}
