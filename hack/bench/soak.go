package main

import (
	"context"
	"fmt"
	"time"

	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
)

// soakSection runs section 7: o.Soak at o.SoakRate with 5% faults, sampling
// the sidecar's RSS and goroutines as it goes.
func soakSection(ctx context.Context, h *Harness, o *Options) (*Section, error) {
	s := &Section{
		ID:      "7",
		Title:   "7. Soak",
		Targets: fmt.Sprintf("%g req/s with 5%% faults for %s: RSS and goroutine count stable; success ≥ 99.9%%.", o.SoakRate, o.Soak),
		When:    fmt.Sprintf("Measured by `make soak SOAK_DURATION=%s` on %s, not by `make bench`.", o.Soak, time.Now().UTC().Format("2006-01-02 15:04 MST")),
	}
	e, err := newFaultEnv(ctx, h)
	if err != nil {
		return s, err
	}
	sc, err := e.prepare(ctx, "soak", e.config(), mock.Faults{FailRate: 0.05, FailStatus: 503, Seed: 11})
	if err != nil {
		return s, err
	}
	defer sc.Stop()
	every := min(max(o.Soak/20, 10*time.Second), 30*time.Second)
	s.Method = fmt.Sprintf("Primary and fallback mocks behind one sidecar (the fault matrix's config); the primary fails 5%% of its "+
		"calls with 503 at random, which the sidecar retries. Open loop at %g req/s; every %s the bench reads the sidecar's "+
		"VmRSS and /metrics (go_goroutines, go_memstats_heap_inuse_bytes, process_open_fds). Stable means: the largest value "+
		"of the last third of the samples is at most the largest of the middle third plus 10%% (RSS: plus 2 MiB); the first third is "+
		"warm-up. Goroutines are checked per open file descriptor: each connection holds one or two goroutines, and the connection "+
		"pools legitimately grow after a latency spike, so a leak is goroutines that no connection accounts for.",
		o.SoakRate, every)
	tb := Table{Columns: []string{"t (s)", "requests", "failed", "p50 (µs)", "p99 (µs)", "RSS (MiB)", "goroutines", "heap in use (MiB)", "open fds", "goroutines per fd"}}
	var rss, gor, perFD []float64
	var ok, failed int
	start := time.Now()
	for time.Since(start) < o.Soak-time.Second {
		d := min(every, o.Soak-time.Since(start))
		run := OpenLoop(ctx, o.SoakRate, d, 4096, poster(e.client, sc.URL+"/v1/chat/completions", e.body, false))
		if ctx.Err() != nil {
			return s, ctx.Err()
		}
		k, f := run.Counts()
		ok, failed = ok+k, failed+f
		sm := Summarize(run.OKLatencies())
		r, err := RSS(sc.Pid(), false)
		if err != nil {
			return s, fmt.Errorf("the sidecar is gone: %w", err)
		}
		m, err := sc.Metrics()
		if err != nil {
			return s, err
		}
		g, fds := m.Sum("go_goroutines"), m.Sum("process_open_fds")
		rss = append(rss, round3(float64(r)/mib))
		gor = append(gor, g)
		perFD = append(perFD, round3(g/max(fds, 1)))
		tb.Add(round1(time.Since(start).Seconds()), k+f, f, sm.P50Us, sm.P99Us, rss[len(rss)-1], g,
			round3(m.Sum("go_memstats_heap_inuse_bytes")/mib), fds, perFD[len(perFD)-1])
	}
	s.Tables = append(s.Tables, tb)
	rate := 100 * float64(ok) / float64(max(ok+failed, 1))
	s.check("success rate", AtLeast, 99.9, "%", ptr(round3(rate)), nil, fmt.Sprintf("%d of %d", ok, ok+failed))
	if len(rss) < 3 {
		s.check("RSS stable", AtMost, 0, "MiB", nil, nil, "fewer than 3 samples: run a longer soak")
		s.check("goroutines stable", AtMost, 0, "", nil, nil, "fewer than 3 samples: run a longer soak")
		return s, nil
	}
	mid, last := thirds(rss)
	s.check("RSS stable: max of the last third", AtMost, round3(mid*1.1+2), "MiB", ptr(last), &Measure{"max of the middle third", mid}, "")
	// Goroutines follow the connection pools (one per client connection,
	// two per upstream connection), which grow to the highest concurrency a
	// latency spike brought and stay while the load keeps them busy; a leak
	// shows as goroutines that no connection accounts for.
	mid, last = thirds(perFD)
	s.check("goroutines per open fd stable: max of the last third", AtMost, round3(mid*1.1), "", ptr(last), &Measure{"max of the middle third", mid}, "")
	s.note("Goroutines went from %g (first sample) to %g (last), peaking at %g, and open fds (connections) moved with them: the "+
		"connection pools grow with the concurrency a latency spike brings and shrink again as idle connections time out.", gor[0], gor[len(gor)-1], maxOf(gor))
	return s, nil
}

// thirds returns the largest value of the middle third of series and of
// the last third (each at least one sample). The first third is the warm-up:
// connection pools and GC goals grow there to what the load needs, and a
// latency spike can grow them once more; only growth that goes on after
// that, from the middle to the end, is a leak.
func thirds(series []float64) (middle, last float64) {
	n := max(len(series)/3, 1)
	return maxOf(series[len(series)-2*n : len(series)-n]), maxOf(series[len(series)-n:])
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v[1:] {
		m = max(m, x)
	}
	return m
}
