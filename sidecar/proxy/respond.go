package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/osmen-ai/llmroute/sidecar/config"
	"github.com/osmen-ai/llmroute/sidecar/resilience"
	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// writeError answers with an error body in format f.
func writeError(w http.ResponseWriter, f translate.Format, status int, errType, code, msg string) {
	writeErrorBody(w, status, f.ErrorBody(status, errType, code, msg))
}

func writeErrorBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// reject refuses a request before any provider is called.
func (ex *exchange) reject(status int, errType, msg string) {
	ex.status, ex.errType = status, errType
	ex.setRouteHeaders(nil)
	if status != http.StatusTooManyRequests {
		ex.w.Header().Set("X-Should-Retry", "false")
	}
	writeError(ex.w, ex.client, status, errType, "", msg)
}

// passError answers with a provider's own refusal of the request (a 4xx that
// no retry or other provider would change), in the caller's format.
func (ex *exchange) passError() {
	ex.status, ex.errType = ex.last.status, "provider_refused"
	ex.provider = ex.last.provider
	ex.w.Header().Set("X-Should-Retry", "false")
	ex.setRouteHeaders(ex.provider)
	writeErrorBody(ex.w, ex.status, ex.last.tr.Error(ex.last.status, ex.last.body, ""))
}

// fail answers after every provider failed or was skipped. The status is the
// last provider's, 502 for a network failure, 504 for a timeout, 503 when no
// provider could be called at all (breakers open, retry budget spent); the
// message says what was tried, and a provider's error keeps its category in
// the caller's vocabulary. x-should-retry: false tells the app's SDK not to
// retry on top of the sidecar's own retries.
func (ex *exchange) fail(ctx context.Context) {
	if ex.r.Context().Err() != nil {
		ex.status = statusClientClosed // the client left; nobody to answer
		return
	}
	status, code := http.StatusServiceUnavailable, "llmroute_unavailable"
	errType := ""
	switch {
	case ex.attempts == 0 && ex.unsupported != nil && ex.last.provider == nil:
		status, errType, code = http.StatusBadRequest, "invalid_request_error", "unsupported_by_providers"
	case ctx.Err() != nil:
		status, code = http.StatusGatewayTimeout, "llmroute_timeout"
	case ex.last.provider == nil || ex.last.kind == resilience.FailBreakerOpen ||
		ex.last.kind == resilience.FailNoCredential || ex.last.kind == resilience.FailKeysCooling:
		// Nothing was called: the last provider's breaker refused, or it had no credential.
	case ex.last.kind == resilience.FailTimeout:
		status, code = http.StatusGatewayTimeout, "upstream_timeout"
	case ex.last.status >= 400:
		status, code = ex.last.status, ""
	default:
		status, code = http.StatusBadGateway, "upstream_unreachable"
	}
	if ex.budgetSpent && ex.attempts == 0 {
		status = http.StatusServiceUnavailable
	}
	ex.status = status
	ex.errType = code
	if code == "" {
		ex.errType = "provider_error"
	}
	ex.provider = ex.last.provider
	ex.w.Header().Set("X-Should-Retry", "false")
	ex.setRouteHeaders(ex.last.provider)
	msg := ex.failureMessage(ctx)
	if code == "" {
		// The provider's own error, in the caller's format, saying what was tried.
		writeErrorBody(ex.w, status, ex.last.tr.Error(status, ex.last.body, msg))
		return
	}
	writeError(ex.w, ex.client, status, errType, code, msg)
}

// failureMessage tells the caller what was tried, provider by provider.
func (ex *exchange) failureMessage(ctx context.Context) string {
	var b strings.Builder
	fmt.Fprintf(&b, "llmroute: no provider could serve model %q (rule %s)", ex.req.Model, ex.rule.name)
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(&b, " within timeouts.request (%s)", ex.rt.cfg.Timeouts.Request)
	case ex.budgetSpent:
		b.WriteString("; the retry budget is spent (too many retries across this pod), so it failed fast")
	}
	b.WriteString(": ")
	for i, t := range ex.tries {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.Provider)
		b.WriteString(" ")
		if t.Status != 0 {
			b.WriteString(strconv.Itoa(t.Status))
		} else {
			b.WriteString(t.Outcome)
		}
	}
	if ex.unsupported != nil {
		b.WriteString("; ")
		b.WriteString(ex.unsupported.Error())
	}
	if m := ex.last.message; m != "" {
		b.WriteString("; last error: ")
		b.WriteString(m)
	}
	return b.String()
}

// serveModels answers an OpenAI-family GET /v1/models from the config: no
// provider is called.
func (px *Proxy) serveModels(w http.ResponseWriter, r *http.Request) {
	ex := px.newExchange(w, r, translate.ChatCompletions)
	defer ex.finish()
	body := ex.rt.models
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	ex.status = http.StatusOK
	w.Write(body)
}

// notFound answers a path outside the APIs, in the caller's format.
func (px *Proxy) notFound(w http.ResponseWriter, r *http.Request) {
	ex := px.newExchange(w, r, familyFormat(callerFamily(r.URL.Path, r.Header.Get("Anthropic-Version"))))
	defer ex.finish()
	ex.errType = "not_found"
	ex.status = http.StatusNotFound
	w.Header().Set("X-Should-Retry", "false")
	writeError(w, ex.client, http.StatusNotFound, "not_found_error", "unknown_url",
		"llmroute serves the OpenAI and Anthropic APIs under /v1/; there is nothing at "+r.Method+" "+r.URL.Path)
}

// modelList renders the models a route knows, in the OpenAI list format:
// the requested names that rules and mappings name, then provider models.
func modelList(cfg *config.Config) []byte {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	seen := map[string]bool{}
	add := func(id, owner string) {
		if id == "" || seen[id] || strings.ContainsAny(id, "*?[") {
			return // a glob is a pattern, not a model
		}
		seen[id] = true
		list.Data = append(list.Data, model{ID: id, Object: "model", Created: created, OwnedBy: owner})
	}
	for _, r := range cfg.Rules {
		for _, m := range r.Models {
			add(m, "llmroute")
		}
	}
	for _, p := range cfg.Providers {
		for _, from := range sortedKeys(p.Models) {
			add(from, p.Name)
		}
		add(p.DefaultModel, p.Name)
	}
	b, _ := json.Marshal(list)
	return b
}

// created is a fixed timestamp for /v1/models: the models are the config's,
// not the provider's, and a stable answer keeps clients' caches valid.
var created = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
