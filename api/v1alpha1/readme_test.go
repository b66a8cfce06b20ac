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
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
)

var (
	yamlBlock    = regexp.MustCompile("(?s)```yaml\n(.*?)```")
	llmRouteKind = regexp.MustCompile(`(?m)^kind: LLMRoute$`)
)

// readmeRoutes are the LLMRoutes the README shows, in order.
func readmeRoutes(t *testing.T) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var routes [][]byte
	for _, m := range yamlBlock.FindAllSubmatch(data, -1) {
		if llmRouteKind.Match(m[1]) {
			routes = append(routes, m[1])
		}
	}
	if len(routes) < 6 {
		t.Fatalf("%d LLMRoutes in the README, want one per credential source at least", len(routes))
	}
	return routes
}

// TestREADMERoutesDecodeStrictly guards the README's examples against
// drifting from the Go type: a field it does not know fails.
func TestREADMERoutesDecodeStrictly(t *testing.T) {
	for i, data := range readmeRoutes(t) {
		var route llmv1alpha1.LLMRoute
		if err := yaml.UnmarshalStrict(data, &route); err != nil {
			t.Errorf("README route %d: %v\n%s", i, err, data)
		}
	}
}

// TestREADMERoutesAreAccepted: what the README tells users to apply, the API
// server accepts.
func TestREADMERoutesAreAccepted(t *testing.T) {
	requireAPIServer(t)
	for i, data := range readmeRoutes(t) {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(data, &obj.Object); err != nil {
				t.Fatal(err)
			}
			obj.SetNamespace(testNamespace)
			obj.SetName(fmt.Sprintf("readme-%02d", i))
			if err := create(testContext(t), obj); err != nil {
				t.Fatalf("the API server refuses README route %d: %v\n%s", i, err, data)
			}
			_ = k8sClient.Delete(context.Background(), obj)
		})
	}
}
