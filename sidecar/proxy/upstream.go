package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// upstreamRequest builds the request to a provider. The app's own credentials
// are dropped (SDKs send placeholders such as "sk-llmroute") and the
// provider's are set; everything else the app sent passes through.
func (ex *exchange) upstreamRequest(ctx context.Context, p *provider, tr translate.Translator, body []byte) (*http.Request, error) {
	url := p.urls[ex.ep]
	if q := ex.r.URL.RawQuery; q != "" {
		url += "?" + q
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	h := req.Header
	for k, vs := range ex.r.Header {
		if dropRequestHeader(k, tr != nil) {
			continue
		}
		h[k] = vs
	}
	h.Set("Content-Type", "application/json")
	h.Set("x-request-id", ex.id)
	if p.format == translate.Anthropic {
		if p.auth != "" {
			h.Set("x-api-key", p.auth)
		}
		if tr != nil || h.Get("anthropic-version") == "" {
			h.Set("anthropic-version", p.cfg.AnthropicVersion)
		}
	} else if p.auth != "" {
		h.Set("Authorization", p.auth)
	}
	return req, nil
}

// dropRequestHeader reports whether a client header must not reach the provider.
func dropRequestHeader(k string, translated bool) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Authorization", "X-Api-Key", "Api-Key", // credentials: the sidecar sets its own
		"Host", "Content-Length", "Accept-Encoding", "X-Request-Id",
		"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	// Format-specific headers mean nothing to the other family.
	if translated {
		lk := strings.ToLower(k)
		return strings.HasPrefix(lk, "anthropic-") || strings.HasPrefix(lk, "openai-")
	}
	return false
}

// copyHeaders passes a provider's response headers to the client, minus
// those that describe the connection or a body the sidecar re-frames. The
// provider's own request id (which its support asks for) moves to
// x-llmroute-upstream-request-id: x-request-id is the sidecar's, echoed.
func copyHeaders(dst, src http.Header) {
	for k, vs := range src {
		switch k {
		case "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding", "Trailer", "Upgrade", "Proxy-Connection":
			continue
		case "X-Request-Id":
			dst["X-Llmroute-Upstream-Request-Id"] = vs
			continue
		}
		dst[k] = vs
	}
}

// upstreamError is a provider's error body. Both families nest it the same
// way: OpenAI {"error":{"message","type","code"}}, Anthropic
// {"type":"error","error":{"type","message"}}.
type upstreamError struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    any    `json:"code"`
	} `json:"error"`
}

func parseUpstreamError(body []byte) (e upstreamError) {
	_ = json.Unmarshal(body, &e)
	return e
}

// upstreamMessage pulls the human-readable message out of a provider's error
// body, in either format; the raw text if it is not JSON.
func upstreamMessage(body []byte) string {
	if m := parseUpstreamError(body).Error.Message; m != "" {
		return m
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
