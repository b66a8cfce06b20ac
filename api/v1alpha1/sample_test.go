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

package v1alpha1_test

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
)

// A field the Go type does not know would be dropped without a word when the
// operator decodes the object; strict decoding catches a test case that drifted
// from the type.
func TestValidCasesDecodeStrictly(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "valid", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var route llmv1alpha1.LLMRoute
			if err := yaml.UnmarshalStrict(data, &route); err != nil {
				t.Fatalf("strict decode: %v", err)
			}
			if got := route.GroupVersionKind(); got != llmv1alpha1.GroupVersion.WithKind("LLMRoute") {
				t.Errorf("apiVersion/kind = %v, want %v", got, llmv1alpha1.GroupVersion.WithKind("LLMRoute"))
			}
			if len(route.Spec.Providers) == 0 || len(route.Spec.Rules) == 0 {
				t.Errorf("decoded no providers or rules: %+v", route.Spec)
			}
		})
	}
}

// The sample is the first thing users apply: it must decode into the Go type
// with no unknown field and show the cascade DESIGN.md describes.
func TestSampleDecodesStrictly(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "llm_v1alpha1_llmroute.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var route llmv1alpha1.LLMRoute
	if err := yaml.UnmarshalStrict(data, &route); err != nil {
		t.Fatalf("strict decode: %v", err)
	}
	want := []llmv1alpha1.ProviderType{llmv1alpha1.ProviderOpenAI, llmv1alpha1.ProviderAnthropic, llmv1alpha1.ProviderOllama}
	if len(route.Spec.Providers) != len(want) {
		t.Fatalf("%d providers, want %d", len(route.Spec.Providers), len(want))
	}
	for i, p := range route.Spec.Providers {
		if p.Type != want[i] {
			t.Errorf("providers[%d].type = %s, want %s", i, p.Type, want[i])
		}
	}
	if got := route.Spec.Retry.InitialBackoff.Duration.String(); got != "2s" {
		t.Errorf("retry.initialBackoff = %s, want 2s", got)
	}
}
