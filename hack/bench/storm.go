package main

import (
	"context"
	"fmt"
	"time"

	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

// stormSection measures section 5: how many upstream calls a client request
// costs when every provider fails, with the retry budget and without it.
func stormSection(ctx context.Context, e *faultEnv, o *Options) (*Section, error) {
	s := &Section{
		ID:      "5",
		Title:   "5. Retry-storm guard",
		Targets: "with every provider answering 503 at 1,000 req/s: upstream calls per client request ≤ 1.3 with the retry budget (default 20% + 5/s); without it (budgetPercent: 0) ≈ attempts × backends.",
		Method: fmt.Sprintf("Both mocks answer 503 to everything; %s at 1,000 req/s open loop per run. The breakers are "+
			"configured never to trip (consecutiveFailures and minRequests 10⁹), so that the budget alone is measured; "+
			"attempts 3, backends 2, initialBackoff %s. Upstream calls are the mocks' own request counts.", o.StormDuration, faultBackoff),
	}
	tb := Table{Columns: []string{"retry budget", "client requests", "achieved (req/s)", "upstream calls", "calls per request", "answered 5xx + x-should-retry: false", "p50 (ms)", "p99 (ms)"}}
	perReq := map[string]float64{}
	for _, v := range []struct {
		name    string
		percent int
	}{{"on (budgetPercent 20, minRetriesPerSecond 5)", 20}, {"off (budgetPercent 0)", 0}} {
		cfg := e.config()
		cfg.Retry.BudgetPercent = intp(v.percent)
		cfg.CircuitBreaker = config.CircuitBreaker{ConsecutiveFailures: 1e9, MinRequests: 1e9, FailureRatio: 1, OpenTimeout: dur(time.Second)}
		sc, err := e.prepare(ctx, "storm", cfg, mock.Faults{Down: true})
		if err != nil {
			return s, err
		}
		if err := e.fallback.SetFaults(mock.Faults{Down: true}); err != nil {
			return s, err
		}
		run := OpenLoop(ctx, 1000, o.StormDuration, 4096, poster(e.client, sc.URL+"/v1/chat/completions", e.body, false))
		sc.Stop()
		if ctx.Err() != nil {
			return s, ctx.Err()
		}
		calls := e.primary.Requests() + e.fallback.Requests()
		n := len(run.Samples)
		fast := 0
		var lat []time.Duration
		for _, smp := range run.Samples {
			if smp.Err == nil && smp.Status >= 500 && smp.ShouldRetry == "false" {
				fast++
			}
			lat = append(lat, smp.Latency)
		}
		sm := Summarize(lat)
		r := round3(float64(calls) / float64(max(n, 1)))
		perReq[v.name] = r
		tb.Add(v.name, n, round1(run.AchievedRate()), calls, r, fast, round3(sm.P50Us/1000), round3(sm.P99Us/1000))
	}
	on, off := perReq["on (budgetPercent 20, minRetriesPerSecond 5)"], perReq["off (budgetPercent 0)"]
	s.check("upstream calls per request, budget on", AtMost, 1.3, "calls", ptr(on), &Measure{"budget off", off}, "")
	s.check("upstream calls per request, budget off (≈ 3 attempts × 2 backends)", AtLeast, 5.5, "calls", ptr(off), nil, "shows that the budget, not something else, holds the calls down")
	s.Tables = append(s.Tables, tb)
	return s, nil
}
