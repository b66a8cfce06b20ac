package mock

import (
	"net/http"
	"slices"
	"strings"
)

// SetAPIKeys replaces the set of API keys the server accepts; empty strings
// are dropped, and an empty set lets every request in. A request already
// past its key check is not affected, so a test can rotate keys under load:
// accept the old and the new key, then only the new one.
func (s *Server) SetAPIKeys(keys []string) {
	set := make([]string, 0, len(keys))
	for _, k := range keys {
		if k != "" && !slices.Contains(set, k) {
			set = append(set, k)
		}
	}
	s.keys.Store(&set)
}

// keyCount is what GET and PUT /mock/keys answer: how many keys are
// accepted, never the keys themselves.
type keyCount struct {
	Count int `json:"count"`
}

// websocketKey returns the API key a WebSocket client offers as the
// subprotocol "openai-insecure-api-key.KEY", as OpenAI's browser clients do.
func websocketKey(r *http.Request) (string, bool) {
	for _, v := range r.Header.Values("Sec-Websocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			if k, ok := strings.CutPrefix(strings.TrimSpace(p), "openai-insecure-api-key."); ok {
				return k, true
			}
		}
	}
	return "", false
}
