package resilience

import (
	"math"
	"time"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// Backoff returns the wait before retry n (1 for the first retry):
//
//	base = min(initialBackoff × multiplier^(n-1), maxBackoff)
//	wait = base                                   without jitter
//	wait = base/2 + rand × base/2, rand ∈ [0, 1)  with jitter ("equal jitter")
//
// Equal jitter keeps at least half the intended wait, so a crowd of clients
// that failed together spreads out without any of them retrying at once.
// rand returns a float in [0, 1); math/rand/v2.Float64 in production.
func Backoff(n int, r config.Retry, rand func() float64) time.Duration {
	if n < 1 {
		n = 1
	}
	base := float64(r.InitialBackoff.Duration) * math.Pow(r.Multiplier, float64(n-1))
	base = math.Min(base, float64(r.MaxBackoff.Duration))
	if r.JitterEnabled() {
		base = base/2 + rand()*base/2
	}
	return time.Duration(base)
}
