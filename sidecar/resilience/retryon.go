package resilience

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// Failure says why an attempt failed, in the words of retryOn.
type Failure int

// The ways an attempt can fail.
const (
	FailStatus      Failure = iota // the provider answered with an error status
	FailConnect                    // no connection could be made
	FailReset                      // the connection broke before the response was complete
	FailTimeout                    // the attempt ran out of time
	FailStreamError                // a stream sent an error event before any content
	FailBadResponse                // a success status whose body or events cannot be read
	// FailRefused: the provider will not serve us — a bad or revoked key
	// (401), no permission (403), no such model or deployment (404), no
	// credit (402, or 429 insufficient_quota). Not retried there; the next
	// provider may well serve the same request.
	FailRefused
	// FailRequest: the provider refused the request itself (400, 413, 422,
	// …); any provider would, so it goes back to the client at once.
	FailRequest
	// FailBreakerOpen: the provider's breaker refused the call; nothing was sent.
	FailBreakerOpen
	// FailNoCredential: the provider had no credential to send (no token
	// could be obtained, every key is set aside); nothing was sent.
	FailNoCredential
	// FailKeysCooling: every key of the provider is cooling down after a
	// 429; nothing was sent.
	FailKeysCooling
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
	case FailBadResponse:
		return "bad-response"
	case FailRefused:
		return "refused"
	case FailRequest:
		return "request-refused"
	case FailBreakerOpen:
		return "breaker-open"
	case FailNoCredential:
		return "no-credential"
	case FailKeysCooling:
		return "keys-cooling"
	}
	return "status"
}

// ClassifyStatus tells what an error status says: a provider's refusal of
// us, the request's own fault, or a status for retryOn to judge (429, 5xx
// and anything unusual). body is the provider's error body, where a 429
// says whether it is a rate limit or an empty account.
func ClassifyStatus(status int, body []byte) Failure {
	switch status {
	case http.StatusUnauthorized, http.StatusPaymentRequired, http.StatusForbidden, http.StatusNotFound:
		return FailRefused
	case http.StatusTooManyRequests:
		if bytes.Contains(body, []byte("insufficient_quota")) {
			return FailRefused
		}
		return FailStatus
	case http.StatusRequestTimeout:
		return FailStatus
	}
	if status >= 400 && status < 500 {
		return FailRequest
	}
	return FailStatus
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
// An error event inside a stream is retried like the 503 it stands for, an
// unreadable response like a broken connection; a refusal never is: waiting
// does not fix a key or add credit.
func (r *RetryOn) Retryable(f Failure, status int) bool {
	switch f {
	case FailConnect:
		return r.connect
	case FailReset, FailBadResponse:
		return r.reset
	case FailTimeout:
		return r.timeout
	case FailStreamError:
		return r.status[503]
	case FailRefused, FailRequest, FailBreakerOpen:
		return false
	}
	return status >= 0 && status < len(r.status) && r.status[status]
}
