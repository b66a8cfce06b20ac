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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// The objectSelector keeps every unlabelled pod away from the webhook, so the
// cluster's other pods never depend on the operator being up; the
// namespaceSelector keeps the operator's own namespace (its pods would wait
// for themselves; config/default keeps the name in step with its namespace)
// and kube-system away too. For labelled pods failurePolicy is Fail: a pod
// admitted without its sidecar would send its LLM calls to a port nobody
// listens on.
// +kubebuilder:webhook:path=/mutate--v1-pod,mutating=true,failurePolicy=fail,sideEffects=None,groups="",resources=pods,verbs=create,versions=v1,name=sidecar-injector.llm.osmen.ai,admissionReviewVersions=v1,reinvocationPolicy=Never,timeoutSeconds=10,matchPolicy=Equivalent,patch=`{"objectSelector":{"matchExpressions":[{"key":"llm.osmen.ai/route","operator":"Exists"}]},"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["llmroute-system","kube-system"]}]}}`

// PodInjector is the pod mutating webhook: it looks up the LLMRoute a pod's
// RouteLabel names and hands the rest to InjectSidecar.
type PodInjector struct {
	// Reader gets LLMRoutes. The manager's API reader rather than its cache:
	// a route applied together with its Deployment must be found at once.
	Reader client.Reader
	// Sidecar is what the injected sidecar looks like.
	Sidecar SidecarSettings
	// WatchNamespaces are the namespaces whose pods are injected (those the
	// operator reconciles routes in); pods elsewhere are left alone, as for
	// another llmroute installation to handle. Empty means every namespace.
	WatchNamespaces []string
}

var _ admission.Defaulter[*corev1.Pod] = (*PodInjector)(nil)

// SetupWithManager registers the webhook on the manager's webhook server at
// /mutate--v1-pod.
func (i *PodInjector) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &corev1.Pod{}).WithDefaulter(i).Complete()
}

// Default injects the sidecar into a pod being created. A pod whose route
// does not exist is refused: it would start with nothing to configure its
// sidecar and wait for a ConfigMap that never comes. So is a pod on the
// host's network: the sidecar's proxy on 127.0.0.1:8089 would be the node's
// loopback, where every process of the node could spend the route's keys,
// and a second such pod on the node could not start its sidecar. So is a pod
// without the volume its route reads a token file from (see InjectSidecar).
func (i *PodInjector) Default(ctx context.Context, pod *corev1.Pod) error {
	route := pod.Labels[RouteLabel]
	if route == "" || HasSidecar(pod) {
		return nil
	}
	// A pod being created may not carry its namespace yet; the request does.
	namespace := pod.Namespace
	if req, err := admission.RequestFromContext(ctx); err == nil && req.Namespace != "" {
		namespace = req.Namespace
	}
	if !watches(i.WatchNamespaces, namespace) {
		return nil
	}
	if pod.Spec.HostNetwork {
		return fmt.Errorf("pod uses hostNetwork: the llmroute sidecar's proxy (%s) would listen on the node's loopback, "+
			"open to every process on the node; remove hostNetwork or the pod's %s label", config.DefaultListen, RouteLabel)
	}

	var r llmv1alpha1.LLMRoute
	if err := i.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: route}, &r); err != nil {
		if apierrors.IsNotFound(err) {
			// A plain error becomes a 403 whose message the API server
			// passes on verbatim.
			return fmt.Errorf("LLMRoute %q not found in namespace %q: create it, or fix or remove the pod's %s label",
				route, namespace, RouteLabel)
		}
		return fmt.Errorf("get LLMRoute %q in namespace %q: %w", route, namespace, err)
	}

	if _, err := InjectSidecar(pod, &r, i.Sidecar); err != nil {
		return err
	}
	logf.FromContext(ctx).V(1).Info("Injected sidecar", "route", route)
	return nil
}
