package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

var metricName = regexp.MustCompile(`\b(?:llmroute|gen_ai)_[a-z_]+`)

// registered returns the names of the families New registers (with a sample
// each, since vectors without children are not gathered).
func registered(t *testing.T) map[string]bool {
	m := New()
	m.Duration.WithLabelValues("chat", "p", "m", "0", "").Observe(1)
	m.Tokens.WithLabelValues("chat", "p", "m", "input").Observe(1)
	m.TTFT.WithLabelValues("p", "m").Observe(1)
	m.Requests.WithLabelValues("0", "p", "2xx").Inc()
	m.Passthrough.WithLabelValues("p", "2xx").Inc()
	m.Attempts.WithLabelValues("p", OutcomeSuccess).Inc()
	m.Retries.WithLabelValues("p").Inc()
	m.Fallbacks.WithLabelValues("a", "b", "reason").Inc()
	m.Breaker.WithLabelValues("p").Set(0)
	m.BreakerTransitions.WithLabelValues("p", "closed", "open").Inc()
	m.RateLimits.WithLabelValues("request", "").Inc()
	m.Reloads.WithLabelValues("success").Inc()
	m.KeyAttempts.WithLabelValues("p", "k", OutcomeSuccess).Inc()
	m.TokenFetches.WithLabelValues("p", "success").Inc()
	m.CredentialState.Set(func(yield func(provider, key string, state config.CredentialState)) { yield("p", "k", 0) })
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	return names
}

func baseName(n string) string {
	for _, s := range []string{"_bucket", "_sum", "_count"} {
		n = strings.TrimSuffix(n, s)
	}
	return n
}

// The dashboard and the README must name only metrics that exist, and the
// README must list every one: a renamed metric breaks both silently.
func TestDashboardAndREADMEMatchTheMetrics(t *testing.T) {
	names := registered(t)
	for _, file := range []string{"../../charts/llmroute/dashboards/llmroute.json", "../../README.md"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, n := range metricName.FindAllString(string(b), -1) {
			n = baseName(n)
			seen[n] = true
			if !names[n] && !strings.HasPrefix(n, "gen_ai_operation") && !strings.HasPrefix(n, "gen_ai_provider") &&
				!strings.HasPrefix(n, "gen_ai_request") && !strings.HasPrefix(n, "gen_ai_token") && n != "llmroute_rule" {
				t.Errorf("%s names %s, which the sidecar does not export", file, n)
			}
		}
		if strings.HasSuffix(file, "README.md") {
			for n := range names {
				if (strings.HasPrefix(n, "llmroute_") || strings.HasPrefix(n, "gen_ai_")) && !seen[n] {
					t.Errorf("README.md does not list the metric %s", n)
				}
			}
		}
	}
}
