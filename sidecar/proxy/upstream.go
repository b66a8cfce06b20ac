package proxy

import (
	"bytes"
	"context"
	"net/http"
	"strings"

	"github.com/osmen-ai/llmroute/sidecar/credentials"
)

// upstreamRequest builds a routed call's request to a provider. The app's
// credentials are dropped (SDKs send placeholders such as "sk-llmroute") and
// the provider's are set; the rest of what the app sent passes through,
// minus what describes the client's connection and, on a translated call,
// the other family's headers.
func (ex *exchange) upstreamRequest(ctx context.Context, up *upstreamCall, cred *credentials.Credential) (*http.Request, error) {
	url := up.url
	if q := ex.r.URL.RawQuery; q != "" {
		url += "?" + q
	}
	// A *bytes.Reader body gives the request its ContentLength and the
	// GetBody that lets the transport resend it on a fresh connection.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(up.body))
	if err != nil {
		return nil, err
	}
	copyRequestHeaders(req.Header, ex.r.Header, !up.native)
	req.Header.Set("Content-Type", "application/json")
	up.p.setHeaders(req.Header, ex.id, !up.native)
	setCredential(req.Header, cred)
	return req, nil
}

// setHeaders sets what every request to the provider carries: the request
// id, its version header (on a translated request, or when the app sent
// none), and its configured static headers. The credential is each
// attempt's (setCredential).
func (p *provider) setHeaders(h http.Header, id string, translated bool) {
	h.Set("X-Request-Id", id)
	if p.versionHeader != "" && (translated || h.Get(p.versionHeader) == "") {
		h.Set(p.versionHeader, p.version)
	}
	for k, v := range p.cfg.Headers {
		h.Set(k, v)
	}
}

// setCredential sets an attempt's credential header, if it has one.
func setCredential(h http.Header, c *credentials.Credential) {
	if c.Header != "" {
		h.Set(c.Header, c.Value)
	}
}

// copyRequestHeaders copies the client's headers that may reach a provider:
// not its credentials, not what describes its own connection (hop-by-hop
// headers, and those its Connection header names, RFC 9110 §7.6.1), not the
// organization and project of the app's own key, and — when the request is
// translated — none of either family's own headers, which mean nothing to
// the other.
func copyRequestHeaders(dst, src http.Header, translated bool) {
	for k, vs := range src {
		if dropRequestHeader(k, translated) {
			continue
		}
		dst[k] = vs
	}
	for _, c := range src["Connection"] {
		for name := range strings.SplitSeq(c, ",") {
			if name = strings.TrimSpace(name); name != "" {
				dst.Del(name)
			}
		}
	}
}

// dropRequestHeader reports whether a client header must not reach the provider.
func dropRequestHeader(k string, translated bool) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Authorization", "X-Api-Key", "Api-Key", // credentials: the sidecar sets its own
		"Openai-Organization", "Openai-Project", // they belong to the app's key, not the provider's
		"Host", "Content-Length", "Accept-Encoding", "X-Request-Id",
		"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return translated && (hasPrefixFold(k, "anthropic-") || hasPrefixFold(k, "openai-"))
}

// hasPrefixFold is strings.HasPrefix ignoring case, without the copy that
// lowering the header name would make for each header of each attempt.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
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
