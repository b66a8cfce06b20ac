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
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
)

func testSidecar() SidecarSettings {
	return SidecarSettings{
		Image:           "ghcr.io/osmen-ai/llmroute:test",
		ImagePullPolicy: corev1.PullIfNotPresent,
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("50m"),
				corev1.ResourceMemory: resource.MustParse("32Mi"),
			},
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
		},
		LogFormat: "json",
		LogLevel:  "debug",
	}
}

// chatRoute is the route "chat" with one keyed provider, as most pods use.
func chatRoute() *llmv1alpha1.LLMRoute { return newRoute("chat", keyed("openai", "creds")) }

// mustInject injects route's sidecar into pod and fails the test unless it did.
func mustInject(t *testing.T, pod *corev1.Pod, route *llmv1alpha1.LLMRoute) {
	t.Helper()
	injected, err := InjectSidecar(pod, route, testSidecar())
	if err != nil || !injected {
		t.Fatalf("InjectSidecar = %v, %v", injected, err)
	}
}

type podOption func(*corev1.Pod)

func newPod(opts ...podOption) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "agents", Labels: map[string]string{RouteLabel: "chat"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
	}
	for _, o := range opts {
		o(pod)
	}
	return pod
}

func withContainers(cs ...corev1.Container) podOption {
	return func(p *corev1.Pod) { p.Spec.Containers = cs }
}

func withInitContainers(cs ...corev1.Container) podOption {
	return func(p *corev1.Pod) { p.Spec.InitContainers = cs }
}

func withVolumes(vs ...corev1.Volume) podOption {
	return func(p *corev1.Pod) { p.Spec.Volumes = append(p.Spec.Volumes, vs...) }
}

func withAnnotation(k, v string) podOption {
	return func(p *corev1.Pod) { p.Annotations = map[string]string{k: v} }
}

func emptyDir(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func findVolume(pod *corev1.Pod, name string) *corev1.Volume {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return &pod.Spec.Volumes[i]
		}
	}
	return nil
}

func TestInjectSidecar(t *testing.T) {
	app := func(name string, env ...corev1.EnvVar) corev1.Container {
		return corev1.Container{Name: name, Image: name + ":1", Env: env}
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		// wantInjected is InjectSidecar's result; when false the pod must be
		// left exactly as it was.
		wantInjected bool
		// wantEnv maps each app container to its expected base URLs; a
		// missing variable is "".
		wantEnv map[string][2]string
		// wantInit is the expected order of init container names.
		wantInit []string
		// wantConfigVolume and wantKeysVolume are the expected volume names.
		wantConfigVolume, wantKeysVolume string
		wantVolumes                      int
	}{
		{
			name:             "plain pod",
			pod:              newPod(),
			wantInjected:     true,
			wantEnv:          map[string][2]string{"app": {OpenAIBaseURL, AnthropicBaseURL}},
			wantInit:         []string{SidecarContainerName},
			wantConfigVolume: ConfigVolumeName, wantKeysVolume: KeysVolumeName, wantVolumes: 2,
		},
		{
			name: "already injected",
			pod: newPod(withInitContainers(corev1.Container{Name: SidecarContainerName, Image: "old"}),
				withVolumes(emptyDir(ConfigVolumeName))),
			wantInjected: false,
		},
		{
			name:         "sidecar added by hand as a regular container",
			pod:          newPod(withContainers(app("app"), corev1.Container{Name: SidecarContainerName, Image: "mine"})),
			wantInjected: false,
		},
		{
			name:             "env already set by the app",
			pod:              newPod(withContainers(app("app", corev1.EnvVar{Name: OpenAIBaseURLEnv, Value: "https://gateway.example.com/v1"}))),
			wantInjected:     true,
			wantEnv:          map[string][2]string{"app": {"https://gateway.example.com/v1", AnthropicBaseURL}},
			wantInit:         []string{SidecarContainerName},
			wantConfigVolume: ConfigVolumeName, wantKeysVolume: KeysVolumeName, wantVolumes: 2,
		},
		{
			name:             "opt-out annotation",
			pod:              newPod(withAnnotation(InjectEnvAnnotation, "false")),
			wantInjected:     true,
			wantEnv:          map[string][2]string{"app": {"", ""}},
			wantInit:         []string{SidecarContainerName},
			wantConfigVolume: ConfigVolumeName, wantKeysVolume: KeysVolumeName, wantVolumes: 2,
		},
		{
			name:             "annotation other than false still injects env",
			pod:              newPod(withAnnotation(InjectEnvAnnotation, "true")),
			wantInjected:     true,
			wantEnv:          map[string][2]string{"app": {OpenAIBaseURL, AnthropicBaseURL}},
			wantInit:         []string{SidecarContainerName},
			wantConfigVolume: ConfigVolumeName, wantKeysVolume: KeysVolumeName, wantVolumes: 2,
		},
		{
			name: "several containers",
			pod: newPod(withContainers(app("web"),
				app("worker", corev1.EnvVar{Name: AnthropicBaseURLEnv, Value: "http://other:8080"}), app("metrics"))),
			wantInjected: true,
			wantEnv: map[string][2]string{
				"web":     {OpenAIBaseURL, AnthropicBaseURL},
				"worker":  {OpenAIBaseURL, "http://other:8080"},
				"metrics": {OpenAIBaseURL, AnthropicBaseURL},
			},
			wantInit:         []string{SidecarContainerName},
			wantConfigVolume: ConfigVolumeName, wantKeysVolume: KeysVolumeName, wantVolumes: 2,
		},
		{
			name: "volume names taken by the app",
			pod: newPod(withVolumes(emptyDir(ConfigVolumeName), emptyDir(ConfigVolumeName+"-1"),
				corev1.Volume{Name: KeysVolumeName, VolumeSource: corev1.VolumeSource{
					Secret: &corev1.SecretVolumeSource{SecretName: "app-keys"}}})),
			wantInjected:     true,
			wantEnv:          map[string][2]string{"app": {OpenAIBaseURL, AnthropicBaseURL}},
			wantInit:         []string{SidecarContainerName},
			wantConfigVolume: ConfigVolumeName + "-2", wantKeysVolume: KeysVolumeName + "-1", wantVolumes: 5,
		},
		{
			name: "our ConfigMap volume already there is reused",
			pod: newPod(withVolumes(corev1.Volume{Name: ConfigVolumeName, VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName("chat")}}}})),
			wantInjected:     true,
			wantEnv:          map[string][2]string{"app": {OpenAIBaseURL, AnthropicBaseURL}},
			wantInit:         []string{SidecarContainerName},
			wantConfigVolume: ConfigVolumeName, wantKeysVolume: KeysVolumeName, wantVolumes: 2,
		},
		{
			name:             "existing init containers run after the sidecar",
			pod:              newPod(withInitContainers(app("migrate"), app("warm-cache"))),
			wantInjected:     true,
			wantEnv:          map[string][2]string{"app": {OpenAIBaseURL, AnthropicBaseURL}},
			wantInit:         []string{SidecarContainerName, "migrate", "warm-cache"},
			wantConfigVolume: ConfigVolumeName, wantKeysVolume: KeysVolumeName, wantVolumes: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := tt.pod
			before := pod.DeepCopy()
			got, err := InjectSidecar(pod, chatRoute(), testSidecar())
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.wantInjected {
				t.Fatalf("InjectSidecar = %v, want %v", got, tt.wantInjected)
			}
			if !tt.wantInjected {
				if !reflect.DeepEqual(pod, before) {
					t.Fatal("a pod that already has the sidecar was changed")
				}
				return
			}

			var init []string
			for _, c := range pod.Spec.InitContainers {
				init = append(init, c.Name)
			}
			if !slices.Equal(init, tt.wantInit) {
				t.Errorf("init containers = %v, want %v", init, tt.wantInit)
			}
			for i, c := range pod.Spec.InitContainers[1:] {
				if !reflect.DeepEqual(c, before.Spec.InitContainers[i]) {
					t.Errorf("init container %q was changed", c.Name)
				}
			}

			sidecar := pod.Spec.InitContainers[0]
			assertSidecar(t, sidecar, tt.wantConfigVolume, tt.wantKeysVolume)

			if len(pod.Spec.Volumes) != tt.wantVolumes {
				t.Errorf("%d volumes, want %d: %v", len(pod.Spec.Volumes), tt.wantVolumes, pod.Spec.Volumes)
			}
			if v := findVolume(pod, tt.wantConfigVolume); v == nil || v.ConfigMap == nil || v.ConfigMap.Name != "llmroute-chat" {
				t.Errorf("volume %q is %+v, want ConfigMap llmroute-chat", tt.wantConfigVolume, v)
			}
			if v := findVolume(pod, tt.wantKeysVolume); v == nil || v.Secret == nil || v.Secret.SecretName != "llmroute-chat-keys" {
				t.Errorf("volume %q is %+v, want Secret llmroute-chat-keys", tt.wantKeysVolume, v)
			} else if m := v.Secret.DefaultMode; m == nil || *m != 0o440 {
				t.Errorf("key files mode = %v, want 0440: readable by owner and group only", m)
			}
			for _, v := range before.Spec.Volumes {
				if got := findVolume(pod, v.Name); got == nil || !reflect.DeepEqual(*got, v) {
					t.Errorf("the pod's own volume %q was changed or dropped", v.Name)
				}
			}

			for _, c := range pod.Spec.Containers {
				want, ok := tt.wantEnv[c.Name]
				if !ok {
					t.Fatalf("unexpected container %q", c.Name)
				}
				openai := envValue(c, OpenAIBaseURLEnv)
				anthropic := envValue(c, AnthropicBaseURLEnv)
				if openai != want[0] || anthropic != want[1] {
					t.Errorf("container %q: OPENAI_BASE_URL=%q ANTHROPIC_BASE_URL=%q, want %q %q", c.Name, openai, anthropic, want[0], want[1])
				}
				// The keys are the sidecar's alone.
				for _, m := range c.VolumeMounts {
					if strings.HasPrefix(m.Name, "llmroute-") {
						t.Errorf("container %q mounts %q; only the sidecar may", c.Name, m.Name)
					}
				}
			}

			// Admission may run the webhook again (reinvocation, retries):
			// a second pass must change nothing.
			again := pod.DeepCopy()
			if injected, err := InjectSidecar(again, chatRoute(), testSidecar()); injected || err != nil || !reflect.DeepEqual(again, pod) {
				t.Error("injecting twice changed the pod")
			}
		})
	}
}

func assertSidecar(t *testing.T, c corev1.Container, configVolume, keysVolume string) {
	t.Helper()
	s := testSidecar()
	if c.Name != SidecarContainerName || c.Image != s.Image || c.ImagePullPolicy != s.ImagePullPolicy {
		t.Errorf("sidecar name/image/policy = %q %q %q", c.Name, c.Image, c.ImagePullPolicy)
	}
	if !slices.Equal(c.Command, []string{"/llmroute-sidecar"}) {
		t.Errorf("command = %v", c.Command)
	}
	wantArgs := []string{"--config", "/etc/llmroute/config/config.json", "--listen", "127.0.0.1:8089",
		"--admin-listen", ":9089", "--log-format", "json", "--log-level", "debug"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args = %v, want %v", c.Args, wantArgs)
	}
	if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Error("the sidecar is not a native sidecar (restartPolicy Always)")
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != AdminPortName || c.Ports[0].ContainerPort != 9089 {
		t.Errorf("ports = %+v, want only the admin port", c.Ports)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startup", c.StartupProbe, "/readyz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
		{"liveness", c.LivenessProbe, "/healthz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe missing", p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port != intstr.FromString(AdminPortName) {
			t.Errorf("%s probe = %s on %s, want %s on %s", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path, AdminPortName)
		}
	}
	if !reflect.DeepEqual(c.Resources, s.Resources) {
		t.Errorf("resources = %+v, want %+v", c.Resources, s.Resources)
	}
	wantMounts := []corev1.VolumeMount{
		{Name: configVolume, MountPath: "/etc/llmroute/config", ReadOnly: true},
		{Name: keysVolume, MountPath: "/etc/llmroute/keys", ReadOnly: true},
	}
	if !reflect.DeepEqual(c.VolumeMounts, wantMounts) {
		t.Errorf("mounts = %+v, want %+v", c.VolumeMounts, wantMounts)
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("no security context")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot, sc.RunAsUser != nil && *sc.RunAsUser == 0:
		t.Error("the sidecar may run as root")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("the sidecar's root filesystem is writable")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("the sidecar may escalate privileges")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Error("the sidecar keeps capabilities")
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("the sidecar has no RuntimeDefault seccomp profile")
	}
}

// TestSidecarSecurityContext guards the sidecar's identity: never root, no
// fixed uid where the image's or the platform's applies (OpenShift's
// restricted-v2 refuses any uid outside the namespace's range), and a group
// that can read the 0440 key files.
func TestSidecarSecurityContext(t *testing.T) {
	tests := []struct {
		name      string
		psc       *corev1.PodSecurityContext
		wantUser  *int64
		wantGroup *int64
	}{
		{name: "no pod security context: the image's uid, root group for root-owned key files",
			wantGroup: new(int64(0))},
		{name: "a pod uid applies", psc: &corev1.PodSecurityContext{RunAsUser: new(int64(1000))},
			wantGroup: new(int64(0))},
		{name: "a pod asking for root gets the image's uid", psc: &corev1.PodSecurityContext{RunAsUser: new(int64(0))},
			wantUser: new(int64(SidecarUser)), wantGroup: new(int64(0))},
		{name: "an fsGroup owns the key files: the pod's groups apply",
			psc: &corev1.PodSecurityContext{RunAsUser: new(int64(1000)), RunAsGroup: new(int64(1000)), FSGroup: new(int64(2000))}},
		{name: "fsGroup alone", psc: &corev1.PodSecurityContext{FSGroup: new(int64(2000))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := newPod()
			pod.Spec.SecurityContext = tt.psc
			mustInject(t, pod, chatRoute())
			sc := pod.Spec.InitContainers[0].SecurityContext
			if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
				t.Error("runAsNonRoot is not true")
			}
			if !reflect.DeepEqual(sc.RunAsUser, tt.wantUser) {
				t.Errorf("runAsUser = %v, want %v", ptrString(sc.RunAsUser), ptrString(tt.wantUser))
			}
			if !reflect.DeepEqual(sc.RunAsGroup, tt.wantGroup) {
				t.Errorf("runAsGroup = %v, want %v", ptrString(sc.RunAsGroup), ptrString(tt.wantGroup))
			}
		})
	}
}

func ptrString(p *int64) string {
	if p == nil {
		return "unset"
	}
	return strconv.FormatInt(*p, 10)
}

// TestInjectSidecarOwnsItsResources guards against pods sharing the
// settings' resource lists: a later edit of one pod must not reach others.
func TestInjectSidecarOwnsItsResources(t *testing.T) {
	s := testSidecar()
	pod := newPod()
	if _, err := InjectSidecar(pod, chatRoute(), s); err != nil {
		t.Fatal(err)
	}
	pod.Spec.InitContainers[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("1Gi")
	if got := s.Resources.Limits[corev1.ResourceMemory]; got.String() != "128Mi" {
		t.Errorf("the settings' memory limit became %s", got.String())
	}
}

func TestSidecarSettingsValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*SidecarSettings)
		wantErr string
	}{
		{name: "valid", edit: func(*SidecarSettings) {}},
		{name: "empty pull policy is the API server's default", edit: func(s *SidecarSettings) { s.ImagePullPolicy = "" }},
		{name: "no image", edit: func(s *SidecarSettings) { s.Image = "" }, wantErr: "image is required"},
		{name: "bad pull policy", edit: func(s *SidecarSettings) { s.ImagePullPolicy = "always" }, wantErr: `pull policy "always"`},
		{name: "bad log format", edit: func(s *SidecarSettings) { s.LogFormat = "xml" }, wantErr: `log format "xml"`},
		{name: "bad log level", edit: func(s *SidecarSettings) { s.LogLevel = "warn" }, wantErr: `log level "warn"`},
		{name: "request above limit", edit: func(s *SidecarSettings) {
			s.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("16Mi")
		}, wantErr: "memory request 32Mi is above its limit 16Mi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSidecar()
			tt.edit(&s)
			err := s.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
