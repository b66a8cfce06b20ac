package credentials

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/goleak"
	"golang.org/x/oauth2"

	"github.com/osmen-ai/llmroute/sidecar/config"
	"github.com/osmen-ai/llmroute/sidecar/metrics"
)

// TestMain fails the package's tests if any of them leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a Clock whose time moves only when a test advances it; due
// timers fire then, each in its own goroutine as time.AfterFunc's do.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *fakeClock
	at   time.Time
	f    func()
	done bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Advance moves the clock on by d and fires the timers that came due, in
// order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	for _, t := range c.timers {
		if !t.done && !t.at.After(c.now) {
			t.done = true
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		go t.f()
	}
}

// next returns how long until the earliest pending timer, and false if none is.
func (c *fakeClock) next() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var best time.Duration
	found := false
	for _, t := range c.timers {
		if t.done {
			continue
		}
		if d := t.at.Sub(c.now); !found || d < best {
			best, found = d, true
		}
	}
	return best, found
}

// fakeEndpoint is a token endpoint in a function: each fetch takes the next
// scripted answer (or a fresh token when the script is spent) and is
// reported on fetched, so a test waits for it instead of sleeping.
type fakeEndpoint struct {
	mu       sync.Mutex
	lifetime time.Duration
	script   []error // nil entries issue a token
	n        int
	fetched  chan string // the token issued, or "" for a failure
}

func newFakeEndpoint(lifetime time.Duration, script ...error) *fakeEndpoint {
	return &fakeEndpoint{lifetime: lifetime, script: script, fetched: make(chan string, 100)}
}

func (e *fakeEndpoint) fetch(context.Context) (*oauth2.Token, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if len(e.script) > 0 {
		err := e.script[0]
		e.script = e.script[1:]
		if err != nil {
			e.fetched <- ""
			return nil, err
		}
	}
	tok := &oauth2.Token{AccessToken: "tok-" + string(rune('a'+e.n-1))}
	if e.lifetime > 0 {
		tok.Expiry = time.Now().Add(e.lifetime)
	}
	e.fetched <- tok.AccessToken
	return tok, nil
}

// wait returns what the next fetch did, failing the test after 5 s.
func (e *fakeEndpoint) wait(t *testing.T) string {
	t.Helper()
	select {
	case tok := <-e.fetched:
		return tok
	case <-time.After(5 * time.Second):
		t.Fatal("no token fetch within 5 s")
		return ""
	}
}

// none asserts that no fetch happened.
func (e *fakeEndpoint) none(t *testing.T) {
	t.Helper()
	select {
	case tok := <-e.fetched:
		t.Fatalf("unexpected token fetch (%q)", tok)
	default:
	}
}

var errEndpointDown = errors.New("token endpoint answered 503 Service Unavailable")

// testEnv is an Env on a fake clock with fixed jitter.
func testEnv(clock Clock, r float64) *Env {
	return &Env{Clock: clock, Rand: func() float64 { return r }, Log: logr.Discard(), Metrics: metrics.New()}
}

// newTestTokens makes a started token source over a fake endpoint.
func newTestTokens(t *testing.T, env *Env, e *fakeEndpoint) *tokens {
	t.Helper()
	s, err := newTokens(config.Provider{Name: "p"}, nil, KindOAuth2, "spec", nil, e.fetch, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.stop()
		s.waitIdle(t)
	})
	s.start()
	return s
}

// fetched waits for the next fetch and for the source to have taken its
// result in (the token stored, the next fetch scheduled): a test that moves
// the clock before then races the source.
func (s *tokens) fetched(t *testing.T, e *fakeEndpoint) string {
	t.Helper()
	tok := e.wait(t)
	s.waitIdle(t)
	return tok
}

// waitIdle waits for the fetch under way, if any, to end.
func (s *tokens) waitIdle(t *testing.T) {
	s.mu.Lock()
	ch := s.inflight
	s.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("a token fetch did not end within 5 s")
		}
	}
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
