package proxy

import "strconv"

// finish writes the access log line and the request's metrics. It never logs
// prompts, completions or keys: only what routing decided and what it cost.
func (ex *exchange) finish() {
	px := ex.px
	latency := px.now().Sub(ex.start)
	providerName, ruleName := "", ""
	if ex.served != nil {
		providerName = ex.served.cfg.Name
	}
	if ex.rule != nil {
		ruleName = ex.rule.name
	}
	if ex.status == 0 {
		ex.status = 499
	}
	op := operations[ex.ep]
	m := px.metrics
	m.Requests.WithLabelValues(ruleName, providerName, statusClass(ex.status)).Inc()
	m.Duration.WithLabelValues(op, providerName, ex.modelLabel(), ruleName, ex.errType).Observe(latency.Seconds())
	m.Overhead.Observe(ex.overhead().Seconds())
	if ex.served != nil {
		ms := ex.served.stats.model(m, ex.modelLabel())
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

	if !px.log.Enabled() {
		return
	}
	kv := []any{
		"id", ex.id,
		"method", ex.r.Method,
		"path", ex.r.URL.Path,
		"model", ex.fields.model,
		"rule", ruleName,
		"provider", providerName,
		"tries", ex.tries,
		"attempts", ex.attempts,
		"status", ex.status,
		"latencyMs", ms(latency),
		"overheadMs", ms(ex.overhead()),
		"stream", ex.fields.stream,
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

var statusClasses = [...]string{"", "1xx", "2xx", "3xx", "4xx", "5xx"}

func statusClass(code int) string {
	if c := code / 100; c >= 1 && c <= 5 {
		return statusClasses[c]
	}
	return strconv.Itoa(code)
}
