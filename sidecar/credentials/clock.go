package credentials

import (
	"math/rand/v2"
	"time"
)

// Clock is the time the sources keep. Tests pass a fake one, so that token
// lifetimes, cool-downs and refresh timers pass without sleeping.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop prevents the call if it has not started; it reports whether it did.
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

func randFloat() float64 { return rand.Float64() }
