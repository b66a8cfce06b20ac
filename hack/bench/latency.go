package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Summary is the distribution of a set of latencies, in microseconds so that
// bench.json reads without unit conversions.
type Summary struct {
	N      int     `json:"n"`
	MinUs  float64 `json:"min_us"`
	MeanUs float64 `json:"mean_us"`
	P50Us  float64 `json:"p50_us"`
	P90Us  float64 `json:"p90_us"`
	P99Us  float64 `json:"p99_us"`
	P999Us float64 `json:"p999_us"`
	MaxUs  float64 `json:"max_us"`
}

// Summarize sorts a copy of samples and reads its percentiles. An empty
// input gives the zero Summary.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	s := sortedCopy(samples)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Summary{
		N:      len(s),
		MinUs:  us(s[0]),
		MeanUs: us(sum / time.Duration(len(s))),
		P50Us:  us(Percentile(s, 50)),
		P90Us:  us(Percentile(s, 90)),
		P99Us:  us(Percentile(s, 99)),
		P999Us: us(Percentile(s, 99.9)),
		MaxUs:  us(s[len(s)-1]),
	}
}

// Percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted samples: the smallest sample that at least p% of the samples do not
// exceed. It never interpolates, so every value it returns was observed.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// The epsilon keeps 99.9% of 1000 at rank 999: in floating point it is 999.0000000000001.
	rank := int(math.Ceil(p/100*float64(len(sorted)) - 1e-9))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// At returns the summary's value at percentile p (50, 90, 99 or 99.9).
func (s Summary) At(p float64) float64 {
	switch p {
	case 50:
		return s.P50Us
	case 90:
		return s.P90Us
	case 99:
		return s.P99Us
	case 99.9:
		return s.P999Us
	}
	panic("Summary.At: no such percentile")
}

// us converts a duration to microseconds, rounded to 0.1 µs.
func us(d time.Duration) float64 { return round1(float64(d) / float64(time.Microsecond)) }

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// sortedCopy returns the samples sorted, leaving d as it was.
func sortedCopy(d []time.Duration) []time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s
}

// PercentileCI is a bootstrap confidence interval of the p-th percentile of
// samples taken in blocks (the interleaved slices of a run): the 2.5th and
// 97.5th percentiles of that percentile over iters resamplings. Whole blocks
// are drawn with replacement, not single samples, because noise on a shared
// machine comes in episodes: a stall of the process under test delays every
// request of one slice, and only resampling slices shows how much the
// percentile hangs on that one episode. A single block is resampled sample
// by sample. Seeded, so a report is reproducible from its samples.
func PercentileCI(blocks [][]time.Duration, p float64, iters int, seed uint64) (lo, hi time.Duration) {
	if len(blocks) == 1 {
		one := blocks[0]
		blocks = make([][]time.Duration, len(one))
		for i := range one {
			blocks[i] = one[i : i+1]
		}
	}
	if len(blocks) == 0 || iters <= 0 {
		return 0, 0
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	est := make([]time.Duration, iters)
	var re []time.Duration
	for i := range est {
		re = re[:0]
		for range blocks {
			re = append(re, blocks[rng.IntN(len(blocks))]...)
		}
		slices.Sort(re)
		est[i] = Percentile(re, p)
	}
	slices.Sort(est)
	return Percentile(est, 2.5), Percentile(est, 97.5)
}
