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
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
)

// SecretRefIndex indexes LLMRoutes by the names of the Secrets they
// reference (apiKeySecretRef, apiKeys, clientSecretRef), so that a changed
// Secret finds its routes.
const SecretRefIndex = ".spec.providers.secretRefs.name"

// resolveKeys sets ResolvedRefs: whether every Secret key the route
// references names an existing Secret in the route's namespace with a
// non-empty key that an HTTP header can carry. On success st.keys holds each
// key under its file name in the keys Secret (see providerSecretKeys). A
// missing Secret is not an error: the Secret watch brings the route back when
// it appears.
func (r *LLMRouteReconciler) resolveKeys(ctx context.Context, route *llmv1alpha1.LLMRoute, st *routeState) error {
	keys := map[string][]byte{}
	secrets := map[string]*corev1.Secret{} // several references may share one Secret
	var problems []string
	reason := ""
	for _, u := range secretKeyUses(route) {
		ref := u.Ref
		secret, seen := secrets[ref.Name]
		if !seen {
			secret = &corev1.Secret{}
			if err := r.Get(ctx, client.ObjectKey{Namespace: route.Namespace, Name: ref.Name}, secret); err != nil {
				if !apierrors.IsNotFound(err) {
					return fmt.Errorf("get Secret %s/%s for provider %q: %w", route.Namespace, ref.Name, u.Provider, err)
				}
				secret = nil
			}
			secrets[ref.Name] = secret
		}
		switch {
		case secret == nil:
			reason = llmv1alpha1.ReasonSecretNotFound
			problems = append(problems, fmt.Sprintf("Secret %q not found in namespace %q (provider %q, key %q, %s)",
				ref.Name, route.Namespace, u.Provider, ref.Key, u.Field))
		case len(bytes.TrimSpace(secret.Data[ref.Key])) == 0:
			if reason == "" {
				reason = llmv1alpha1.ReasonSecretKeyMissing
			}
			what := "has no key"
			if _, ok := secret.Data[ref.Key]; ok {
				what = "has an empty key"
			}
			problems = append(problems, fmt.Sprintf("Secret %q in namespace %q %s %q (provider %q, %s)",
				ref.Name, route.Namespace, what, ref.Key, u.Provider, u.Field))
		case headerUnsafe(secret.Data[ref.Key]) != "":
			if reason == "" {
				reason = llmv1alpha1.ReasonSecretKeyInvalid
			}
			problems = append(problems, fmt.Sprintf("key %q of Secret %q in namespace %q (provider %q, %s) holds %s inside the key: "+
				"the sidecar sends it in an HTTP header or form, which cannot carry it",
				ref.Key, ref.Name, route.Namespace, u.Provider, u.Field, headerUnsafe(secret.Data[ref.Key])))
		default:
			keys[u.File] = bytes.Clone(secret.Data[ref.Key])
		}
	}

	if len(problems) > 0 {
		setCondition(route, llmv1alpha1.ConditionResolvedRefs, metav1.ConditionFalse, reason, strings.Join(problems, "; "))
		return nil
	}
	st.keys = keys
	setCondition(route, llmv1alpha1.ConditionResolvedRefs, metav1.ConditionTrue, llmv1alpha1.ReasonSecretsResolved,
		fmt.Sprintf("Resolved %d Secret keys", len(keys)))
	return nil
}

// headerUnsafe says what in key, once trimmed of surrounding whitespace as
// the sidecar trims it, cannot go in an HTTP header value, or "" when
// nothing. Go's HTTP client refuses control characters other than a tab and
// fails the request as if the connection broke, so every attempt would count
// against the provider's breaker; bytes beyond ASCII it would send, but no
// provider issues such keys, and they are what a paste picks up (a
// non-breaking or zero-width space, typographic quotes). It never returns
// any part of the key.
func headerUnsafe(key []byte) string {
	for _, b := range bytes.TrimSpace(key) {
		switch {
		case b == '\r' || b == '\n':
			return "a line break"
		case b < ' ' || b == 0x7f:
			return "a control character"
		case b >= 0x80:
			return "a non-ASCII character"
		}
	}
	return ""
}

// secretRefNames is the SecretRefIndex function.
func secretRefNames(obj client.Object) []string {
	route, ok := obj.(*llmv1alpha1.LLMRoute)
	if !ok {
		return nil
	}
	var names []string
	for _, u := range secretKeyUses(route) {
		if !slices.Contains(names, u.Ref.Name) {
			names = append(names, u.Ref.Name)
		}
	}
	return names
}

// routesForSecret maps a Secret to the routes in its namespace that
// reference it.
func (r *LLMRouteReconciler) routesForSecret(ctx context.Context, secret client.Object) []reconcile.Request {
	var routes llmv1alpha1.LLMRouteList
	if err := r.List(ctx, &routes, client.InNamespace(secret.GetNamespace()),
		client.MatchingFields{SecretRefIndex: secret.GetName()}); err != nil {
		logf.FromContext(ctx).Error(err, "Failed to list LLMRoutes referencing Secret", "secret", client.ObjectKeyFromObject(secret))
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(routes.Items))
	for _, route := range routes.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&route)})
	}
	return reqs
}
