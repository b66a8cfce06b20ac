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
	"slices"
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
// Secret of the namespace by pointing a route at it and at their own host. The
// same holds for what the pod webhook gives the sidecar: a projected token of
// the pod's ServiceAccount, with the audience the route names, and a file of
// the pod's own volumes.
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
// create or on a spec change, that makes the operator or its pods do what the
// requesting user may not do: read a Secret they may not get, mint tokens of
// the namespace's ServiceAccounts when they may not create them, read a file
// of the namespace's pods when they may not exec into them.
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
	var problems []string
	for _, q := range accessQuestions(route) {
		var denied []string
		for _, a := range q.asks {
			attrs := a.attrs
			attrs.Namespace = namespace
			allowed, err := v.may(ctx, user, attrs)
			if err != nil {
				return fmt.Errorf("ask whether user %q may %s %s in namespace %q: %w", user.Username, q.verb, a.what, namespace, err)
			}
			if !allowed {
				denied = append(denied, fmt.Sprintf("%s (%s)", a.what, strings.Join(a.fields, ", ")))
			}
		}
		if len(denied) > 0 {
			problems = append(problems, fmt.Sprintf("user %q may not %s %s in namespace %q: %s",
				user.Username, q.verb, strings.Join(denied, " or "), namespace, q.why))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return apierrors.NewForbidden(llmv1alpha1.GroupVersion.WithResource("llmroutes").GroupResource(), route.Name,
		errors.New(strings.Join(problems, "; ")))
}

// accessQuestion is one kind of thing a route makes the operator or its
// pods do on its author's behalf, asked once per object it concerns.
type accessQuestion struct {
	// verb is the right as a message says it: get, create, exec into.
	verb string
	asks []accessAsk
	// why says why the author must be allowed to do it themselves.
	why string
}

type accessAsk struct {
	attrs authorizationv1.ResourceAttributes
	// what is the object, as a message says it: Secret "creds".
	what string
	// fields are the route's fields that need it.
	fields []string
}

// accessQuestions lists what the route's author must be allowed to do:
//   - get every Secret it references (the operator copies the keys to the
//     route's pods, which send them to the route's endpoints);
//   - create tokens of any ServiceAccount of the namespace, when a provider
//     has the pod webhook project one (any pod of the namespace, whatever
//     its ServiceAccount, may use the route, and sends the token, with the
//     audience the route chose, to the route's endpoints);
//   - exec into any pod of the namespace, when a provider reads a token from
//     a pod's volume (the sidecar sends that file's content to the route's
//     baseURL: exec is the right that reads a pod's files).
func accessQuestions(route *llmv1alpha1.LLMRoute) []accessQuestion {
	secrets := accessQuestion{verb: "get", why: "an LLMRoute may reference only Secrets its author may read, " +
		"because its pods send the key to the route's baseURL"}
	for _, u := range secretKeyUses(route) {
		what := fmt.Sprintf("Secret %q", u.Ref.Name)
		i := slices.IndexFunc(secrets.asks, func(a accessAsk) bool { return a.what == what })
		if i < 0 {
			secrets.asks = append(secrets.asks, accessAsk{
				attrs: authorizationv1.ResourceAttributes{Verb: "get", Resource: "secrets", Name: u.Ref.Name},
				what:  what,
			})
			i = len(secrets.asks) - 1
		}
		secrets.asks[i].fields = append(secrets.asks[i].fields, u.Field)
	}

	tokens := accessAsk{
		attrs: authorizationv1.ResourceAttributes{Verb: "create", Resource: "serviceaccounts", Subresource: "token"},
		what:  "ServiceAccount tokens",
	}
	files := accessAsk{
		attrs: authorizationv1.ResourceAttributes{Verb: "create", Resource: "pods", Subresource: "exec"},
		what:  "pods",
	}
	for i := range route.Spec.Providers {
		p := &route.Spec.Providers[i]
		if _, field := projectedToken(p); field != "" {
			tokens.fields = append(tokens.fields, fmt.Sprintf("spec.providers[%d].%s", i, field))
		}
		if p.TokenFile != nil {
			files.fields = append(files.fields, fmt.Sprintf("spec.providers[%d].tokenFile", i))
		}
	}

	questions := []accessQuestion{secrets}
	if len(tokens.fields) > 0 {
		questions = append(questions, accessQuestion{verb: "create", asks: []accessAsk{tokens},
			why: "a route that projects ServiceAccount tokens makes its pods send tokens of their ServiceAccount, " +
				"for the audience it names, to its endpoints, so its author must be allowed to create such tokens"})
	}
	if len(files.fields) > 0 {
		questions = append(questions, accessQuestion{verb: "exec into", asks: []accessAsk{files},
			why: "a route that reads a token file from a pod's volume makes the sidecar send that file to its baseURL, " +
				"so its author must be allowed to read the namespace's pods' files"})
	}
	return questions
}

// may asks the API server whether user may do what attrs say.
func (v *RouteValidator) may(ctx context.Context, user authenticationv1.UserInfo, attrs authorizationv1.ResourceAttributes) (bool, error) {
	review := &authorizationv1.LocalSubjectAccessReview{}
	review.Namespace = attrs.Namespace
	review.Spec = authorizationv1.SubjectAccessReviewSpec{
		ResourceAttributes: &attrs,
		User:               user.Username,
		Groups:             user.Groups,
		UID:                user.UID,
	}
	if len(user.Extra) > 0 {
		review.Spec.Extra = make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, val := range user.Extra {
			review.Spec.Extra[k] = authorizationv1.ExtraValue(val)
		}
	}
	if err := v.Client.Create(ctx, review); err != nil {
		return false, err
	}
	return review.Status.Allowed, nil
}
