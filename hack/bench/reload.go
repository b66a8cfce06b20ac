package main

import (
	"context"
	"fmt"
	"time"
)

// reloadSection measures section 6: the config rewritten 20 times under
// 1,000 req/s must not fail a single request.
func reloadSection(ctx context.Context, h *Harness, o *Options, m *Mock, body []byte) (*Section, error) {
	const rewrites = 20
	const controlTime = 3 * time.Second
	s := &Section{
		ID:      "6",
		Title:   "6. Reload under load",
		Targets: fmt.Sprintf("the config rewritten %d times during a 1,000 req/s run → zero failed requests.", rewrites),
		Method: fmt.Sprintf("The sidecar watches its config's directory; the bench writes each new version to a temp file in that "+
			"directory and renames it over the config (atomic, as a ConfigMap update is), every %s — longer than the "+
			"sidecar's 250 ms debounce, so each rewrite is its own reload. Versions alternate the provider timeout and a "+
			"model mapping. Reloads are counted from llmroute_config_reloads_total. A control run of the same sidecar under the "+
			"same load without rewrites comes first.", o.ReloadEvery),
	}
	cfg := benchConfig(m.BaseURL())
	sc, err := h.StartSidecar(ctx, "reload", cfg, SidecarOptions{})
	if err != nil {
		return s, err
	}
	defer sc.Stop()
	total := time.Duration(rewrites+1) * o.ReloadEvery
	client := newClient()
	// The control: the same sidecar and load, without rewrites.
	control := OpenLoop(ctx, 1000, controlTime, 4096, poster(client, sc.URL+"/v1/chat/completions", body, false))
	if err := ctx.Err(); err != nil {
		return s, err
	}
	before, err := sc.Metrics()
	if err != nil {
		return s, err
	}
	done := make(chan Run, 1)
	go func() {
		done <- OpenLoop(ctx, 1000, total+time.Second, 4096, poster(client, sc.URL+"/v1/chat/completions", body, false))
	}()
	var werr error
	var rewritten []time.Time
	for i := 1; i <= rewrites && werr == nil; i++ {
		if werr = sleepCtx(ctx, o.ReloadEvery); werr != nil {
			break
		}
		c := benchConfig(m.BaseURL())
		c.Providers[0].Timeout = dur(time.Duration(30+i%2) * time.Second)
		c.Providers[0].Models = map[string]string{fmt.Sprintf("gpt-bench-%d", i): "gpt-4o-mini"}
		werr = writeConfig(sc.ConfigFile, c)
		rewritten = append(rewritten, time.Now())
	}
	run := <-done
	if werr != nil {
		return s, werr
	}
	time.Sleep(500 * time.Millisecond) // let the last debounce fire
	after, err := sc.Metrics()
	if err != nil {
		return s, err
	}
	ok, failed := run.Counts()
	succ := after.Sum("llmroute_config_reloads_total", `result="success"`) - before.Sum("llmroute_config_reloads_total", `result="success"`)
	bad := after.Sum("llmroute_config_reloads_total", `result="failure"`) - before.Sum("llmroute_config_reloads_total", `result="failure"`)
	sm := Summarize(run.OKLatencies())
	tb := Table{Columns: []string{"run", "requests", "failed", "achieved (req/s)", "rewrites", "reloads (success)", "reloads (failure)", "p50 (µs)", "p99 (µs)", "p99.9 (µs)"}}
	cok, cfailed := control.Counts()
	cs := Summarize(control.OKLatencies())
	tb.Add("control: no rewrites, "+controlTime.String(), cok+cfailed, cfailed, round1(control.AchievedRate()), 0, nil, nil, cs.P50Us, cs.P99Us, cs.P999Us)
	tb.Add(fmt.Sprintf("%d rewrites, %s", rewrites, total+time.Second), ok+failed, failed, round1(run.AchievedRate()), rewrites, succ, bad, sm.P50Us, sm.P99Us, sm.P999Us)
	s.Tables = append(s.Tables, tb)
	s.check("failed requests during 20 reloads", Equal, 0, "requests", ptr(float64(failed)), &Measure{"control run", float64(cfailed)}, run.Failures())
	s.note("p99 latency during the reloads: %g µs, against %g µs in the control run just before (%.2f×).", sm.P99Us, cs.P99Us, ratioOr0(sm.P99Us, cs.P99Us))
	near, far := splitByReload(run, rewritten, reloadFrom, reloadTo)
	ns, fs := Summarize(near), Summarize(far)
	s.note("Requests due %s to %s after a rewrite, when the debounced reload lands: p50 %g µs, p99 %g µs (n=%d); the rest of the same run: "+
		"p50 %g µs, p99 %g µs (n=%d). A reload that stalled requests would show in the first pair.", reloadFrom, reloadTo, ns.P50Us, ns.P99Us, ns.N, fs.P50Us, fs.P99Us, fs.N)
	s.check("reloads applied", Equal, rewrites, "reloads", ptr(succ), nil, fmt.Sprintf("%g refused", bad))
	return s, nil
}

// The window after a rewrite in which its reload lands: the sidecar's
// 250 ms debounce, then the load and compile of the new config.
const (
	reloadFrom = 200 * time.Millisecond
	reloadTo   = 450 * time.Millisecond
)

// splitByReload splits the successful latencies of run into those of
// requests due from..to after one of the rewrite times, and the rest.
func splitByReload(run Run, rewrites []time.Time, from, to time.Duration) (near, far []time.Duration) {
	for _, smp := range run.Samples {
		if !smp.OK() {
			continue
		}
		in := false
		for _, t := range rewrites {
			if d := smp.Intended.Sub(t); d >= from && d < to {
				in = true
				break
			}
		}
		if in {
			near = append(near, smp.Latency)
		} else {
			far = append(far, smp.Latency)
		}
	}
	return near, far
}
