package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		op    Op
		limit float64
		value *float64
		want  Status
	}{
		{AtMost, 60, ptr(59.9), Pass},
		{AtMost, 60, ptr(60), Pass},
		{AtMost, 60, ptr(60.1), Fail},
		{AtLeast, 1.0, ptr(0.99), Fail},
		{AtLeast, 1.0, ptr(1.0), Pass},
		{Equal, 0, ptr(0), Pass},
		{Equal, 0, ptr(1), Fail},
		{AtMost, 60, nil, NotMeasured},
		{AtMost, 60, ptr(math.NaN()), NotMeasured},
		{AtLeast, 0, ptr(math.Inf(1)), NotMeasured},
		{Op("~"), 1, ptr(1), NotMeasured},
	} {
		if got := Evaluate(tc.op, tc.limit, tc.value); got != tc.want {
			v := "nil"
			if tc.value != nil {
				v = fmtFloat(*tc.value)
			}
			t.Errorf("Evaluate(%s %g, %s) = %s, want %s", tc.op, tc.limit, v, got, tc.want)
		}
	}
}

func TestSectionChecksAndReport(t *testing.T) {
	s := &Section{ID: "1", Title: "1. Overhead"}
	s.check("overhead p50", AtMost, 60, "µs", ptr(72), &Measure{"ReverseProxy", 48}, "")
	s.check("nan", AtMost, 1, "", ptr(math.NaN()), nil, "")
	s.check("nginx", AtMost, 1, "×", nil, nil, "nginx is not installed")
	if s.Checks[0].Status != Fail || s.Checks[1].Status != NotMeasured || s.Checks[2].Status != NotMeasured {
		t.Fatalf("statuses = %s, %s, %s", s.Checks[0].Status, s.Checks[1].Status, s.Checks[2].Status)
	}
	if s.Checks[1].Value != nil {
		t.Error("a NaN value was kept: bench.json cannot hold it")
	}
	if r := s.Checks[0].Ratio(); r == nil || *r != 1.5 {
		t.Errorf("ratio = %v, want 1.5", r)
	}
	s.Tables = append(s.Tables, Table{Columns: []string{"a", "b"}, Rows: [][]any{{"x|y", math.NaN()}}})

	r := &Report{Date: "today", Command: "make bench", Sections: []*Section{s}}
	if got := r.Tally(); got[Fail] != 1 || got[NotMeasured] != 2 || got[Pass] != 0 {
		t.Errorf("Tally = %v", got)
	}
	md := r.Markdown()
	for _, want := range []string{"0 PASS, 1 FAIL, 2 not measured", "| 1 | overhead p50 | ≤ 60 µs | 72 µs | ReverseProxy: 48 µs | 1.50× | **FAIL** |",
		"not measured (nginx is not installed)", `x\|y`} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown lacks %q:\n%s", want, md)
		}
	}

	file := filepath.Join(t.TempDir(), "bench.json")
	if err := r.WriteJSON(file); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Checks()) != 3 || back.section("1") == nil || back.Checks()[0].Status != Fail {
		t.Errorf("bench.json did not round-trip: %+v", back)
	}
	if b, _ := os.ReadFile(file); strings.Contains(string(b), "NaN") {
		t.Error("bench.json holds NaN")
	}
}

func TestThirds(t *testing.T) {
	// Warm-up growth in the first third is not held against the run.
	mid, last := thirds([]float64{2, 9, 11, 11, 13, 12, 30, 12, 11})
	if mid != 13 || last != 30 {
		t.Errorf("thirds = %g, %g; want 13, 30", mid, last)
	}
	mid, last = thirds([]float64{5, 6})
	if mid != 5 || last != 6 {
		t.Errorf("thirds of 2 samples = %g, %g; want 5, 6", mid, last)
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
pkg: github.com/osmen-ai/llmroute/sidecar/sse
BenchmarkReader-2   	   12345	      9876 ns/op	 103.5 MB/s	      48 B/op	       1 allocs/op
BenchmarkBroken-2 --- FAIL
PASS
ok  	github.com/osmen-ai/llmroute/sidecar/sse	1.2s
`
	rows := parseGoBench(out)
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1: %+v", len(rows), rows)
	}
	b := rows[0]
	if b.pkg != "sidecar/sse" || b.name != "BenchmarkReader-2" || b.n != 12345 || b.metric("ns/op") != 9876.0 ||
		b.metric("allocs/op") != 1.0 || b.other() != "103.5 MB/s" {
		t.Errorf("parsed %+v", b)
	}
}

func TestGuardNoise(t *testing.T) {
	s := &Section{ID: "1"}
	for _, tc := range []struct {
		value, lo, hi float64
		want          Status
	}{
		{72, 67, 77, Fail},                // all over the 60 µs target
		{40, 35, 45, Pass},                // all under it
		{40, -860, 940, NotMeasured},      // a PASS inside the noise must not stand
		{783, 683, 883, Fail},             // far over the target, noise or not
		{58, 53, 63, NotMeasured},         // straddles 60
		{-1739, -3330, 1590, NotMeasured}, // a negative overhead is noise, not a pass
	} {
		c := s.check("overhead", AtMost, 60, "µs", ptr(tc.value), nil, "")
		guardNoise(c, "noise", tc.lo, tc.hi)
		if c.Status != tc.want {
			t.Errorf("%g µs in %g … %g: %s (%s), want %s", tc.value, tc.lo, tc.hi, c.Status, c.Why, tc.want)
		}
		if c.Value == nil || *c.Value != tc.value {
			t.Error("the measured value must still be reported")
		}
	}
}

func TestEstimateOverhead(t *testing.T) {
	var direct, aa, proxied agg
	for range 12 {
		var d, a, p Run
		for i := range 250 {
			lat := time.Duration(1000+i%100) * time.Microsecond
			d.Samples = append(d.Samples, Sample{Outcome: Outcome{Status: 200}, Latency: lat})
			a.Samples = append(a.Samples, Sample{Outcome: Outcome{Status: 200}, Latency: lat + 2*time.Microsecond})
			p.Samples = append(p.Samples, Sample{Outcome: Outcome{Status: 200}, Latency: lat + 500*time.Microsecond})
		}
		direct.add(d, 0)
		aa.add(a, 0)
		proxied.add(p, 0)
	}
	e := estimateOverhead(&proxied, &direct, &aa, 50)
	if e.Value != 500 || e.Lo > 500 || e.Hi < 500 || e.Hi-e.Lo > 20 || e.AA != 2 {
		t.Errorf("estimate = %+v, want 500 µs within a narrow interval", e)
	}
	lo, hi := ratioRange(e, Estimate{Value: 250, Lo: 240, Hi: 260})
	if lo > 2 || hi < 2 || math.IsInf(hi, 1) {
		t.Errorf("ratio range = %g … %g, want around 2", lo, hi)
	}
	if _, hi := ratioRange(e, Estimate{Value: 10, Lo: -5, Hi: 25}); !math.IsInf(hi, 1) {
		t.Errorf("a baseline that could be 0 must leave the ratio unbounded, got %g", hi)
	}
}

func TestCarryOverKeepsWhatThisRunDidNotMeasure(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bench.json")
	old := &Report{Date: "yesterday", Sections: []*Section{
		{ID: "1", Title: "old 1"}, {ID: "4", Title: "old 4"}, {ID: "5", Title: "failed 5", Skipped: "the run failed"},
	}}
	if err := old.WriteJSON(file); err != nil {
		t.Fatal(err)
	}
	r := &Report{Date: "today", Sections: []*Section{{ID: "go", Title: "new go"}, {ID: "1", Title: "new 1"}}}
	carryOver(r, file)
	var got []string
	for _, s := range r.Sections {
		got = append(got, s.ID+":"+s.Title)
	}
	if want := "1:new 1,4:old 4,7:7. Soak,go:new go"; strings.Join(got, ",") != want {
		t.Errorf("sections %s, want %s", strings.Join(got, ","), want)
	}
	if s := r.section("4"); !strings.Contains(s.When, "yesterday") {
		t.Errorf("a carried section must say when it was measured: %q", s.When)
	}
	if s := r.section("7"); s.Skipped == "" {
		t.Error("a soak never run must say how to run it")
	}
}
