package resilience

import (
	"errors"

	"github.com/sony/gobreaker/v2"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// Breaker is one provider's circuit breaker. It is two-step so that a stream
// reports its outcome when it ends, not when its headers arrive.
type Breaker = gobreaker.TwoStepCircuitBreaker[struct{}]

// ErrNotCounted reports an attempt outcome that must not move the breaker:
// the client went away, or the provider refused the request itself (a 4xx
// that no retry would fix). Neither says anything about the provider's health.
var ErrNotCounted = errors.New("outcome not counted by the circuit breaker")

// NewBreaker builds a provider's breaker from the config. It trips on
// ConsecutiveFailures in a row, or when FailureRatio of the requests in a
// rolling Interval failed once MinRequests were seen; after OpenTimeout it
// lets HalfOpenRequests probes through, and that many successes close it.
// onChange runs under the breaker's lock: it must not call back into it.
func NewBreaker(name string, c config.CircuitBreaker, onChange func(name string, from, to gobreaker.State)) *Breaker {
	return gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: uint32(c.HalfOpenRequests),
		Interval:    c.Interval.Duration,
		// Ten buckets make the ratio window roll instead of resetting at once.
		BucketPeriod: c.Interval.Duration / 10,
		Timeout:      c.OpenTimeout.Duration,
		ReadyToTrip: func(n gobreaker.Counts) bool {
			if int(n.ConsecutiveFailures) >= c.ConsecutiveFailures {
				return true
			}
			return int(n.Requests) >= c.MinRequests &&
				float64(n.TotalFailures) >= c.FailureRatio*float64(n.Requests)
		},
		OnStateChange: onChange,
		IsExcluded:    func(err error) bool { return errors.Is(err, ErrNotCounted) },
	})
}

// StateValue is the breaker state as the metrics report it: 0 closed, 1 half-open, 2 open.
func StateValue(s gobreaker.State) float64 {
	switch s {
	case gobreaker.StateHalfOpen:
		return 1
	case gobreaker.StateOpen:
		return 2
	}
	return 0
}
