package main

import (
	"context"
	"fmt"
	"math"
	"time"
)

// OverheadResult is what the other sections reuse from the overhead runs.
type OverheadResult struct {
	// CPUPer1000 is CPU seconds per 1,000 requests at 1,000 req/s, by target.
	CPUPer1000 map[string]float64
	// ThroughputCPU is the same at saturation (closed loop).
	ThroughputCPU map[string]float64
	// Mock is the 1 KB mock, which section 6 reuses.
	Mock *Mock
}

// targetRate is the rate the latency targets are set at.
const targetRate = 1000

// overheadSection measures section 1: the latency a proxy adds, open loop at
// fixed rates, and the throughput each sustains, closed loop.
func overheadSection(ctx context.Context, h *Harness, o *Options, res *OverheadResult) (*Section, error) {
	s := &Section{
		ID:    "1",
		Title: "1. Overhead: non-streaming, 1 KB request / 1 KB response",
		Targets: "at 1,000 req/s, sidecar overhead p50 ≤ 60 µs and p99 ≤ 500 µs; overhead within 1.5× of a bare " +
			"`httputil.ReverseProxy`'s; maximum sustainable throughput ≥ the bare reverse proxy's.",
	}
	m, err := h.StartMock(ctx, "bench", "--completion-bytes", "1024")
	if err != nil {
		return s, err
	}
	res.Mock = m
	targets, err := overheadTargets(ctx, h, m, s)
	if err != nil {
		return s, err
	}
	body := chatBody(false)
	for _, t := range targets {
		t.client = newClient()
		do := poster(t.client, t.endpoint(), body, true)
		if err := warmUp(ctx, t, 200, false, func() error {
			if out := do(ctx); !out.OK() {
				return fmt.Errorf("status %d, %v: %.300s", out.Status, out.Err, out.Body)
			}
			return nil
		}); err != nil {
			return s, err
		} else if t.warmupErr != nil {
			s.note("Warm-up: %d of 200 requests through %s failed (last: %v).", t.warmupFails, t.Label, t.warmupErr)
		}
	}
	reply := poster(targets[0].client, targets[0].endpoint(), body, true)(ctx)
	s.Method = fmt.Sprintf("hack/mockllm (0 ms latency, %d-byte JSON reply) and each proxy run as separate processes on loopback; "+
		"the load generator is a third process. Open loop: requests leave on a fixed schedule and latency is counted from each "+
		"request's intended send time, so a stall cannot hide (no coordinated omission). Each target gets %s per rate, in "+
		"interleaved slices of at most %s. Request body %d bytes. Overhead = percentile through the proxy − the same percentile direct. "+
		"Each overhead is known only within an interval: the wider of its bootstrap 95%% interval (drawing whole slices, so a "+
		"stall that hit one slice widens it) and ± the difference an A/A "+
		"control shows (a second direct client, measured beside the first at 1,000 req/s). A check passes only when the whole "+
		"interval meets its target, fails only when none of it does, and is otherwise reported as not measured.",
		len(reply.Body), o.Duration, o.Slice, len(body))

	// Latency: open loop at each rate.
	lag := Table{Title: "Load generator: how late requests left against their schedule (the generator's own noise, included in every latency above).",
		Columns: []string{"rate (req/s)", "target", "late p50 (µs)", "late p99 (µs)"}}
	var atTarget map[string]*agg
	for _, rate := range o.Rates {
		ts := targetsAt(targets, rate)
		got, err := interleave(ctx, ts, o.Duration, o.Slice, func(ctx context.Context, t *Target, d time.Duration) Run {
			return OpenLoop(ctx, rate, d, 4096, poster(t.client, t.endpoint(), body, false))
		})
		if err != nil {
			return s, err
		}
		s.Tables = append(s.Tables, latencyTable(rate, ts, got, &lag))
		if rate == targetRate {
			atTarget = got
		}
	}

	// Throughput: closed loop at fixed concurrency.
	tputTargets := targetsAt(targets, targetRate)
	tput, err := interleave(ctx, tputTargets, o.ThroughputDuration, o.Slice, func(ctx context.Context, t *Target, d time.Duration) Run {
		return ClosedLoop(ctx, o.Concurrency, d, poster(t.client, t.endpoint(), body, false))
	})
	if err != nil {
		return s, err
	}
	s.Tables = append(s.Tables, throughputTable(o, tputTargets, tput), lag)

	latencyChecks(s, atTarget)
	throughputChecks(s, tput)
	res.CPUPer1000, res.ThroughputCPU = cpuPer1000(targets, atTarget), cpuPer1000(targets, tput)
	return s, nil
}

// overheadTargets starts the proxies in front of m: two sidecars (without
// and with the access log), the ReverseProxy and, when installed, nginx.
func overheadTargets(ctx context.Context, h *Harness, m *Mock, s *Section) ([]*Target, error) {
	sc, err := h.StartSidecar(ctx, "quiet", benchConfig(m.BaseURL()), SidecarOptions{LogLevel: "error"})
	if err != nil {
		return nil, err
	}
	info, err := h.StartSidecar(ctx, "info", benchConfig(m.BaseURL()), SidecarOptions{LogLevel: "info"})
	if err != nil {
		return nil, err
	}
	rp, err := h.StartRevProxy(ctx, "bench", m.URL)
	if err != nil {
		return nil, err
	}
	targets := []*Target{
		{Name: "direct", Label: "client → mock (direct)", URL: m.URL},
		{Name: "direct-aa", Label: "client → mock (direct again: the A/A control)", URL: m.URL},
		{Name: "sidecar", Label: "client → sidecar → mock (--log-level error)", URL: sc.URL, Proc: sc.Proc},
		{Name: "sidecar-info", Label: "client → sidecar → mock (info access log to a file)", URL: info.URL, Proc: info.Proc},
		{Name: "revproxy", Label: "client → httputil.ReverseProxy → mock", URL: "http://" + rp.Addr, Proc: rp},
	}
	if h.Nginx == "" {
		s.note("nginx is not installed, so its rows are missing (`apt-get install nginx-light` adds them).")
		return targets, nil
	}
	ng, err := h.StartNginx(ctx, m.Addr)
	if err != nil {
		return nil, err
	}
	return append(targets, &Target{Name: "nginx", Label: "client → nginx proxy_pass (1 worker) → mock",
		URL: "http://" + ng.Addr, Proc: ng, children: true}), nil
}

// targetsAt returns the targets measured at rate: the access-log variant and
// the A/A control run at the target rate only, to keep the run short.
func targetsAt(targets []*Target, rate float64) []*Target {
	var ts []*Target
	for _, t := range targets {
		if (t.Name == "sidecar-info" || t.Name == "direct-aa") && rate != targetRate {
			continue
		}
		ts = append(ts, t)
	}
	return ts
}

// latencyTable tables one rate's runs, and adds the generator's lateness to lag.
func latencyTable(rate float64, ts []*Target, got map[string]*agg, lag *Table) Table {
	tb := Table{
		Title: fmt.Sprintf("**%g req/s** (open loop)", rate),
		Columns: []string{"target", "requests", "achieved (req/s)", "errors", "p50 (µs)", "p99 (µs)", "p99.9 (µs)",
			"overhead p50 (µs)", "overhead p99 (µs)", "overhead p99.9 (µs)", "CPU s / 1,000 req"},
	}
	direct := Summarize(got["direct"].run().OKLatencies())
	for _, t := range ts {
		a := got[t.Name]
		r := a.run()
		sm := Summarize(r.OKLatencies())
		_, failed := r.Counts()
		ov := func(p float64) any {
			if t.Name == "direct" {
				return nil
			}
			return round1(sm.At(p) - direct.At(p))
		}
		var cpu any
		if t.Proc != nil {
			cpu = a.cpuPer1000()
		}
		tb.Add(t.Label, len(r.Samples), round1(r.AchievedRate()), failed, sm.P50Us, sm.P99Us, sm.P999Us, ov(50), ov(99), ov(99.9), cpu)
		lags := make([]time.Duration, len(r.Samples))
		for i, smp := range r.Samples {
			lags[i] = smp.Lag()
		}
		ls := Summarize(lags)
		lag.Add(rate, t.Name, ls.P50Us, ls.P99Us)
	}
	return tb
}

func throughputTable(o *Options, ts []*Target, tput map[string]*agg) Table {
	tb := Table{
		Title: fmt.Sprintf("**Throughput** (closed loop, %d requests in flight, %s per target; the load generator shares the cores)",
			o.Concurrency, o.ThroughputDuration),
		Columns: []string{"target", "requests", "req/s", "errors", "p50 (µs)", "p99 (µs)", "CPU s / 1,000 req"},
	}
	for _, t := range ts {
		a := tput[t.Name]
		r := a.run()
		_, failed := r.Counts()
		sm := Summarize(r.OKLatencies())
		var cpu any
		if t.Proc != nil {
			cpu = a.cpuPer1000()
		}
		tb.Add(t.Label, len(r.Samples), okRate(r), failed, sm.P50Us, sm.P99Us, cpu)
	}
	return tb
}

// latencyChecks checks the overhead targets at 1,000 req/s, each guarded by
// the A/A control's noise.
func latencyChecks(s *Section, at map[string]*agg) {
	if at == nil {
		for _, n := range []string{"sidecar overhead p50 at 1,000 req/s", "sidecar overhead p99 at 1,000 req/s"} {
			s.check(n, AtMost, 0, "µs", nil, nil, "-rates does not include 1000")
		}
		return
	}
	sum := func(name string) Summary { return Summarize(at[name].run().OKLatencies()) }
	direct, side := sum("direct"), sum("sidecar")
	for _, p := range []struct {
		pct   float64
		name  string
		limit float64
	}{{50, "p50", 60}, {99, "p99", 500}} {
		ov := estimateOverhead(at["sidecar"], at["direct"], at["direct-aa"], p.pct)
		rov := estimateOverhead(at["revproxy"], at["direct"], at["direct-aa"], p.pct)
		c := s.check("sidecar overhead "+p.name+" at 1,000 req/s", AtMost, p.limit, "µs", ptr(ov.Value), &Measure{"httputil.ReverseProxy", rov.Value}, "")
		guardNoise(c, ov.String(), ov.Lo, ov.Hi)
		name := "sidecar overhead " + p.name + " / ReverseProxy overhead " + p.name
		if rov.Value <= 0 {
			s.check(name, AtMost, 1.5, "×", nil, nil, fmt.Sprintf("the ReverseProxy's overhead came out at %g µs: lost in noise", rov.Value))
		} else {
			c := s.check(name, AtMost, 1.5, "×", ptr(round3(ov.Value/rov.Value)), nil, "")
			lo, hi := ratioRange(ov, rov)
			guardNoise(c, fmt.Sprintf("ratio within %s … %s: sidecar %s; ReverseProxy %s", fmtFloat(lo), fmtFloat(hi), ov, rov), lo, hi)
		}
		if _, ok := at["nginx"]; ok {
			s.note("At 1,000 req/s nginx's %s overhead was %g µs (sidecar %g µs).", p.name, round1(sum("nginx").At(p.pct)-direct.At(p.pct)), ov.Value)
		}
	}
	info := sum("sidecar-info")
	s.note("With the default info access log (JSON, one line per request, to a file) the overhead at 1,000 req/s was p50 %g µs, p99 %g µs (with --log-level error: %g µs, %g µs).",
		round1(info.P50Us-direct.P50Us), round1(info.P99Us-direct.P99Us), round1(side.P50Us-direct.P50Us), round1(side.P99Us-direct.P99Us))

	// The sidecar's own account: its x-llmroute-overhead-ms header, the time
	// it spent outside the upstream call.
	for _, name := range []string{"sidecar", "sidecar-info"} {
		var self []time.Duration
		for _, smp := range at[name].samples {
			if smp.OK() {
				self = append(self, time.Duration(smp.OverheadMs*float64(time.Millisecond)))
			}
		}
		sm := Summarize(self)
		s.note("At 1,000 req/s the %s process reported its own overhead (x-llmroute-overhead-ms: time outside the upstream call) as p50 %g µs, p99 %g µs.", name, sm.P50Us, sm.P99Us)
	}
}

// throughputChecks compares the sidecar's closed-loop throughput with the
// ReverseProxy's, within the noise the A/A control shows (the direct path's
// throughput measured twice, as a share of itself, applied to the sidecar's).
func throughputChecks(s *Section, tput map[string]*agg) {
	side, rev := okRate(tput["sidecar"].run()), okRate(tput["revproxy"].run())
	direct, aa := okRate(tput["direct"].run()), okRate(tput["direct-aa"].run())
	noise := round1(abs(direct-aa) / max(direct, 1) * side)
	c := s.check("maximum throughput", AtLeast, rev, "req/s", ptr(side), &Measure{"httputil.ReverseProxy", rev}, "")
	guardNoise(c, "A/A difference "+num(noise, "req/s"), side-noise, side+noise)
	if a, ok := tput["nginx"]; ok {
		n := okRate(a.run())
		s.note("nginx (1 worker) sustained %g req/s in the same closed loop (sidecar / nginx = %.2f×).", n, ratioOr0(side, n))
	}
}

// okRate is the successful requests per second of a run.
func okRate(r Run) float64 {
	ok, _ := r.Counts()
	return round1(float64(ok) / r.Elapsed.Seconds())
}

// cpuPer1000 maps each proxy to its CPU seconds per 1,000 requests in runs.
func cpuPer1000(targets []*Target, runs map[string]*agg) map[string]float64 {
	out := map[string]float64{}
	for _, t := range targets {
		if a, ok := runs[t.Name]; ok && t.Proc != nil {
			out[t.Name] = a.cpuPer1000()
		}
	}
	return out
}

func ratioOr0(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// guardNoise makes a verdict honest about the machine's noise: the value is
// only known to within [lo, hi] (see estimateOverhead). The check keeps its PASS only when all of
// that interval meets the target, its FAIL only when none of it does, and
// is not measured when the interval straddles the target.
func guardNoise(c *Check, noise string, lo, hi float64) {
	if c.Status == NotMeasured {
		return
	}
	pass, fail := Evaluate(c.Op, c.Limit, &hi) == Pass, Evaluate(c.Op, c.Limit, &lo) == Fail
	if c.Op == AtLeast {
		pass, fail = Evaluate(c.Op, c.Limit, &lo) == Pass, Evaluate(c.Op, c.Limit, &hi) == Fail
	}
	note := noise
	switch {
	case pass:
		c.Status = Pass
	case fail:
		c.Status = Fail
	default:
		c.Status = NotMeasured
		note = fmt.Sprintf("measured %s, but it lies anywhere in %s … %s, across the target: the machine is too noisy to decide; %s",
			valueText(c.Value, c.Unit), fmtFloat(lo), fmtFloat(hi), noise)
	}
	if c.Why == "" {
		c.Why = note
	} else {
		c.Why += "; " + note
	}
}

// Estimate is an overhead (a percentile through a proxy minus the same
// percentile direct) and the interval it is known within, in µs.
type Estimate struct {
	Value, Lo, Hi float64
	AA            float64 // the A/A control's difference at that percentile
}

func (e Estimate) String() string {
	return fmt.Sprintf("95%% interval %s … %s µs, A/A ±%s µs", fmtFloat(e.Lo), fmtFloat(e.Hi), fmtFloat(e.AA))
}

// bootstrapIters is how many resamplings a confidence interval takes.
const bootstrapIters = 200

// estimateOverhead is the overhead of proxied over direct at percentile p.
// Its interval is the wider of two: the block-bootstrap 95% intervals of
// both percentiles, combined (chance, and stalls that hit one slice), and ±
// the A/A control's difference from direct (what measuring the same path
// twice gives on this machine).
func estimateOverhead(proxied, direct, aa *agg, p float64) Estimate {
	pct := func(a *agg) float64 { return float64(Percentile(sortedCopy(a.run().OKLatencies()), p)) / 1e3 }
	ov := pct(proxied) - pct(direct)
	aaDiff := abs(pct(aa) - pct(direct))
	pLo, pHi := PercentileCI(proxied.blocks(), p, bootstrapIters, 1)
	dLo, dHi := PercentileCI(direct.blocks(), p, bootstrapIters, 2)
	lo := min(float64(pLo-dHi)/1e3, ov-aaDiff)
	hi := max(float64(pHi-dLo)/1e3, ov+aaDiff)
	return Estimate{Value: round1(ov), Lo: round1(lo), Hi: round1(hi), AA: round1(aaDiff)}
}

// ratioRange is the interval of the ratio of two overheads known within
// their intervals; hi is +Inf when the baseline's could be 0 or less.
func ratioRange(ov, base Estimate) (lo, hi float64) {
	if base.Lo <= 0 {
		return round3(max(ov.Lo, 0) / base.Hi), math.Inf(1)
	}
	return round3(max(ov.Lo, 0) / base.Hi), round3(ov.Hi / base.Lo)
}
