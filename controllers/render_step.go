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

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
)

// render sets Accepted: whether the spec renders into a configuration the
// sidecar's validation accepts. The API server's schema refuses most bad
// specs first; this catches what it cannot express, and a sidecar schema that
// has moved on from the CRD.
func (r *LLMRouteReconciler) render(_ context.Context, route *llmv1alpha1.LLMRoute, st *routeState) error {
	cfg, err := Render(route)
	if err != nil {
		setCondition(route, llmv1alpha1.ConditionAccepted, metav1.ConditionFalse, llmv1alpha1.ReasonInvalidSpec,
			"The spec does not render into a valid sidecar configuration: "+err.Error())
		return nil
	}
	data, err := MarshalConfig(cfg)
	if err != nil {
		return fmt.Errorf("render LLMRoute %s/%s: %w", route.Namespace, route.Name, err)
	}
	st.config = data
	setCondition(route, llmv1alpha1.ConditionAccepted, metav1.ConditionTrue, llmv1alpha1.ReasonRendered,
		fmt.Sprintf("Rendered %d providers and %d rules", len(cfg.Providers), len(cfg.Rules)))
	return nil
}

// setCondition sets a condition for the route's current generation, and
// reports whether that changed it.
func setCondition(route *llmv1alpha1.LLMRoute, typ string, status metav1.ConditionStatus, reason, message string) bool {
	return meta.SetStatusCondition(&route.Status.Conditions, metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: route.Generation,
	})
}
