package credentials

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/oauth2"

	"github.com/osmen-ai/llmroute/sidecar/config"
	"github.com/osmen-ai/llmroute/sidecar/resilience"
)

// Token requests.
const (
	// FetchTimeout bounds one token request (with impersonation, both of
	// its exchanges). It also bounds how long /readyz waits for the first.
	FetchTimeout = 10 * time.Second
	// maxExpiryMargin is how long before its expiry a token is no longer
	// sent: the call must reach the provider while the token is still good,
	// and the endpoint dated the lifetime a little before the sidecar got it.
	maxExpiryMargin = 10 * time.Second
)

// fetchBackoff spaces the attempts while a token endpoint fails: 1 s, 2 s,
// 4 s … up to 30 s, with equal jitter, as the retries of a provider are.
var fetchBackoff = config.Retry{InitialBackoff: config.D(time.Second), MaxBackoff: config.D(30 * time.Second), Multiplier: 2}

// fetchFunc asks the token endpoint for a new token.
type fetchFunc func(ctx context.Context) (*oauth2.Token, error)

// tokens is a provider's access tokens, obtained by the sidecar itself. The
// first is fetched as soon as the source is started; each is refreshed at a
// random point between half and three quarters of its lifetime, so the pods
// of a Deployment started together spread their requests; a token endpoint
// that fails is retried with backoff, and the provider is unavailable only
// once no token is left that it would accept.
//
// A provider's 401 makes the source fetch a token at once and the call is
// sent again with it; if that fresh token is refused too, the credential
// itself is refused (a wrong audience, a revoked client) and another fetch
// would not help: the state says so until a call succeeds, and the next
// scheduled refresh tries again. So a provider that refuses everything costs
// one extra fetch per token, never a fetch per call.
type tokens struct {
	provider string
	kind     string // KindOAuth2 or KindGoogle
	spec     any    // the config it was made from: a reload with the same keeps this source
	fetch    fetchFunc
	clock    Clock
	rand     func() float64
	log      logr.Logger
	ok, fail prometheus.Counter // llmroute_token_fetches_total

	cur     atomic.Pointer[token]
	refused atomic.Bool // the provider refused a token fetched in answer to a refusal

	mu        sync.Mutex
	started   bool
	stopped   bool
	inflight  chan struct{} // closed when the fetch under way ends; nil when none is
	first     chan struct{} // closed when the first fetch has ended, either way
	firstDone bool
	failures  int // fetches failed in a row
	lastErr   error
	retryAt   time.Time // when the next attempt after a failure is due
	timer     Timer
}

type token struct {
	cred Credential
	// usableUntil is the token's expiry less a margin; zero when the
	// endpoint gave no lifetime: it is used until refused.
	usableUntil time.Time
	// forced: fetched because the token before it was refused. Cleared by
	// a call that succeeds with it.
	forced atomic.Bool
}

func (t *token) usable(now time.Time) bool {
	return t.usableUntil.IsZero() || now.Before(t.usableUntil)
}

// newTokens makes a token source, or keeps prev when it was made from the
// same config. files must be readable: a config that names a client secret
// the kubelet has not written yet is not applied until it has (the reload
// retries), rather than leaving the provider without a token meanwhile.
func newTokens(pc config.Provider, prev Source, kind string, spec any, files []string, fetch fetchFunc, env *Env) (*tokens, error) {
	for _, f := range files {
		if _, err := readSecret(f, fmt.Sprintf("%s credential of provider %q", kind, pc.Name)); err != nil {
			return nil, err
		}
	}
	if p, ok := prev.(*tokens); ok && p.kind == kind && reflect.DeepEqual(p.spec, spec) {
		return p, nil
	}
	return &tokens{
		provider: pc.Name, kind: kind, spec: spec, fetch: fetch,
		clock: env.Clock, rand: env.Rand, log: env.Log,
		ok:    env.Metrics.TokenFetches.WithLabelValues(pc.Name, "success"),
		fail:  env.Metrics.TokenFetches.WithLabelValues(pc.Name, "failure"),
		first: make(chan struct{}),
	}, nil
}

func (s *tokens) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
	case !s.started:
		s.started = true
		s.launch(false)
	case s.failures > 0 && s.inflight == nil:
		// A reload: the files the fetch reads may have been fixed, so the
		// next attempt need not wait out its backoff.
		if s.timer != nil {
			s.timer.Stop()
		}
		s.launch(false)
	}
}

func (s *tokens) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	if s.timer != nil {
		s.timer.Stop()
	}
}

// launch starts a fetch, or returns the one under way. s.mu is held.
func (s *tokens) launch(forced bool) chan struct{} {
	if s.inflight == nil {
		s.inflight = make(chan struct{})
		go s.run(s.inflight, forced)
	}
	return s.inflight
}

// run fetches a token and schedules the next fetch: the refresh, or the
// retry after a failure.
func (s *tokens) run(done chan struct{}, forced bool) {
	ctx, cancel := context.WithTimeout(context.Background(), FetchTimeout)
	tok, err := s.fetch(ctx)
	cancel()
	var t *token
	var refreshIn time.Duration
	if err == nil {
		t, refreshIn, err = s.newToken(tok)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.fail.Inc()
		s.failures++
		s.lastErr = err
		wait := resilience.Backoff(s.failures, fetchBackoff, s.rand)
		s.retryAt = s.clock.Now().Add(wait)
		s.log.Error(err, "Cannot obtain a token: retrying", "provider", s.provider, "kind", s.kind,
			"failures", s.failures, "retryIn", wait.Round(time.Millisecond).String(), "tokenLeft", s.left())
		s.schedule(wait)
	} else {
		s.ok.Inc()
		t.forced.Store(forced)
		s.cur.Store(t)
		if s.failures > 0 {
			s.log.Info("Obtained a token again", "provider", s.provider, "kind", s.kind, "failures", s.failures)
		}
		s.failures, s.lastErr = 0, nil
		if refreshIn > 0 {
			s.schedule(refreshIn)
		}
	}
	s.inflight = nil
	close(done)
	if !s.firstDone {
		s.firstDone = true
		close(s.first)
	}
}

// left says how long the token held stays usable, for the log.
func (s *tokens) left() string {
	t := s.cur.Load()
	switch {
	case t == nil:
		return "none"
	case t.usableUntil.IsZero():
		return "no expiry"
	}
	return max(t.usableUntil.Sub(s.clock.Now()), 0).Round(time.Second).String()
}

// schedule makes the next fetch happen in d. s.mu is held.
func (s *tokens) schedule(d time.Duration) {
	if s.stopped {
		return
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = s.clock.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.stopped {
			s.launch(false)
		}
	})
}

// newToken makes the credential of a token the endpoint issued and says
// when to refresh it (0: never, the endpoint gave no lifetime).
func (s *tokens) newToken(tok *oauth2.Token) (*token, time.Duration, error) {
	if err := checkValue(tok.AccessToken, "the access token the endpoint issued"); err != nil {
		return nil, 0, err
	}
	t := &token{}
	t.cred = Credential{Header: "Authorization", Value: "Bearer " + tok.AccessToken, Key: s.kind, tok: t}
	if tok.Expiry.IsZero() {
		return t, 0, nil
	}
	// x/oauth2 dates the expiry by the real clock when the answer came:
	// what is left of it is the lifetime this source's clock counts down.
	life := time.Until(tok.Expiry)
	if life <= 0 {
		return nil, 0, errors.New("the token endpoint issued a token that had already expired")
	}
	t.usableUntil = s.clock.Now().Add(life - min(maxExpiryMargin, life/10))
	return t, time.Duration(float64(life) * (0.5 + 0.25*s.rand())), nil
}

func (s *tokens) Pick(ctx context.Context, _ Call) (*Credential, error) {
	if t := s.cur.Load(); t != nil && t.usable(s.clock.Now()) {
		return &t.cred, nil
	}
	// No usable token: wait for the fetch under way, if any, once.
	for range 2 {
		s.mu.Lock()
		if t := s.cur.Load(); t != nil && t.usable(s.clock.Now()) {
			s.mu.Unlock()
			return &t.cred, nil
		}
		wait := s.inflight
		if wait == nil && s.failures == 0 && !s.stopped {
			// Expired with no failure to wait out: the refresh was late (a
			// machine that slept). Fetch now.
			wait = s.launch(false)
		}
		err := s.unavailableLocked()
		s.mu.Unlock()
		if wait == nil {
			return nil, err
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: provider %q: gave up waiting for a token: %w", ErrNoCredential, s.provider, context.Cause(ctx))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return nil, s.unavailableLocked()
}

// unavailableLocked says why there is no token. s.mu is held.
func (s *tokens) unavailableLocked() error {
	if s.lastErr == nil {
		return fmt.Errorf("%w: provider %q: fetching a token", ErrNoCredential, s.provider)
	}
	return fmt.Errorf("%w: provider %q cannot obtain a token (%d attempts failed, the next in %s): %w", ErrNoCredential,
		s.provider, s.failures, max(s.retryAt.Sub(s.clock.Now()), 0).Round(time.Millisecond), s.lastErr)
}

func (s *tokens) Answered(ctx context.Context, c *Credential, _ Call, a Answer) *Credential {
	t := c.tok
	switch {
	case t == nil:
	case a.Status < 300:
		if t.forced.Load() {
			t.forced.Store(false)
		}
		if s.refused.Load() {
			s.refused.Store(false)
		}
	case a.Status == http.StatusUnauthorized:
		if next := s.refresh(ctx, t); next != nil {
			return next
		}
		if ctx.Err() == nil { // a caller that left proved nothing
			s.markRefused(a.Status)
		}
	case a.Status == http.StatusForbidden:
		s.markRefused(a.Status)
	}
	return nil
}

// refresh fetches a token at once because t was refused, and returns it.
// Concurrent refusals of t share one fetch.
func (s *tokens) refresh(ctx context.Context, t *token) *Credential {
	s.mu.Lock()
	if cur := s.cur.Load(); cur != t && cur != nil && cur.usable(s.clock.Now()) {
		s.mu.Unlock()
		return &cur.cred // another call refreshed it already
	}
	if t.forced.Load() || s.failures > 0 {
		// t itself answered a refusal: the credential is refused, not the
		// token. Or the endpoint is failing: its retries go on with backoff.
		s.mu.Unlock()
		return nil
	}
	wait := s.launch(true)
	s.mu.Unlock()
	select {
	case <-wait:
	case <-ctx.Done():
		return nil
	}
	if cur := s.cur.Load(); cur != t && cur != nil && cur.usable(s.clock.Now()) {
		s.log.V(1).Info("Refreshed a token the provider refused", "provider", s.provider, "kind", s.kind)
		return &cur.cred
	}
	return nil
}

func (s *tokens) markRefused(status int) {
	if s.refused.CompareAndSwap(false, true) {
		s.log.Info("Provider refused a fresh token: the credential itself is refused", "provider", s.provider, "kind", s.kind, "status", status)
	}
}

func (s *tokens) Status() Status {
	st := Status{Kind: s.kind, Keys: []KeyStatus{{Name: s.kind, State: Usable}}}
	t := s.cur.Load()
	switch {
	case t == nil || !t.usable(s.clock.Now()):
		st.Keys[0].State = Unavailable
		s.mu.Lock()
		st.Starting = !s.firstDone
		st.Err = s.unavailableLocked()
		s.mu.Unlock()
	case s.refused.Load():
		st.Keys[0].State = Refused
	}
	return st
}
