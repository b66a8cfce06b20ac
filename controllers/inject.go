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
	"fmt"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

// InjectSidecar adds the llmroute sidecar for route to pod, in place: the
// native sidecar as the first init container; the ConfigMap and keys Secret
// volumes; a projected volume with the ServiceAccount tokens the route's
// providers ask for; the pod's own volumes that tokenFile names; all mounted
// in the sidecar only, read-only; and the SDK base URLs on the app containers
// unless the pod opts out with InjectEnvAnnotation. It reads nothing but its
// arguments, so it is tested without an API server, and the files it mounts
// are the ones Render names (config.TokenFile, config.PodVolumeDir).
//
// It is idempotent: a pod that already has a container named
// SidecarContainerName is left alone and false is returned. A pod that lacks
// a volume the route reads a token from is refused with an error, and left
// as it was.
func InjectSidecar(pod *corev1.Pod, route *llmv1alpha1.LLMRoute, s SidecarSettings) (bool, error) {
	if HasSidecar(pod) {
		return false, nil
	}
	lent, err := lentVolumes(pod, route)
	if err != nil {
		return false, err
	}

	configVolume := addVolume(pod, ConfigVolumeName, corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName(route.Name)},
		},
	}, func(v corev1.Volume) bool {
		return v.ConfigMap != nil && v.ConfigMap.Name == ConfigMapName(route.Name)
	})
	keysVolume := addVolume(pod, KeysVolumeName, corev1.VolumeSource{
		Secret: &corev1.SecretVolumeSource{SecretName: KeysSecretName(route.Name), DefaultMode: new(int32(KeyFileMode))},
	}, func(v corev1.Volume) bool {
		return v.Secret != nil && v.Secret.SecretName == KeysSecretName(route.Name)
	})
	mounts := []corev1.VolumeMount{
		{Name: configVolume, MountPath: config.ConfigDir, ReadOnly: true},
		{Name: keysVolume, MountPath: config.KeysDir, ReadOnly: true},
	}
	if tokens := tokensVolumeSource(route); tokens != nil {
		src := corev1.VolumeSource{Projected: tokens}
		name := addVolume(pod, TokensVolumeName, src, func(v corev1.Volume) bool {
			return equality.Semantic.DeepEqual(v.VolumeSource, src)
		})
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: config.TokensDir, ReadOnly: true})
	}
	for _, v := range lent {
		mounts = append(mounts, corev1.VolumeMount{Name: v, MountPath: config.PodVolumeDir(v), ReadOnly: true})
	}

	pod.Spec.InitContainers = append(
		[]corev1.Container{sidecarContainer(s, mounts, sidecarSecurityContext(pod))},
		pod.Spec.InitContainers...)

	if pod.Annotations[InjectEnvAnnotation] != "false" {
		for i := range pod.Spec.Containers {
			// A value the app sets itself wins. A value from envFrom does
			// not: env overrides it, so such pods opt out with the annotation.
			setEnvDefault(&pod.Spec.Containers[i], OpenAIBaseURLEnv, OpenAIBaseURL)
			setEnvDefault(&pod.Spec.Containers[i], AnthropicBaseURLEnv, AnthropicBaseURL)
		}
	}
	return true, nil
}

// tokensVolumeSource is the projected volume of the ServiceAccount tokens the
// route's providers ask for, one file per provider (config.TokenFile), or nil
// when none does. The kubelet requests each token for the pod's
// ServiceAccount and audience, and renews it once 80% of its lifetime has
// passed. The files have KeyFileMode, owned by root, like the keys; the
// kubelet makes them 0640 to the pod's fsGroup when it has one, and 0600 to
// the uid every container runs as when they share one: the sidecar (see
// sidecarSecurityContext) reads them in each case.
func tokensVolumeSource(route *llmv1alpha1.LLMRoute) *corev1.ProjectedVolumeSource {
	var sources []corev1.VolumeProjection
	for i := range route.Spec.Providers {
		p := &route.Spec.Providers[i]
		t, _ := projectedToken(p)
		if t == nil {
			continue
		}
		sources = append(sources, corev1.VolumeProjection{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
			Audience:          t.Audience,
			ExpirationSeconds: new(tokenExpirationSeconds(t)),
			Path:              p.Name,
		}})
	}
	if len(sources) == 0 {
		return nil
	}
	return &corev1.ProjectedVolumeSource{Sources: sources, DefaultMode: new(int32(KeyFileMode))}
}

// lentVolumes are the pod's own volumes that the route's providers read a
// token file from, each once, in the order the providers name them. A pod
// without one of them is refused: its sidecar would wait for a token that
// never comes.
func lentVolumes(pod *corev1.Pod, route *llmv1alpha1.LLMRoute) ([]string, error) {
	var names []string
	for i, p := range route.Spec.Providers {
		if p.TokenFile == nil || slices.Contains(names, p.TokenFile.Volume) {
			continue
		}
		v := p.TokenFile.Volume
		if !slices.ContainsFunc(pod.Spec.Volumes, func(pv corev1.Volume) bool { return pv.Name == v }) {
			return nil, fmt.Errorf("LLMRoute %q reads a token from the pod's volume %q (spec.providers[%d].tokenFile), "+
				"which the pod does not have: add the volume that holds the token (an emptyDir its agent writes to, say), "+
				"or remove the pod's %s label", route.Name, v, i, RouteLabel)
		}
		names = append(names, v)
	}
	return names, nil
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
