package main

import (
	"context"
	"testing"
	"time"
)

func TestScheduleIsFixedAndDoesNotDrift(t *testing.T) {
	start := time.Unix(1000, 0)
	s := NewSchedule(start, 3000, 2*time.Second) // 333.33… µs apart: not a whole number of ns
	if s.N != 6000 {
		t.Fatalf("N = %d, want 6000", s.N)
	}
	if got := s.At(0); !got.Equal(start) {
		t.Errorf("At(0) = %v, want the start", got)
	}
	if got, want := s.At(3000), start.Add(time.Second); !got.Equal(want) {
		t.Errorf("At(3000) = %v, want exactly 1 s after the start", got.Sub(start))
	}
	for i := 1; i < s.N; i++ {
		gap := s.At(i).Sub(s.At(i - 1))
		if gap < 333*time.Microsecond || gap > 334*time.Microsecond {
			t.Fatalf("gap before request %d = %v, want 333.3 µs", i, gap)
		}
	}
}

func TestOpenLoopMeasuresFromTheIntendedTime(t *testing.T) {
	// A server that stalls once: the requests due during the stall must
	// count the stall, not only their own service time.
	calls := 0
	run := OpenLoop(context.Background(), 1000, 50*time.Millisecond, 1, func(context.Context) Outcome {
		calls++
		if calls == 10 {
			time.Sleep(20 * time.Millisecond)
		}
		return Outcome{Status: 200}
	})
	if len(run.Samples) != 50 {
		t.Fatalf("%d samples, want 50", len(run.Samples))
	}
	// With one request in flight at most, request 10 (index 10) waits for
	// the stalled request 9: about 19 ms late, and it must show.
	if got := run.Samples[10].Latency; got < 15*time.Millisecond {
		t.Errorf("latency of the request queued behind the stall = %v, want ≥ 15 ms (coordinated omission)", got)
	}
	if got := run.Samples[10].Lag(); got < 15*time.Millisecond {
		t.Errorf("that request left %v late, want ≥ 15 ms: the wait must show as lag, outside its service time", got)
	}
	if ok, failed := run.Counts(); ok != 50 || failed != 0 {
		t.Errorf("Counts = %d, %d", ok, failed)
	}
}

func TestCutIntoSlices(t *testing.T) {
	for _, tc := range []struct {
		total, slice time.Duration
		n            int
		each         time.Duration
	}{
		{4 * time.Second, 250 * time.Millisecond, 16, 250 * time.Millisecond},
		{time.Second, 300 * time.Millisecond, 4, 250 * time.Millisecond},
		{time.Second, 0, 1, time.Second},
		{100 * time.Millisecond, time.Second, 1, 100 * time.Millisecond},
	} {
		n, each := cut(tc.total, tc.slice)
		if n != tc.n || each != tc.each {
			t.Errorf("cut(%v, %v) = %d × %v, want %d × %v", tc.total, tc.slice, n, each, tc.n, tc.each)
		}
	}
}

func TestSplitByReload(t *testing.T) {
	t0 := time.Unix(100, 0)
	var run Run
	for i := range 10 {
		run.Samples = append(run.Samples, Sample{Outcome: Outcome{Status: 200}, Intended: t0.Add(time.Duration(i) * 100 * time.Millisecond), Latency: time.Duration(i)})
	}
	near, far := splitByReload(run, []time.Time{t0.Add(150 * time.Millisecond)}, 100*time.Millisecond, 300*time.Millisecond)
	if len(near) != 2 || near[0] != 3 || near[1] != 4 || len(far) != 8 {
		t.Errorf("near %v, far %v; want requests 3 and 4 near the rewrite", near, far)
	}
}
