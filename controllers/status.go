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

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
)

// EventReasonConfigUpdated is the reason of the event a Ready route records
// when what its sidecars load changes (a new spec, a rotated key).
const EventReasonConfigUpdated = "ConfigUpdated"

// errStaleRoute says the route was read from a cache older than the API
// server's copy; the reconcile is repeated from a fresher one.
var errStaleRoute = errors.New("the cached LLMRoute is older than the API server's")

// summarizeAndPatch derives Ready from the other conditions and the write,
// records the events of a transition, and patches the status. recErr is the
// error the reconcile steps stopped on, if any.
//
// The patch is sent every time, with the resourceVersion the reconcile
// started from: a route read from a cache that has not seen our previous
// patch yet is refused (errStaleRoute) instead of silently leaving the newer,
// possibly wrong, status in place because ours looks unchanged.
func (r *LLMRouteReconciler) summarizeAndPatch(ctx context.Context, base, route *llmv1alpha1.LLMRoute, st *routeState, recErr error) error {
	summarize(route, st, recErr)
	r.recordTransition(base, route, st)

	patch := client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
	if err := r.Status().Patch(ctx, route, patch); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return nil // deleted meanwhile
		case apierrors.IsConflict(err):
			return errStaleRoute
		}
		return fmt.Errorf("patch status of LLMRoute %s/%s: %w", route.Namespace, route.Name, err)
	}
	return nil
}

// summarize sets observedGeneration, providers and the Ready condition.
func summarize(route *llmv1alpha1.LLMRoute, st *routeState, recErr error) {
	route.Status.ObservedGeneration = route.Generation
	route.Status.Providers = int32(len(route.Spec.Providers))

	for _, typ := range []string{llmv1alpha1.ConditionAccepted, llmv1alpha1.ConditionResolvedRefs} {
		c := meta.FindStatusCondition(route.Status.Conditions, typ)
		if c != nil && c.Status == metav1.ConditionFalse && c.ObservedGeneration == route.Generation {
			st.cause = c.Reason
			setCondition(route, llmv1alpha1.ConditionReady, metav1.ConditionFalse, llmv1alpha1.ReasonNotReady,
				fmt.Sprintf("%s is False: %s", typ, c.Message))
			return
		}
	}
	if st.conflict != "" {
		st.cause = llmv1alpha1.ReasonConflict
		setCondition(route, llmv1alpha1.ConditionReady, metav1.ConditionFalse, llmv1alpha1.ReasonConflict, st.conflict)
		return
	}
	if recErr != nil || !st.written {
		msg := "The ConfigMap and keys Secret are not written yet"
		if recErr != nil {
			msg = "Reconcile failed, retrying: " + recErr.Error()
		}
		st.cause = llmv1alpha1.ReasonNotReady
		setCondition(route, llmv1alpha1.ConditionReady, metav1.ConditionFalse, llmv1alpha1.ReasonNotReady, msg)
		return
	}
	setCondition(route, llmv1alpha1.ConditionReady, metav1.ConditionTrue, llmv1alpha1.ReasonConfigWritten,
		fmt.Sprintf("ConfigMap %s and Secret %s hold config %s", ConfigMapName(route.Name), KeysSecretName(route.Name), route.Status.ConfigHash))
}

// readyState is what the transition events are about.
type readyState struct {
	uid     types.UID
	status  metav1.ConditionStatus
	message string
	hash    string
}

func readyStateOf(route *llmv1alpha1.LLMRoute) readyState {
	s := readyState{uid: route.UID, status: metav1.ConditionUnknown, hash: route.Status.ConfigHash}
	if c := meta.FindStatusCondition(route.Status.Conditions, llmv1alpha1.ConditionReady); c != nil {
		s.status, s.message = c.Status, c.Message
	}
	return s
}

// recordTransition records an event when Ready changes, when the cause of a
// not-Ready route changes, and when a Ready route's config hash changes.
// A steady state records nothing, however often it is reconciled.
//
// The state before is the one this process last announced for the route,
// when it has one: the cached route a reconcile starts from can predate the
// status patch of the reconcile before it, and would announce the same
// transition twice.
func (r *LLMRouteReconciler) recordTransition(base, route *llmv1alpha1.LLMRoute, st *routeState) {
	key := client.ObjectKeyFromObject(route)
	was, now := readyStateOf(base), readyStateOf(route)
	if v, ok := r.announced.Load(key); ok && v.(readyState).uid == route.UID {
		was = v.(readyState)
	}
	r.announced.Store(key, now)

	switch {
	case now.status == metav1.ConditionTrue && was.status != metav1.ConditionTrue:
		r.record(route, corev1.EventTypeNormal, llmv1alpha1.ReasonConfigWritten,
			"Ready: ConfigMap %s and Secret %s hold config %s", ConfigMapName(route.Name), KeysSecretName(route.Name), now.hash)
	case now.status == metav1.ConditionTrue && was.hash != now.hash:
		r.record(route, corev1.EventTypeNormal, EventReasonConfigUpdated, "Config changed from %s to %s", was.hash, now.hash)
	case now.status == metav1.ConditionFalse && (was.status != metav1.ConditionFalse || was.message != now.message):
		r.record(route, corev1.EventTypeWarning, st.cause, "Not ready: %s", now.message)
	}
}
