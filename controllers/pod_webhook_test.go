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
	"reflect"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

func TestPodInjectorDefault(t *testing.T) {
	route := newRoute("chat", keyed("openai", "creds"))
	vault := newRoute("vault", tokenFiled("vault"))
	reader := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(route, vault).Build()

	tests := []struct {
		name string
		pod  func() *corev1.Pod
		// requestNamespace, when set, is the admission request's namespace
		// and the pod carries none, as for a pod created without one.
		requestNamespace string
		// watch is the injector's WatchNamespaces.
		watch        []string
		wantInjected bool
		wantErr      []string
	}{
		{name: "route exists", pod: func() *corev1.Pod { return newPod() }, wantInjected: true},
		{
			name: "namespace from the request",
			pod: func() *corev1.Pod {
				p := newPod()
				p.Namespace = ""
				return p
			},
			requestNamespace: testNS,
			wantInjected:     true,
		},
		{
			name: "route missing",
			pod: func() *corev1.Pod {
				p := newPod()
				p.Labels[RouteLabel] = "nope"
				return p
			},
			wantErr: []string{`LLMRoute "nope" not found in namespace "agents"`, RouteLabel},
		},
		{
			name: "route in another namespace only",
			pod: func() *corev1.Pod {
				p := newPod()
				p.Namespace = "elsewhere"
				return p
			},
			wantErr: []string{`LLMRoute "chat" not found in namespace "elsewhere"`},
		},
		{
			name: "hostNetwork refused",
			pod: func() *corev1.Pod {
				p := newPod()
				p.Spec.HostNetwork = true
				return p
			},
			wantErr: []string{"hostNetwork", "127.0.0.1:8089", "node's loopback", RouteLabel},
		},
		{
			name: "the route reads a token from a volume the pod lacks",
			pod: func() *corev1.Pod {
				p := newPod()
				p.Labels[RouteLabel] = "vault"
				return p
			},
			wantErr: []string{`LLMRoute "vault" reads a token from the pod's volume "llm-token"`},
		},
		{
			name:         "in a watched namespace",
			pod:          func() *corev1.Pod { return newPod() },
			watch:        []string{"other", testNS},
			wantInjected: true,
		},
		{
			// Another installation may watch that namespace: leave the pod
			// to it, neither injected nor refused.
			name: "in a namespace not watched, route missing and hostNetwork",
			pod: func() *corev1.Pod {
				p := newPod()
				p.Labels[RouteLabel] = "nope"
				p.Spec.HostNetwork = true
				return p
			},
			watch: []string{"other"},
		},
		{
			name: "no label",
			pod: func() *corev1.Pod {
				p := newPod()
				p.Labels = nil
				return p
			},
		},
		{
			name: "already injected, route gone",
			pod: func() *corev1.Pod {
				p := newPod(withInitContainers(corev1.Container{Name: SidecarContainerName}))
				p.Labels[RouteLabel] = "nope"
				return p
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.requestNamespace != "" {
				ctx = admission.NewContextWithRequest(ctx, admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
					Namespace: tt.requestNamespace, Operation: admissionv1.Create,
				}})
			}
			pod := tt.pod()
			before := pod.DeepCopy()
			injector := &PodInjector{Reader: reader, Sidecar: testSidecar(), WatchNamespaces: tt.watch}
			err := injector.Default(ctx, pod)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("pod admitted")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantInjected {
				if len(pod.Spec.InitContainers) == 0 || pod.Spec.InitContainers[0].Name != SidecarContainerName {
					t.Error("sidecar not injected")
				}
				if findVolume(pod, ConfigVolumeName).ConfigMap.Name != "llmroute-chat" {
					t.Error("config volume does not name the route's ConfigMap")
				}
			} else if !reflect.DeepEqual(pod, before) {
				t.Error("pod changed")
			}
		})
	}
}
