package resilience

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

func retryConfig(jitter bool) config.Retry {
	var c config.Config
	c.Retry.Jitter = &jitter
	c.Default()
	return c.Retry
}

func TestBackoffSeedPlan(t *testing.T) {
	r := retryConfig(false)
	// The defaults: 2 s → 4 s → 8 s, capped at 10 s.
	for n, want := range map[int]time.Duration{1: 2 * time.Second, 2: 4 * time.Second, 3: 8 * time.Second, 4: 10 * time.Second, 9: 10 * time.Second} {
		if got := Backoff(n, r, func() float64 { t.Fatal("rand used without jitter"); return 0 }); got != want {
			t.Errorf("retry %d: got %s, want %s", n, got, want)
		}
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	r := retryConfig(true)
	tests := []struct {
		rand float64
		want time.Duration
	}{{0, 2 * time.Second}, {0.5, 3 * time.Second}, {0.999999, 4 * time.Second}}
	for _, tc := range tests {
		if got := Backoff(2, r, func() float64 { return tc.rand }); got.Round(time.Millisecond) != tc.want {
			t.Errorf("rand %v: got %s, want %s (equal jitter over base 4s)", tc.rand, got, tc.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
		ok     bool
	}{
		{"none", nil, 0, false},
		{"seconds", map[string]string{"Retry-After": "3"}, 3 * time.Second, true},
		{"fractional seconds", map[string]string{"Retry-After": "0.5"}, 500 * time.Millisecond, true},
		{"http date", map[string]string{"Retry-After": now.Add(7 * time.Second).Format(http.TimeFormat)}, 7 * time.Second, true},
		{"date in the past", map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}, 0, true},
		{"milliseconds win", map[string]string{"Retry-After": "3", "retry-after-ms": "250"}, 250 * time.Millisecond, true},
		{"garbage", map[string]string{"Retry-After": "soon"}, 0, false},
		{"negative", map[string]string{"Retry-After": "-4"}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.header {
				h.Set(k, v)
			}
			got, ok := RetryAfter(h, now)
			if got != tc.want || ok != tc.ok {
				t.Errorf("got (%s, %v), want (%s, %v)", got, ok, tc.want, tc.ok)
			}
		})
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func TestBudget(t *testing.T) {
	clock := &fakeClock{time.Unix(1_000_000, 0)}
	b := NewBudget(20, 1, clock.Now)
	for range 100 {
		b.Request(clock.t)
	}
	// 20% of 100 requests plus 1/s over the 10 s window = 30 retries.
	allowed := 0
	for range 100 {
		if b.TryRetry() {
			allowed++
		}
	}
	if allowed != 30 {
		t.Fatalf("allowed %d retries, want 30", allowed)
	}
	// The window slides: 11 s later the old requests and retries are gone.
	clock.t = clock.t.Add(11 * time.Second)
	allowed = 0
	for range 20 {
		if b.TryRetry() {
			allowed++
		}
	}
	if allowed != 10 {
		t.Fatalf("after the window slid: allowed %d, want 10 (the per-second floor)", allowed)
	}
}

func TestBudgetOff(t *testing.T) {
	b := NewBudget(0, 0, time.Now)
	for range 1000 {
		if !b.TryRetry() {
			t.Fatal("a budget of 0% is off and must allow every retry")
		}
	}
	var nilBudget *Budget
	nilBudget.Request(time.Now())
	if !nilBudget.TryRetry() {
		t.Fatal("a nil budget allows retries")
	}
}

func TestRetryOn(t *testing.T) {
	r := NewRetryOn(config.DefaultRetryOn)
	tests := []struct {
		f      Failure
		status int
		want   bool
	}{
		{FailStatus, 429, true}, {FailStatus, 503, true}, {FailStatus, 529, true},
		{FailStatus, 400, false}, {FailStatus, 401, false}, {FailStatus, 501, false},
		{FailConnect, 0, true}, {FailReset, 0, true}, {FailTimeout, 0, true},
		{FailStreamError, 200, true}, {FailBadResponse, 200, true},
		{FailRefused, 401, false}, {FailRefused, 429, false}, {FailRequest, 400, false}, {FailBreakerOpen, 0, false},
	}
	for _, tc := range tests {
		if got := r.Retryable(tc.f, tc.status); got != tc.want {
			t.Errorf("%s %d: got %v, want %v", tc.f, tc.status, got, tc.want)
		}
	}
	only := NewRetryOn([]string{"503"})
	if only.Retryable(FailConnect, 0) || only.Retryable(FailStatus, 429) || !only.Retryable(FailStatus, 503) {
		t.Error("a narrowed retryOn list must retry only what it names")
	}
}

// A provider that refuses us (bad key, no credit, no such model) is told
// apart from a request that any provider would refuse: the first falls back
// to the next provider, the second goes back to the client.
func TestClassifyStatus(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   Failure
	}{
		{401, `{"error":{"type":"authentication_error"}}`, FailRefused},
		{402, ``, FailRefused},
		{403, ``, FailRefused},
		{404, `{"error":{"code":"model_not_found"}}`, FailRefused},
		{429, `{"error":{"code":"insufficient_quota"}}`, FailRefused},
		{429, `{"error":{"code":"rate_limit_exceeded"}}`, FailStatus},
		{400, `{"error":{"message":"bad"}}`, FailRequest},
		{413, ``, FailRequest},
		{422, ``, FailRequest},
		{408, ``, FailStatus},
		{500, ``, FailStatus},
		{503, ``, FailStatus},
		{529, ``, FailStatus},
	}
	for _, tt := range tests {
		if got := ClassifyStatus(tt.status, []byte(tt.body)); got != tt.want {
			t.Errorf("ClassifyStatus(%d, %s) = %v, want %v", tt.status, tt.body, got, tt.want)
		}
	}
}

func TestBreakerTripsOnConsecutiveFailures(t *testing.T) {
	var c config.Config
	c.Default()
	c.CircuitBreaker.ConsecutiveFailures = 3
	var transitions []string
	b := NewBreaker("p", c.CircuitBreaker, func(_ string, from, to gobreaker.State) {
		transitions = append(transitions, from.String()+"->"+to.String())
	})
	fail := errors.New("503")
	for i := range 3 {
		done, err := b.Allow()
		if err != nil {
			t.Fatalf("attempt %d refused: %v", i, err)
		}
		if i == 1 {
			// An excluded outcome between failures must not reset the streak.
			d2, _ := b.Allow()
			d2(ErrNotCounted)
		}
		done(fail)
	}
	if _, err := b.Allow(); !errors.Is(err, gobreaker.ErrOpenState) {
		t.Fatalf("want open after 3 failures, got %v (state %s)", err, b.State())
	}
	if len(transitions) != 1 || transitions[0] != "closed->open" {
		t.Errorf("transitions %v", transitions)
	}
	if StateValue(b.State()) != 2 {
		t.Errorf("state value %v, want 2", StateValue(b.State()))
	}
}

func TestBreakerTripsOnRatio(t *testing.T) {
	var c config.Config
	c.Default()
	c.CircuitBreaker.ConsecutiveFailures = 100
	c.CircuitBreaker.MinRequests = 10
	c.CircuitBreaker.FailureRatio = 0.5
	b := NewBreaker("p", c.CircuitBreaker, nil)
	for i := range 10 {
		done, err := b.Allow()
		if err != nil {
			t.Fatalf("request %d refused early: %v", i, err)
		}
		if i%2 == 1 { // the breaker only weighs its counts when a request fails
			done(errors.New("boom"))
		} else {
			done(nil)
		}
	}
	if b.State() != gobreaker.StateOpen {
		t.Fatalf("5 failures in 10 requests at ratio 0.5: want open, got %s", b.State())
	}
}

func TestBreakerIgnoresExcluded(t *testing.T) {
	var c config.Config
	c.Default()
	c.CircuitBreaker.ConsecutiveFailures = 1
	b := NewBreaker("p", c.CircuitBreaker, nil)
	for range 50 {
		done, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		done(ErrNotCounted)
	}
	if b.State() != gobreaker.StateClosed {
		t.Fatalf("client cancellations and 4xx must not open the breaker, got %s", b.State())
	}
}
