package process

import (
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	m, err := ParseMetrics(strings.NewReader(`# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 17
llmroute_config_reloads_total{result="success"} 20
llmroute_config_reloads_total{result="failure"} 1
llmroute_requests_total{provider="openai",rule="0",status_class="2xx"} 5
llmroute_requests_total{provider="claude",rule="0",status_class="2xx"} 2
not a sample
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"go_goroutines", nil, 17},
		{"llmroute_config_reloads_total", []string{`result="success"`}, 20},
		{"llmroute_config_reloads_total", nil, 21},
		{"llmroute_requests_total", []string{`provider="openai"`, `status_class="2xx"`}, 5},
		{"llmroute_requests_total", []string{`provider="openai"`, `status_class="5xx"`}, 0},
		{"llmroute_requests", nil, 0}, // a name is matched whole
	} {
		if got := m.Sum(c.name, c.labels...); got != c.want {
			t.Errorf("Sum(%s, %v) = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if len(m) != 5 {
		t.Errorf("parsed %d samples, want 5: %v", len(m), m)
	}
}
