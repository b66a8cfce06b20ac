package resilience

import (
	"sync"
	"time"
)

// budgetWindow is how far back the retry budget looks, in one-second buckets.
const budgetWindow = 10

// Budget caps the retries of the whole sidecar at a share of its requests,
// as Finagle and Linkerd do: over the last 10 s, retries may be at most
// percent% of requests plus minPerSecond × 10 s. When every provider fails,
// this turns "3 attempts × N backends per request" into about 1.2 calls per
// request instead of multiplying load on providers that are already down.
// The zero Budget (or percent < 0) allows every retry.
type Budget struct {
	mu           sync.Mutex
	percent      int // < 0: off
	minPerSecond int
	now          func() time.Time
	buckets      [budgetWindow]budgetBucket
}

type budgetBucket struct {
	second            int64
	requests, retries int
}

// NewBudget returns a budget; percent 0 means the budget is off (every retry
// allowed). now is time.Now in production.
func NewBudget(percent, minPerSecond int, now func() time.Time) *Budget {
	b := &Budget{now: now}
	b.Configure(percent, minPerSecond)
	return b
}

// Configure changes the limits in place, keeping the counts (config reload).
func (b *Budget) Configure(percent, minPerSecond int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if percent == 0 {
		percent = -1
	}
	b.percent, b.minPerSecond = percent, minPerSecond
}

// Request records one client request, arrived at t: the caller has read
// the clock already.
func (b *Budget) Request(t time.Time) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.bucket(t.Unix()).requests++
	b.mu.Unlock()
}

// TryRetry takes one retry from the budget; false means the budget is spent
// and the caller must fail fast.
func (b *Budget) TryRetry() bool {
	if b == nil {
		return true
	}
	now := b.now().Unix()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.percent < 0 {
		b.bucket(now).retries++
		return true
	}
	var requests, retries int
	for _, k := range b.buckets {
		if now-k.second < budgetWindow {
			requests += k.requests
			retries += k.retries
		}
	}
	if retries*100 >= requests*b.percent+b.minPerSecond*budgetWindow*100 {
		return false
	}
	b.bucket(now).retries++
	return true
}

// bucket returns second s's bucket, recycling a stale one.
func (b *Budget) bucket(s int64) *budgetBucket {
	k := &b.buckets[s%budgetWindow]
	if k.second != s {
		*k = budgetBucket{second: s}
	}
	return k
}
