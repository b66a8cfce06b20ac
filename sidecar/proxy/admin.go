package proxy

import (
	"encoding/json"
	"net"
	"net/http"
	"sort"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// Admin serves the admin listener: /healthz (the process is alive),
// /readyz (a config is loaded and the proxy listener is up; never tied to
// provider health, or one provider's outage would take the pod out of its
// Service), /metrics, and /debug/providers. The listener is reachable on the
// pod IP, for the kubelet and Prometheus; /debug/ answers only connections
// from loopback (inside the pod, or kubectl port-forward).
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
		w.Write([]byte("ok\n"))
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
}

// Providers reports each provider's breaker state and counts.
func (px *Proxy) Providers() []ProviderStatus {
	rt := px.route.Load()
	out := make([]ProviderStatus, 0, len(rt.providers))
	for _, p := range rt.providers {
		c := p.breaker.Counts()
		out = append(out, ProviderStatus{
			Name: p.cfg.Name, Type: string(p.cfg.Type), BaseURL: config.RedactURL(p.cfg.BaseURL),
			Breaker:  stateName(p.breaker.State()),
			Requests: c.Requests, TotalSuccesses: c.TotalSuccesses, TotalFailures: c.TotalFailures,
			ConsecutiveSuccesses: c.ConsecutiveSuccesses, ConsecutiveFailures: c.ConsecutiveFailures,
			Served: p.stats.served.Load(), Failed: p.stats.failed.Load(),
		})
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
