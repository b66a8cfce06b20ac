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
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		wantErr []string
	}{
		{name: "cluster-wide", o: Options{Sidecar: testSidecar()}},
		{name: "namespaced", o: Options{Sidecar: testSidecar(), WatchNamespaces: []string{"team-a", "team-b"}}},
		{
			name:    "bad namespaces",
			o:       Options{Sidecar: testSidecar(), WatchNamespaces: []string{"Team_A", "b", "b"}},
			wantErr: []string{`"Team_A" is not a namespace name`, `"b" is listed twice`},
		},
		{name: "bad sidecar", o: Options{}, wantErr: []string{"sidecar image is required"}},
		{name: "credential checks off", o: Options{Sidecar: testSidecar(), DisableCredentialsCheck: true}},
		{
			name:    "negative credentials check interval",
			o:       Options{Sidecar: testSidecar(), CredentialsCheckInterval: -time.Second},
			wantErr: []string{"credentials check interval -1s is negative"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v does not contain %q", err, w)
				}
			}
		})
	}
}

// TestManagerOptions guards what the manager holds in memory: no Secret or
// ConfigMap content, only the ConfigMaps the operator rendered, and only the
// watched namespaces.
func TestManagerOptions(t *testing.T) {
	base := ctrl.Options{LeaderElectionID: "kept"}
	got := Options{WatchNamespaces: []string{"team-a", "team-b"}}.ManagerOptions(base)
	if got.LeaderElectionID != "kept" {
		t.Error("ManagerOptions dropped the caller's options")
	}
	if ns := slices.Sorted(maps.Keys(got.Cache.DefaultNamespaces)); !slices.Equal(ns, []string{"team-a", "team-b"}) {
		t.Errorf("cached namespaces = %v", ns)
	}
	if cluster := (Options{}).ManagerOptions(base); cluster.Cache.DefaultNamespaces != nil {
		t.Errorf("cluster-wide install caches only %v", cluster.Cache.DefaultNamespaces)
	}

	var disabled []string
	for _, obj := range got.Client.Cache.DisableFor {
		disabled = append(disabled, fmt.Sprintf("%T", obj))
	}
	if want := []string{"*v1.ConfigMap", "*v1.Secret"}; !slices.Equal(disabled, want) {
		t.Errorf("reads bypassing the cache = %v, want %v", disabled, want)
	}

	byKind := map[string]cache.ByObject{}
	for obj, by := range got.Cache.ByObject {
		byKind[fmt.Sprintf("%T", obj)] = by
	}
	if sel := byKind["*v1.ConfigMap"].Label; sel == nil || sel.String() != ManagedByLabel+"="+ManagedByValue {
		t.Errorf("ConfigMap selector = %v, want the rendered ones only", sel)
	}
	if byKind["*v1.Secret"].Transform == nil {
		t.Error("Secrets are cached without the identity transform")
	}
}

func TestSecretIdentity(t *testing.T) {
	meta := metav1.ObjectMeta{
		Name: "creds", Namespace: testNS, UID: "u1", ResourceVersion: "7",
		Labels: map[string]string{"team": "a"},
		Annotations: map[string]string{
			"kubectl.kubernetes.io/last-applied-configuration": `{"stringData":{"api-key":"sk-secret"}}`,
		},
		OwnerReferences: []metav1.OwnerReference{{Kind: "LLMRoute", Name: "chat", UID: "r1"}},
		Finalizers:      []string{"example.com/hold"},
		ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
	}
	want := metav1.ObjectMeta{
		Name: "creds", Namespace: testNS, UID: "u1", ResourceVersion: "7",
		OwnerReferences: []metav1.OwnerReference{{Kind: "LLMRoute", Name: "chat", UID: "r1"}},
	}

	partial := &metav1.PartialObjectMetadata{ObjectMeta: *meta.DeepCopy()}
	if _, err := secretIdentity(partial); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(partial.ObjectMeta, want) {
		t.Errorf("metadata kept = %+v, want %+v", partial.ObjectMeta, want)
	}

	full := &corev1.Secret{ObjectMeta: *meta.DeepCopy(), Data: map[string][]byte{"api-key": []byte("sk-secret")},
		StringData: map[string]string{"k": "v"}}
	if _, err := secretIdentity(full); err != nil {
		t.Fatal(err)
	}
	if full.Data != nil || full.StringData != nil || !equality.Semantic.DeepEqual(full.ObjectMeta, want) {
		t.Errorf("a full Secret kept %+v", full)
	}

	tombstone := toolscache.DeletedFinalStateUnknown{Key: "agents/creds"}
	if out, err := secretIdentity(tombstone); err != nil || out != tombstone {
		t.Errorf("tombstone = %v, %v", out, err)
	}
}

// TestEnvCacheHoldsNoSecretContent checks the running manager's cache: a
// Secret applied with kubectl carries its data in an annotation, which must
// not reach the cache, and ConfigMaps the operator did not render are not
// cached at all.
func TestEnvCacheHoldsNoSecretContent(t *testing.T) {
	requireEnv(t)
	ns := newNamespace(t)
	ctx := testContext(t)
	secret := newSecret("applied", map[string]string{"api-key": "sk-in-annotation"})
	secret.Namespace = ns
	secret.Labels = map[string]string{"team": "a"}
	secret.Annotations = map[string]string{
		"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"api-key":"c2staW4tYW5ub3RhdGlvbg=="}}`,
	}
	if err := k8sClient.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app-settings", Namespace: ns}}
	if err := k8sClient.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	createSecret(t, ns, "creds", "sk")
	createKeyedRoute(t, ns, "cached", "creds")
	waitReady(t, ns, "cached")

	cache := suiteManager.GetCache()
	metadata := func(kind, name string) *metav1.PartialObjectMetadata {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
		m.Name, m.Namespace = name, ns
		return m
	}
	eventually(t, "the applied Secret in the cache", func() error {
		return cache.Get(ctx, client.ObjectKey{Namespace: ns, Name: "applied"}, metadata("Secret", "applied"))
	})
	cached := metadata("Secret", "applied")
	if err := cache.Get(ctx, client.ObjectKeyFromObject(cached), cached); err != nil {
		t.Fatal(err)
	}
	if len(cached.Annotations) != 0 || len(cached.Labels) != 0 || len(cached.ManagedFields) != 0 {
		t.Errorf("the cache holds the Secret's metadata: %+v", cached.ObjectMeta)
	}
	if cached.UID != secret.UID || cached.ResourceVersion == "" {
		t.Errorf("the cache lost the Secret's identity: %+v", cached.ObjectMeta)
	}

	rendered := metadata("ConfigMap", ConfigMapName("cached"))
	if err := cache.Get(ctx, client.ObjectKeyFromObject(rendered), rendered); err != nil {
		t.Errorf("the rendered ConfigMap is not cached: %v", err)
	}
	notOurs := metadata("ConfigMap", "app-settings")
	if err := cache.Get(ctx, client.ObjectKeyFromObject(notOurs), notOurs); !apierrors.IsNotFound(err) {
		t.Errorf("a ConfigMap the operator did not render is cached: %v", err)
	}
}

// TestEnvNamespacedInstall runs the operator the way the chart's
// watchNamespaces installs it, on an API server of its own: with Role-only
// rights (config/rbac/role.yaml's rules, in the watched namespace only) it
// starts, reconciles and serves the webhooks there, and leaves every other
// namespace alone.
func TestEnvNamespacedInstall(t *testing.T) {
	requireEnv(t)
	env := newEnvironment()
	env.WebhookInstallOptions = envtest.WebhookInstallOptions{Paths: []string{filepath.Join("..", "config", "webhook")}}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start a second API server: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	admin, err := client.New(cfg, client.Options{Scheme: k8sClient.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for _, ns := range []string{"watched", "other"} {
		if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
		s := newSecret("creds", map[string]string{"api-key": "sk"})
		s.Namespace = ns
		if err := admin.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := grantGeneratedRole(ctx, admin, "namespaced-manager", "watched"); err != nil {
		t.Fatal(err)
	}

	mgrCtx, stop := context.WithCancel(ctx)
	wh := env.WebhookInstallOptions
	_, done, err := startManager(mgrCtx, impersonate(cfg, "namespaced-manager"), k8sClient.Scheme(), ctrl.Options{
		// The suite's manager already runs a controller of that name in
		// this process.
		Controller: config.Controller{SkipNameValidation: new(true)},
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir,
		}),
	}, Options{Sidecar: envSidecar, WatchNamespaces: []string{"watched"}})
	if err != nil {
		stop()
		t.Fatalf("the operator does not run on Role-only rights: %v", err)
	}
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})

	// The route outside is created first: by the time the watched one is
	// Ready, the outside one would have been reconciled too.
	for _, ns := range []string{"other", "watched"} {
		r := newRoute("chat", keyed("openai", "creds"))
		r.ObjectMeta = metav1.ObjectMeta{Name: "chat", Namespace: ns}
		if err := admin.Create(ctx, r); err != nil {
			t.Fatalf("create route in %s: %v", ns, err)
		}
	}
	eventually(t, "the watched route Ready", func() error {
		var r llmv1alpha1.LLMRoute
		if err := admin.Get(ctx, client.ObjectKey{Namespace: "watched", Name: "chat"}, &r); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(r.Status.Conditions, llmv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready = %+v", c)
		}
		return nil
	})
	var outside llmv1alpha1.LLMRoute
	if err := admin.Get(ctx, client.ObjectKey{Namespace: "other", Name: "chat"}, &outside); err != nil {
		t.Fatal(err)
	}
	if len(outside.Status.Conditions) > 0 {
		t.Errorf("a route outside the watched namespaces was reconciled: %+v", outside.Status)
	}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: "other", Name: ConfigMapName("chat")}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("a ConfigMap was rendered outside the watched namespaces: %v", err)
	}

	// Pods: injected in the watched namespace; outside, left alone for
	// whoever watches there, even with no route to name.
	inside := testPod("watched", "chat")
	if err := admin.Create(ctx, inside); err != nil {
		t.Fatal(err)
	}
	if !HasSidecar(inside) {
		t.Error("a labelled pod in the watched namespace got no sidecar")
	}
	elsewhere := testPod("other", "no-such-route")
	if err := admin.Create(ctx, elsewhere); err != nil {
		t.Errorf("a labelled pod outside the watched namespaces was refused: %v", err)
	} else if HasSidecar(elsewhere) {
		t.Error("a pod outside the watched namespaces was injected")
	}
}
