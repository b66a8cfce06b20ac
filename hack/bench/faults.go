package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/hack/process"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

// faultEnv is a primary and a fallback mock; each scenario runs its own
// sidecar in front of them, so no breaker or budget state leaks between
// scenarios.
type faultEnv struct {
	h                 *Harness
	primary, fallback *Mock
	client            *http.Client
	body, streamBody  []byte
}

func newFaultEnv(ctx context.Context, h *Harness) (*faultEnv, error) {
	p, err := h.StartMock(ctx, "primary")
	if err != nil {
		return nil, err
	}
	f, err := h.StartMock(ctx, "fallback")
	if err != nil {
		return nil, err
	}
	return &faultEnv{h: h, primary: p, fallback: f, client: newClient(),
		body: chatBody(false), streamBody: chatBody(true)}, nil
}

// Fault-matrix settings: short backoffs and timeouts keep the run short;
// every one of them is in the config the report prints.
const (
	faultBackoff     = 10 * time.Millisecond
	faultOpenTimeout = time.Second
	faultTrip        = 5 // consecutive failures that open a breaker
)

// config returns the fault-matrix config: rule primary → fallback.
func (e *faultEnv) config() *config.Config {
	return &config.Config{
		Version: config.Version,
		Providers: []config.Provider{
			withTimeout(provider("primary", e.primary.BaseURL()), 2*time.Second),
			withTimeout(provider("fallback", e.fallback.BaseURL()), 2*time.Second),
		},
		Rules: []config.Rule{{Backends: []string{"primary", "fallback"}}},
		Retry: config.Retry{Attempts: 3, InitialBackoff: dur(faultBackoff), MaxBackoff: dur(100 * time.Millisecond),
			MaxRetryAfter: dur(5 * time.Second)},
		CircuitBreaker: config.CircuitBreaker{ConsecutiveFailures: faultTrip, OpenTimeout: dur(faultOpenTimeout)},
		Timeouts:       config.Timeouts{Request: dur(15 * time.Second), StreamIdle: dur(5 * time.Second)},
	}
}

func withTimeout(p config.Provider, d time.Duration) config.Provider {
	p.Timeout = dur(d)
	return p
}

// prepare heals and zeroes both mocks, applies the scenario's faults to the
// primary and starts a sidecar on cfg.
func (e *faultEnv) prepare(ctx context.Context, name string, cfg *config.Config, primary mock.Faults) (*Sidecar, error) {
	for _, m := range []*Mock{e.primary, e.fallback} {
		if err := m.SetFaults(mock.Faults{}); err != nil {
			return nil, err
		}
		if err := m.Reset(); err != nil {
			return nil, err
		}
	}
	if err := e.primary.SetFaults(primary); err != nil {
		return nil, err
	}
	return e.h.StartSidecar(ctx, name, cfg, SidecarOptions{})
}

func (e *faultEnv) post(ctx context.Context, sc *Sidecar) (Outcome, time.Duration) {
	t0 := time.Now()
	o := poster(e.client, sc.URL+"/v1/chat/completions", e.body, true)(ctx)
	return o, time.Since(t0)
}

// failuresText is ", failed: …" for a run with failures, else "".
func failuresText(r Run) string {
	if f := r.Failures(); f != "" {
		return "; failed: " + f
	}
	return ""
}

// conds are a scenario's expectations, each checked and described.
type conds struct {
	list   []string
	failed int
}

func (c *conds) expect(ok bool, format string, args ...any) {
	mark := "✓"
	if !ok {
		mark = "✗"
		c.failed++
	}
	c.list = append(c.list, mark+" "+fmt.Sprintf(format, args...))
}

func (c *conds) String() string { return strings.Join(c.list, "; ") }

// scenario is one row of the fault matrix.
type scenario struct {
	name, fault, expected string
	run                   func(ctx context.Context, e *faultEnv, c *conds) error
}

// faultSection runs section 4, the fault matrix.
func faultSection(ctx context.Context, e *faultEnv, o *Options) (*Section, error) {
	s := &Section{
		ID:      "4",
		Title:   "4. Fault matrix",
		Targets: "each fault gets its expected outcome (below); transient 503s at 5% → success ≥ 99.9%.",
		Method: fmt.Sprintf("Two hack/mockllm processes, primary and fallback, behind a fresh sidecar per scenario with rule primary → fallback, "+
			"retry attempts 3, initialBackoff %s, maxBackoff 100ms, breaker consecutiveFailures %d, openTimeout %s, provider timeout 2s "+
			"(defaults otherwise: budget 20%% + 5/s). Faults are set on the primary through POST /mock/faults; the checks read the "+
			"responses, the x-llmroute-* headers, /debug/providers and the mocks' /mock/stats. The outage runs %s (not 20 s) with "+
			"openTimeout %s, to keep the whole benchmark near 3 minutes.", faultBackoff, faultTrip, faultOpenTimeout, o.Outage, faultOpenTimeout),
	}
	tb := Table{Columns: []string{"scenario", "fault on the primary", "expected", "observed", "result"}}
	for _, sc := range scenarios(o) {
		var c conds
		err := sc.run(ctx, e, &c)
		if ctx.Err() != nil {
			return s, ctx.Err()
		}
		if err != nil {
			c.expect(false, "scenario could not run: %v", err)
		}
		for _, crash := range e.h.Crashed() {
			c.expect(false, "%s", crash)
		}
		n := float64(len(c.list))
		ck := s.check(sc.name, Equal, n, "conditions met", ptr(n-float64(c.failed)), nil, "")
		tb.Add(sc.name, sc.fault, sc.expected, c.String(), string(ck.Status))
	}
	s.Tables = append(s.Tables, tb)
	return s, nil
}

func scenarios(o *Options) []scenario {
	return []scenario{
		{"transient 503s", "503 at random on 5% of requests", "retried: success ≥ 99.9%", func(ctx context.Context, e *faultEnv, c *conds) error {
			cfg := e.config()
			cfg.Rules[0].Backends = []string{"primary"} // retries alone must carry it
			sc, err := e.prepare(ctx, "transient", cfg, mock.Faults{FailRate: 0.05, FailStatus: 503, Seed: 7})
			if err != nil {
				return err
			}
			defer sc.Stop()
			run := OpenLoop(ctx, 500, o.FaultLoad, 1024, poster(e.client, sc.URL+"/v1/chat/completions", e.body, false))
			ok, _ := run.Counts()
			st, err := e.primary.Stats()
			if err != nil {
				return err
			}
			rate := 100 * float64(ok) / float64(max(len(run.Samples), 1))
			injected := 100 * float64(st.Faults["fail_rate"]) / float64(max(st.Requests, 1))
			c.expect(rate >= 99.9, "%d/%d succeeded (%.3f%%)%s", ok, len(run.Samples), rate, failuresText(run))
			c.expect(injected > 3 && injected < 7, "the mock failed %.1f%% of %d upstream calls", injected, st.Requests)
			c.expect(st.Requests > int64(len(run.Samples)), "%.3f upstream calls per request", float64(st.Requests)/float64(max(len(run.Samples), 1)))
			return nil
		}},
		{"429 with Retry-After: 1", "one 429, Retry-After: 1", "honoured: the retry waits ≈ 1 s, then succeeds on the primary", func(ctx context.Context, e *faultEnv, c *conds) error {
			sc, err := e.prepare(ctx, "retry-after", e.config(), mock.Faults{StatusSequence: []int{429}, RetryAfter: "1"})
			if err != nil {
				return err
			}
			defer sc.Stop()
			out, took := e.post(ctx, sc)
			c.expect(out.Status == 200, "status %d", out.Status)
			c.expect(out.Provider == "primary" && out.Attempts == 2, "served by %s after %d attempts", out.Provider, out.Attempts)
			c.expect(took >= 950*time.Millisecond && took <= 1600*time.Millisecond, "took %s (initialBackoff is %s)", took.Round(time.Millisecond), faultBackoff)
			return nil
		}},
		{"429 insufficient_quota", "429 insufficient_quota", "not retried; falls back", func(ctx context.Context, e *faultEnv, c *conds) error {
			sc, err := e.prepare(ctx, "quota", e.config(), mock.Faults{InsufficientQuota: true})
			if err != nil {
				return err
			}
			defer sc.Stop()
			const n = 3
			good := 0
			for range n {
				if out, _ := e.post(ctx, sc); out.Status == 200 && out.Provider == "fallback" && out.Attempts == 2 {
					good++
				}
			}
			c.expect(good == n, "%d/%d served by the fallback after 2 attempts", good, n)
			c.expect(e.primary.Requests() == n, "primary called %d times for %d requests", e.primary.Requests(), n)
			return nil
		}},
		{"503 that never clears", "every request 503", "breaker opens; the fallback serves with no call to the primary until half-open, which lets one probe through", func(ctx context.Context, e *faultEnv, c *conds) error {
			sc, err := e.prepare(ctx, "breaker", e.config(), mock.Faults{Down: true})
			if err != nil {
				return err
			}
			defer sc.Stop()
			good, direct := 0, 0
			for i := range 20 {
				out, _ := e.post(ctx, sc)
				if out.Status == 200 && out.Provider == "fallback" {
					good++
				}
				if i >= 2 && out.Attempts == 1 {
					direct++
				}
			}
			tripped := e.primary.Requests()
			c.expect(good == 20, "%d/20 served by the fallback", good)
			c.expect(tripped == faultTrip, "primary called %d times (consecutiveFailures %d)", tripped, faultTrip)
			c.expect(sc.Breaker("primary") == "open", "breaker %s", sc.Breaker("primary"))
			c.expect(direct == 18, "%d/18 later requests went straight to the fallback", direct)
			if err := sleepCtx(ctx, faultOpenTimeout/2); err != nil {
				return err
			}
			for range 5 {
				e.post(ctx, sc)
			}
			c.expect(e.primary.Requests() == tripped, "no primary call while open (%d more)", e.primary.Requests()-tripped)
			if err := sleepCtx(ctx, faultOpenTimeout); err != nil {
				return err
			}
			out, _ := e.post(ctx, sc)
			probe := e.primary.Requests() - tripped
			for range 5 {
				e.post(ctx, sc)
			}
			after := e.primary.Requests() - tripped - probe
			c.expect(out.Status == 200 && probe == 1, "after openTimeout: %d probe (half-open), then served by %s", probe, out.Provider)
			c.expect(after == 0, "open again after the failed probe: %d more calls", after)
			return nil
		}},
		{"connection refused", "nothing listens on the primary's port", "fails fast over to the fallback", func(ctx context.Context, e *faultEnv, c *conds) error {
			cfg := e.config()
			dead, err := process.FreeAddr()
			if err != nil {
				return err
			}
			cfg.Providers[0].BaseURL = "http://" + dead + "/v1"
			sc, err := e.prepare(ctx, "refused", cfg, mock.Faults{})
			if err != nil {
				return err
			}
			defer sc.Stop()
			var worst time.Duration
			good := 0
			for range 3 {
				out, took := e.post(ctx, sc)
				worst = max(worst, took)
				if out.Status == 200 && out.Provider == "fallback" {
					good++
				}
			}
			c.expect(good == 3, "%d/3 served by the fallback", good)
			c.expect(worst < time.Second, "slowest %s", worst.Round(time.Millisecond))
			return nil
		}},
		{"reset mid-response", "headers and half the body, then the connection closes", "retried, then the fallback; the client never sees a truncated body", func(ctx context.Context, e *faultEnv, c *conds) error {
			sc, err := e.prepare(ctx, "reset", e.config(), mock.Faults{ResetMidBody: true})
			if err != nil {
				return err
			}
			defer sc.Stop()
			good := 0
			for range 3 {
				out, _ := e.post(ctx, sc)
				var v struct{ Choices []json.RawMessage }
				if out.Status == 200 && out.Provider == "fallback" && json.Unmarshal(out.Body, &v) == nil && len(v.Choices) == 1 {
					good++
				}
			}
			st, _ := e.primary.Stats()
			c.expect(good == 3, "%d/3 complete JSON answers from the fallback", good)
			c.expect(st.Resets >= 3, "primary cut %d responses (retried: %d calls)", st.Resets, st.Requests)
			return nil
		}},
		{"headers never arrive", "the primary accepts and never answers", "each attempt times out (provider timeout 300 ms), then the fallback", func(ctx context.Context, e *faultEnv, c *conds) error {
			cfg := e.config()
			cfg.Providers[0].Timeout = dur(300 * time.Millisecond)
			cfg.Retry.Attempts = 2
			sc, err := e.prepare(ctx, "hang", cfg, mock.Faults{HangHeaders: true})
			if err != nil {
				return err
			}
			defer sc.Stop()
			out, took := e.post(ctx, sc)
			c.expect(out.Status == 200 && out.Provider == "fallback", "status %d from %s", out.Status, out.Provider)
			c.expect(took >= 600*time.Millisecond && took < 1600*time.Millisecond, "took %s for 2 attempts of 300 ms", took.Round(time.Millisecond))
			// The mock counts a hang when the held request ends, which the
			// sidecar's timeout makes happen just before it tries elsewhere.
			var st mock.Stats
			_ = process.Poll(ctx, "the primary's hangs counted", 2*time.Second, 10*time.Millisecond, func(context.Context) (err error) {
				if st, err = e.primary.Stats(); err == nil && st.Hangs < 2 {
					err = fmt.Errorf("%d hangs", st.Hangs)
				}
				return err
			})
			c.expect(st.Hangs == 2, "primary held %d requests", st.Hangs)
			return nil
		}},
		{"stream cut after content", "the stream's connection closes after 5 events", "a well-formed error event ends the stream; no retry after content", func(ctx context.Context, e *faultEnv, c *conds) error {
			sc, err := e.prepare(ctx, "cut", e.config(), mock.Faults{StreamCutAfter: 5})
			if err != nil {
				return err
			}
			defer sc.Stop()
			r := readStream(ctx, e.client, sc.URL+"/v1/chat/completions", e.streamBody)
			var ev struct {
				Error struct{ Message string } `json:"error"`
			}
			wellFormed := r.Error != nil && json.Unmarshal(r.Error, &ev) == nil && ev.Error.Message != ""
			c.expect(r.Status == 200 && r.Content > 0, "status %d, %d content events passed", r.Status, r.Content)
			c.expect(wellFormed && r.Err == nil && !r.Done, "ended by an error event: %.120s", r.Error)
			c.expect(e.primary.Requests() == 1 && e.fallback.Requests() == 0, "upstream calls: primary %d, fallback %d", e.primary.Requests(), e.fallback.Requests())
			return nil
		}},
		{"error event before content", "200, then an error event before any content", "a failed attempt: retried, then the fallback streams", func(ctx context.Context, e *faultEnv, c *conds) error {
			sc, err := e.prepare(ctx, "stream-error", e.config(), mock.Faults{StreamErrorBeforeContent: true})
			if err != nil {
				return err
			}
			defer sc.Stop()
			r := readStream(ctx, e.client, sc.URL+"/v1/chat/completions", e.streamBody)
			c.expect(r.Status == 200 && r.Done && r.Err == nil && r.Error == nil, "a whole stream (%d content events, [DONE] %v), no error event", r.Content, r.Done)
			c.expect(r.Provider == "fallback" && r.Attempts == 4, "served by %s after %d attempts", r.Provider, r.Attempts)
			c.expect(e.primary.Requests() == 3, "primary tried %d times", e.primary.Requests())
			return nil
		}},
		{"400 context_length_exceeded", "400 context_length_exceeded", "not retried, no fallback: the 400 reaches the client with x-should-retry: false", func(ctx context.Context, e *faultEnv, c *conds) error {
			sc, err := e.prepare(ctx, "context", e.config(), mock.Faults{ContextLengthExceeded: true})
			if err != nil {
				return err
			}
			defer sc.Stop()
			out, _ := e.post(ctx, sc)
			c.expect(out.Status == 400 && strings.Contains(string(out.Body), "context_length_exceeded"), "status %d, provider's error passed on", out.Status)
			c.expect(out.ShouldRetry == "false", "x-should-retry: %q", out.ShouldRetry)
			c.expect(e.primary.Requests() == 1 && e.fallback.Requests() == 0, "upstream calls: primary %d, fallback %d", e.primary.Requests(), e.fallback.Requests())
			return nil
		}},
		{"primary down, then back", fmt.Sprintf("503 on everything for %s at 100 req/s", o.Outage), "no failed request; the breaker closes again and traffic returns to the primary", func(ctx context.Context, e *faultEnv, c *conds) error {
			return outage(ctx, e, o, c)
		}},
		{"all providers down", "both mocks 503 on everything", "fails fast once the breakers are open: 503, x-should-retry: false, no upstream call", func(ctx context.Context, e *faultEnv, c *conds) error {
			sc, err := e.prepare(ctx, "all-down", e.config(), mock.Faults{Down: true})
			if err != nil {
				return err
			}
			defer sc.Stop()
			if err := e.fallback.SetFaults(mock.Faults{Down: true}); err != nil {
				return err
			}
			failed, n := 0, 0
			var first time.Duration
			for ; n < 20 && (sc.Breaker("primary") != "open" || sc.Breaker("fallback") != "open"); n++ {
				out, took := e.post(ctx, sc)
				if n == 0 {
					first = took
				}
				if out.Status >= 500 && out.ShouldRetry == "false" {
					failed++
				}
			}
			calls := e.primary.Requests() + e.fallback.Requests()
			var worst time.Duration
			fast := 0
			for range 20 {
				out, took := e.post(ctx, sc)
				worst = max(worst, took)
				if out.Status == 503 && out.ShouldRetry == "false" {
					fast++
				}
			}
			c.expect(failed == n, "%d/%d requests failed with 5xx and x-should-retry: false while the breakers tripped (the first took %s)", failed, n, first.Round(time.Millisecond))
			c.expect(fast == 20, "then %d/20 answered 503 + x-should-retry: false", fast)
			c.expect(worst < 10*time.Millisecond, "the slowest of those took %s", worst.Round(10*time.Microsecond))
			c.expect(e.primary.Requests()+e.fallback.Requests() == calls, "%d upstream calls meanwhile", e.primary.Requests()+e.fallback.Requests()-calls)
			return nil
		}},
	}
}

// outage takes the primary down for o.Outage under 100 req/s, then heals it.
func outage(ctx context.Context, e *faultEnv, o *Options, c *conds) error {
	sc, err := e.prepare(ctx, "outage", e.config(), mock.Faults{})
	if err != nil {
		return err
	}
	defer sc.Stop()
	const lead, tailTime = time.Second, 4 * time.Second
	total := lead + o.Outage + tailTime
	start := time.Now()
	var downCalls, before int64
	done := make(chan Run, 1)
	go func() {
		done <- OpenLoop(ctx, 100, total, 1024, poster(e.client, sc.URL+"/v1/chat/completions", e.body, false))
	}()
	if err := sleepCtx(ctx, lead); err != nil {
		return err
	}
	before = e.primary.Requests()
	if err := e.primary.SetFaults(mock.Faults{Down: true}); err != nil {
		return err
	}
	downAt := time.Now()
	if err := sleepCtx(ctx, o.Outage); err != nil {
		return err
	}
	if err := e.primary.SetFaults(mock.Faults{}); err != nil {
		return err
	}
	upAt := time.Now()
	downCalls = e.primary.Requests() - before
	run := <-done
	ok, failed := run.Counts()
	var back time.Duration = -1
	lastPrimary, lastN := 0, 0
	for _, s := range run.Samples {
		t := s.Intended
		if back < 0 && t.After(upAt) && s.Provider == "primary" {
			back = t.Sub(upAt)
		}
		if t.After(start.Add(total - 2*time.Second)) {
			lastN++
			if s.Provider == "primary" {
				lastPrimary++
			}
		}
	}
	_ = downAt
	probes := int64(o.Outage / faultOpenTimeout)
	c.expect(failed == 0, "%d/%d requests succeeded%s", ok, ok+failed, failuresText(run))
	c.expect(downCalls <= faultTrip+2*probes+5, "%d primary calls during the %s outage (breaker open, half-open probes every %s)", downCalls, o.Outage, faultOpenTimeout)
	c.expect(back >= 0 && back <= faultOpenTimeout+time.Second, "traffic back on the primary %s after it recovered", back.Round(time.Millisecond))
	c.expect(lastN > 0 && lastPrimary*100 >= lastN*99, "%d/%d of the last 2 s served by the primary", lastPrimary, lastN)
	c.expect(sc.Breaker("primary") == "closed", "breaker %s at the end", sc.Breaker("primary"))
	return nil
}
