package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Outcome is one request as the load generator saw it.
type Outcome struct {
	Status      int
	Err         error
	Provider    string // x-llmroute-provider
	Attempts    int    // x-llmroute-attempts
	ShouldRetry string // x-should-retry
	OverheadMs  float64
	Body        []byte        // kept only when the request asked for it
	TTFT        time.Duration // a stream's time to its first content event
}

// OK reports whether the request got a 200.
func (o Outcome) OK() bool { return o.Err == nil && o.Status == http.StatusOK }

// Sample is an Outcome with its timing.
type Sample struct {
	Outcome
	Intended time.Time     // when the schedule meant to send it (open loop) or when it was sent (closed loop)
	Latency  time.Duration // from Intended to the last byte: what a user of a fixed-rate service waits
	Service  time.Duration // from the actual send to the last byte
}

// Lag is how late the generator sent a request against its schedule.
func (s Sample) Lag() time.Duration { return s.Latency - s.Service }

// Doer sends one request.
type Doer func(ctx context.Context) Outcome

// Schedule is an open-loop arrival plan: request i is due at Start + i/Rate,
// whatever happened to the requests before it. Measuring from these intended
// times, not from the actual sends, keeps a stalled server from hiding its
// stall (coordinated omission).
type Schedule struct {
	Start time.Time
	Rate  float64 // requests per second
	N     int     // requests in the plan
}

// NewSchedule plans rate requests per second for d.
func NewSchedule(start time.Time, rate float64, d time.Duration) Schedule {
	return Schedule{Start: start, Rate: rate, N: int(rate * d.Seconds())}
}

// At returns request i's intended send time. It is computed from i, not by
// adding up intervals, so rounding never drifts the plan.
func (s Schedule) At(i int) time.Time {
	return s.Start.Add(time.Duration(float64(i) * float64(time.Second) / s.Rate))
}

// Run is what one load run produced.
type Run struct {
	Samples []Sample
	Elapsed time.Duration // from the first intended send to the last response
}

// OKLatencies returns the latencies of the successful requests.
func (r Run) OKLatencies() []time.Duration {
	out := make([]time.Duration, 0, len(r.Samples))
	for _, s := range r.Samples {
		if s.OK() {
			out = append(out, s.Latency)
		}
	}
	return out
}

// Counts returns how many requests succeeded and how many did not.
func (r Run) Counts() (ok, failed int) {
	for _, s := range r.Samples {
		if s.OK() {
			ok++
		} else {
			failed++
		}
	}
	return ok, failed
}

// Failures summarizes the failed requests by status or error, most
// frequent first, e.g. "503 ×12, connection refused ×3"; "" when none failed.
func (r Run) Failures() string {
	counts := map[string]int{}
	for _, s := range r.Samples {
		switch {
		case s.Err != nil:
			msg := s.Err.Error()
			if i := strings.LastIndex(msg, ": "); i >= 0 {
				msg = msg[i+2:]
			}
			counts[msg]++
		case s.Status != http.StatusOK:
			counts[strconv.Itoa(s.Status)]++
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return counts[keys[i]] > counts[keys[j]] || counts[keys[i]] == counts[keys[j]] && keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

// AchievedRate is the completed requests per second of wall time.
func (r Run) AchievedRate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(len(r.Samples)) / r.Elapsed.Seconds()
}

// OpenLoop sends on a fixed schedule, each request on its own goroutine, at
// most maxInFlight at once (past that the generator itself is the
// bottleneck, and the late sends show up in the latencies).
func OpenLoop(ctx context.Context, rate float64, d time.Duration, maxInFlight int, do Doer) Run {
	sched := NewSchedule(time.Now().Add(2*time.Millisecond), rate, d)
	samples := make([]Sample, sched.N)
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	sent := 0
	for i := 0; i < sched.N; i++ {
		due := sched.At(i)
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		sent++
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			o := do(ctx)
			end := time.Now()
			samples[i] = Sample{Outcome: o, Intended: due, Latency: end.Sub(due), Service: end.Sub(t0)}
		}(i, due)
	}
	wg.Wait()
	return Run{Samples: samples[:sent], Elapsed: time.Since(sched.Start)}
}

// ClosedLoop keeps concurrency requests in flight for d: each worker sends
// its next request as soon as the last one is answered. It measures the
// throughput a target sustains, not latency at a given load.
func ClosedLoop(ctx context.Context, concurrency int, d time.Duration, do Doer) Run {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	per := make([][]Sample, concurrency)
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				o := do(context.WithoutCancel(ctx))
				dt := time.Since(t0)
				per[w] = append(per[w], Sample{Outcome: o, Intended: t0, Latency: dt, Service: dt})
			}
		}()
	}
	wg.Wait()
	var all []Sample
	for _, s := range per {
		all = append(all, s...)
	}
	return Run{Samples: all, Elapsed: time.Since(start)}
}

// newClient returns an HTTP/1.1 client with keep-alive connections for as
// many requests as the runs keep in flight.
func newClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        4096,
			MaxIdleConnsPerHost: 4096,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		Timeout: 30 * time.Second,
	}
}

// poster returns a Doer that POSTs body to url. keepBody keeps the response
// body in the Outcome (the fault checks read it); the latency runs drop it.
func poster(c *http.Client, url string, body []byte, keepBody bool) Doer {
	return func(ctx context.Context) Outcome {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return Outcome{Err: err}
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer sk-placeholder")
		resp, err := c.Do(req)
		if err != nil {
			return Outcome{Err: err}
		}
		defer resp.Body.Close()
		o := outcomeOf(resp)
		if keepBody {
			o.Body, err = io.ReadAll(resp.Body)
		} else {
			_, err = io.Copy(io.Discard, resp.Body)
		}
		o.Err = err
		return o
	}
}

// outcomeOf reads the status and the sidecar's routing headers.
func outcomeOf(resp *http.Response) Outcome {
	o := Outcome{
		Status:      resp.StatusCode,
		Provider:    resp.Header.Get("x-llmroute-provider"),
		ShouldRetry: resp.Header.Get("x-should-retry"),
	}
	o.Attempts, _ = strconv.Atoi(resp.Header.Get("x-llmroute-attempts"))
	o.OverheadMs, _ = strconv.ParseFloat(resp.Header.Get("x-llmroute-overhead-ms"), 64)
	return o
}
