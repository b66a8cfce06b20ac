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
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
)

func assertCondition(t *testing.T, route *llmv1alpha1.LLMRoute, typ string, status metav1.ConditionStatus, reason string, msgParts ...string) {
	t.Helper()
	c := meta.FindStatusCondition(route.Status.Conditions, typ)
	if c == nil {
		t.Fatalf("no %s condition in %+v", typ, route.Status.Conditions)
	}
	if c.Status != status || c.Reason != reason {
		t.Errorf("%s = %s/%s (%s), want %s/%s", typ, c.Status, c.Reason, c.Message, status, reason)
	}
	if c.ObservedGeneration != route.Generation {
		t.Errorf("%s observedGeneration = %d, want %d", typ, c.ObservedGeneration, route.Generation)
	}
	for _, part := range msgParts {
		if !strings.Contains(c.Message, part) {
			t.Errorf("%s message %q does not contain %q", typ, c.Message, part)
		}
	}
}

func TestRenderStep(t *testing.T) {
	f := newFixture(t, nil)

	route := newRoute("chat", keyed("openai", "creds"))
	route.Generation = 3
	st := &routeState{}
	if err := f.r.render(context.Background(), route, st); err != nil {
		t.Fatal(err)
	}
	assertCondition(t, route, llmv1alpha1.ConditionAccepted, metav1.ConditionTrue, llmv1alpha1.ReasonRendered)
	if !strings.Contains(string(st.config), `"apiKeyFile": "/etc/llmroute/keys/openai"`) {
		t.Errorf("rendered config lacks the key file:\n%s", st.config)
	}

	bad := newRoute("bad", keyed("openai", "creds"))
	bad.Spec.Rules[0].Backends = append(bad.Spec.Rules[0].Backends, "nowhere")
	st = &routeState{}
	if err := f.r.render(context.Background(), bad, st); err != nil {
		t.Fatalf("an invalid spec is a condition, not an error to retry: %v", err)
	}
	assertCondition(t, bad, llmv1alpha1.ConditionAccepted, metav1.ConditionFalse, llmv1alpha1.ReasonInvalidSpec,
		`rules[0].backends[1]: "nowhere" names no provider`)
	if st.config != nil {
		t.Error("an invalid spec left a config to write")
	}
}

func TestResolveKeys(t *testing.T) {
	local := llmv1alpha1.Provider{Name: "local", Type: llmv1alpha1.ProviderOllama}
	shared := func(name, key string) llmv1alpha1.Provider {
		p := keyed(name, "shared")
		p.APIKeySecretRef.Key = key
		return p
	}
	otherNS := newSecret("creds", map[string]string{"api-key": "sk-other"})
	otherNS.Namespace = "elsewhere"

	tests := []struct {
		name       string
		providers  []llmv1alpha1.Provider
		secrets    []client.Object
		wantStatus metav1.ConditionStatus
		wantReason string
		wantMsg    []string
		wantKeys   map[string]string
	}{
		{
			name:       "every key found",
			providers:  []llmv1alpha1.Provider{keyed("openai", "creds"), shared("a", "one"), shared("b", "two"), local},
			secrets:    []client.Object{newSecret("creds", map[string]string{"api-key": "sk-1\n"}), newSecret("shared", map[string]string{"one": "k1", "two": "k2"})},
			wantStatus: metav1.ConditionTrue, wantReason: llmv1alpha1.ReasonSecretsResolved,
			wantKeys: map[string]string{"openai": "sk-1\n", "a": "k1", "b": "k2"},
		},
		{
			name:       "no references at all",
			providers:  []llmv1alpha1.Provider{local},
			wantStatus: metav1.ConditionTrue, wantReason: llmv1alpha1.ReasonSecretsResolved,
			wantKeys: map[string]string{},
		},
		{
			name:       "Secret missing",
			providers:  []llmv1alpha1.Provider{keyed("openai", "creds")},
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonSecretNotFound,
			wantMsg: []string{`Secret "creds" not found in namespace "agents"`, `provider "openai"`, `key "api-key"`},
		},
		{
			name:       "Secret only in another namespace",
			providers:  []llmv1alpha1.Provider{keyed("openai", "creds")},
			secrets:    []client.Object{otherNS},
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonSecretNotFound,
			wantMsg: []string{`Secret "creds" not found in namespace "agents"`},
		},
		{
			name:       "key missing",
			providers:  []llmv1alpha1.Provider{keyed("openai", "creds")},
			secrets:    []client.Object{newSecret("creds", map[string]string{"token": "sk"})},
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonSecretKeyMissing,
			wantMsg: []string{`Secret "creds" in namespace "agents" has no key "api-key"`, `provider "openai"`},
		},
		{
			name:       "key blank",
			providers:  []llmv1alpha1.Provider{keyed("openai", "creds")},
			secrets:    []client.Object{newSecret("creds", map[string]string{"api-key": " \n"})},
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonSecretKeyMissing,
			wantMsg: []string{`has an empty key "api-key"`},
		},
		{
			name:       "surrounding whitespace is trimmed, as the sidecar does",
			providers:  []llmv1alpha1.Provider{keyed("openai", "creds")},
			secrets:    []client.Object{newSecret("creds", map[string]string{"api-key": "\u00a0\tsk-1 \r\n"})},
			wantStatus: metav1.ConditionTrue, wantReason: llmv1alpha1.ReasonSecretsResolved,
			wantKeys: map[string]string{"openai": "\u00a0\tsk-1 \r\n"},
		},
		{
			name:       "a line break inside the key",
			providers:  []llmv1alpha1.Provider{keyed("openai", "creds")},
			secrets:    []client.Object{newSecret("creds", map[string]string{"api-key": "sk-1\nsk-2\n"})},
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonSecretKeyInvalid,
			wantMsg: []string{`key "api-key" of Secret "creds" in namespace "agents" (provider "openai", spec.providers[0].apiKeySecretRef) holds a line break`, "HTTP header"},
		},
		{
			name:       "a control character",
			providers:  []llmv1alpha1.Provider{keyed("openai", "creds")},
			secrets:    []client.Object{newSecret("creds", map[string]string{"api-key": "sk-\x001"})},
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonSecretKeyInvalid,
			wantMsg: []string{"holds a control character"},
		},
		{
			name:       "a tab inside",
			providers:  []llmv1alpha1.Provider{keyed("openai", "creds")},
			secrets:    []client.Object{newSecret("creds", map[string]string{"api-key": "sk-\t1"})},
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonSecretKeyInvalid,
			wantMsg: []string{"holds a control character"},
		},
		{
			name:       "a zero-width space pasted inside",
			providers:  []llmv1alpha1.Provider{keyed("openai", "creds")},
			secrets:    []client.Object{newSecret("creds", map[string]string{"api-key": "sk-\u200b1"})},
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonSecretKeyInvalid,
			wantMsg: []string{"holds a non-ASCII character"},
		},
		{
			name:       "several keys and a client secret, each under its own file",
			providers:  []llmv1alpha1.Provider{pooled("pool", "keys", "a", "b"), clientSecret("sso", "keys", "a"), keyed("openai", "creds")},
			secrets:    []client.Object{newSecret("keys", map[string]string{"a": "k-a", "b": "k-b"}), newSecret("creds", map[string]string{"api-key": "sk"})},
			wantStatus: metav1.ConditionTrue, wantReason: llmv1alpha1.ReasonSecretsResolved,
			wantKeys: map[string]string{"pool_keys_a": "k-a", "pool_keys_b": "k-b", "sso": "k-a", "openai": "sk"},
			wantMsg:  []string{"Resolved 4 Secret keys"},
		},
		{
			name:       "a key of apiKeys missing: named with its field",
			providers:  []llmv1alpha1.Provider{pooled("pool", "keys", "a", "b")},
			secrets:    []client.Object{newSecret("keys", map[string]string{"a": "k-a"})},
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonSecretKeyMissing,
			wantMsg: []string{`Secret "keys" in namespace "agents" has no key "b" (provider "pool", spec.providers[0].apiKeys[1].secretRef)`},
		},
		{
			name:       "a client secret's Secret missing",
			providers:  []llmv1alpha1.Provider{clientSecret("sso", "sso-client", "secret")},
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonSecretNotFound,
			wantMsg: []string{`Secret "sso-client" not found in namespace "agents" (provider "sso", key "secret", spec.providers[0].oauth2ClientCredentials.clientSecretRef)`},
		},
		{
			name:       "a key of apiKeys holds a line break",
			providers:  []llmv1alpha1.Provider{pooled("pool", "keys", "a")},
			secrets:    []client.Object{newSecret("keys", map[string]string{"a": "k\nx"})},
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonSecretKeyInvalid,
			wantMsg: []string{`key "a" of Secret "keys" in namespace "agents" (provider "pool", spec.providers[0].apiKeys[0].secretRef) holds a line break`},
		},
		{
			name:       "a token source references no Secret",
			providers:  []llmv1alpha1.Provider{tokened("gateway")},
			wantStatus: metav1.ConditionTrue, wantReason: llmv1alpha1.ReasonSecretsResolved,
			wantKeys: map[string]string{},
		},
		{
			name:       "every problem reported, a missing Secret gives the reason",
			providers:  []llmv1alpha1.Provider{keyed("openai", "creds"), keyed("claude", "gone")},
			secrets:    []client.Object{newSecret("creds", map[string]string{})},
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonSecretNotFound,
			wantMsg: []string{`Secret "creds" in namespace "agents" has no key "api-key"`, `Secret "gone" not found`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil, tt.secrets...)
			route := newRoute("chat", tt.providers...)
			st := &routeState{}
			if err := f.r.resolveKeys(context.Background(), route, st); err != nil {
				t.Fatal(err)
			}
			assertCondition(t, route, llmv1alpha1.ConditionResolvedRefs, tt.wantStatus, tt.wantReason, tt.wantMsg...)
			if tt.wantKeys == nil {
				if st.keys != nil {
					t.Errorf("keys = %v with a reference unresolved", st.keys)
				}
				return
			}
			got := map[string]string{}
			for k, v := range st.keys {
				got[k] = string(v)
			}
			if !mapsEqual(got, tt.wantKeys) {
				t.Errorf("keys = %v, want %v", got, tt.wantKeys)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestResolveKeysAPIError guards against reporting a Secret as missing when
// the API server could not be asked: that is retried, not shown as a user error.
func TestResolveKeysAPIError(t *testing.T) {
	f := newFixture(t, &interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		if _, ok := obj.(*corev1.Secret); ok {
			return apierrors.NewServiceUnavailable("etcd is down")
		}
		return c.Get(ctx, key, obj, opts...)
	}})
	route := newRoute("chat", keyed("openai", "creds"))
	err := f.r.resolveKeys(context.Background(), route, &routeState{})
	if err == nil || !strings.Contains(err.Error(), "etcd is down") {
		t.Fatalf("error = %v, want the API error", err)
	}
	if meta.FindStatusCondition(route.Status.Conditions, llmv1alpha1.ConditionResolvedRefs) != nil {
		t.Error("ResolvedRefs was set from a failed lookup")
	}
}

func TestWrite(t *testing.T) {
	ctx := context.Background()
	route := newRoute("chat", keyed("openai", "creds"))
	f := newFixture(t, nil, route)
	st := &routeState{config: []byte("{\"version\": 1}\n"), keys: map[string][]byte{"openai": []byte("sk-1")}}

	if err := f.r.write(ctx, route, st); err != nil {
		t.Fatal(err)
	}
	if !st.written || len(route.Status.ConfigHash) != 16 {
		t.Fatalf("written=%v configHash=%q", st.written, route.Status.ConfigHash)
	}
	var cm corev1.ConfigMap
	var secret corev1.Secret
	f.get(t, &cm, "llmroute-chat")
	f.get(t, &secret, "llmroute-chat-keys")
	if cm.Data["config.json"] != string(st.config) || len(cm.Data) != 1 {
		t.Errorf("ConfigMap data = %v", cm.Data)
	}
	if string(secret.Data["openai"]) != "sk-1" || len(secret.Data) != 1 || secret.Type != corev1.SecretTypeOpaque {
		t.Errorf("Secret = %s %v", secret.Type, secret.Data)
	}
	for _, obj := range []metav1.Object{&cm, &secret} {
		ref := metav1.GetControllerOf(obj)
		if ref == nil || ref.UID != route.UID || ref.Kind != "LLMRoute" {
			t.Errorf("%s is not controlled by the route: %+v", obj.GetName(), obj.GetOwnerReferences())
		}
		if obj.GetLabels()[ManagedByLabel] != ManagedByValue {
			t.Errorf("%s lacks the managed-by label", obj.GetName())
		}
	}

	// Nothing changed: nothing is written.
	cmRV, secretRV := cm.ResourceVersion, secret.ResourceVersion
	if err := f.r.write(ctx, route, st); err != nil {
		t.Fatal(err)
	}
	f.get(t, &cm, "llmroute-chat")
	f.get(t, &secret, "llmroute-chat-keys")
	if cm.ResourceVersion != cmRV || secret.ResourceVersion != secretRV {
		t.Error("an unchanged config was written again")
	}

	// A rotated key and a dropped provider: updated in place, no stale key,
	// and a new hash, as the keys Secret's version changed.
	oldHash := route.Status.ConfigHash
	st.keys = map[string][]byte{"claude": []byte("sk-2")}
	if err := f.r.write(ctx, route, st); err != nil {
		t.Fatal(err)
	}
	f.get(t, &secret, "llmroute-chat-keys")
	if _, stale := secret.Data["openai"]; stale || string(secret.Data["claude"]) != "sk-2" {
		t.Errorf("Secret data = %v, want only claude", secret.Data)
	}
	if route.Status.ConfigHash == oldHash {
		t.Error("configHash did not change with the keys")
	}

	// Edited by hand: repaired.
	cm.Data["config.json"] = "{}"
	cm.Data["extra"] = "x"
	if err := f.client.Update(ctx, &cm); err != nil {
		t.Fatal(err)
	}
	if err := f.r.write(ctx, route, st); err != nil {
		t.Fatal(err)
	}
	f.get(t, &cm, "llmroute-chat")
	if cm.Data["config.json"] != string(st.config) || len(cm.Data) != 1 {
		t.Errorf("hand-edited ConfigMap not repaired: %v", cm.Data)
	}
}

func TestWriteSkipsUntilResolved(t *testing.T) {
	route := newRoute("chat", keyed("openai", "creds"))
	f := newFixture(t, nil, route)
	for _, st := range []*routeState{
		{config: []byte("{}"), keys: nil},                        // a reference unresolved
		{config: nil, keys: map[string][]byte{"a": []byte("k")}}, // the spec refused
	} {
		if err := f.r.write(context.Background(), route, st); err != nil {
			t.Fatal(err)
		}
		if st.written {
			t.Error("written although not accepted or not resolved")
		}
	}
	var cms corev1.ConfigMapList
	if err := f.client.List(context.Background(), &cms); err != nil || len(cms.Items) > 0 {
		t.Errorf("ConfigMaps written: %v %v", cms.Items, err)
	}
}

// TestWriteLeavesForeignObjectsAlone guards against taking over an object
// of the route's names that the route does not control: CreateOrUpdate with
// SetControllerReference adopted anything without a controller, and garbage
// collection then deleted it with the route.
func TestWriteLeavesForeignObjectsAlone(t *testing.T) {
	route := newRoute("chat", keyed("openai", "creds"))
	controlled := func(kind, name, uid string) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: "v1", Kind: kind, Name: name, UID: types.UID(uid), Controller: new(true)}}
	}
	tests := []struct {
		name     string
		existing []client.Object
		wantMsg  []string
	}{
		{
			name:     "a ConfigMap without a controller",
			existing: []client.Object{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "llmroute-chat", Namespace: testNS}, Data: map[string]string{"app": "settings"}}},
			wantMsg:  []string{`ConfigMap "llmroute-chat" exists and has no controller`, "left untouched"},
		},
		{
			name: "a ConfigMap another controller owns",
			existing: []client.Object{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "llmroute-chat", Namespace: testNS,
				OwnerReferences: controlled("Deployment", "other", "uid-other")}}},
			wantMsg: []string{`ConfigMap "llmroute-chat" exists and is controlled by Deployment "other"`},
		},
		{
			name: "a keys Secret left by an earlier route of the same name",
			existing: []client.Object{&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "llmroute-chat-keys", Namespace: testNS,
				OwnerReferences: controlled("LLMRoute", "chat", "uid-earlier")}}},
			wantMsg: []string{`Secret "llmroute-chat-keys" exists and is controlled by LLMRoute "chat" (uid uid-earlier)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil, append([]client.Object{route}, tt.existing...)...)
			before := map[string]client.Object{}
			for _, obj := range tt.existing {
				live := obj.DeepCopyObject().(client.Object)
				f.get(t, live, obj.GetName())
				before[obj.GetName()] = live
			}
			st := &routeState{config: []byte("{}"), keys: map[string][]byte{"openai": []byte("sk")}}
			if err := f.r.write(context.Background(), route, st); err != nil {
				t.Fatalf("a conflict is a condition, not an error to retry with backoff: %v", err)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(st.conflict, w) {
					t.Errorf("conflict %q does not contain %q", st.conflict, w)
				}
			}
			if st.written || route.Status.ConfigHash != "" {
				t.Error("reported as written")
			}
			for name, was := range before {
				now := was.DeepCopyObject().(client.Object)
				f.get(t, now, name)
				if !equality.Semantic.DeepEqual(now, was) {
					t.Errorf("%s was changed:\n%+v\nwas\n%+v", name, now, was)
				}
			}
			// Neither object is written while one is in the way.
			for _, obj := range []client.Object{&corev1.ConfigMap{}, &corev1.Secret{}} {
				name := ConfigMapName("chat")
				if _, ok := obj.(*corev1.Secret); ok {
					name = KeysSecretName("chat")
				}
				if _, existed := before[name]; existed {
					continue
				}
				err := f.client.Get(context.Background(), client.ObjectKey{Namespace: testNS, Name: name}, obj)
				if !apierrors.IsNotFound(err) {
					t.Errorf("%s written beside the conflicting object: %v", name, err)
				}
			}
		})
	}
}

// TestReconcileConflict: the route says Ready=False, reason Conflict, naming
// the object, once per transition, and looks again later.
func TestReconcileConflict(t *testing.T) {
	route := newRoute("chat", keyed("openai", "creds"))
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "llmroute-chat", Namespace: testNS}}
	f := newFixture(t, nil, route, foreign, newSecret("creds", map[string]string{"api-key": "sk"}))
	res, err := f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: testNS, Name: "chat"}})
	if err != nil || res.RequeueAfter != conflictRecheckInterval {
		t.Fatalf("Reconcile = %+v, %v; want a quiet recheck after %s", res, err, conflictRecheckInterval)
	}
	got := &llmv1alpha1.LLMRoute{}
	f.get(t, got, "chat")
	assertCondition(t, got, llmv1alpha1.ConditionAccepted, metav1.ConditionTrue, llmv1alpha1.ReasonRendered)
	assertCondition(t, got, llmv1alpha1.ConditionResolvedRefs, metav1.ConditionTrue, llmv1alpha1.ReasonSecretsResolved)
	assertCondition(t, got, llmv1alpha1.ConditionReady, metav1.ConditionFalse, llmv1alpha1.ReasonConflict, `ConfigMap "llmroute-chat"`)
	wantEvents(t, f, `Warning Conflict Not ready: ConfigMap "llmroute-chat" exists`)

	// Gone: the next look writes both.
	if err := f.client.Delete(context.Background(), foreign); err != nil {
		t.Fatal(err)
	}
	got, err = reconcileRoute(t, f)
	if err != nil {
		t.Fatal(err)
	}
	assertCondition(t, got, llmv1alpha1.ConditionReady, metav1.ConditionTrue, llmv1alpha1.ReasonConfigWritten)
	var cm corev1.ConfigMap
	f.get(t, &cm, "llmroute-chat")
	if !metav1.IsControlledBy(&cm, got) {
		t.Error("the ConfigMap written after the conflict is not the route's")
	}
}

func TestConfigHash(t *testing.T) {
	cfg := []byte(`{"version":1}`)
	keys := func(uid, rv, key string) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), ResourceVersion: rv},
			Data:       map[string][]byte{"openai": []byte(key)},
		}
	}
	h := configHash(cfg, keys("u1", "7", "sk-1"))
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(h) {
		t.Fatalf("hash %q is not 16 hex digits", h)
	}
	differs := map[string]string{
		"config":                         configHash([]byte(`{"version":2}`), keys("u1", "7", "sk-1")),
		"keys Secret rewritten":          configHash(cfg, keys("u1", "8", "sk-1")),
		"keys Secret deleted, recreated": configHash(cfg, keys("u2", "7", "sk-1")),
		"uid/resourceVersion border":     configHash(cfg, keys("u17", "", "sk-1")),
	}
	for what, got := range differs {
		if got == h {
			t.Errorf("a change of %s leaves the hash unchanged", what)
		}
	}
}

// TestConfigHashNeverFromKeys guards the status and events against carrying
// anything computed from key bytes: a short key could be guessed offline
// from its hash.
func TestConfigHashNeverFromKeys(t *testing.T) {
	cfg := []byte(`{"version":1}`)
	a := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{UID: "u1", ResourceVersion: "7"}, Data: map[string][]byte{"openai": []byte("sk-1")}}
	b := a.DeepCopy()
	b.Data["openai"] = []byte("sk-2")
	if configHash(cfg, a) != configHash(cfg, b) {
		t.Error("the hash depends on the key bytes")
	}
}

func TestRoutesForSecret(t *testing.T) {
	r1 := newRoute("r1", keyed("a", "shared"))
	r2 := newRoute("r2", keyed("a", "own"), keyed("b", "shared"))
	r3 := newRoute("r3", keyed("a", "own"))
	elsewhere := newRoute("r4", keyed("a", "shared"))
	elsewhere.Namespace = "elsewhere"
	// Every kind of reference counts: a rotated key of apiKeys or a
	// rotated client secret must reach the keys Secret too.
	r5 := newRoute("r5", pooled("a", "own", "k1"), pooled("b", "shared", "k1", "k2"))
	r6 := newRoute("r6", clientSecret("a", "shared", "secret"))
	r7 := newRoute("r7", tokened("a"), clientSecret("b", "own", "secret"))
	f := newFixture(t, nil, r1, r2, r3, elsewhere, r5, r6, r7)

	reqs := f.r.routesForSecret(context.Background(), newSecret("shared", nil))
	var got []string
	for _, r := range reqs {
		got = append(got, r.String())
	}
	slices.Sort(got)
	if want := []string{"agents/r1", "agents/r2", "agents/r5", "agents/r6"}; !slices.Equal(got, want) {
		t.Errorf("routes for Secret shared = %v, want %v", got, want)
	}
}

// reconcileRoute reconciles the route "chat" and reads it back.
func reconcileRoute(t *testing.T, f *fixture) (*llmv1alpha1.LLMRoute, error) {
	const name = "chat"
	t.Helper()
	_, err := f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: testNS, Name: name}})
	route := &llmv1alpha1.LLMRoute{}
	f.get(t, route, name)
	return route, err
}

func TestReconcile(t *testing.T) {
	ctx := context.Background()
	route := newRoute("chat", keyed("openai", "openai-creds"), llmv1alpha1.Provider{Name: "local", Type: llmv1alpha1.ProviderOllama})
	route.Generation = 4
	creds := newSecret("openai-creds", map[string]string{"api-key": "sk-1"})
	f := newFixture(t, nil, route, creds)

	// A new route becomes Ready, with one event saying so.
	got, err := reconcileRoute(t, f)
	if err != nil {
		t.Fatal(err)
	}
	assertCondition(t, got, llmv1alpha1.ConditionAccepted, metav1.ConditionTrue, llmv1alpha1.ReasonRendered)
	assertCondition(t, got, llmv1alpha1.ConditionResolvedRefs, metav1.ConditionTrue, llmv1alpha1.ReasonSecretsResolved)
	assertCondition(t, got, llmv1alpha1.ConditionReady, metav1.ConditionTrue, llmv1alpha1.ReasonConfigWritten, "llmroute-chat", got.Status.ConfigHash)
	if got.Status.ObservedGeneration != 4 || got.Status.Providers != 2 || got.Status.ConfigHash == "" {
		t.Errorf("status = %+v", got.Status)
	}
	wantEvents(t, f, "Normal ConfigWritten Ready: ConfigMap llmroute-chat")

	// A steady state: no event, the same status.
	steady := got.Status
	got, err = reconcileRoute(t, f)
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(got.Status, steady) {
		t.Errorf("status changed in a steady state:\n%+v\n%+v", got.Status, steady)
	}
	wantEvents(t, f)

	// A rotated key: a new hash and an event, still Ready.
	hash := got.Status.ConfigHash
	creds.Data["api-key"] = []byte("sk-2")
	if err := f.client.Update(ctx, creds); err != nil {
		t.Fatal(err)
	}
	got, err = reconcileRoute(t, f)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.ConfigHash == hash {
		t.Error("configHash unchanged after key rotation")
	}
	assertCondition(t, got, llmv1alpha1.ConditionReady, metav1.ConditionTrue, llmv1alpha1.ReasonConfigWritten)
	wantEvents(t, f, "Normal ConfigUpdated Config changed from "+hash+" to "+got.Status.ConfigHash)

	// The Secret goes away: not Ready, one warning naming it, and the pods
	// keep the last good keys.
	if err := f.client.Delete(ctx, creds); err != nil {
		t.Fatal(err)
	}
	got, err = reconcileRoute(t, f)
	if err != nil {
		t.Fatalf("a missing Secret is waited for, not retried: %v", err)
	}
	assertCondition(t, got, llmv1alpha1.ConditionResolvedRefs, metav1.ConditionFalse, llmv1alpha1.ReasonSecretNotFound, `"openai-creds"`)
	assertCondition(t, got, llmv1alpha1.ConditionReady, metav1.ConditionFalse, llmv1alpha1.ReasonNotReady, "ResolvedRefs is False", `"openai-creds"`)
	wantEvents(t, f, `Warning SecretNotFound Not ready: ResolvedRefs is False: Secret "openai-creds" not found`)
	var keys corev1.Secret
	f.get(t, &keys, "llmroute-chat-keys")
	if string(keys.Data["openai"]) != "sk-2" {
		t.Errorf("keys Secret = %v, want the last good key kept", keys.Data)
	}
	if _, err := reconcileRoute(t, f); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, f) // still missing: no new event
}

// TestReconcileStaleRoute guards the status against a reconcile that starts
// from a cached route older than the API server's: its patch must not be
// applied over the newer status, and the reconcile is repeated soon, without
// an error to log.
func TestReconcileStaleRoute(t *testing.T) {
	route := newRoute("chat", keyed("openai", "creds"))
	var stale *llmv1alpha1.LLMRoute
	f := newFixture(t, &interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		if r, ok := obj.(*llmv1alpha1.LLMRoute); ok && stale != nil {
			stale.DeepCopyInto(r)
			stale = nil
			return nil
		}
		return c.Get(ctx, key, obj, opts...)
	}}, route, newSecret("creds", map[string]string{"api-key": "sk"}))

	before, err := reconcileRoute(t, f)
	if err != nil {
		t.Fatal(err)
	}
	stale = route.DeepCopy() // what the cache held before the first reconcile
	stale.ResourceVersion = "1"
	if err := f.client.Delete(context.Background(), newSecret("creds", nil)); err != nil {
		t.Fatal(err)
	}
	res, err := f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: testNS, Name: "chat"}})
	if err != nil || res.RequeueAfter == 0 {
		t.Fatalf("Reconcile from a stale route = %+v, %v; want a quiet requeue", res, err)
	}
	got := &llmv1alpha1.LLMRoute{}
	f.get(t, got, "chat")
	if got.ResourceVersion != before.ResourceVersion {
		t.Error("a status computed from a stale route was written")
	}

	got, err = reconcileRoute(t, f)
	if err != nil {
		t.Fatal(err)
	}
	assertCondition(t, got, llmv1alpha1.ConditionReady, metav1.ConditionFalse, llmv1alpha1.ReasonNotReady, `"creds"`)
}

// TestReconcileStaleStatusAnnouncesOnce guards against duplicate events: the
// reconcile after ours may start from a cached route whose status predates
// our patch, which looks like the same transition again.
func TestReconcileStaleStatusAnnouncesOnce(t *testing.T) {
	route := newRoute("chat", keyed("openai", "creds"))
	f := newFixture(t, nil, route, newSecret("creds", map[string]string{"api-key": "sk"}))
	got, err := reconcileRoute(t, f)
	if err != nil {
		t.Fatal(err)
	}
	wantEvents(t, f, "Normal ConfigWritten")

	stale := got.DeepCopy()
	stale.Status = llmv1alpha1.LLMRouteStatus{}
	if err := f.client.Status().Update(context.Background(), stale); err != nil {
		t.Fatal(err)
	}
	got, err = reconcileRoute(t, f)
	if err != nil {
		t.Fatal(err)
	}
	assertCondition(t, got, llmv1alpha1.ConditionReady, metav1.ConditionTrue, llmv1alpha1.ReasonConfigWritten)
	wantEvents(t, f)
}

func TestReconcileInvalidSpec(t *testing.T) {
	route := newRoute("chat", llmv1alpha1.Provider{Name: "compat", Type: llmv1alpha1.ProviderOpenAICompatible})
	f := newFixture(t, nil, route)
	got, err := reconcileRoute(t, f)
	if err != nil {
		t.Fatalf("an invalid spec is not retried: %v", err)
	}
	assertCondition(t, got, llmv1alpha1.ConditionAccepted, metav1.ConditionFalse, llmv1alpha1.ReasonInvalidSpec, "providers[0].baseURL")
	assertCondition(t, got, llmv1alpha1.ConditionReady, metav1.ConditionFalse, llmv1alpha1.ReasonNotReady, "Accepted is False")
	wantEvents(t, f, "Warning InvalidSpec Not ready: Accepted is False")
	var cm corev1.ConfigMap
	if err := f.client.Get(context.Background(), client.ObjectKey{Namespace: testNS, Name: "llmroute-chat"}, &cm); !apierrors.IsNotFound(err) {
		t.Errorf("a ConfigMap was written for an invalid spec: %v", err)
	}
}

// TestReconcileWriteError guards the deferred summary: a failed write is
// retried and shown as not Ready, not hidden behind an old Ready=True.
func TestReconcileWriteError(t *testing.T) {
	route := newRoute("chat", keyed("openai", "creds"))
	failing := &interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
		if _, ok := obj.(*corev1.ConfigMap); ok {
			return errors.New("quota exceeded")
		}
		return c.Create(ctx, obj, opts...)
	}}
	f := newFixture(t, failing, route, newSecret("creds", map[string]string{"api-key": "sk"}))
	got, err := reconcileRoute(t, f)
	if err == nil || !strings.Contains(err.Error(), "quota exceeded") {
		t.Fatalf("error = %v, want the write error", err)
	}
	assertCondition(t, got, llmv1alpha1.ConditionReady, metav1.ConditionFalse, llmv1alpha1.ReasonNotReady, "quota exceeded")
	if got.Status.ConfigHash != "" {
		t.Errorf("configHash %q set for a config never written", got.Status.ConfigHash)
	}
}

func TestReconcileGone(t *testing.T) {
	f := newFixture(t, nil)
	res, err := f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: testNS, Name: "gone"}})
	if err != nil || !res.IsZero() {
		t.Errorf("Reconcile of a deleted route = %v, %v", res, err)
	}
}

// wantEvents checks the events recorded since the last call, each against a
// prefix.
func wantEvents(t *testing.T, f *fixture, prefixes ...string) {
	t.Helper()
	got := f.events()
	if len(got) != len(prefixes) {
		t.Fatalf("events = %q, want %d", got, len(prefixes))
	}
	for i, p := range prefixes {
		if !strings.HasPrefix(got[i], p) {
			t.Errorf("event %q does not start with %q", got[i], p)
		}
	}
}

// TestResolveKeysNeverShowsTheKey guards the condition (and so the events)
// against quoting any part of a refused key.
func TestResolveKeysNeverShowsTheKey(t *testing.T) {
	for _, key := range []string{"sk-SECRETPART\nSECONDPART", "sk-SECRETPART\x00", "sk-SECRETPART\u00e9"} {
		f := newFixture(t, nil, newSecret("creds", map[string]string{"api-key": key}))
		route := newRoute("chat", keyed("openai", "creds"))
		if err := f.r.resolveKeys(context.Background(), route, &routeState{}); err != nil {
			t.Fatal(err)
		}
		c := meta.FindStatusCondition(route.Status.Conditions, llmv1alpha1.ConditionResolvedRefs)
		if c == nil || c.Reason != llmv1alpha1.ReasonSecretKeyInvalid {
			t.Fatalf("ResolvedRefs = %+v", c)
		}
		if strings.Contains(c.Message, "SECRETPART") || strings.Contains(c.Message, "SECONDPART") {
			t.Errorf("the message shows the key: %q", c.Message)
		}
	}
}

// TestHeaderUnsafeAgreesWithNetHTTP guards the other side: every key the
// operator accepts, Go's HTTP client sends. A key it refuses would fail every
// attempt as if the connection broke.
func TestHeaderUnsafeAgreesWithNetHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	for b := 0; b < 256; b++ {
		key := []byte{'s', 'k', '-', byte(b), '1'}
		if headerUnsafe(key) != "" {
			continue
		}
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(key)))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Errorf("byte %#x: accepted by the operator, refused by net/http: %v", b, err)
			continue
		}
		resp.Body.Close()
	}
}
