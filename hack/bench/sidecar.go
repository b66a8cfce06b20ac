package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/osmen-ai/llmroute/hack/process"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

// keyEnv names the environment variable the bench's provider keys come from.
const keyEnv = "LLMROUTE_BENCH_KEY"

// Sidecar is a running llmroute-sidecar.
type Sidecar struct {
	*Proc
	URL        string // http://LISTEN
	AdminURL   string // http://ADMIN
	ConfigFile string
}

// SidecarOptions choose how a sidecar runs.
type SidecarOptions struct {
	// LogLevel is --log-level; "" means error (no access log).
	LogLevel string
	// Binary overrides the sidecar binary (default: the stripped build).
	Binary string
}

// StartSidecar writes cfg into its own directory and runs the sidecar on it.
// Its log (the access log at info level) goes to a file in the temp dir.
func (h *Harness) StartSidecar(ctx context.Context, name string, cfg *config.Config, o SidecarOptions) (*Sidecar, error) {
	dir, err := os.MkdirTemp(h.Dir, "config-"+name+"-")
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "config.json")
	if err := writeConfig(file, cfg); err != nil {
		return nil, err
	}
	if o.LogLevel == "" {
		o.LogLevel = "error"
	}
	if o.Binary == "" {
		o.Binary = h.Sidecar
	}
	argv := []string{o.Binary, "--config", file, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--log-level", o.LogLevel}
	p, err := h.Start(ctx, "sidecar-"+name, argv, []string{keyEnv + "=sk-bench-upstream"}, process.Logged("llmroute-sidecar serving", "listen", "admin"))
	if err != nil {
		return nil, err
	}
	return &Sidecar{Proc: p, URL: "http://" + p.Addrs[0], AdminURL: "http://" + p.Addrs[1], ConfigFile: file}, nil
}

// writeConfig writes cfg as JSON atomically: a temp file in the same
// directory renamed over the target, as a ConfigMap update or an editor does.
func writeConfig(file string, cfg *config.Config) error {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if _, err := config.Parse(b); err != nil {
		return fmt.Errorf("the bench wrote an invalid sidecar config: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".config-*.json")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// Metrics scrapes the sidecar's /metrics into series → value, where a
// series is written as Prometheus prints it: name{label="v",...}.
func (s *Sidecar) Metrics() (process.Metrics, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.AdminURL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return process.ParseMetrics(resp.Body)
}

// ProviderState is one provider in /debug/providers.
type ProviderState struct {
	Name    string `json:"name"`
	Breaker string `json:"breaker"`
}

// Breaker returns the state of the named provider's breaker ("closed",
// "open", "half-open"), or "" when it cannot be read.
func (s *Sidecar) Breaker(name string) string {
	resp, err := http.Get(s.AdminURL + "/debug/providers")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var ps []ProviderState
	if json.NewDecoder(resp.Body).Decode(&ps) != nil {
		return ""
	}
	for _, p := range ps {
		if p.Name == name {
			return p.Breaker
		}
	}
	return ""
}

// provider is a sidecar provider of type OpenAICompatible in front of url,
// authenticated from keyEnv.
func provider(name, baseURL string) config.Provider {
	return config.Provider{Name: name, Type: config.OpenAICompatible, BaseURL: baseURL, APIKeyEnv: keyEnv}
}

// benchConfig is the config of the latency runs: one provider, one rule,
// everything else at its default.
func benchConfig(baseURL string) *config.Config {
	return &config.Config{
		Version:   config.Version,
		Providers: []config.Provider{provider("mock", baseURL)},
		Rules:     []config.Rule{{Models: []string{"gpt-*"}, Backends: []string{"mock"}}},
	}
}

func dur(d time.Duration) config.Duration { return config.D(d) }

func intp(v int) *int { return &v }
