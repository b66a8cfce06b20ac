package resilience

import (
	"strconv"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// Failure says why an attempt failed, in the words of retryOn.
type Failure int

// The ways an attempt can fail.
const (
	FailStatus            Failure = iota // the provider answered with an error status
	FailConnect                          // no connection could be made
	FailReset                            // the connection broke before the response was complete
	FailTimeout                          // the attempt ran out of time
	FailStreamError                      // a stream sent an error event before any content
	FailInsufficientQuota                // 429 insufficient_quota: out of credit, not busy
)

func (f Failure) String() string {
	switch f {
	case FailConnect:
		return config.RetryConnectFailure
	case FailReset:
		return config.RetryReset
	case FailTimeout:
		return config.RetryTimeout
	case FailStreamError:
		return "stream-error"
	case FailInsufficientQuota:
		return "insufficient-quota"
	}
	return "status"
}

// RetryOn is a compiled retryOn list: a lookup, not a string search, per attempt.
type RetryOn struct {
	status                  [600]bool
	connect, reset, timeout bool
}

// NewRetryOn compiles a validated retryOn list.
func NewRetryOn(list []string) *RetryOn {
	r := &RetryOn{}
	for _, s := range list {
		switch s {
		case config.RetryConnectFailure:
			r.connect = true
		case config.RetryReset:
			r.reset = true
		case config.RetryTimeout:
			r.timeout = true
		default:
			if code, err := strconv.Atoi(s); err == nil && code >= 0 && code < len(r.status) {
				r.status[code] = true
			}
		}
	}
	return r
}

// Retryable reports whether a failure may be retried on the same provider.
// An error event inside a stream is retried like the 503 it stands for;
// insufficient quota never is: waiting does not add credit.
func (r *RetryOn) Retryable(f Failure, status int) bool {
	switch f {
	case FailConnect:
		return r.connect
	case FailReset:
		return r.reset
	case FailTimeout:
		return r.timeout
	case FailStreamError:
		return r.status[503]
	case FailInsufficientQuota:
		return false
	}
	return status >= 0 && status < len(r.status) && r.status[status]
}
