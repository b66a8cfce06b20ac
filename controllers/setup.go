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

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
)

// EventSource is the name the controller records its events under.
const EventSource = "llmroute-controller"

// Options configure the operator that Setup wires into a manager. The
// manager binary fills them from its flags; the envtest suite fills them
// itself, and both go through ManagerOptions and Setup, so that the tests
// run the operator that ships.
type Options struct {
	// Sidecar is what the pod webhook injects.
	Sidecar SidecarSettings
}

// Validate reports every option the operator cannot run with.
func (o Options) Validate() error {
	return o.Sidecar.Validate()
}

// ManagerOptions returns base with the cache and client settings the
// operator needs; the rest of base (metrics, probes, webhook server, leader
// election) is the caller's. The controller watches ConfigMaps and Secrets
// by metadata only, and reads their contents from the API server: a cached
// read would make the manager hold every ConfigMap and Secret of the cluster
// in memory.
func (o Options) ManagerOptions(base ctrl.Options) ctrl.Options {
	base.Client.Cache = &client.CacheOptions{DisableFor: []client.Object{&corev1.ConfigMap{}, &corev1.Secret{}}}
	return base
}

// Setup registers the operator on a manager built with ManagerOptions: the
// LLMRoute controller, the pod webhook that injects the sidecar, the
// LLMRoute webhook that checks who may reference which Secret, and the
// health checks (ready once the webhook server serves).
func Setup(ctx context.Context, mgr ctrl.Manager, o Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if err := (&LLMRouteReconciler{
		Client:   mgr.GetClient(),
		Scheme:   mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder(EventSource),
	}).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("set up the LLMRoute controller: %w", err)
	}
	if err := (&PodInjector{
		Reader:  mgr.GetAPIReader(),
		Sidecar: o.Sidecar,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the pod webhook: %w", err)
	}
	if err := (&RouteValidator{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the LLMRoute webhook: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	// Ready once the webhooks serve: labelled pods are refused until then.
	if err := mgr.AddReadyzCheck("readyz", mgr.GetWebhookServer().StartedChecker()); err != nil {
		return fmt.Errorf("add ready check: %w", err)
	}
	return nil
}
