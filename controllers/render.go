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
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

// Render turns an LLMRoute's spec into the sidecar's configuration, defaulted
// and validated by the same code the sidecar runs at load, so that a route the
// operator accepts is a file the sidecar accepts. It reads nothing but route:
// a credential is referred to by its file, never by value: a Secret key by its
// file in the mounted keys Secret (see providerSecretKeys), a projected
// ServiceAccount token by its file in config.TokensDir, a token in one of the pod's
// volumes by its file under config.PodVolumesDir.
//
// Fields the spec leaves unset (a route that the API server has not defaulted,
// as in unit tests) get the sidecar's defaults.
func Render(route *llmv1alpha1.LLMRoute) (*config.Config, error) {
	// Slices and maps are copied: route may belong to the informer cache.
	spec := &route.Spec
	cfg := &config.Config{Version: config.Version}

	for i := range spec.Providers {
		p := &spec.Providers[i]
		cp := config.Provider{
			Name:              p.Name,
			Type:              config.ProviderType(p.Type),
			BaseURL:           p.BaseURL,
			Insecure:          p.Insecure,
			Timeout:           duration(p.Timeout),
			DefaultModel:      p.DefaultModel,
			AnthropicVersion:  p.AnthropicVersion,
			RequestsPerMinute: int(p.RequestsPerMinute),
			TokensPerMinute:   int(p.TokensPerMinute),
		}
		if cp.BaseURL == "" {
			cp.BaseURL = config.DefaultBaseURL[cp.Type]
		}
		renderCredentials(i, p, &cp)
		for _, api := range p.APIs {
			cp.APIs = append(cp.APIs, config.API(api))
		}
		if len(p.Headers) > 0 {
			cp.Headers = make(map[string]string, len(p.Headers))
			for name, value := range p.Headers {
				cp.Headers[name] = string(value)
			}
		}
		if len(p.Models) > 0 {
			cp.Models = maps.Clone(p.Models)
		}
		cfg.Providers = append(cfg.Providers, cp)
	}

	for _, r := range spec.Rules {
		cfg.Rules = append(cfg.Rules, config.Rule{
			Models:   slices.Clone(r.Models),
			Backends: slices.Clone(r.Backends),
		})
	}

	if r := spec.Retry; r != nil {
		cfg.Retry = config.Retry{
			Attempts:            int(r.Attempts),
			InitialBackoff:      duration(r.InitialBackoff),
			MaxBackoff:          duration(r.MaxBackoff),
			Multiplier:          r.Multiplier,
			RetryOn:             slices.Clone(r.RetryOn),
			MaxRetryAfter:       duration(r.MaxRetryAfter),
			BudgetPercent:       intPtr(r.BudgetPercent),
			MinRetriesPerSecond: intPtr(r.MinRetriesPerSecond),
		}
		if r.Jitter != nil {
			cfg.Retry.Jitter = new(*r.Jitter)
		}
	}

	if b := spec.CircuitBreaker; b != nil {
		cfg.CircuitBreaker = config.CircuitBreaker{
			ConsecutiveFailures: int(b.ConsecutiveFailures),
			FailureRatio:        b.FailureRatio,
			MinRequests:         int(b.MinRequests),
			Interval:            duration(b.Interval),
			OpenTimeout:         duration(b.OpenTimeout),
			HalfOpenRequests:    int(b.HalfOpenRequests),
		}
	}

	if t := spec.Timeouts; t != nil {
		cfg.Timeouts = config.Timeouts{
			Request:    duration(t.Request),
			StreamIdle: duration(t.StreamIdle),
		}
	}

	if l := spec.RateLimit; l != nil {
		cfg.RateLimit = config.RateLimit{
			RequestsPerSecond: l.RequestsPerSecond,
			Burst:             int(l.Burst),
		}
	}

	cfg.Default()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// renderCredentials sets the sidecar's credential fields for provider i.
func renderCredentials(i int, p *llmv1alpha1.Provider, cp *config.Provider) {
	clientSecretFile := ""
	for _, u := range providerSecretKeys(i, p) {
		switch u.role {
		case roleAPIKey:
			cp.APIKeyFile = u.Path()
		case roleAPIKeys:
			k := p.APIKeys[u.index]
			cp.APIKeys = append(cp.APIKeys, config.APIKey{
				Name:   u.KeyName(),
				File:   u.Path(),
				Weight: int(k.Weight),
				Models: slices.Clone(k.Models),
			})
		case roleClientSecret:
			clientSecretFile = u.Path()
		}
	}
	if p.ServiceAccountToken != nil {
		cp.TokenFile = config.TokenFile(p.Name)
	}
	if p.TokenFile != nil {
		cp.TokenFile = tokenFilePath(p.TokenFile)
	}
	if o := p.OAuth2ClientCredentials; o != nil {
		cp.OAuth2ClientCredentials = &config.OAuth2ClientCredentials{
			TokenURL:         o.TokenURL,
			ClientID:         o.ClientID,
			ClientSecretFile: clientSecretFile,
			Scopes:           slices.Clone(o.Scopes),
			Audience:         o.Audience,
			Params:           maps.Clone(o.Params),
		}
		if o.ClientAssertion != nil {
			cp.OAuth2ClientCredentials.ClientAssertionFile = config.TokenFile(p.Name)
		}
	}
	if g := p.GoogleExternalAccount; g != nil {
		cp.GoogleExternalAccount = &config.GoogleExternalAccount{
			Audience:                       g.Audience,
			SubjectTokenFile:               config.TokenFile(p.Name),
			TokenURL:                       g.TokenURL,
			ServiceAccountImpersonationURL: g.ServiceAccountImpersonationURL,
			Scopes:                         slices.Clone(g.Scopes),
		}
	}
}

// MarshalConfig is the content of the ConfigMap's config.json: indented so
// that kubectl shows it readably, with a final newline.
func MarshalConfig(cfg *config.Config) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// Model patterns and URLs are shown as written, not as \u003c escapes.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(cfg); err != nil {
		return nil, fmt.Errorf("encode sidecar config: %w", err)
	}
	return buf.Bytes(), nil
}

func duration(d *metav1.Duration) config.Duration {
	if d == nil {
		return config.Duration{}
	}
	return config.D(d.Duration)
}

func intPtr(v *int32) *int {
	if v == nil {
		return nil
	}
	return new(int(*v))
}
