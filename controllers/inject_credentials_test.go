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
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

func sidecarMounts(t *testing.T, pod *corev1.Pod) []corev1.VolumeMount {
	t.Helper()
	for _, c := range pod.Spec.InitContainers {
		if c.Name == SidecarContainerName {
			return c.VolumeMounts
		}
	}
	t.Fatal("no sidecar")
	return nil
}

func TestInjectCredentialVolumes(t *testing.T) {
	route := newRoute("chat", tokened("gateway"), keyed("openai", "creds"), assertion(), google(),
		tokenFiled("vault"), tokenFiled("vault-2"))
	pod := newPod(withVolumes(emptyDir("llm-token")))
	pod.Spec.AutomountServiceAccountToken = new(false)
	mustInject(t, pod, route)

	v := findVolume(pod, TokensVolumeName)
	if v == nil || v.Projected == nil {
		t.Fatalf("tokens volume = %+v, want a projected volume", v)
	}
	if m := v.Projected.DefaultMode; m == nil || *m != KeyFileMode {
		t.Errorf("token files mode = %v, want 0440", m)
	}
	want := []corev1.ServiceAccountTokenProjection{
		{Audience: "gateway", ExpirationSeconds: new(int64(3600)), Path: "gateway"},
		{Audience: "api://AzureADTokenExchange", ExpirationSeconds: new(int64(1800)), Path: "azure"},
		{Audience: "https://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/k8s/providers/c",
			ExpirationSeconds: new(int64(3600)), Path: "vertex"},
	}
	var got []corev1.ServiceAccountTokenProjection
	for _, s := range v.Projected.Sources {
		if s.ServiceAccountToken == nil {
			t.Errorf("a projection other than a ServiceAccount token: %+v", s)
			continue
		}
		got = append(got, *s.ServiceAccountToken)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("token projections = %+v, want %+v", got, want)
	}
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Error("the pod's automountServiceAccountToken was changed")
	}

	wantMounts := []corev1.VolumeMount{
		{Name: ConfigVolumeName, MountPath: "/etc/llmroute/config", ReadOnly: true},
		{Name: KeysVolumeName, MountPath: "/etc/llmroute/keys", ReadOnly: true},
		{Name: TokensVolumeName, MountPath: "/etc/llmroute/tokens", ReadOnly: true},
		// Two providers read the same volume: mounted once.
		{Name: "llm-token", MountPath: "/etc/llmroute/volumes/llm-token", ReadOnly: true},
	}
	if got := sidecarMounts(t, pod); !reflect.DeepEqual(got, wantMounts) {
		t.Errorf("sidecar mounts = %+v, want %+v", got, wantMounts)
	}
	// The tokens are the sidecar's alone: the app sees neither them nor
	// anything else it did not mount itself.
	for _, c := range pod.Spec.Containers {
		if len(c.VolumeMounts) > 0 {
			t.Errorf("container %q mounts %+v", c.Name, c.VolumeMounts)
		}
	}

	again := pod.DeepCopy()
	if injected, err := InjectSidecar(again, route, testSidecar()); injected || err != nil || !reflect.DeepEqual(again, pod) {
		t.Error("injecting twice changed the pod")
	}
}

func TestInjectTokensVolumeNameTaken(t *testing.T) {
	pod := newPod(withVolumes(emptyDir(TokensVolumeName)))
	mustInject(t, pod, newRoute("chat", tokened("gateway")))
	mounts := sidecarMounts(t, pod)
	if got := mounts[len(mounts)-1]; got.Name != TokensVolumeName+"-1" || got.MountPath != config.TokensDir {
		t.Errorf("tokens mount = %+v, want %s-1 at %s", got, TokensVolumeName, config.TokensDir)
	}
	if v := findVolume(pod, TokensVolumeName); v == nil || v.EmptyDir == nil {
		t.Error("the pod's own volume was replaced")
	}
}

func TestInjectWithoutTokensAddsNoTokensVolume(t *testing.T) {
	pod := newPod()
	mustInject(t, pod, newRoute("chat", keyed("openai", "creds"), pooled("pool", "keys", "a")))
	if findVolume(pod, TokensVolumeName) != nil {
		t.Error("a tokens volume for a route that asks for no token")
	}
}

// TestInjectRefusesPodWithoutLentVolume: the sidecar would wait for a token
// file that never comes.
func TestInjectRefusesPodWithoutLentVolume(t *testing.T) {
	pod := newPod(withVolumes(emptyDir("other")))
	before := pod.DeepCopy()
	injected, err := InjectSidecar(pod, newRoute("chat", keyed("openai", "creds"), tokenFiled("vault")), testSidecar())
	if err == nil || injected {
		t.Fatalf("InjectSidecar = %v, %v; want a refusal", injected, err)
	}
	for _, want := range []string{`LLMRoute "chat"`, `volume "llm-token"`, "spec.providers[1].tokenFile", RouteLabel} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if !reflect.DeepEqual(pod, before) {
		t.Error("a refused pod was changed")
	}
}

// configFiles lists every file the rendered config makes the sidecar read.
func configFiles(cfg *config.Config) []string {
	var files []string
	for _, p := range cfg.Providers {
		files = append(files, p.APIKeyFile, p.TokenFile)
		for _, k := range p.APIKeys {
			files = append(files, k.File)
		}
		if o := p.OAuth2ClientCredentials; o != nil {
			files = append(files, o.ClientSecretFile, o.ClientAssertionFile)
		}
		if g := p.GoogleExternalAccount; g != nil {
			files = append(files, g.SubjectTokenFile)
		}
	}
	return slices.DeleteFunc(files, func(f string) bool { return f == "" })
}

// TestRenderedConfigAgreesWithMounts guards the contract between the two
// halves of the operator: every file the rendered config names is provided
// by a volume the pod webhook mounts in the sidecar (a key the resolver puts
// in the keys Secret, a token projected for the route's audience, a file of
// a volume the pod lends), and no token is projected that the config does not
// read.
func TestRenderedConfigAgreesWithMounts(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "render", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range cases {
		t.Run(filepath.Base(file), func(t *testing.T) {
			route := readRoute(t, file)
			cfg, err := Render(route)
			if err != nil {
				return // refused: nothing to mount
			}
			checkConfigAgreesWithMounts(t, route, cfg)
		})
	}
}

// checkConfigAgreesWithMounts injects the sidecar for route into a pod that
// has the volumes its tokenFile providers name, and checks that every file
// cfg (route's rendered config) names is provided by one of the sidecar's
// mounts, and that every projected token is read.
func checkConfigAgreesWithMounts(t *testing.T, route *llmv1alpha1.LLMRoute, cfg *config.Config) {
	t.Helper()
	pod := newPod()
	for _, p := range route.Spec.Providers {
		if p.TokenFile != nil && findVolume(pod, p.TokenFile.Volume) == nil {
			pod.Spec.Volumes = append(pod.Spec.Volumes, emptyDir(p.TokenFile.Volume))
		}
	}
	mustInject(t, pod, route)

	keys := map[string]bool{}
	for _, u := range secretKeyUses(route) {
		keys[u.File] = true
	}
	projected := map[string]bool{}
	if v := findVolume(pod, TokensVolumeName); v != nil {
		for _, s := range v.Projected.Sources {
			projected[s.ServiceAccountToken.Path] = false
		}
	}
	for _, f := range configFiles(cfg) {
		m, rel := mountOf(sidecarMounts(t, pod), f)
		if m == nil {
			t.Errorf("%s: no mount in the sidecar provides it", f)
			continue
		}
		v := findVolume(pod, m.Name)
		switch {
		case v == nil:
			t.Errorf("%s: mount %q names no volume", f, m.Name)
		case v.Secret != nil && v.Secret.SecretName == KeysSecretName(route.Name):
			if !keys[rel] {
				t.Errorf("%s: the keys Secret has no key %q", f, rel)
			}
		case v.Projected != nil:
			if _, ok := projected[rel]; !ok {
				t.Errorf("%s: the tokens volume projects no %q", f, rel)
			}
			projected[rel] = true
		case v.EmptyDir != nil && slices.ContainsFunc(route.Spec.Providers, func(p llmv1alpha1.Provider) bool {
			return p.TokenFile != nil && p.TokenFile.Volume == v.Name
		}):
		default:
			t.Errorf("%s: provided by volume %+v, which holds no credential", f, v)
		}
	}
	for path, used := range projected {
		if !used {
			t.Errorf("token %q is projected but the config never reads it", path)
		}
	}
}

// mountOf finds the mount whose directory holds file, and file's path in it.
func mountOf(mounts []corev1.VolumeMount, file string) (*corev1.VolumeMount, string) {
	for i, m := range mounts {
		if rel, ok := strings.CutPrefix(file, m.MountPath+"/"); ok {
			return &mounts[i], rel
		}
	}
	return nil, ""
}
