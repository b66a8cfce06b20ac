// Command bench is llmroute's benchmark harness: `make bench` and
// `make soak`. It builds the sidecar and hack/mockllm, runs them and the
// baselines (a bare httputil.ReverseProxy and, when installed, nginx) as
// separate processes on loopback, drives the load itself, and writes
// BENCHMARKS.md and bench.json at the repository root. Every figure is
// measured in the same run as its baseline.
//
// Usage (from the repository root):
//
//	go run ./hack/bench [flags]          # the benchmark, about 3 minutes
//	go run ./hack/bench -quick           # about 2 minutes, rougher numbers
//	go run ./hack/bench -soak 10m        # the soak only; merged into the report
//
// `bench revproxy --upstream URL` is the ReverseProxy baseline that the
// harness runs as a child of its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options are the knobs: every duration and rate of the run.
type Options struct {
	Duration           time.Duration
	Rates              []float64
	Rounds             int
	Slice              time.Duration
	Concurrency        int
	ThroughputDuration time.Duration
	StreamRate         float64
	StreamDuration     time.Duration
	OpenStreams        int
	FaultLoad          time.Duration
	Outage             time.Duration
	StormDuration      time.Duration
	ReloadEvery        time.Duration
	GoBenchtime        string
	NoGoBench          bool
	Only               map[string]bool
	Soak               time.Duration
	SoakRate           float64
	Out, JSON          string
	Keep, Strict       bool
	PlainSidecar       bool
	settings           []Setting
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "revproxy" {
		if err := revproxyCommand(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench revproxy:", err)
			os.Exit(1)
		}
		return
	}
	code, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
	}
	os.Exit(code)
}

func parseFlags(args []string) (*Options, error) {
	o := &Options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "shorter runs everywhere (about 2 minutes instead of 3; rougher tails)")
	fs.DurationVar(&o.Duration, "duration", 3*time.Second, "section 1: measuring time per target at each rate")
	rates := fs.String("rates", "500,1000,2000", "section 1: open-loop rates in req/s (1000 carries the targets)")
	fs.DurationVar(&o.Slice, "slice", 250*time.Millisecond, "section 1: the longest slice a target runs before the next takes over (interleaving)")
	fs.IntVar(&o.Rounds, "rounds", 2, "section 2: interleaved slices each target's streams are cut into")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "section 1: requests in flight in the closed-loop throughput run")
	fs.DurationVar(&o.ThroughputDuration, "throughput-duration", 2*time.Second, "section 1: closed-loop time per target")
	fs.Float64Var(&o.StreamRate, "stream-rate", 25, "section 2: streams started per second")
	fs.DurationVar(&o.StreamDuration, "stream-duration", 3*time.Second, "section 2: time streams are started for, per target")
	fs.IntVar(&o.OpenStreams, "open-streams", 1000, "section 3: concurrent open streams")
	fs.DurationVar(&o.FaultLoad, "fault-load", 3*time.Second, "section 4: time of the 500 req/s transient-503 run")
	fs.DurationVar(&o.Outage, "outage", 5*time.Second, "section 4: how long the primary is down (the issue's 20 s, shortened)")
	fs.DurationVar(&o.StormDuration, "storm-duration", 3*time.Second, "section 5: time of each 1,000 req/s run")
	fs.DurationVar(&o.ReloadEvery, "reload-every", 500*time.Millisecond, "section 6: time between config rewrites (more than the 250 ms debounce)")
	fs.StringVar(&o.GoBenchtime, "gobench-time", "50ms", "-benchtime of the Go benchmarks")
	fs.BoolVar(&o.NoGoBench, "no-gobench", false, "skip the Go benchmarks")
	only := fs.String("only", "", "comma-separated sections to run, e.g. 1,4 (default: all but the soak)")
	fs.DurationVar(&o.Soak, "soak", 0, "run only the soak (section 7) for this long, e.g. 10m, and merge it into the report")
	fs.Float64Var(&o.SoakRate, "soak-rate", 500, "section 7: req/s")
	fs.StringVar(&o.Out, "out", "BENCHMARKS.md", "the Markdown report")
	fs.StringVar(&o.JSON, "json", "bench.json", "the JSON report")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temp dir with the children's logs and configs")
	fs.BoolVar(&o.Strict, "strict", false, "exit 1 when a check fails")
	fs.BoolVar(&o.PlainSidecar, "plain-sidecar", false, "run the sidecar as `go build` makes it (with symbols, for perf) instead of the stripped build")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		shorten := func(name string, d *time.Duration, v time.Duration) {
			if !set[name] {
				*d = v
			}
		}
		shorten("duration", &o.Duration, 1500*time.Millisecond)
		shorten("throughput-duration", &o.ThroughputDuration, time.Second)
		shorten("stream-duration", &o.StreamDuration, 1500*time.Millisecond)
		shorten("fault-load", &o.FaultLoad, 2*time.Second)
		shorten("outage", &o.Outage, 3*time.Second)
		shorten("storm-duration", &o.StormDuration, 1500*time.Millisecond)
		shorten("reload-every", &o.ReloadEvery, 400*time.Millisecond)
		if !set["gobench-time"] {
			o.GoBenchtime = "20ms"
		}
	}
	for _, r := range strings.Split(*rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("-rates: %q is not a positive number", r)
		}
		o.Rates = append(o.Rates, v)
	}
	if o.Rounds < 1 || o.Concurrency < 1 || o.OpenStreams < 1 || o.StreamRate <= 0 || o.SoakRate <= 0 {
		return nil, errors.New("-rounds, -concurrency, -open-streams, -stream-rate and -soak-rate must be positive")
	}
	if o.ReloadEvery <= 250*time.Millisecond {
		return nil, errors.New("-reload-every must be longer than the sidecar's 250ms debounce")
	}
	if *only != "" {
		o.Only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			o.Only[strings.TrimSpace(s)] = true
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		o.settings = append(o.settings, Setting{Flag: f.Name, Value: "`" + f.Value.String() + "`", Help: f.Usage})
	})
	return o, nil
}

func run(args []string) (int, error) {
	o, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, err
	}
	repo, err := moduleRoot()
	if err != nil {
		return 2, err
	}
	// Ctrl-C or SIGTERM cancels the run; the deferred Close stops every child.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	h, err := newHarness(repo)
	if err != nil {
		return 1, err
	}
	defer h.Close(o.Keep)
	if o.Keep {
		logf("keeping logs and configs in %s", h.Dir)
	}
	r := &Report{Machine: readMachine(), Date: time.Now().UTC().Format("2006-01-02 15:04 MST"), Command: command(args), Settings: o.settings}
	h.Nginx, r.Machine.Nginx = findNginx()
	logf("building the sidecar and hack/mockllm")
	if err := h.Build(ctx); err != nil {
		return 1, err
	}
	if o.PlainSidecar {
		h.Sidecar = h.Plain
	}

	if o.Soak > 0 {
		return soakOnly(ctx, h, o, r)
	}

	var ov OverheadResult
	var faults *faultEnv
	sections := []struct {
		id   string
		name string
		run  func() (*Section, error)
	}{
		{"1", "overhead", func() (*Section, error) { return overheadSection(ctx, h, o, &ov) }},
		{"2", "streaming", func() (*Section, error) { return streamSection(ctx, h, o) }},
		{"3", "footprint", func() (*Section, error) { return footprintSection(ctx, h, o, &ov) }},
		{"4", "fault matrix", func() (*Section, error) {
			if faults, err = newFaultEnv(ctx, h); err != nil {
				return nil, err
			}
			return faultSection(ctx, faults, o)
		}},
		{"5", "retry storm", func() (*Section, error) {
			if faults == nil {
				if faults, err = newFaultEnv(ctx, h); err != nil {
					return nil, err
				}
			}
			return stormSection(ctx, faults, o)
		}},
		{"6", "reload", func() (*Section, error) {
			m := ov.Mock
			if m == nil {
				if m, err = h.StartMock(ctx, "reload", "--completion-bytes", "1024"); err != nil {
					return nil, err
				}
			}
			return reloadSection(ctx, h, o, m, chatBody(false))
		}},
		{"go", "Go benchmarks", func() (*Section, error) {
			if o.NoGoBench {
				return &Section{ID: "go", Title: "Go benchmarks of the sidecar packages", Skipped: "-no-gobench"}, nil
			}
			return goBenchSection(ctx, h, o)
		}},
	}
	for _, sec := range sections {
		if o.Only != nil && !o.Only[sec.id] {
			continue
		}
		if sec.id == "3" && ov.CPUPer1000 == nil && (o.Only == nil || !o.Only["1"]) {
			logf("section 3 needs section 1's runs for CPU per request; running without them")
			ov.CPUPer1000, ov.ThroughputCPU = map[string]float64{}, map[string]float64{}
		}
		logf("section %s: %s", sec.id, sec.name)
		t0 := time.Now()
		s, err := sec.run()
		if ctx.Err() != nil {
			return 130, errors.New("interrupted; children stopped, no report written")
		}
		if s == nil {
			s = &Section{ID: sec.id, Title: sec.name}
		}
		if err != nil {
			s.Skipped = "the run failed: " + oneLine(err.Error())
			logf("section %s failed: %v", sec.id, err)
		}
		for _, c := range h.Crashed() {
			s.note("**%s**", c)
			logf("section %s: %s", sec.id, c)
		}
		s.Seconds = round1(time.Since(t0).Seconds())
		r.Sections = append(r.Sections, s)
		logf("section %s done in %.0fs", sec.id, s.Seconds)
	}
	carryOver(r, o.JSON)
	return finish(r, o)
}

// soakOnly runs section 7 and merges it into the existing report.
func soakOnly(ctx context.Context, h *Harness, o *Options, fresh *Report) (int, error) {
	logf("soak: %s at %g req/s", o.Soak, o.SoakRate)
	t0 := time.Now()
	s, err := soakSection(ctx, h, o)
	if ctx.Err() != nil {
		return 130, errors.New("interrupted; children stopped, no report written")
	}
	if err != nil {
		s.Skipped = "the run failed: " + oneLine(err.Error())
	}
	for _, c := range h.Crashed() {
		s.note("**%s**", c)
	}
	s.Seconds = round1(time.Since(t0).Seconds())
	fresh.Sections = []*Section{s}
	carryOver(fresh, o.JSON)
	return finish(fresh, o)
}

// carryOver completes a report from the one an earlier run wrote to
// jsonFile: every section this run did not measure (the soak, which only
// `make soak` runs, and those that -only left out) is kept, marked with the
// date it was measured. Each section's baselines come from its own run, so
// its ratios stay side by side. A soak never run gets a section saying how
// to run it.
func carryOver(r *Report, jsonFile string) {
	old, err := ReadReport(jsonFile)
	if err != nil {
		old = &Report{}
	}
	var out []*Section
	for _, id := range sectionOrder {
		if s := r.section(id); s != nil {
			out = append(out, s)
			continue
		}
		if s := old.section(id); s != nil && s.Skipped == "" {
			if s.When == "" {
				s.When = fmt.Sprintf("Measured by an earlier run on %s, not by this one.", old.Date)
			}
			out = append(out, s)
			continue
		}
		if id == "7" {
			out = append(out, &Section{ID: "7", Title: "7. Soak", Targets: "500 req/s with 5% faults for 10 minutes: RSS and goroutine count stable.",
				Skipped: "not part of `make bench` (it takes 10 minutes): run `make soak` (or `make soak SOAK_DURATION=1m`), which adds it here."})
		}
	}
	r.Sections = out
}

// sectionOrder is the order of the report's sections.
var sectionOrder = []string{"1", "2", "3", "4", "5", "6", "7", "go"}

func finish(r *Report, o *Options) (int, error) {
	r.Machine.finish()
	if err := r.WriteJSON(o.JSON); err != nil {
		return 1, err
	}
	if err := r.WriteMarkdown(o.Out); err != nil {
		return 1, err
	}
	t := r.Tally()
	fmt.Printf("%d PASS, %d FAIL, %d not measured; wrote %s and %s\n", t[Pass], t[Fail], t[NotMeasured], o.Out, o.JSON)
	for _, c := range r.Checks() {
		if c.Status != Pass {
			fmt.Printf("  %s  §%s %s: %s (target %s %s)\n", c.Status, c.Section, c.Name, valueText(c.Value, c.Unit), opText(c.Op), num(c.Limit, c.Unit))
		}
	}
	if o.Strict && t[Fail] > 0 {
		return 1, nil
	}
	return 0, nil
}

// moduleRoot finds the repository root (the directory of go.mod) from the
// working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/osmen-ai/llmroute\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the llmroute repository (no go.mod of github.com/osmen-ai/llmroute above the working directory)")
		}
		dir = parent
	}
}

func command(args []string) string {
	switch {
	case len(args) == 0:
		return "make bench"
	case len(args) == 2 && args[0] == "-soak":
		return "make soak SOAK_DURATION=" + args[1]
	}
	return "go run ./hack/bench " + strings.Join(args, " ")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
