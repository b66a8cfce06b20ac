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
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
)

// reviewer answers LocalSubjectAccessReviews from a table of the Secrets each
// user may get and the namespace-wide rights ("create serviceaccounts/token",
// "create pods/exec") each has, and keeps the reviews it was asked.
type reviewer struct {
	readable map[string][]string // user -> Secret names
	rights   map[string][]string // user -> "<verb> <resource>/<subresource>"
	err      error
	asked    []authorizationv1.LocalSubjectAccessReview
}

// question is what a review asked about: a Secret's name, or the right.
func question(r authorizationv1.LocalSubjectAccessReview) string {
	a := r.Spec.ResourceAttributes
	if a.Resource == "secrets" {
		return a.Name
	}
	return a.Verb + " " + a.Resource + "/" + a.Subresource
}

func (r *reviewer) client(t *testing.T) client.Client {
	return fake.NewClientBuilder().WithScheme(newScheme(t)).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			review, ok := obj.(*authorizationv1.LocalSubjectAccessReview)
			if !ok {
				return c.Create(ctx, obj, opts...)
			}
			if r.err != nil {
				return r.err
			}
			r.asked = append(r.asked, *review.DeepCopy())
			attrs := review.Spec.ResourceAttributes
			switch {
			case attrs == nil || attrs.Group != "" || attrs.Namespace != review.Namespace:
			case attrs.Resource == "secrets":
				review.Status.Allowed = attrs.Verb == "get" && attrs.Subresource == "" && slices.Contains(r.readable[review.Spec.User], attrs.Name)
			default:
				// A right on every object of the namespace: no name.
				review.Status.Allowed = attrs.Name == "" && slices.Contains(r.rights[review.Spec.User], question(*review))
			}
			return nil
		},
	}).Build()
}

func requestBy(user authenticationv1.UserInfo, op admissionv1.Operation) context.Context {
	return admission.NewContextWithRequest(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Namespace: testNS, Operation: op, UserInfo: user,
	}})
}

func TestRouteValidator(t *testing.T) {
	alice := authenticationv1.UserInfo{
		Username: "alice", UID: "uid-alice", Groups: []string{"team-a", "system:authenticated"},
		Extra: map[string]authenticationv1.ExtraValue{"scopes": {"read"}},
	}
	shared := func(name string) llmv1alpha1.Provider { return keyed(name, "shared") }
	local := llmv1alpha1.Provider{Name: "local", Type: llmv1alpha1.ProviderOllama}

	tests := []struct {
		name      string
		readable  []string
		rights    []string
		route     *llmv1alpha1.LLMRoute
		old       *llmv1alpha1.LLMRoute // an update when set
		watch     []string
		wantAsked []string // Secret names, in order
		wantErr   []string
	}{
		{
			name:      "every referenced Secret readable",
			readable:  []string{"creds", "shared"},
			route:     newRoute("r", keyed("openai", "creds"), shared("a"), shared("b"), local),
			wantAsked: []string{"creds", "shared"},
		},
		{
			name:      "one Secret not readable: refused, naming it and its field",
			readable:  []string{"creds"},
			route:     newRoute("r", keyed("openai", "creds"), shared("a"), local, shared("b")),
			wantAsked: []string{"creds", "shared"},
			wantErr: []string{`user "alice" may not get Secret "shared" (spec.providers[1].apiKeySecretRef, spec.providers[3].apiKeySecretRef)`,
				`namespace "agents"`},
		},
		{
			name:      "none readable: every one named",
			route:     newRoute("r", keyed("openai", "creds"), shared("a")),
			wantAsked: []string{"creds", "shared"},
			wantErr:   []string{`Secret "creds" (spec.providers[0].apiKeySecretRef) or Secret "shared" (spec.providers[1].apiKeySecretRef)`},
		},
		{
			name:  "no Secret referenced",
			route: newRoute("r", local),
		},
		{
			name:  "a namespace the operator does not watch",
			route: newRoute("r", keyed("openai", "creds")),
			watch: []string{"other"},
		},
		{
			name:      "a spec change is checked whatever changed: a new baseURL redirects the keys",
			route:     withBaseURL(newRoute("r", keyed("openai", "creds")), "https://collector.example.com/v1"),
			old:       newRoute("r", keyed("openai", "creds")),
			wantAsked: []string{"creds"},
			wantErr:   []string{`Secret "creds"`},
		},
		{
			// Each kind of reference is checked: without it a user could
			// reach a Secret through apiKeys or a client secret.
			name:      "a Secret referenced by apiKeys only",
			readable:  []string{"creds"},
			route:     newRoute("r", keyed("openai", "creds"), pooled("pool", "creds", "a"), pooled("more", "team-keys", "a", "b")),
			wantAsked: []string{"creds", "team-keys"},
			wantErr: []string{`user "alice" may not get Secret "team-keys" (spec.providers[2].apiKeys[0].secretRef, spec.providers[2].apiKeys[1].secretRef)`,
				"its pods send the key to the route's baseURL"},
		},
		{
			name:      "a Secret referenced by a client secret only",
			readable:  []string{"creds"},
			route:     newRoute("r", keyed("openai", "creds"), clientSecret("sso", "sso-client", "secret")),
			wantAsked: []string{"creds", "sso-client"},
			wantErr:   []string{`may not get Secret "sso-client" (spec.providers[1].oauth2ClientCredentials.clientSecretRef)`},
		},
		{
			name:      "every kind of Secret reference readable",
			readable:  []string{"creds", "team-keys", "sso-client"},
			route:     newRoute("r", pooled("pool", "team-keys", "a"), clientSecret("sso", "sso-client", "secret"), keyed("openai", "creds")),
			wantAsked: []string{"team-keys", "sso-client", "creds"},
		},
		{
			name: "projected ServiceAccount tokens: the author must be allowed to create them",
			route: newRoute("r", tokened("gateway"), assertion(), google(),
				llmv1alpha1.Provider{Name: "local", Type: llmv1alpha1.ProviderOllama}),
			wantAsked: []string{"create serviceaccounts/token"},
			wantErr: []string{`user "alice" may not create ServiceAccount tokens (spec.providers[0].serviceAccountToken, ` +
				`spec.providers[1].oauth2ClientCredentials.clientAssertion.serviceAccountToken, ` +
				`spec.providers[2].googleExternalAccount.serviceAccountToken) in namespace "agents"`},
		},
		{
			name:      "projected ServiceAccount tokens, allowed",
			rights:    []string{"create serviceaccounts/token"},
			route:     newRoute("r", tokened("gateway")),
			wantAsked: []string{"create serviceaccounts/token"},
		},
		{
			name:      "a token file in a pod's volume: the author must be allowed to exec into pods",
			rights:    []string{"create serviceaccounts/token"},
			route:     newRoute("r", tokenFiled("vault"), tokened("gateway")),
			wantAsked: []string{"create serviceaccounts/token", "create pods/exec"},
			wantErr:   []string{`user "alice" may not exec into pods (spec.providers[0].tokenFile) in namespace "agents"`, "pods' files"},
		},
		{
			name:      "a token file, allowed",
			rights:    []string{"create pods/exec"},
			route:     newRoute("r", tokenFiled("vault")),
			wantAsked: []string{"create pods/exec"},
		},
		{
			name:      "every problem at once",
			route:     newRoute("r", keyed("openai", "creds"), tokened("gateway"), tokenFiled("vault")),
			wantAsked: []string{"creds", "create serviceaccounts/token", "create pods/exec"},
			wantErr:   []string{`get Secret "creds"`, "; user \"alice\" may not create ServiceAccount tokens", "; user \"alice\" may not exec into pods"},
		},
		{
			name: "a metadata change is not checked",
			route: func() *llmv1alpha1.LLMRoute {
				r := newRoute("r", keyed("openai", "creds"))
				r.Labels = map[string]string{"team": "a"}
				return r
			}(),
			old: newRoute("r", keyed("openai", "creds")),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rv := &reviewer{readable: map[string][]string{"alice": tt.readable}, rights: map[string][]string{"alice": tt.rights}}
			v := &RouteValidator{Client: rv.client(t), WatchNamespaces: tt.watch}
			var err error
			if tt.old != nil {
				_, err = v.ValidateUpdate(requestBy(alice, admissionv1.Update), tt.old, tt.route)
			} else {
				_, err = v.ValidateCreate(requestBy(alice, admissionv1.Create), tt.route)
			}

			var asked []string
			for _, r := range rv.asked {
				asked = append(asked, question(r))
				// The review is about the requesting user, all of them.
				if r.Spec.User != alice.Username || r.Spec.UID != alice.UID || !slices.Equal(r.Spec.Groups, alice.Groups) ||
					!reflect.DeepEqual(r.Spec.Extra, map[string]authorizationv1.ExtraValue{"scopes": {"read"}}) {
					t.Errorf("review spec = %+v, want alice's user, uid, groups and extra", r.Spec)
				}
				if r.Namespace != testNS {
					t.Errorf("review in namespace %q, want %q", r.Namespace, testNS)
				}
			}
			if !slices.Equal(asked, tt.wantAsked) {
				t.Errorf("asked about %v, want %v", asked, tt.wantAsked)
			}

			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !apierrors.IsForbidden(err) {
				t.Fatalf("error = %v, want Forbidden", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func withBaseURL(r *llmv1alpha1.LLMRoute, url string) *llmv1alpha1.LLMRoute {
	r.Spec.Providers[0].BaseURL = url
	return r
}

// TestRouteValidatorFailsClosed guards against admitting a route when the
// API server cannot say whether its author may read the Secret.
func TestRouteValidatorFailsClosed(t *testing.T) {
	rv := &reviewer{err: apierrors.NewServiceUnavailable("authorizer down")}
	v := &RouteValidator{Client: rv.client(t)}
	_, err := v.ValidateCreate(requestBy(authenticationv1.UserInfo{Username: "alice"}, admissionv1.Create),
		newRoute("r", keyed("openai", "creds")))
	if err == nil || !strings.Contains(err.Error(), "authorizer down") || !strings.Contains(err.Error(), `"creds"`) {
		t.Fatalf("error = %v, want a refusal carrying the API error", err)
	}
	if _, err := v.ValidateCreate(context.Background(), newRoute("r", keyed("openai", "creds"))); err == nil {
		t.Error("a route without an admission request, so without a user, was admitted")
	}
}

// TestEnvRouteWebhookChecksSecretAccess: a user who may edit LLMRoutes but
// not read Secrets cannot make the operator read one for them.
func TestEnvRouteWebhookChecksSecretAccess(t *testing.T) {
	requireEnv(t)
	ns := newNamespace(t)
	ctx := testContext(t)
	createSecret(t, ns, "creds", "sk-victim")

	rules := map[string][]rbacv1.PolicyRule{
		"route-editor":  {{APIGroups: []string{llmv1alpha1.GroupVersion.Group}, Resources: []string{"llmroutes"}, Verbs: []string{"*"}}},
		"secret-reader": {{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}}},
		// What the built-in edit role grants beside the rest.
		"token-minter": {{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token", "pods/exec"}, Verbs: []string{"create"}}},
	}
	bind := map[string][]string{
		"mallory": {"route-editor"},
		"bob":     {"route-editor", "secret-reader"},
		"carol":   {"route-editor", "token-minter"},
	}
	for role, r := range rules {
		if err := k8sClient.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: role, Namespace: ns}, Rules: r}); err != nil {
			t.Fatal(err)
		}
	}
	for user, roles := range bind {
		for _, role := range roles {
			if err := k8sClient.Create(ctx, &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: user + "-" + role, Namespace: ns},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	as := func(user string) client.Client {
		c, err := client.New(impersonate(restConfig, user), client.Options{Scheme: k8sClient.Scheme()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	mallory, bob, carol := as("mallory"), as("bob"), as("carol")
	route := func(name, baseURL string) *llmv1alpha1.LLMRoute {
		r := newRoute(name, keyed("openai", "creds"))
		r.ObjectMeta = metav1.ObjectMeta{Name: name, Namespace: ns}
		r.Spec.Providers[0].BaseURL = baseURL
		return r
	}

	// Mallory can create routes, but not one that reads a Secret she cannot.
	err := mallory.Create(ctx, route("exfil", "https://collector.example.com/v1"))
	wantForbidden(t, err, `user "mallory" may not get Secret "creds" (spec.providers[0].apiKeySecretRef)`)
	if err := mallory.Create(ctx, &llmv1alpha1.LLMRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "local", Namespace: ns},
		Spec: llmv1alpha1.LLMRouteSpec{
			Providers: []llmv1alpha1.Provider{{Name: "local", Type: llmv1alpha1.ProviderOllama}},
			Rules:     []llmv1alpha1.Rule{{Backends: []string{"local"}}},
		},
	}); err != nil {
		t.Errorf("a route without a Secret was refused: %v", err)
	}

	// Nor through apiKeys.
	pool := newRoute("pool", pooled("openai", "creds", "api-key"))
	pool.ObjectMeta = metav1.ObjectMeta{Name: "pool", Namespace: ns}
	wantForbidden(t, mallory.Create(ctx, pool), `user "mallory" may not get Secret "creds" (spec.providers[0].apiKeys[0].secretRef)`)

	// Nor may she make pods send their ServiceAccount's tokens, or a file of
	// theirs, to her host; carol, who may mint tokens and exec, may.
	minted := func(name string) *llmv1alpha1.LLMRoute {
		r := newRoute(name, tokened("gateway"), tokenFiled("vault"))
		r.ObjectMeta = metav1.ObjectMeta{Name: name, Namespace: ns}
		return r
	}
	err = mallory.Create(ctx, minted("mint"))
	wantForbidden(t, err, `user "mallory" may not create ServiceAccount tokens (spec.providers[0].serviceAccountToken)`)
	wantForbidden(t, err, `user "mallory" may not exec into pods (spec.providers[1].tokenFile)`)
	if err := carol.Create(ctx, minted("mint")); err != nil {
		t.Errorf("carol, who may create tokens and exec, was refused: %v", err)
	}

	// Bob may read the Secret: his route is admitted and rendered.
	if err := bob.Create(ctx, route("chat", "")); err != nil {
		t.Fatalf("bob, who may read the Secret, was refused: %v", err)
	}
	waitReady(t, ns, "chat")

	// Mallory may not point bob's route elsewhere, but may label it.
	var stored llmv1alpha1.LLMRoute
	if err := mallory.Get(ctx, client.ObjectKey{Namespace: ns, Name: "chat"}, &stored); err != nil {
		t.Fatal(err)
	}
	redirected := stored.DeepCopy()
	redirected.Spec.Providers[0].BaseURL = "https://collector.example.com/v1"
	wantForbidden(t, mallory.Update(ctx, redirected), `Secret "creds"`)
	labelled := stored.DeepCopy()
	labelled.Labels = map[string]string{"team": "a"}
	if err := mallory.Update(ctx, labelled); err != nil {
		t.Errorf("a label change was refused: %v", err)
	}
	// And may delete it: deletion never depends on the webhook.
	if err := mallory.Delete(ctx, labelled); err != nil {
		t.Errorf("delete refused: %v", err)
	}
}

func wantForbidden(t *testing.T, err error, want string) {
	t.Helper()
	var status apierrors.APIStatus
	switch {
	case err == nil:
		t.Fatal("admitted")
	case !errors.As(err, &status) || status.Status().Code != http.StatusForbidden:
		t.Fatalf("error = %v, want 403 Forbidden", err)
	case !strings.Contains(err.Error(), want):
		t.Errorf("error %q does not contain %q", err, want)
	}
}
