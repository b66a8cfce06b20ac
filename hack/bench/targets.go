package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Target is an endpoint the load generator drives, and the process behind
// it whose CPU is charged to it (nil for the direct calls to the mock).
type Target struct {
	Name     string // short id: direct, sidecar, sidecar-info, revproxy, nginx
	Label    string // what the report calls it
	URL      string // base URL; requests go to URL + /v1/chat/completions
	Proc     *Proc
	children bool // count child processes too (nginx's worker)
	client   *http.Client

	warmupFails int   // failed warm-up requests
	warmupErr   error // the last one's error
}

// warmUp sends up to n requests through t before it is measured:
// connections open, code paged in; with untilOK it stops at the first that
// succeeds. It fails only when every one failed (the target is broken); a
// stray failure is kept for the report's notes.
func warmUp(ctx context.Context, t *Target, n int, untilOK bool, try func() error) error {
	for range n {
		err := try()
		if err != nil {
			t.warmupFails++
			t.warmupErr = err
		}
		if err == nil && untilOK {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if t.warmupFails == n {
		msg := fmt.Sprintf("%s does not answer the benchmark's requests: %v", t.Label, t.warmupErr)
		if t.Proc != nil {
			msg += "\n" + t.Proc.Tail(1500)
		}
		return errors.New(msg)
	}
	return nil
}

func (t *Target) endpoint() string { return t.URL + "/v1/chat/completions" }

// cpu returns the CPU time its process has used so far (0 for direct).
func (t *Target) cpu() time.Duration {
	if t.Proc == nil {
		return 0
	}
	d, _ := CPUTime(t.Proc.Pid(), t.children)
	return d
}

// agg gathers a target's samples over the interleaved slices of a run.
type agg struct {
	samples []Sample
	elapsed time.Duration
	cpu     time.Duration
	slices  []Run // each slice on its own, for PercentileCI's blocks
}

func (a *agg) add(r Run, cpu time.Duration) {
	a.samples = append(a.samples, r.Samples...)
	a.elapsed += r.Elapsed
	a.cpu += cpu
	a.slices = append(a.slices, r)
}

// blocks returns the successful latencies of each slice.
func (a *agg) blocks() [][]time.Duration {
	out := make([][]time.Duration, 0, len(a.slices))
	for _, r := range a.slices {
		if l := r.OKLatencies(); len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}

func (a *agg) run() Run { return Run{Samples: a.samples, Elapsed: a.elapsed} }

// cpuPer1000 is the CPU seconds the target's process spent per 1,000 requests.
func (a *agg) cpuPer1000() float64 {
	if len(a.samples) == 0 {
		return 0
	}
	return round3(a.cpu.Seconds() / float64(len(a.samples)) * 1000)
}

// interleave runs each target for about total, cut into slices of at most
// slice: every round visits every target once, in a fresh random order, so
// that a burst of noise from elsewhere on the machine lands on all of them
// alike. A slice of 0 makes each round one call of run per target.
func interleave(ctx context.Context, targets []*Target, total, slice time.Duration, run func(ctx context.Context, t *Target, d time.Duration) Run) (map[string]*agg, error) {
	out := map[string]*agg{}
	for _, t := range targets {
		out[t.Name] = &agg{}
	}
	rounds, d := cut(total, slice)
	for range rounds {
		order := append([]*Target(nil), targets...)
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, t := range order {
			c0 := t.cpu()
			r := run(ctx, t, d)
			out[t.Name].add(r, t.cpu()-c0)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// cut cuts total into the fewest equal slices no longer than slice.
func cut(total, slice time.Duration) (n int, each time.Duration) {
	if slice <= 0 || total <= slice {
		return 1, total
	}
	n = int((total + slice - 1) / slice)
	return n, total / time.Duration(n)
}

// chatBodyBytes is the size of the bench's chat requests: a short
// conversation, about 1 KiB.
const chatBodyBytes = 1024

// chatBody returns an OpenAI chat request of about chatBodyBytes.
func chatBody(stream bool) []byte {
	type msg struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	req := struct {
		Model    string `json:"model"`
		Messages []msg  `json:"messages"`
		Stream   bool   `json:"stream,omitempty"`
	}{Model: "gpt-4o-mini", Stream: stream, Messages: []msg{
		{Role: "system", Content: "You are a helpful assistant."},
		{Role: "user", Content: ""},
	}}
	b, _ := json.Marshal(req)
	words := strings.Fields("Summarize the following notes about retries, breakers and fallbacks in two sentences.")
	var sb strings.Builder
	for i := 0; len(b)+sb.Len() < chatBodyBytes; i++ {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(words[i%len(words)])
	}
	req.Messages[1].Content = sb.String()
	b, _ = json.Marshal(req)
	return b
}
