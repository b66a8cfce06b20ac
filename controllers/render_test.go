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
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
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

// TestRenderCredentials checks where each credential source points the
// sidecar: never at a value, always at a file the pod webhook provides.
func TestRenderCredentials(t *testing.T) {
	cfg, err := Render(readRoute(t, filepath.Join("testdata", "render", "credentials.yaml")))
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
		{"apiKeySecretRef: the provider's file", byName["static"].APIKeyFile, "/etc/llmroute/keys/static"},
		{"apiKeys named <secret>/<key>", byName["pooled"].APIKeys[0].Name, "openai-keys/project-a"},
		{"apiKeys file", byName["pooled"].APIKeys[0].File, "/etc/llmroute/keys/pooled_openai-keys_project-a"},
		{"apiKeys weight", byName["pooled"].APIKeys[0].Weight, 2},
		{"apiKeys weight defaults to 1", byName["pooled"].APIKeys[1].Weight, 1},
		{"apiKeys models", byName["pooled"].APIKeys[2].Models, []string{"gpt-4o-mini*"}},
		{"serviceAccountToken: a file of the tokens volume", byName["gateway"].TokenFile, "/etc/llmroute/tokens/gateway"},
		{"tokenFile: a file of the pod's volume", byName["vault"].TokenFile, "/etc/llmroute/volumes/llm-token/tokens/llm.jwt"},
		{"client secret: the provider's file", byName["sso"].OAuth2ClientCredentials.ClientSecretFile, "/etc/llmroute/keys/sso"},
		{"no assertion with a secret", byName["sso"].OAuth2ClientCredentials.ClientAssertionFile, ""},
		{"params", byName["sso"].OAuth2ClientCredentials.Params, map[string]string{"resource": "https://llm.internal.example.com"}},
		{"client assertion: a file of the tokens volume", byName["azure"].OAuth2ClientCredentials.ClientAssertionFile, "/etc/llmroute/tokens/azure"},
		{"assertion type defaulted by the sidecar's rules", byName["azure"].OAuth2ClientCredentials.ClientAssertionType, config.DefaultClientAssertionType},
		{"google subject token: a file of the tokens volume", byName["vertex"].GoogleExternalAccount.SubjectTokenFile, "/etc/llmroute/tokens/vertex"},
		{"google STS default", byName["vertex"].GoogleExternalAccount.TokenURL, config.DefaultGoogleSTSURL},
		{"no credential fields elsewhere", byName["gateway"].APIKeyFile + byName["static"].TokenFile, ""},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

// TestAPIKeysFileNames guards the keys Secret's file names: unique across a
// route, valid Secret keys, and stable when other keys come and go (a renamed
// file would be missing while the kubelet updates the two volumes apart).
func TestAPIKeysFileNames(t *testing.T) {
	ref := func(name, key string) llmv1alpha1.SecretKeyRef { return llmv1alpha1.SecretKeyRef{Name: name, Key: key} }
	long := strings.Repeat("s", 200)
	refs := []llmv1alpha1.SecretKeyRef{
		ref("a.b", "c"), ref("a", "b.c"), // the same with "." in either
		ref("a-b", "c"), ref("a", "b-c"),
		ref("a", "b_c"), ref("a", "_b_c"), ref("a.b", "_c"), // "_" only in keys: Secret and provider names cannot hold one
		ref(long, "k1"), ref(long, "k2"), ref(long+"x", "k1"),
	}
	seen := map[string]llmv1alpha1.SecretKeyRef{}
	for _, provider := range []string{"p", "p-1"} {
		for _, r := range refs {
			name := apiKeysFileName(provider, r)
			if other, dup := seen[name]; dup {
				t.Errorf("%s and %s of provider %s share file %q", other, r, provider, name)
			}
			seen[name] = r
			if msgs := validation.IsConfigMapKey(name); len(msgs) > 0 {
				t.Errorf("%q is not a Secret key: %v", name, msgs)
			}
			if name == provider || name == "p" || name == "p-1" {
				t.Errorf("%q is a provider's own file name", name)
			}
		}
	}

	// Stable across edits: removing the second key and moving the first to
	// the end renames none of the others.
	route := readRoute(t, filepath.Join("testdata", "render", "credentials.yaml"))
	files := func() map[string]string {
		m := map[string]string{}
		for _, u := range secretKeyUses(route) {
			m[u.KeyName()+" of "+u.Provider] = u.File
		}
		return m
	}
	before := files()
	pooled := &route.Spec.Providers[1]
	pooled.APIKeys = append(slices.Clone(pooled.APIKeys[2:]), pooled.APIKeys[0])
	after := files()
	if len(after) != len(before)-1 {
		t.Fatalf("%d keys after removing one of %d", len(after), len(before))
	}
	for k, v := range after {
		if before[k] != v {
			t.Errorf("removing and reordering apiKeys renamed %s from %q to %q", k, before[k], v)
		}
	}
}

// TestREADMERoutesRender: every LLMRoute the README shows renders into a
// config the sidecar accepts, and into a pod whose mounts provide its files.
func TestREADMERoutesRender(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(data, -1) {
		if !bytes.Contains(m[1], []byte("\nkind: LLMRoute\n")) {
			continue
		}
		n++
		var route llmv1alpha1.LLMRoute
		if err := yaml.UnmarshalStrict(m[1], &route); err != nil {
			t.Fatalf("README route %d: %v", n, err)
		}
		t.Run(route.Name, func(t *testing.T) {
			cfg, err := Render(&route)
			if err != nil {
				t.Fatalf("README route %q does not render: %v", route.Name, err)
			}
			checkConfigAgreesWithMounts(t, &route, cfg)
		})
	}
	if n == 0 {
		t.Fatal("no LLMRoute in the README")
	}
}
