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
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// InjectSidecar adds the llmroute sidecar for route to pod, in place: the
// native sidecar as the first init container, the ConfigMap and keys Secret
// volumes (mounted in the sidecar only), and the SDK base URLs on the app
// containers unless the pod opts out with InjectEnvAnnotation. It reads
// nothing but its arguments, so it is tested without an API server.
//
// It is idempotent: a pod that already has a container named
// SidecarContainerName is left alone and false is returned.
func InjectSidecar(pod *corev1.Pod, route string, s SidecarSettings) bool {
	if HasSidecar(pod) {
		return false
	}

	configVolume := addVolume(pod, ConfigVolumeName, corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName(route)},
		},
	}, func(v corev1.Volume) bool {
		return v.ConfigMap != nil && v.ConfigMap.Name == ConfigMapName(route)
	})
	keysVolume := addVolume(pod, KeysVolumeName, corev1.VolumeSource{
		Secret: &corev1.SecretVolumeSource{SecretName: KeysSecretName(route), DefaultMode: new(int32(KeyFileMode))},
	}, func(v corev1.Volume) bool {
		return v.Secret != nil && v.Secret.SecretName == KeysSecretName(route)
	})

	pod.Spec.InitContainers = append(
		[]corev1.Container{sidecarContainer(s, configVolume, keysVolume, sidecarSecurityContext(pod))},
		pod.Spec.InitContainers...)

	if pod.Annotations[InjectEnvAnnotation] != "false" {
		for i := range pod.Spec.Containers {
			// A value the app sets itself wins. A value from envFrom does
			// not: env overrides it, so such pods opt out with the annotation.
			setEnvDefault(&pod.Spec.Containers[i], OpenAIBaseURLEnv, OpenAIBaseURL)
			setEnvDefault(&pod.Spec.Containers[i], AnthropicBaseURLEnv, AnthropicBaseURL)
		}
	}
	return true
}

// HasSidecar reports whether pod already has the llmroute sidecar, as an init
// container or (added by hand) as a regular one.
func HasSidecar(pod *corev1.Pod) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			if c.Name == SidecarContainerName {
				return true
			}
		}
	}
	return false
}

// addVolume adds a volume named name, or name-1, name-2, ... when the pod
// already uses the name for a volume of its own, and returns the name used.
// A volume that is already ours (isOurs) is reused rather than duplicated.
func addVolume(pod *corev1.Pod, name string, src corev1.VolumeSource, isOurs func(corev1.Volume) bool) string {
	taken := make(map[string]bool, len(pod.Spec.Volumes))
	for _, v := range pod.Spec.Volumes {
		if v.Name == name && isOurs(v) {
			return name
		}
		taken[v.Name] = true
	}
	candidate := name
	for n := 1; taken[candidate]; n++ {
		candidate = name + "-" + strconv.Itoa(n)
	}
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: candidate, VolumeSource: src})
	return candidate
}

func setEnvDefault(c *corev1.Container, name, value string) {
	for _, e := range c.Env {
		if e.Name == name {
			return
		}
	}
	c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
}
