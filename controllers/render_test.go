/*
Copyright 2026 The llmroute Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package controllers

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/render from the current output")

// readRoute decodes an LLMRoute manifest strictly, so that a typo in a test
// case fails instead of silently testing less.
func readRoute(t *testing.T, file string) *llmv1alpha1.LLMRoute {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var route llmv1alpha1.LLMRoute
	if err := yaml.UnmarshalStrict(data, &route); err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
	return &route
}

// TestRenderGolden renders each testdata/render/<case>.yaml and compares the
// config.json (or, for a spec Render refuses, the error) with
// <case>.want.json (or <case>.want.err). Run with -update to rewrite them,
// then review the diff.
func TestRenderGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "render", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no cases in testdata/render")
	}
	for _, file := range cases {
		base := strings.TrimSuffix(file, ".yaml")
		t.Run(filepath.Base(base), func(t *testing.T) {
			route := readRoute(t, file)
			var got []byte
			golden, other := base+".want.json", base+".want.err"
			cfg, err := Render(route)
			if err != nil {
				got, golden, other = []byte(err.Error()+"\n"), other, golden
			} else if got, err = MarshalConfig(cfg); err != nil {
				t.Fatal(err)
			}

			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(other); err != nil && !errors.Is(err, fs.ErrNotExist) {
					t.Fatal(err)
				}
				return
			}
			if _, err := os.Stat(other); err == nil {
				t.Fatalf("%s exists but Render gave %s:\n%s", other, filepath.Base(golden), got)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run 'go test ./controllers -run TestRenderGolden -update' to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Render(%s) differs from %s\n--- got\n%s\n--- want\n%s", filepath.Base(file), golden, got, want)
			}
		})
	}
}

// TestRenderLoadsInSidecar guards against the operator writing a file the
// sidecar refuses or reads differently: every rendered case goes through the
// sidecar's own loader and must come back equal.
func TestRenderLoadsInSidecar(t *testing.T) {
	cases, _ := filepath.Glob(filepath.Join("testdata", "render", "*.yaml"))
	for _, file := range cases {
		t.Run(filepath.Base(file), func(t *testing.T) {
			cfg, err := Render(readRoute(t, file))
			if err != nil {
				return // refused: TestRenderGolden checks the error
			}
			data, err := MarshalConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			loaded, err := config.Parse(data)
			if err != nil {
				t.Fatalf("the sidecar refuses the rendered config: %v\n%s", err, data)
			}
			if !reflect.DeepEqual(loaded, cfg) {
				t.Errorf("the sidecar loads a different config:\n got %+v\nwant %+v", loaded, cfg)
			}
		})
	}
}

// TestRenderAcceptsEveryValidCRDExample guards the two schemas against
// drifting apart: every spec the CRD's tests hold valid must render.
func TestRenderAcceptsEveryValidCRDExample(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("..", "api", "v1alpha1", "testdata", "valid", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Skip("no valid examples in api/v1alpha1/testdata")
	}
	for _, file := range cases {
		t.Run(filepath.Base(file), func(t *testing.T) {
			if _, err := Render(readRoute(t, file)); err != nil {
				t.Errorf("Render refuses a spec the CRD accepts: %v", err)
			}
		})
	}
}

func TestRenderMapsFields(t *testing.T) {
	cfg, err := Render(readRoute(t, filepath.Join("testdata", "render", "every-field.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]config.Provider{}
	for _, p := range cfg.Providers {
		byName[p.Name] = p
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"key file for a provider with a secret ref", byName["openai"].APIKeyFile, "/etc/llmroute/keys/openai"},
		{"no key file without a secret ref", byName["ollama"].APIKeyFile, ""},
		{"default base URL per type", byName["ollama"].BaseURL, config.DefaultBaseURL[config.Ollama]},
		{"apis as written", byName["openai"].APIs, []config.API{config.ChatCompletions, config.Embeddings}},
		{"default apis per type", byName["claude"].APIs, config.DefaultAPIs[config.Anthropic]},
		{"headers", byName["openai"].Headers, map[string]string{"OpenAI-Organization": "org-123", "OpenAI-Project": "proj_abc"}},
		{"no headers", byName["ollama"].Headers, map[string]string(nil)},
		{"insecure", byName["lmstudio"].Insecure, true},
		{"secure by default", byName["internal"].Insecure, false},
		{"base URL as written", byName["claude"].BaseURL, "https://anthropic.proxy.example.com"},
		{"tokensPerMinute beyond int32", byName["openai"].TokensPerMinute, 30000000000},
		{"anthropicVersion", byName["claude"].AnthropicVersion, "2024-10-22"},
		{"budgetPercent 0 stays 0 (budget off)", *cfg.Retry.BudgetPercent, 0},
		{"minRetriesPerSecond 0 stays 0", *cfg.Retry.MinRetriesPerSecond, 0},
		{"jitter false stays false", cfg.Retry.JitterEnabled(), false},
		{"burst defaults from requestsPerSecond", cfg.RateLimit.Burst, 13},
		{"failureRatio", cfg.CircuitBreaker.FailureRatio, 0.25},
		{"maxBackoff", cfg.Retry.MaxBackoff.String(), "1m30s"},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

// TestRenderSharesNothingWithRoute guards the informer cache: the route
// Render reads may be the cache's own object, so editing the rendered config
// must not reach it.
func TestRenderSharesNothingWithRoute(t *testing.T) {
	route := readRoute(t, filepath.Join("testdata", "render", "every-field.yaml"))
	before := route.DeepCopy()
	cfg, err := Render(route)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rules[0].Models[0] = "changed"
	cfg.Rules[0].Backends[0] = "changed"
	cfg.Retry.RetryOn[0] = "changed"
	cfg.Providers[0].Models["gpt-4o"] = "changed"
	cfg.Providers[0].APIs[0] = "changed"
	cfg.Providers[0].Headers["OpenAI-Project"] = "changed"
	*cfg.Retry.Jitter = true
	*cfg.Retry.BudgetPercent = 99
	if !reflect.DeepEqual(route, before) {
		t.Error("editing the rendered config changed the route")
	}
}
