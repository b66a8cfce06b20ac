package proxy

import (
	"encoding/json"
	"net/http"
	"sort"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Admin serves the admin listener: /healthz (the process is alive),
// /readyz (a config is loaded and the proxy listener is up; never tied to
// provider health, or one provider's outage would take the pod out of its
// Service), /metrics, and /debug/providers.
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
	mux.HandleFunc("/debug/providers", px.serveProviders)
	return mux
}

// ProviderStatus is one provider in /debug/providers.
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
			Name: p.cfg.Name, Type: string(p.cfg.Type), BaseURL: p.cfg.BaseURL,
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
