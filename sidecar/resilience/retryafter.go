package resilience

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryAfter reads how long a provider asked the caller to wait: OpenAI's
// retry-after-ms (milliseconds, more precise, so it wins), else Retry-After
// as seconds or an HTTP date. ok is false when neither header says anything
// usable; a date in the past means no wait.
func RetryAfter(h http.Header, now time.Time) (wait time.Duration, ok bool) {
	if v := h.Get("retry-after-ms"); v != "" {
		if ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
