package proxy

import (
	"encoding/json"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/osmen-ai/llmroute/sidecar/config"
	"github.com/osmen-ai/llmroute/sidecar/credentials"
)

// Admin serves the admin listener: /healthz (the process is alive),
// /readyz, /metrics, and /debug/providers. The listener is reachable on the
// pod IP, for the kubelet and Prometheus; /debug/ answers only connections
// from loopback (inside the pod, or kubectl port-forward).
//
// /readyz is 503 until the proxy listener is up and, when the sidecar starts,
// until every provider that obtains tokens has had its first answer from
// its token endpoint — at most credentials.FetchTimeout, whatever the
// answer. The injected startup probe waits for it, so the app starts with
// tokens at hand. From then on it is 200 whatever the providers' health: a
// provider without a token is one provider down, which fallback is for,
// and since every pod of a Deployment shares its token endpoint, tying
// readiness to it would take them all out of their Service at once, and
// turn an error the app can read into a refused connection. The body names
// the providers that have no credential to send, and why.
func (px *Proxy) Admin(listening *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if listening != nil && !listening.Load() {
			http.Error(w, "proxy listener not up yet", http.StatusServiceUnavailable)
			return
		}
		waiting, notReady := px.credentialReadiness()
		if len(waiting) > 0 && !px.credsReady.Load() {
			http.Error(w, "waiting for the first token of: "+strings.Join(waiting, ", "), http.StatusServiceUnavailable)
			return
		}
		px.credsReady.Store(true)
		var b strings.Builder
		b.WriteString("ok\n")
		for _, name := range waiting {
			b.WriteString("not ready: provider " + name + ": fetching its first token\n")
		}
		for _, line := range notReady {
			b.WriteString("not ready: " + line + "\n")
		}
		w.Write([]byte(b.String()))
	})
	mux.Handle("/metrics", promhttp.HandlerFor(px.metrics.Registry, promhttp.HandlerOpts{}))
	mux.Handle("/debug/", loopbackOnly(http.HandlerFunc(px.serveProviders)))
	return mux
}

// loopbackOnly refuses requests that do not come from this host: what the
// debug endpoints show is for the pod's own operators, not the cluster.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			http.Error(w, "the debug endpoints answer on loopback only: use kubectl port-forward", http.StatusForbidden)
			return
		}
		if r.URL.Path != "/debug/providers" {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// credentialReadiness lists the providers still fetching their first token,
// and why each provider that has no credential to send has none.
func (px *Proxy) credentialReadiness() (waiting, notReady []string) {
	rt := px.route.Load()
	for _, pc := range rt.cfg.Providers {
		st := rt.providers[pc.Name].creds.Status()
		switch {
		case st.Starting:
			waiting = append(waiting, pc.Name)
		case st.Err != nil:
			notReady = append(notReady, st.Err.Error())
		}
	}
	return waiting, notReady
}

// credentialStates lists each credential's state, for llmroute_credential_state.
func (px *Proxy) credentialStates(yield func(provider, key string, state config.CredentialState)) {
	rt := px.route.Load()
	for _, pc := range rt.cfg.Providers {
		for _, k := range rt.providers[pc.Name].creds.Status().Keys {
			yield(pc.Name, k.Name, k.State)
		}
	}
}

// ProviderStatus is one provider in /debug/providers. BaseURL has any user
// information and query string redacted.
type ProviderStatus struct {
	Name                 string `json:"name"`
	Type                 string `json:"type"`
	BaseURL              string `json:"baseURL"`
	Breaker              string `json:"breaker"`
	Requests             uint32 `json:"requests"`
	TotalSuccesses       uint32 `json:"totalSuccesses"`
	TotalFailures        uint32 `json:"totalFailures"`
	ConsecutiveSuccesses uint32 `json:"consecutiveSuccesses"`
	ConsecutiveFailures  uint32 `json:"consecutiveFailures"`
	Served               int64  `json:"served"`
	Failed               int64  `json:"failed"`
	// Credential is the provider's credential source and the state of each
	// of its credentials; absent for a provider without one.
	Credential *CredentialStatus `json:"credential,omitempty"`
}

// CredentialStatus is a provider's credentials in /debug/providers.
type CredentialStatus struct {
	Kind  string                  `json:"kind"`
	Keys  []credentials.KeyStatus `json:"keys"`
	Error string                  `json:"error,omitempty"` // why no credential can be sent now
}

// Providers reports each provider's breaker state and counts.
func (px *Proxy) Providers() []ProviderStatus {
	rt := px.route.Load()
	out := make([]ProviderStatus, 0, len(rt.providers))
	for _, p := range rt.providers {
		c := p.breaker.Counts()
		ps := ProviderStatus{
			Name: p.cfg.Name, Type: string(p.cfg.Type), BaseURL: config.RedactURL(p.cfg.BaseURL),
			Breaker:  stateName(p.breaker.State()),
			Requests: c.Requests, TotalSuccesses: c.TotalSuccesses, TotalFailures: c.TotalFailures,
			ConsecutiveSuccesses: c.ConsecutiveSuccesses, ConsecutiveFailures: c.ConsecutiveFailures,
			Served: p.stats.served.Load(), Failed: p.stats.failed.Load(),
		}
		if st := p.creds.Status(); st.Kind != "" {
			ps.Credential = &CredentialStatus{Kind: st.Kind, Keys: st.Keys}
			if st.Err != nil {
				ps.Credential.Error = st.Err.Error()
			}
		}
		out = append(out, ps)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (px *Proxy) serveProviders(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(px.Providers()) // an error means the client left
}
