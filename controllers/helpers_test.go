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
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
)

const testNS = "agents"

func buildScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, llmv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s, err := buildScheme()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// keyed is an OpenAI provider whose key is in Secret secret, key "api-key".
func keyed(name, secret string) llmv1alpha1.Provider {
	return llmv1alpha1.Provider{
		Name:            name,
		Type:            llmv1alpha1.ProviderOpenAI,
		APIKeySecretRef: &llmv1alpha1.SecretKeyRef{Name: secret, Key: "api-key"},
	}
}

// pooled is an OpenAI provider with several keys, keys of Secret secret.
func pooled(name, secret string, keys ...string) llmv1alpha1.Provider {
	p := llmv1alpha1.Provider{Name: name, Type: llmv1alpha1.ProviderOpenAI}
	for _, k := range keys {
		p.APIKeys = append(p.APIKeys, llmv1alpha1.APIKey{SecretRef: llmv1alpha1.SecretKeyRef{Name: secret, Key: k}})
	}
	return p
}

// clientSecret is an OAuth2 provider whose client secret is key of Secret secret.
func clientSecret(name, secret, key string) llmv1alpha1.Provider {
	return llmv1alpha1.Provider{
		Name:    name,
		Type:    llmv1alpha1.ProviderOpenAICompatible,
		BaseURL: "https://llm.example.com/v1",
		OAuth2ClientCredentials: &llmv1alpha1.OAuth2ClientCredentials{
			TokenURL:        "https://sso.example.com/token",
			ClientID:        "llm-router",
			ClientSecretRef: &llmv1alpha1.SecretKeyRef{Name: secret, Key: key},
		},
	}
}

// tokened is a provider that sends the pod's ServiceAccount token.
func tokened(name string) llmv1alpha1.Provider {
	return llmv1alpha1.Provider{
		Name:                name,
		Type:                llmv1alpha1.ProviderOpenAICompatible,
		BaseURL:             "https://gateway.example.com/v1",
		ServiceAccountToken: &llmv1alpha1.ServiceAccountToken{Audience: "gateway"},
	}
}

// assertion is an OAuth2 provider, "azure", that authenticates with a
// projected token.
func assertion() llmv1alpha1.Provider {
	return llmv1alpha1.Provider{
		Name:    "azure",
		Type:    llmv1alpha1.ProviderOpenAICompatible,
		BaseURL: "https://contoso.openai.azure.com/openai/v1",
		OAuth2ClientCredentials: &llmv1alpha1.OAuth2ClientCredentials{
			TokenURL: "https://login.microsoftonline.com/tenant/oauth2/v2.0/token",
			ClientID: "client",
			ClientAssertion: &llmv1alpha1.ClientAssertion{
				ServiceAccountToken: llmv1alpha1.ServiceAccountToken{Audience: "api://AzureADTokenExchange", ExpirationSeconds: 1800},
			},
		},
	}
}

// google is a provider, "vertex", that exchanges a projected token at
// Google's STS.
func google() llmv1alpha1.Provider {
	return llmv1alpha1.Provider{
		Name:    "vertex",
		Type:    llmv1alpha1.ProviderOpenAICompatible,
		BaseURL: "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/endpoints/openapi",
		GoogleExternalAccount: &llmv1alpha1.GoogleExternalAccount{
			Audience:            "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/k8s/providers/c",
			ServiceAccountToken: llmv1alpha1.ServiceAccountToken{Audience: "https://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/k8s/providers/c"},
		},
	}
}

// tokenFiled is a provider that reads a token from the pod's volume "llm-token".
func tokenFiled(name string) llmv1alpha1.Provider {
	return llmv1alpha1.Provider{
		Name:      name,
		Type:      llmv1alpha1.ProviderOpenAICompatible,
		BaseURL:   "https://llm.internal.example.com/v1",
		TokenFile: &llmv1alpha1.TokenFile{Volume: "llm-token", Path: "token"},
	}
}

// newRoute is a route in testNS whose one rule tries the providers in order.
func newRoute(name string, providers ...llmv1alpha1.Provider) *llmv1alpha1.LLMRoute {
	rule := llmv1alpha1.Rule{}
	for _, p := range providers {
		rule.Backends = append(rule.Backends, p.Name)
	}
	return &llmv1alpha1.LLMRoute{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: testNS, Generation: 1, UID: types.UID("uid-" + name),
		},
		Spec: llmv1alpha1.LLMRouteSpec{Providers: providers, Rules: []llmv1alpha1.Rule{rule}},
	}
}

func newSecret(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

type fixture struct {
	client   client.Client
	recorder *events.FakeRecorder
	r        *LLMRouteReconciler
}

// newFixture is a reconciler on a fake client holding objs, with the
// reconciler's index, the status subresource and an event recorder.
func newFixture(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) *fixture {
	t.Helper()
	s := newScheme(t)
	b := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithStatusSubresource(&llmv1alpha1.LLMRoute{}).
		WithIndex(&llmv1alpha1.LLMRoute{}, SecretRefIndex, secretRefNames)
	if funcs != nil {
		b = b.WithInterceptorFuncs(*funcs)
	}
	c := b.Build()
	rec := events.NewFakeRecorder(32)
	return &fixture{client: c, recorder: rec, r: &LLMRouteReconciler{Client: c, Scheme: s, Recorder: rec}}
}

// events drains the events recorded so far.
func (f *fixture) events() []string {
	var got []string
	for {
		select {
		case e := <-f.recorder.Events:
			got = append(got, e)
		default:
			return got
		}
	}
}

func (f *fixture) get(t *testing.T, obj client.Object, name string) {
	t.Helper()
	if err := f.client.Get(context.Background(), client.ObjectKey{Namespace: testNS, Name: name}, obj); err != nil {
		t.Fatalf("get %T %s: %v", obj, name, err)
	}
}
