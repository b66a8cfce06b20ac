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
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
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

	// WatchNamespaces confines the operator to these namespaces: it caches,
	// reconciles, injects and validates only there, so that it needs rights
	// only there (a Role per namespace). Empty means every namespace.
	WatchNamespaces []string

	// CredentialsCheckInterval is how often the CredentialsHealthy condition
	// of a route with running pods is refreshed from its sidecars; zero
	// means DefaultCredentialsCheckInterval.
	CredentialsCheckInterval time.Duration
	// DisableCredentialsCheck turns those checks off: the operator then
	// neither caches pods nor connects to them, and sets no
	// CredentialsHealthy condition.
	DisableCredentialsCheck bool
	// ProbeTransport carries the checks' requests to the pods' sidecars; nil
	// means NewProbeTransport().
	ProbeTransport http.RoundTripper
}

// Validate reports every option the operator cannot run with.
func (o Options) Validate() error {
	var errs []error
	if err := o.Sidecar.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.CredentialsCheckInterval < 0 {
		errs = append(errs, fmt.Errorf("credentials check interval %s is negative", o.CredentialsCheckInterval))
	}
	for i, ns := range o.WatchNamespaces {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("watched namespace %q is not a namespace name: %v", ns, msgs))
		}
		if slices.Index(o.WatchNamespaces, ns) < i {
			errs = append(errs, fmt.Errorf("watched namespace %q is listed twice", ns))
		}
	}
	return errors.Join(errs...)
}

// watches reports whether the operator acts in namespace ns.
func watches(namespaces []string, ns string) bool {
	return len(namespaces) == 0 || slices.Contains(namespaces, ns)
}

// ManagerOptions returns base with the cache and client settings the
// operator needs; the rest of base (metrics, probes, webhook server, leader
// election) is the caller's.
//
// What the manager caches is kept to what the controller needs to notice a
// change:
//   - LLMRoutes, whole: they are reconciled and indexed by the Secrets they
//     reference.
//   - ConfigMaps: metadata only, and only those the operator rendered (the
//     ManagedByLabel selector), to notice one edited or deleted.
//   - Secrets: metadata only, stripped to name, namespace, uid,
//     resourceVersion and owner references (secretIdentity), to notice a
//     referenced Secret change and a rendered one edited or deleted. Every
//     Secret of the watched namespaces is watched, since any of them may be
//     referenced; none of their content is held.
//   - Pods that carry RouteLabel, stripped to what the credential checks
//     need (podSummary): name, route label, phase, IP and the sidecar's
//     state. No spec, no environment.
//
// Reads of ConfigMap and Secret contents go to the API server (DisableFor),
// never through the cache.
func (o Options) ManagerOptions(base ctrl.Options) ctrl.Options {
	base.Cache.DefaultTransform = cache.TransformStripManagedFields()
	base.Cache.ByObject = map[client.Object]cache.ByObject{
		&corev1.ConfigMap{}: {Label: labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue})},
		&corev1.Secret{}:    {Transform: secretIdentity},
	}
	if !o.DisableCredentialsCheck {
		base.Cache.ByObject[&corev1.Pod{}] = cache.ByObject{Label: labels.NewSelector().Add(routeLabelExists), Transform: podSummary}
	}
	if len(o.WatchNamespaces) > 0 {
		base.Cache.DefaultNamespaces = make(map[string]cache.Config, len(o.WatchNamespaces))
		for _, ns := range o.WatchNamespaces {
			base.Cache.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	base.Client.Cache = &client.CacheOptions{DisableFor: []client.Object{&corev1.ConfigMap{}, &corev1.Secret{}}}
	return base
}

// secretIdentity is the cache transform of Secrets. Annotations go with the
// rest: kubectl apply keeps a Secret's whole manifest, data included, in its
// kubectl.kubernetes.io/last-applied-configuration annotation.
func secretIdentity(in any) (any, error) {
	if s, ok := in.(*corev1.Secret); ok {
		// Only metadata is watched; should a full Secret ever reach the
		// cache, its content still stays out.
		s.Data, s.StringData = nil, nil
	}
	obj, err := meta.Accessor(in)
	if err != nil {
		return in, nil // a tombstone: it leaves the cache
	}
	obj.SetAnnotations(nil)
	obj.SetLabels(nil)
	obj.SetManagedFields(nil)
	obj.SetFinalizers(nil)
	return in, nil
}

// routeLabelExists selects the pods that use a route.
var routeLabelExists = func() labels.Requirement {
	r, err := labels.NewRequirement(RouteLabel, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant label key
	}
	return *r
}()

// podSummary is the cache transform of pods: what the credential checks
// read of a pod, and nothing else. A pod's spec can hold values an app
// should have kept in a Secret (environment variables); none of it is held.
func podSummary(in any) (any, error) {
	pod, ok := in.(*corev1.Pod)
	if !ok {
		return in, nil // a tombstone: it leaves the cache
	}
	slim := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:              pod.Name,
			Namespace:         pod.Namespace,
			UID:               pod.UID,
			ResourceVersion:   pod.ResourceVersion,
			Labels:            map[string]string{RouteLabel: pod.Labels[RouteLabel]},
			DeletionTimestamp: pod.DeletionTimestamp,
		},
		Status: corev1.PodStatus{Phase: pod.Status.Phase, PodIP: pod.Status.PodIP},
	}
	for _, s := range pod.Status.InitContainerStatuses {
		if s.Name == SidecarContainerName {
			slim.Status.InitContainerStatuses = []corev1.ContainerStatus{{
				Name: s.Name, Started: s.Started, State: corev1.ContainerState{Running: s.State.Running},
			}}
		}
	}
	return slim, nil
}

// Setup registers the operator on a manager built with ManagerOptions: the
// LLMRoute controller, the controller that checks the routes' credentials in
// their sidecars, the pod webhook that injects the sidecar, the LLMRoute
// webhook that checks who may reference which Secret, and the health checks
// (ready once the webhook server serves).
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
	if !o.DisableCredentialsCheck {
		if err := (&CredentialsReconciler{
			Client:    mgr.GetClient(),
			Recorder:  mgr.GetEventRecorder(EventSource),
			Transport: o.ProbeTransport,
			Interval:  o.CredentialsCheckInterval,
		}).SetupWithManager(mgr); err != nil {
			return fmt.Errorf("set up the credentials controller: %w", err)
		}
	}
	if err := (&PodInjector{
		Reader:          mgr.GetAPIReader(),
		Sidecar:         o.Sidecar,
		WatchNamespaces: o.WatchNamespaces,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the pod webhook: %w", err)
	}
	if err := (&RouteValidator{
		Client:          mgr.GetClient(),
		WatchNamespaces: o.WatchNamespaces,
	}).SetupWithManager(mgr); err != nil {
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
