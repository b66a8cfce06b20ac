// Package resilience holds the sidecar's policies for failing upstream calls:
// which failures are retried, how long to wait, when the sidecar-wide retry
// budget refuses a retry, and one circuit breaker per provider.
//
// The proxy composes them per attempt as Dapr does: breaker inside, retry
// outside, and an open breaker is never retried on the same provider.
package resilience
