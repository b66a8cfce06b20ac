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
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

// apply creates every object of the YAML files in namespace ns.
func apply(t *testing.T, ns string, files ...string) {
	t.Helper()
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var obj unstructured.Unstructured
			if err := dec.Decode(&obj.Object); err != nil {
				if err == io.EOF {
					break
				}
				t.Fatalf("decode %s: %v", file, err)
			}
			if len(obj.Object) == 0 {
				continue
			}
			obj.SetNamespace(ns)
			if err := k8sClient.Create(testContext(t), &obj); err != nil {
				t.Fatalf("create %s %s from %s: %v", obj.GetKind(), obj.GetName(), file, err)
			}
		}
	}
}

func samples() []string {
	dir := filepath.Join("..", "config", "samples")
	return []string{filepath.Join(dir, "secrets.yaml"), filepath.Join(dir, "llm_v1alpha1_llmroute.yaml")}
}

func getRoute(t *testing.T, ns, name string) (*llmv1alpha1.LLMRoute, error) {
	route := &llmv1alpha1.LLMRoute{}
	err := k8sClient.Get(testContext(t), client.ObjectKey{Namespace: ns, Name: name}, route)
	return route, err
}

// waitReady waits until the route's status describes its current generation
// and it is Ready, and returns it.
func waitReady(t *testing.T, ns, name string) *llmv1alpha1.LLMRoute {
	t.Helper()
	var route *llmv1alpha1.LLMRoute
	eventually(t, "LLMRoute "+name+" Ready", func() error {
		var err error
		if route, err = getRoute(t, ns, name); err != nil {
			return err
		}
		ready := meta.FindStatusCondition(route.Status.Conditions, llmv1alpha1.ConditionReady)
		switch {
		case route.Status.ObservedGeneration != route.Generation:
			return fmt.Errorf("observedGeneration %d, generation %d", route.Status.ObservedGeneration, route.Generation)
		case ready == nil || ready.Status != metav1.ConditionTrue:
			return fmt.Errorf("Ready is %+v", ready)
		}
		return nil
	})
	return route
}

// createKeyedRoute creates a route with one OpenAI provider whose key is
// key "api-key" of Secret secret.
func createKeyedRoute(t *testing.T, ns, name, secret string) {
	t.Helper()
	route := newRoute(name, keyed("openai", secret))
	route.ObjectMeta = metav1.ObjectMeta{Name: name, Namespace: ns}
	if err := k8sClient.Create(testContext(t), route); err != nil {
		t.Fatal(err)
	}
}

func createSecret(t *testing.T, ns, name, value string) *corev1.Secret {
	t.Helper()
	s := newSecret(name, map[string]string{"api-key": value})
	s.Namespace = ns
	if err := k8sClient.Create(testContext(t), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func keysData(t *testing.T, ns, route string) (map[string]string, error) {
	var s corev1.Secret
	if err := k8sClient.Get(testContext(t), client.ObjectKey{Namespace: ns, Name: KeysSecretName(route)}, &s); err != nil {
		return nil, err
	}
	got := map[string]string{}
	for k, v := range s.Data {
		got[k] = string(v)
	}
	return got, nil
}

func TestEnvSampleRouteBecomesReady(t *testing.T) {
	requireEnv(t)
	ns := newNamespace(t)
	apply(t, ns, samples()...)
	route := waitReady(t, ns, "chat")

	for _, typ := range []string{llmv1alpha1.ConditionAccepted, llmv1alpha1.ConditionResolvedRefs, llmv1alpha1.ConditionReady} {
		assertCondition(t, route, typ, metav1.ConditionTrue, map[string]string{
			llmv1alpha1.ConditionAccepted:     llmv1alpha1.ReasonRendered,
			llmv1alpha1.ConditionResolvedRefs: llmv1alpha1.ReasonSecretsResolved,
			llmv1alpha1.ConditionReady:        llmv1alpha1.ReasonConfigWritten,
		}[typ])
	}
	if route.Status.Providers != 3 || len(route.Status.ConfigHash) != 16 {
		t.Errorf("status = %+v", route.Status)
	}

	// The ConfigMap holds what Render makes of the stored (API-defaulted)
	// route, and the sidecar's loader accepts it.
	var cm corev1.ConfigMap
	if err := k8sClient.Get(testContext(t), client.ObjectKey{Namespace: ns, Name: "llmroute-chat"}, &cm); err != nil {
		t.Fatal(err)
	}
	cfg, err := Render(route)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := MarshalConfig(cfg)
	if cm.Data[ConfigKey] != string(want) {
		t.Errorf("config.json =\n%s\nwant\n%s", cm.Data[ConfigKey], want)
	}
	if _, err := config.Parse([]byte(cm.Data[ConfigKey])); err != nil {
		t.Errorf("the sidecar refuses config.json: %v", err)
	}

	keys, err := keysData(t, ns, "chat")
	if err != nil {
		t.Fatal(err)
	}
	if !mapsEqual(keys, map[string]string{"openai": "sk-demo-openai", "claude": "sk-demo-anthropic"}) {
		t.Errorf("keys Secret = %v", keys)
	}

	eventually(t, "a ConfigWritten event on the route", func() error {
		var list eventsv1.EventList
		if err := k8sClient.List(testContext(t), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == llmv1alpha1.ReasonConfigWritten && e.Regarding.UID == route.UID && e.Type == corev1.EventTypeNormal {
				return nil
			}
		}
		return fmt.Errorf("%d events, none ConfigWritten", len(list.Items))
	})
}

func TestEnvMissingSecretThenCreated(t *testing.T) {
	requireEnv(t)
	ns := newNamespace(t)
	createKeyedRoute(t, ns, "late", "late-creds")

	eventually(t, "ResolvedRefs=False naming the Secret", func() error {
		route, err := getRoute(t, ns, "late")
		if err != nil {
			return err
		}
		c := meta.FindStatusCondition(route.Status.Conditions, llmv1alpha1.ConditionResolvedRefs)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != llmv1alpha1.ReasonSecretNotFound {
			return fmt.Errorf("ResolvedRefs is %+v", c)
		}
		for _, part := range []string{`"late-creds"`, `"api-key"`, fmt.Sprintf("namespace %q", ns)} {
			if !strings.Contains(c.Message, part) {
				return fmt.Errorf("message %q lacks %s", c.Message, part)
			}
		}
		if !meta.IsStatusConditionFalse(route.Status.Conditions, llmv1alpha1.ConditionReady) {
			return fmt.Errorf("Ready is not False: %+v", route.Status.Conditions)
		}
		return nil
	})
	var cm corev1.ConfigMap
	if err := k8sClient.Get(testContext(t), client.ObjectKey{Namespace: ns, Name: "llmroute-late"}, &cm); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap written before the keys resolved: %v", err)
	}

	createSecret(t, ns, "late-creds", "sk-late")
	waitReady(t, ns, "late")
	if keys, err := keysData(t, ns, "late"); err != nil || keys["openai"] != "sk-late" {
		t.Errorf("keys Secret = %v, %v", keys, err)
	}
}

func TestEnvKeyRotation(t *testing.T) {
	requireEnv(t)
	ns := newNamespace(t)
	secret := createSecret(t, ns, "creds", "sk-old")
	createKeyedRoute(t, ns, "rot", "creds")
	before := waitReady(t, ns, "rot")

	secret.Data["api-key"] = []byte("sk-new")
	if err := k8sClient.Update(testContext(t), secret); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rotated key in the keys Secret", func() error {
		keys, err := keysData(t, ns, "rot")
		if err != nil {
			return err
		}
		if keys["openai"] != "sk-new" {
			return fmt.Errorf("key is %q", keys["openai"])
		}
		return nil
	})
	eventually(t, "a new configHash", func() error {
		route, err := getRoute(t, ns, "rot")
		if err != nil {
			return err
		}
		if route.Status.ConfigHash == before.Status.ConfigHash {
			return fmt.Errorf("configHash still %s", route.Status.ConfigHash)
		}
		if route.Generation != before.Generation {
			return fmt.Errorf("the route itself changed: generation %d", route.Generation)
		}
		return nil
	})
}

func TestEnvSpecChange(t *testing.T) {
	requireEnv(t)
	ns := newNamespace(t)
	createSecret(t, ns, "creds", "sk")
	createKeyedRoute(t, ns, "spec", "creds")
	before := waitReady(t, ns, "spec")

	patched := before.DeepCopy()
	patched.Spec.Retry.Attempts = 7
	if err := k8sClient.Patch(testContext(t), patched, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
	after := waitReady(t, ns, "spec")
	eventually(t, "status for the new generation", func() error {
		var err error
		if after, err = getRoute(t, ns, "spec"); err != nil {
			return err
		}
		if after.Generation == before.Generation || after.Status.ObservedGeneration != after.Generation {
			return fmt.Errorf("generation %d, observedGeneration %d", after.Generation, after.Status.ObservedGeneration)
		}
		if after.Status.ConfigHash == before.Status.ConfigHash {
			return fmt.Errorf("configHash unchanged")
		}
		return nil
	})
	for _, c := range after.Status.Conditions {
		if c.ObservedGeneration != after.Generation {
			t.Errorf("condition %s observedGeneration %d, want %d", c.Type, c.ObservedGeneration, after.Generation)
		}
	}
	var cm corev1.ConfigMap
	if err := k8sClient.Get(testContext(t), client.ObjectKey{Namespace: ns, Name: "llmroute-spec"}, &cm); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cm.Data[ConfigKey], `"attempts": 7`) {
		t.Errorf("config.json does not carry the new spec:\n%s", cm.Data[ConfigKey])
	}
}

func TestEnvRepairsRenderedObjects(t *testing.T) {
	requireEnv(t)
	ns := newNamespace(t)
	createSecret(t, ns, "creds", "sk")
	createKeyedRoute(t, ns, "fix", "creds")
	waitReady(t, ns, "fix")

	key := client.ObjectKey{Namespace: ns, Name: "llmroute-fix"}
	var cm corev1.ConfigMap
	if err := k8sClient.Get(testContext(t), key, &cm); err != nil {
		t.Fatal(err)
	}
	want, oldUID := cm.Data[ConfigKey], cm.UID
	if err := k8sClient.Delete(testContext(t), &cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted ConfigMap recreated", func() error {
		var got corev1.ConfigMap
		if err := k8sClient.Get(testContext(t), key, &got); err != nil {
			return err
		}
		if got.UID == oldUID || got.Data[ConfigKey] != want {
			return fmt.Errorf("uid %s, data %v", got.UID, got.Data)
		}
		return nil
	})

	var keys corev1.Secret
	if err := k8sClient.Get(testContext(t), client.ObjectKey{Namespace: ns, Name: "llmroute-fix-keys"}, &keys); err != nil {
		t.Fatal(err)
	}
	keys.Data["openai"] = []byte("tampered")
	if err := k8sClient.Update(testContext(t), &keys); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the hand-edited keys Secret repaired", func() error {
		data, err := keysData(t, ns, "fix")
		if err != nil {
			return err
		}
		if data["openai"] != "sk" {
			return fmt.Errorf("key is %q", data["openai"])
		}
		return nil
	})
}

func testPod(ns, route string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "app-", Namespace: ns, Labels: map[string]string{RouteLabel: route}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox:1"}}},
	}
}

func TestEnvPodInjected(t *testing.T) {
	requireEnv(t)
	ns := newNamespace(t)
	createSecret(t, ns, "creds", "sk")
	createKeyedRoute(t, ns, "inj", "creds")
	waitReady(t, ns, "inj")

	pod := testPod(ns, "inj")
	if err := k8sClient.Create(testContext(t), pod); err != nil {
		t.Fatal(err)
	}
	if len(pod.Spec.InitContainers) != 1 {
		t.Fatalf("init containers = %+v, want the sidecar", pod.Spec.InitContainers)
	}
	sidecar := pod.Spec.InitContainers[0]
	if sidecar.Name != SidecarContainerName || sidecar.Image != envSidecar.Image ||
		sidecar.RestartPolicy == nil || *sidecar.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Errorf("sidecar = %s %s restartPolicy %v", sidecar.Name, sidecar.Image, sidecar.RestartPolicy)
	}
	if v := envValue(pod.Spec.Containers[0], OpenAIBaseURLEnv); v != OpenAIBaseURL {
		t.Errorf("OPENAI_BASE_URL = %q", v)
	}
	if v := findVolume(pod, KeysVolumeName); v == nil || v.Secret == nil || v.Secret.SecretName != "llmroute-inj-keys" {
		t.Errorf("keys volume = %+v", v)
	}

	// Unlabelled pods never reach the webhook.
	plain := testPod(ns, "")
	plain.Labels = nil
	if err := k8sClient.Create(testContext(t), plain); err != nil {
		t.Fatal(err)
	}
	if len(plain.Spec.InitContainers) != 0 {
		t.Error("an unlabelled pod got a sidecar")
	}
}

func TestEnvPodMissingRouteRefused(t *testing.T) {
	requireEnv(t)
	ns := newNamespace(t)
	err := k8sClient.Create(testContext(t), testPod(ns, "absent"))
	if err == nil {
		t.Fatal("a pod naming a missing route was admitted")
	}
	want := fmt.Sprintf(`LLMRoute "absent" not found in namespace %q`, ns)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

// TestEnvOwnerReferences: envtest runs no garbage collector, so deleting a
// route cannot show its objects go; the controller owner references that
// make the collector delete them in a cluster are checked instead.
func TestEnvOwnerReferences(t *testing.T) {
	requireEnv(t)
	ns := newNamespace(t)
	createSecret(t, ns, "creds", "sk")
	createKeyedRoute(t, ns, "del", "creds")
	route := waitReady(t, ns, "del")

	if err := k8sClient.Delete(testContext(t), route); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the route deleted (no finalizer holds it)", func() error {
		if _, err := getRoute(t, ns, "del"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("get: %v", err)
		}
		return nil
	})
	for _, obj := range []client.Object{&corev1.ConfigMap{}, &corev1.Secret{}} {
		name := ConfigMapName("del")
		if _, ok := obj.(*corev1.Secret); ok {
			name = KeysSecretName("del")
		}
		if err := k8sClient.Get(testContext(t), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
			t.Fatal(err)
		}
		ref := metav1.GetControllerOf(obj)
		switch {
		case ref == nil:
			t.Errorf("%s has no controller reference", name)
		case ref.UID != route.UID || ref.Kind != "LLMRoute" || ref.APIVersion != llmv1alpha1.GroupVersion.String() || ref.Name != "del":
			t.Errorf("%s controller reference = %+v", name, ref)
		case ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion:
			t.Errorf("%s reference does not block owner deletion", name)
		}
	}
}

// TestEnvPodHostNetworkRefused: on the host's network the sidecar's proxy
// would be the node's loopback, open to every process on the node.
func TestEnvPodHostNetworkRefused(t *testing.T) {
	requireEnv(t)
	ns := newNamespace(t)
	createSecret(t, ns, "creds", "sk")
	createKeyedRoute(t, ns, "host", "creds")
	pod := testPod(ns, "host")
	pod.Spec.HostNetwork = true
	err := k8sClient.Create(testContext(t), pod)
	if err == nil {
		t.Fatal("a hostNetwork pod was admitted")
	}
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "hostNetwork") || !strings.Contains(err.Error(), config.DefaultListen) {
		t.Errorf("error = %v, want a refusal naming hostNetwork and %s", err, config.DefaultListen)
	}
}

// TestEnvConflictLeavesForeignObjectAlone: a ConfigMap that happens to have a
// route's name is neither adopted nor overwritten (the garbage collector
// would then delete it with the route).
func TestEnvConflictLeavesForeignObjectAlone(t *testing.T) {
	requireEnv(t)
	ns := newNamespace(t)
	ctx := testContext(t)
	foreign := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName("x"), Namespace: ns},
		Data:       map[string]string{"app.properties": "mine"},
	}
	if err := k8sClient.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	createSecret(t, ns, "creds", "sk")
	createKeyedRoute(t, ns, "x", "creds")

	eventually(t, "Ready=False, reason Conflict, naming the ConfigMap", func() error {
		route, err := getRoute(t, ns, "x")
		if err != nil {
			return err
		}
		c := meta.FindStatusCondition(route.Status.Conditions, llmv1alpha1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != llmv1alpha1.ReasonConflict ||
			!strings.Contains(c.Message, `ConfigMap "llmroute-x"`) {
			return fmt.Errorf("Ready is %+v", c)
		}
		return nil
	})
	var now corev1.ConfigMap
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(foreign), &now); err != nil {
		t.Fatal(err)
	}
	if now.ResourceVersion != foreign.ResourceVersion || len(now.OwnerReferences) > 0 {
		t.Errorf("the foreign ConfigMap was changed: %+v", now)
	}
	if _, err := keysData(t, ns, "x"); !apierrors.IsNotFound(err) {
		t.Errorf("the keys Secret was written beside the conflict: %v", err)
	}

	// Once it is gone the route takes its names (here on its next change;
	// otherwise within the recheck interval).
	if err := k8sClient.Delete(ctx, &now); err != nil {
		t.Fatal(err)
	}
	route, err := getRoute(t, ns, "x")
	if err != nil {
		t.Fatal(err)
	}
	patched := route.DeepCopy()
	patched.Spec.Retry.Attempts = 4
	if err := k8sClient.Patch(ctx, patched, client.MergeFrom(route)); err != nil {
		t.Fatal(err)
	}
	waitReady(t, ns, "x")
}

// TestEnvPodGetsCredentialVolumes: the API server accepts the pod the webhook
// makes for a route with every kind of token (projected volume fields
// included), and refuses a pod that lacks the volume a tokenFile names.
func TestEnvPodGetsCredentialVolumes(t *testing.T) {
	requireEnv(t)
	ns := newNamespace(t)
	route := newRoute("tok", tokened("gateway"), assertion(), google(), tokenFiled("vault"))
	route.ObjectMeta = metav1.ObjectMeta{Name: "tok", Namespace: ns}
	if err := k8sClient.Create(testContext(t), route); err != nil {
		t.Fatal(err)
	}

	pod := testPod(ns, "tok")
	// A cluster's ServiceAccount admission plugin names "default" before
	// webhooks run; envtest's API server runs without it, and refuses a
	// projected token for a pod that names no ServiceAccount.
	pod.Spec.ServiceAccountName = "default"
	pod.Spec.AutomountServiceAccountToken = new(false)
	pod.Spec.Volumes = []corev1.Volume{emptyDir("llm-token")}
	if err := k8sClient.Create(testContext(t), pod); err != nil {
		t.Fatal(err)
	}
	v := findVolume(pod, TokensVolumeName)
	if v == nil || v.Projected == nil || len(v.Projected.Sources) != 3 {
		t.Fatalf("tokens volume = %+v", v)
	}
	var mounts []string
	for _, m := range pod.Spec.InitContainers[0].VolumeMounts {
		mounts = append(mounts, m.Name+":"+m.MountPath)
	}
	want := []string{ConfigVolumeName + ":" + config.ConfigDir, KeysVolumeName + ":" + config.KeysDir,
		TokensVolumeName + ":" + config.TokensDir, "llm-token:" + config.PodVolumeDir("llm-token")}
	if !slices.Equal(mounts, want) {
		t.Errorf("sidecar mounts = %v, want %v", mounts, want)
	}

	bare := testPod(ns, "tok")
	err := k8sClient.Create(testContext(t), bare)
	if err == nil || !strings.Contains(err.Error(), `volume "llm-token"`) {
		t.Errorf("a pod without the token's volume: error = %v", err)
	}
}

// TestEnvRotationOfEveryReference: a rotated key of apiKeys and a rotated
// OAuth2 client secret reach the keys Secret, each under its own file, as
// apiKeySecretRef's always did.
func TestEnvRotationOfEveryReference(t *testing.T) {
	requireEnv(t)
	ns := newNamespace(t)
	ctx := testContext(t)
	team := newSecret("team-keys", map[string]string{"a": "sk-a1", "b": "sk-b1"})
	sso := newSecret("sso-client", map[string]string{"secret": "cs-1"})
	for _, s := range []*corev1.Secret{team, sso} {
		s.Namespace = ns
		if err := k8sClient.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	route := newRoute("rot", pooled("openai", "team-keys", "a", "b"), clientSecret("sso", "sso-client", "secret"))
	route.ObjectMeta = metav1.ObjectMeta{Name: "rot", Namespace: ns}
	if err := k8sClient.Create(ctx, route); err != nil {
		t.Fatal(err)
	}
	waitReady(t, ns, "rot")
	if keys, err := keysData(t, ns, "rot"); err != nil ||
		!mapsEqual(keys, map[string]string{"openai_team-keys_a": "sk-a1", "openai_team-keys_b": "sk-b1", "sso": "cs-1"}) {
		t.Fatalf("keys Secret = %v, %v", keys, err)
	}

	team.Data["b"] = []byte("sk-b2")
	sso.Data["secret"] = []byte("cs-2")
	for _, s := range []*corev1.Secret{team, sso} {
		if err := k8sClient.Update(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the rotated keys in the keys Secret", func() error {
		keys, err := keysData(t, ns, "rot")
		if err != nil {
			return err
		}
		if keys["openai_team-keys_b"] != "sk-b2" || keys["sso"] != "cs-2" || keys["openai_team-keys_a"] != "sk-a1" {
			return fmt.Errorf("keys Secret = %v", keys)
		}
		return nil
	})
}
