package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/osmen-ai/llmroute/hack/process"
)

const mib = 1 << 20

// footprintSection measures section 3: memory at idle and under 1,000 open
// streams, CPU per 1,000 requests (from section 1's runs) and binary size.
func footprintSection(ctx context.Context, h *Harness, o *Options, ov *OverheadResult) (*Section, error) {
	s := &Section{
		ID:      "3",
		Title:   "3. Footprint",
		Targets: "sidecar RSS ≤ 15 MiB at idle and ≤ 80 MiB with 1,000 concurrent open streams; CPU seconds per 1,000 requests and binary size reported.",
		Method: "RSS is VmRSS from /proc/PID/status (nginx: master + worker). Idle: a freshly started process after 1 s, before any request. " +
			"Open streams: 1,000 streaming requests held open at once through the proxy to a mock that paces its chunks 100 ms apart; " +
			"RSS is sampled every 100 ms once all streams are open, and the peak is reported. CPU is utime + stime from /proc/PID/stat " +
			"(10 ms ticks), taken around each proxy's slices of section 1.",
	}
	idle := Table{Title: "**Idle RSS** (fresh process, no request yet)", Columns: []string{"process", "RSS (MiB)"}}
	m, err := h.StartMock(ctx, "idle")
	if err != nil {
		return s, err
	}
	idleRSS := map[string]float64{}
	measureIdle := func(name string, p *Proc, children bool) error {
		if err := sleepCtx(ctx, time.Second); err != nil {
			return err
		}
		v, err := RSS(p.Pid(), children)
		if err != nil {
			return err
		}
		idleRSS[name] = round3(float64(v) / mib)
		p.Stop()
		return nil
	}
	sc, err := h.StartSidecar(ctx, "idle", benchConfig(m.BaseURL()), SidecarOptions{})
	if err != nil {
		return s, err
	}
	if err := measureIdle("sidecar", sc.Proc, false); err != nil {
		return s, err
	}
	rp, err := h.StartRevProxy(ctx, "idle", m.URL)
	if err != nil {
		return s, err
	}
	if err := measureIdle("revproxy", rp, false); err != nil {
		return s, err
	}
	if h.Nginx != "" {
		ng, err := h.StartNginx(ctx, m.Addr)
		if err != nil {
			return s, err
		}
		if err := measureIdle("nginx", ng, true); err != nil {
			return s, err
		}
	}
	for _, n := range []string{"sidecar", "revproxy", "nginx"} {
		if v, ok := idleRSS[n]; ok {
			idle.Add(n, v)
		}
	}
	s.check("sidecar RSS at idle", AtMost, 15, "MiB", ptr(idleRSS["sidecar"]), &Measure{"httputil.ReverseProxy", idleRSS["revproxy"]}, "")

	// 1,000 open streams.
	slow, err := h.StartMock(ctx, "slow-stream", "--stream-chunks", "100", "--stream-interval", "100ms", "--completion-bytes", "1000")
	if err != nil {
		return s, err
	}
	open := Table{Title: fmt.Sprintf("**%d concurrent open streams**", o.OpenStreams),
		Columns: []string{"process", "streams open", "RSS before (MiB)", "peak RSS (MiB)", "KiB per stream", "time to open all (s)",
			"Go heap in use (MiB)", "goroutine stacks (MiB)", "goroutines"}}
	peaks := map[string]float64{}
	streamsOpen := map[string]int{}
	sc2, err := h.StartSidecar(ctx, "streams", benchConfig(slow.BaseURL()), SidecarOptions{})
	if err != nil {
		return s, err
	}
	rp2, err := h.StartRevProxy(ctx, "streams", slow.URL)
	if err != nil {
		return s, err
	}
	for _, t := range []*Target{
		{Name: "sidecar", URL: sc2.URL, Proc: sc2.Proc},
		{Name: "revproxy", URL: "http://" + rp2.Addr, Proc: rp2},
	} {
		var scrape func() (process.Metrics, error)
		if t.Name == "sidecar" {
			scrape = sc2.Metrics // the baseline has no /metrics
		}
		r, err := holdStreams(ctx, t, o.OpenStreams, scrape)
		if err != nil {
			return s, err
		}
		peaks[t.Name] = r.peak
		streamsOpen[t.Name] = r.open
		perStream := 0.0
		if r.open > 0 {
			perStream = round1((r.peak - r.before) * 1024 / float64(r.open))
		}
		var heap, stacks, gor any
		if r.metrics != nil {
			heap = round3(r.metrics.Sum("go_memstats_heap_inuse_bytes") / mib)
			stacks = round3(r.metrics.Sum("go_memstats_stack_inuse_bytes") / mib)
			gor = r.metrics.Sum("go_goroutines")
		}
		open.Add(t.Name, r.open, r.before, r.peak, perStream, round3(r.openTime.Seconds()), heap, stacks, gor)
		t.Proc.Stop()
	}
	if n := streamsOpen["sidecar"]; n < o.OpenStreams {
		s.check(fmt.Sprintf("sidecar RSS with %d open streams", o.OpenStreams), AtMost, 80, "MiB", nil, nil,
			fmt.Sprintf("only %d of %d streams opened", n, o.OpenStreams))
	} else {
		s.check(fmt.Sprintf("sidecar RSS with %d open streams", o.OpenStreams), AtMost, 80, "MiB", ptr(peaks["sidecar"]),
			&Measure{"httputil.ReverseProxy", peaks["revproxy"]}, "")
	}

	cpu := Table{Title: "**CPU seconds per 1,000 requests** (section 1's runs: 1 KB in, 1 KB out)",
		Columns: []string{"process", "at 1,000 req/s", "at saturation (closed loop)"}}
	for _, n := range []string{"sidecar", "sidecar-info", "revproxy", "nginx"} {
		if v, ok := ov.CPUPer1000[n]; ok {
			var sat any
			if t, ok := ov.ThroughputCPU[n]; ok {
				sat = t
			}
			cpu.Add(n, v, sat)
		}
	}
	if v, ok := ov.CPUPer1000["sidecar"]; ok && ov.CPUPer1000["revproxy"] > 0 {
		s.note("At 1,000 req/s the sidecar used %g CPU s per 1,000 requests, %.2f× the ReverseProxy's %g.", v, v/ov.CPUPer1000["revproxy"], ov.CPUPer1000["revproxy"])
	}

	bin := Table{Title: "**Binary size** of llmroute-sidecar", Columns: []string{"build", "bytes", "MiB"}}
	for _, b := range []struct{ name, file string }{
		{"`go build -trimpath -ldflags \"-s -w\"` (as the image ships it)", h.Stripped},
		{"`go build`", h.Plain},
	} {
		fi, err := os.Stat(b.file)
		if err != nil {
			return s, err
		}
		bin.Add(b.name, fi.Size(), round3(float64(fi.Size())/mib))
	}
	s.Tables = append(s.Tables, idle, open, cpu, bin)
	return s, nil
}

type holdResult struct {
	open         int
	before, peak float64 // MiB
	openTime     time.Duration
	metrics      process.Metrics // the sidecar's, with every stream open
}

// holdStreams opens n streams through t at once, waits until each has its
// first content event, samples RSS for a second (and scrape, when set), then
// hangs up on them all.
func holdStreams(ctx context.Context, t *Target, n int, scrape func() (process.Metrics, error)) (holdResult, error) {
	var r holdResult
	before, err := RSS(t.Proc.Pid(), false)
	if err != nil {
		return r, err
	}
	r.before = round3(float64(before) / mib)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, DisableCompression: true}}
	defer client.CloseIdleConnections()
	sctx, cancel := context.WithCancel(ctx)
	body := chatBody(true)
	var opened atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			holdOne(sctx, client, t.endpoint(), body, &opened)
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for opened.Load() < int64(n) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	r.openTime = time.Since(start)
	r.open = int(opened.Load())
	var peak int64
	for range 10 {
		if v, err := RSS(t.Proc.Pid(), false); err == nil && v > peak {
			peak = v
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.peak = round3(float64(peak) / mib)
	if scrape != nil {
		r.metrics, _ = scrape()
	}
	cancel()
	wg.Wait()
	return r, ctx.Err()
}

// holdOne opens a stream, counts it open at its first content event, and
// reads on until ctx ends.
func holdOne(ctx context.Context, c *http.Client, url string, body []byte, opened *atomic.Int64) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	counted := false
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 && !counted && containsContent(buf[:n]) {
			counted = true
			opened.Add(1)
		}
		if err != nil {
			return
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
