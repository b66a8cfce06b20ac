package proxy

import (
	"strconv"

	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// finish writes the access log line and the request's metrics. It never logs
// prompts, completions, keys or query strings: only what routing decided and
// what it cost.
func (ex *exchange) finish() {
	px := ex.px
	latency := px.now().Sub(ex.start)
	providerName, ruleName := "", ""
	if ex.provider != nil {
		providerName = ex.provider.cfg.Name
	}
	if ex.rule != nil {
		ruleName = ex.rule.name
	}
	if ex.status == 0 {
		ex.status = statusClientClosed
	}
	m := px.metrics
	overhead := ex.overhead(latency) // the same instant as the latency
	if ex.routed {
		op := operations[ex.client]
		series := px.requestSeries.get(m, seriesLabels{op, providerName, ex.modelLabel(), ruleName, statusClass(ex.status), ex.errType})
		series.requests.Inc()
		series.duration.Observe(latency.Seconds())
		m.Overhead.Observe(overhead.Seconds())
		if ex.provider != nil && ex.status < 300 {
			ms := ex.provider.stats.model(m, ex.modelLabel())
			if ex.ttft > 0 {
				ms.ttft.Observe(ex.ttft.Seconds())
			}
			if ex.usage.InputTokens > 0 || ex.usage.OutputTokens > 0 {
				ms.inTokens[op].Observe(float64(ex.usage.InputTokens))
				ms.outTokens[op].Observe(float64(ex.usage.OutputTokens))
			}
		} else if ex.last.provider != nil {
			ex.last.provider.stats.failed.Add(1)
		}
	} else if ex.provider != nil {
		m.Passthrough.WithLabelValues(providerName, statusClass(ex.status)).Inc()
	}

	if !px.log.Enabled() {
		return
	}
	kv := []any{
		"id", ex.id,
		"method", ex.r.Method,
		"path", ex.r.URL.Path,
	}
	if ex.routed {
		kv = append(kv, "model", ex.req.Model, "rule", ruleName)
	} else {
		kv = append(kv, "passthrough", true)
	}
	kv = append(kv,
		"provider", providerName,
		"tries", tryList(ex.tries),
		"attempts", ex.attempts,
		"status", ex.status,
		"latencyMs", ms(latency),
		"overheadMs", ms(overhead),
	)
	if ex.routed {
		kv = append(kv, "stream", ex.req.Stream)
	}
	if ex.ttft > 0 {
		kv = append(kv, "ttftMs", ms(ex.ttft))
	}
	if ex.usage.InputTokens > 0 || ex.usage.OutputTokens > 0 {
		kv = append(kv, "inputTokens", ex.usage.InputTokens, "outputTokens", ex.usage.OutputTokens)
	}
	if ex.errType != "" {
		kv = append(kv, "error", ex.errType)
	}
	px.log.Info("Request", kv...)
}

func (ex *exchange) modelLabel() string {
	if ex.model == "" {
		return "other"
	}
	return ex.model
}

// tryList is the access log's list of tries. It writes the same keys in
// both log formats: a JSON array of objects in JSON logs, and in text logs
// one bracketed key=value group per try.
type tryList []try

// MarshalJSON writes [{"provider":…,"key":…,"status":…,"outcome":…,"ms":…}, …];
// status and ms are left out when zero (a provider skipped without a call),
// key but for a provider with several keys.
func (l tryList) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 16+64*len(l))
	b = append(b, '[')
	for i, t := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"provider":`...)
		b = translate.AppendString(b, t.Provider)
		if t.Key != "" {
			b = append(b, `,"key":`...)
			b = translate.AppendString(b, t.Key)
		}
		if t.Status != 0 {
			b = append(b, `,"status":`...)
			b = strconv.AppendInt(b, int64(t.Status), 10)
		}
		b = append(b, `,"outcome":`...)
		b = translate.AppendString(b, t.Outcome)
		if t.Ms != 0 {
			b = append(b, `,"ms":`...)
			b = strconv.AppendFloat(b, t.Ms, 'f', -1, 64)
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// MarshalText writes [provider=openai status=503 outcome=server_error ms=2.1] …,
// with key=NAME after the provider for a provider with several keys.
func (l tryList) MarshalText() ([]byte, error) {
	var b []byte
	for i, t := range l {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, "[provider="...)
		b = append(b, t.Provider...)
		if t.Key != "" {
			b = append(b, " key="...)
			b = append(b, t.Key...)
		}
		if t.Status != 0 {
			b = append(b, " status="...)
			b = strconv.AppendInt(b, int64(t.Status), 10)
		}
		b = append(b, " outcome="...)
		b = append(b, t.Outcome...)
		if t.Ms != 0 {
			b = append(b, " ms="...)
			b = strconv.AppendFloat(b, t.Ms, 'f', -1, 64)
		}
		b = append(b, ']')
	}
	return b, nil
}

var statusClasses = [...]string{"", "1xx", "2xx", "3xx", "4xx", "5xx"}

func statusClass(code int) string {
	if c := code / 100; c >= 1 && c <= 5 {
		return statusClasses[c]
	}
	return strconv.Itoa(code)
}
