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
	"errors"
	"fmt"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// SidecarSettings are the injector's knobs, one manager flag each. The zero
// value is not usable: Image is required; see Validate.
type SidecarSettings struct {
	// Image is the image the sidecar runs: the operator's own image, whose
	// second binary is SidecarCommand.
	Image string
	// ImagePullPolicy of the sidecar; empty lets the API server choose
	// (Always for :latest, IfNotPresent otherwise).
	ImagePullPolicy corev1.PullPolicy
	// Resources of the sidecar container; empty leaves it unbounded.
	Resources corev1.ResourceRequirements
	// LogFormat is the sidecar's --log-format: json or text.
	LogFormat string
	// LogLevel is the sidecar's --log-level: debug, info or error.
	LogLevel string
}

// The values the sidecar's command line accepts.
var (
	SidecarLogFormats = config.LogFormats
	SidecarLogLevels  = config.LogLevels
)

// Validate reports every setting that would give pods a sidecar the API
// server or the sidecar refuses, so the manager fails at start instead of at
// the first pod.
func (s SidecarSettings) Validate() error {
	var errs []error
	if s.Image == "" {
		errs = append(errs, errors.New("sidecar image is required"))
	}
	switch s.ImagePullPolicy {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		errs = append(errs, fmt.Errorf("sidecar image pull policy %q is not one of Always, IfNotPresent, Never", s.ImagePullPolicy))
	}
	if !slices.Contains(SidecarLogFormats, s.LogFormat) {
		errs = append(errs, fmt.Errorf("sidecar log format %q is not one of %v", s.LogFormat, SidecarLogFormats))
	}
	if !slices.Contains(SidecarLogLevels, s.LogLevel) {
		errs = append(errs, fmt.Errorf("sidecar log level %q is not one of %v", s.LogLevel, SidecarLogLevels))
	}
	for name, req := range s.Resources.Requests {
		if lim, ok := s.Resources.Limits[name]; ok && req.Cmp(lim) > 0 {
			errs = append(errs, fmt.Errorf("sidecar %s request %s is above its limit %s", name, req.String(), lim.String()))
		}
	}
	return errors.Join(errs...)
}

// sidecarContainer is the injected native sidecar: an init container that
// keeps running (restartPolicy Always). Its startup probe waits for /readyz,
// and the kubelet starts the next containers only once a sidecar has started,
// so the app's first LLM call finds the proxy ready.
func sidecarContainer(s SidecarSettings, mounts []corev1.VolumeMount, sc *corev1.SecurityContext) corev1.Container {
	always := corev1.ContainerRestartPolicyAlways
	return corev1.Container{
		Name:            SidecarContainerName,
		Image:           s.Image,
		ImagePullPolicy: s.ImagePullPolicy,
		Command:         []string{SidecarCommand},
		Args: []string{
			"--" + config.FlagConfig, config.ConfigFile,
			"--" + config.FlagListen, config.DefaultListen,
			"--" + config.FlagAdminListen, ":" + strconv.Itoa(config.DefaultAdminPort),
			"--" + config.FlagLogFormat, s.LogFormat,
			"--" + config.FlagLogLevel, s.LogLevel,
		},
		// The proxy port is not declared: it listens on loopback only.
		Ports: []corev1.ContainerPort{{
			Name:          AdminPortName,
			ContainerPort: config.DefaultAdminPort,
			Protocol:      corev1.ProtocolTCP,
		}},
		RestartPolicy:            &always,
		StartupProbe:             httpProbe("/readyz", 1, 30),
		ReadinessProbe:           httpProbe("/readyz", 5, 3),
		LivenessProbe:            httpProbe("/healthz", 10, 3),
		Resources:                *s.Resources.DeepCopy(),
		VolumeMounts:             mounts,
		SecurityContext:          sc,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

// sidecarSecurityContext is the sidecar's security context in pod: the
// restricted Pod Security Standard's, without a fixed uid where none is
// needed. The image's user (SidecarUser) applies, or the uid the pod or the
// platform assigns: OpenShift's restricted-v2 assigns one from the
// namespace's range and refuses a container that names another. Only a pod
// that asks for root gets SidecarUser spelled out, so that the sidecar still
// runs as non-root.
//
// The key files (KeyFileMode, 0440) belong to root and to the pod's fsGroup,
// which the kubelet adds to every container's groups. A pod without an
// fsGroup gets them as root:root, so there the sidecar runs with group 0 to
// read them: a group id grants no privilege (runAsNonRoot is about the uid),
// and the Pod Security Standards allow it.
func sidecarSecurityContext(pod *corev1.Pod) *corev1.SecurityContext {
	sc := &corev1.SecurityContext{
		RunAsNonRoot:             new(true),
		ReadOnlyRootFilesystem:   new(true),
		AllowPrivilegeEscalation: new(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	psc := pod.Spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		sc.RunAsUser = new(int64(SidecarUser))
	}
	if psc.FSGroup == nil {
		sc.RunAsGroup = new(int64(0))
	}
	return sc
}

func httpProbe(path string, periodSeconds, failureThreshold int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path,
			Port: intstr.FromString(AdminPortName),
		}},
		PeriodSeconds:    periodSeconds,
		FailureThreshold: failureThreshold,
		TimeoutSeconds:   1,
		SuccessThreshold: 1,
	}
}
