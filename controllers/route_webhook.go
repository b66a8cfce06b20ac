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
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
)

// The operator reads every Secret a route references with its own rights, and
// the sidecar sends the key to the route's baseURL, which the route's author
// chooses. Without this check, anyone allowed to edit LLMRoutes could read any
// Secret of the namespace by pointing a route at it and at their own host.
//
// failurePolicy is Fail: with Ignore, making the webhook unreachable would be
// enough to get such a route through. The match condition sends only creates
// and spec changes, so deleting a route, labelling it or updating its status
// never depends on the operator being up.
// +kubebuilder:webhook:path=/validate-llm-osmen-ai-v1alpha1-llmroute,mutating=false,failurePolicy=fail,sideEffects=None,groups=llm.osmen.ai,resources=llmroutes,verbs=create;update,versions=v1alpha1,name=secret-access.llm.osmen.ai,admissionReviewVersions=v1,timeoutSeconds=10,matchPolicy=Equivalent,patch=`{"matchConditions":[{"name":"create-or-spec-change","expression":"request.operation != 'UPDATE' || object.spec != oldObject.spec"}]}`

// The webhook asks the API server, in the route's namespace, whether the
// requesting user may read each referenced Secret. A LocalSubjectAccessReview
// rather than a cluster-scoped SubjectAccessReview: a Role in each watched
// namespace can grant it, so the namespaced install needs no cluster-wide
// right for it.
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=localsubjectaccessreviews,verbs=create

// RouteValidator is the LLMRoute validating webhook: it refuses a route, on
// create or on a spec change, that references a Secret the requesting user
// may not get.
type RouteValidator struct {
	// Client creates the LocalSubjectAccessReviews.
	Client client.Client
	// WatchNamespaces are the namespaces whose routes are checked (those the
	// operator reconciles); empty means every namespace.
	WatchNamespaces []string
}

var _ admission.Validator[*llmv1alpha1.LLMRoute] = (*RouteValidator)(nil)

// SetupWithManager registers the webhook on the manager's webhook server at
// /validate-llm-osmen-ai-v1alpha1-llmroute.
func (v *RouteValidator) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &llmv1alpha1.LLMRoute{}).WithValidator(v).Complete()
}

// ValidateCreate checks the Secrets a new route references.
func (v *RouteValidator) ValidateCreate(ctx context.Context, route *llmv1alpha1.LLMRoute) (admission.Warnings, error) {
	return nil, v.check(ctx, route)
}

// ValidateUpdate checks the Secrets a changed spec references, all of them:
// changing only a baseURL redirects the keys of Secrets someone else chose.
// A change of metadata alone sends no key anywhere new and is not checked.
func (v *RouteValidator) ValidateUpdate(ctx context.Context, old, route *llmv1alpha1.LLMRoute) (admission.Warnings, error) {
	if equality.Semantic.DeepEqual(old.Spec, route.Spec) {
		return nil, nil
	}
	return nil, v.check(ctx, route)
}

// ValidateDelete allows every deletion.
func (v *RouteValidator) ValidateDelete(context.Context, *llmv1alpha1.LLMRoute) (admission.Warnings, error) {
	return nil, nil
}

func (v *RouteValidator) check(ctx context.Context, route *llmv1alpha1.LLMRoute) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return fmt.Errorf("no admission request to learn the user from: %w", err)
	}
	namespace := route.Namespace
	if namespace == "" {
		namespace = req.Namespace
	}
	if !watches(v.WatchNamespaces, namespace) {
		return nil
	}
	user := req.UserInfo
	var denied []string
	for _, name := range secretRefNames(route) {
		allowed, err := v.mayGetSecret(ctx, user, namespace, name)
		if err != nil {
			return err
		}
		if !allowed {
			denied = append(denied, fmt.Sprintf("Secret %q (%s)", name, strings.Join(refFields(route, name), ", ")))
		}
	}
	if len(denied) == 0 {
		return nil
	}
	return apierrors.NewForbidden(llmv1alpha1.GroupVersion.WithResource("llmroutes").GroupResource(), route.Name,
		fmt.Errorf("user %q may not get %s in namespace %q: an LLMRoute may reference only Secrets its author may read, "+
			"because its pods send the key to the route's baseURL", user.Username, strings.Join(denied, " or "), namespace))
}

// mayGetSecret asks the API server whether user may get Secret name in namespace.
func (v *RouteValidator) mayGetSecret(ctx context.Context, user authenticationv1.UserInfo, namespace, name string) (bool, error) {
	review := &authorizationv1.LocalSubjectAccessReview{}
	review.Namespace = namespace
	review.Spec = authorizationv1.SubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: namespace,
			Verb:      "get",
			Resource:  "secrets",
			Name:      name,
		},
		User:   user.Username,
		Groups: user.Groups,
		UID:    user.UID,
	}
	if len(user.Extra) > 0 {
		review.Spec.Extra = make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, val := range user.Extra {
			review.Spec.Extra[k] = authorizationv1.ExtraValue(val)
		}
	}
	if err := v.Client.Create(ctx, review); err != nil {
		return false, fmt.Errorf("ask whether user %q may get Secret %q in namespace %q: %w", user.Username, name, namespace, err)
	}
	return review.Status.Allowed, nil
}

// refFields names the fields of route that reference Secret name.
func refFields(route *llmv1alpha1.LLMRoute, name string) []string {
	var fields []string
	for i, p := range route.Spec.Providers {
		if p.APIKeySecretRef != nil && p.APIKeySecretRef.Name == name {
			fields = append(fields, fmt.Sprintf("spec.providers[%d].apiKeySecretRef", i))
		}
	}
	return fields
}
