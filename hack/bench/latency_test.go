package main

import (
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 1000; i++ {
		s = append(s, time.Duration(i)*time.Microsecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{
		{50, 500 * time.Microsecond},
		{99, 990 * time.Microsecond},
		{99.9, 999 * time.Microsecond},
		{100, 1000 * time.Microsecond},
		{0.01, 1 * time.Microsecond}, // never below the first sample
	} {
		if got := Percentile(s, tc.p); got != tc.want {
			t.Errorf("Percentile(1..1000 µs, %g) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("Percentile(nil) = %v, want 0", got)
	}
}

func TestPercentileFewSamples(t *testing.T) {
	// With 10 samples p99 and p99.9 are both the largest: a tail percentile
	// of few samples is its maximum, never an interpolation past it.
	s := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if got := Percentile(s, 99); got != 10 {
		t.Errorf("p99 of 10 samples = %v, want 10", got)
	}
	if got := Percentile(s, 50); got != 5 {
		t.Errorf("p50 of 10 samples = %v, want 5", got)
	}
}

func TestSummarizeDoesNotReorderItsInput(t *testing.T) {
	in := []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond}
	s := Summarize(in)
	if in[0] != 3*time.Millisecond {
		t.Error("Summarize sorted its input in place")
	}
	want := Summary{N: 3, MinUs: 1000, MeanUs: 2000, P50Us: 2000, P90Us: 3000, P99Us: 3000, P999Us: 3000, MaxUs: 3000}
	if s != want {
		t.Errorf("Summarize = %+v, want %+v", s, want)
	}
	if (Summarize(nil) != Summary{}) {
		t.Error("Summarize(nil) is not the zero Summary")
	}
}

func TestCoalescedShare(t *testing.T) {
	gaps := []time.Duration{5 * time.Millisecond, 100 * time.Microsecond, 5 * time.Millisecond, 499 * time.Microsecond}
	if got := coalescedShare(gaps); got != 50 {
		t.Errorf("coalescedShare = %g%%, want 50%%", got)
	}
	if got := coalescedShare(nil); got != 0 {
		t.Errorf("coalescedShare(nil) = %g", got)
	}
}

func TestPercentileCI(t *testing.T) {
	var many []time.Duration
	for i := 1; i <= 2000; i++ {
		many = append(many, time.Duration(i)*time.Microsecond)
	}
	lo, hi := PercentileCI([][]time.Duration{many}, 50, 200, 1)
	if lo > 1000*time.Microsecond || hi < 1000*time.Microsecond || hi-lo > 100*time.Microsecond {
		t.Errorf("p50 CI of 1..2000 µs = %v … %v, want a narrow interval around 1000 µs", lo, hi)
	}
	// Ten samples: the p99 is the maximum of whatever was drawn, so the
	// interval reaches well below the largest sample.
	lo, hi = PercentileCI([][]time.Duration{many[:10]}, 99, 200, 1)
	if hi != 10*time.Microsecond || lo > 9*time.Microsecond {
		t.Errorf("p99 CI of 10 samples = %v … %v, want a wide one up to the maximum", lo, hi)
	}
	same := []time.Duration{5, 5, 5, 5}
	if lo, hi := PercentileCI([][]time.Duration{same}, 99, 50, 1); lo != 5 || hi != 5 {
		t.Errorf("CI of a constant = %v … %v", lo, hi)
	}
}

func TestPercentileCISeesAStallInOneBlock(t *testing.T) {
	// Twelve slices of 250 requests at 1 ms; in one of them a 90 ms stall
	// delays 60 requests. The pooled p99 sits in the stall; drawing whole
	// slices shows it could as well be 1 ms.
	var blocks [][]time.Duration
	for b := range 12 {
		var blk []time.Duration
		for i := range 250 {
			d := time.Millisecond
			if b == 5 && i < 60 {
				d = 90 * time.Millisecond
			}
			blk = append(blk, d)
		}
		blocks = append(blocks, blk)
	}
	lo, hi := PercentileCI(blocks, 99, 200, 1)
	if lo != time.Millisecond || hi != 90*time.Millisecond {
		t.Errorf("p99 CI = %v … %v, want 1ms … 90ms", lo, hi)
	}
}
