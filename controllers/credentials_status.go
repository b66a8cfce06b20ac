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
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

// Defaults of CredentialsReconciler.
const (
	// DefaultCredentialsCheckInterval is how often a route with running pods
	// is checked.
	DefaultCredentialsCheckInterval = time.Minute
	// DefaultCredentialsSampleSize is how many of a route's pods are asked at
	// most.
	DefaultCredentialsSampleSize = 10
)

// EventReasonCredentialsRecovered is the reason of the event a route records
// when its credentials are usable again after CredentialsHealthy was False.
const EventReasonCredentialsRecovered = "CredentialsRecovered"

// maxFindings bounds how many failing credentials a condition message names.
const maxFindings = 8

// CredentialsReconciler sets each LLMRoute's CredentialsHealthy condition
// from what the sidecars of its pods report: the gauge config.CredentialStateMetric
// on their admin port, read from a sample of the route's running pods about
// once a minute. A failing credential is named by its provider and its Secret
// name and key (or its kind: a projected token, an OAuth2 client), with how
// many of the sampled pods report it; never by value, and only credentials
// the route itself names are reported, whatever a pod's endpoint answers.
//
// It is a controller of its own, beside LLMRouteReconciler, so that slow or
// unreachable pods never delay rendering a route.
type CredentialsReconciler struct {
	client.Client
	// Recorder receives an event when a credential starts failing, when every
	// credential is usable again, and when the pods cannot be reached; nil
	// records none.
	Recorder events.EventRecorder
	// Transport carries the scrapes to the pods; nil means
	// NewProbeTransport().
	Transport http.RoundTripper
	// Interval is how often a route with running pods is checked; zero means
	// DefaultCredentialsCheckInterval. Each wait is drawn from [0.9, 1.1] of
	// it, so that routes created together are not checked together.
	Interval time.Duration

	httpClient *http.Client
	initOnce   sync.Once
	// announced holds, per route, the credentialsState its last events
	// announced.
	announced sync.Map // client.ObjectKey → credentialsState
}

// The operator lists and watches the pods that carry RouteLabel (the cache
// holds their name, phase, IP and the sidecar's state only), to find whose
// sidecars to ask.
// +kubebuilder:rbac:groups="",resources=pods,verbs=list;watch

// Reconcile checks one route's credentials.
func (r *CredentialsReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	r.initOnce.Do(func() {
		transport := r.Transport
		if transport == nil {
			transport = NewProbeTransport()
		}
		r.httpClient = probeClient(transport)
	})

	route := &llmv1alpha1.LLMRoute{}
	if err := r.Get(ctx, req.NamespacedName, route); err != nil {
		if apierrors.IsNotFound(err) {
			r.announced.Delete(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !route.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}

	base := route.DeepCopy()
	c, running, err := r.check(ctx, route)
	if err != nil {
		return ctrl.Result{}, err
	}
	r.recordTransition(base, route, c)
	if setCondition(route, llmv1alpha1.ConditionCredentialsHealthy, c.status, c.reason, c.message) {
		patch := client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
		if err := r.Status().Patch(ctx, route, patch); err != nil {
			if apierrors.IsConflict(err) {
				// A cache older than the API server's copy: ask again soon.
				return ctrl.Result{RequeueAfter: staleRequeueDelay}, nil
			}
			return ctrl.Result{}, client.IgnoreNotFound(fmt.Errorf("patch status of LLMRoute %s/%s: %w", route.Namespace, route.Name, err))
		}
	}
	if !running {
		// Nothing to ask: a pod's start brings the route back.
		return ctrl.Result{}, nil
	}
	interval := cmp.Or(r.Interval, DefaultCredentialsCheckInterval)
	return ctrl.Result{RequeueAfter: time.Duration(float64(interval) * (0.9 + 0.2*rand.Float64()))}, nil
}

// check works out CredentialsHealthy for route, and reports whether the
// route has running pods to check again later.
func (r *CredentialsReconciler) check(ctx context.Context, route *llmv1alpha1.LLMRoute) (credentialsCondition, bool, error) {
	creds := routeCredentials(route)
	if len(creds) == 0 {
		return credentialsCondition{status: metav1.ConditionTrue, reason: llmv1alpha1.ReasonNoCredentials,
			message: "No provider of the route uses a credential"}, false, nil
	}

	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(route.Namespace), client.MatchingLabels{RouteLabel: route.Name}); err != nil {
		return credentialsCondition{}, false, fmt.Errorf("list the pods of LLMRoute %s/%s: %w", route.Namespace, route.Name, err)
	}
	candidates := slices.DeleteFunc(pods.Items, func(p corev1.Pod) bool { return !sidecarRunning(&p) })
	if len(candidates) == 0 {
		return credentialsCondition{status: metav1.ConditionUnknown, reason: llmv1alpha1.ReasonNoPods,
			message: fmt.Sprintf("No running pod labelled %s=%s has a started sidecar to report its credentials", RouteLabel, route.Name)}, false, nil
	}
	// The same pods each time while they live, so the message does not
	// change with the sample.
	slices.SortFunc(candidates, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	sample := candidates[:min(len(candidates), DefaultCredentialsSampleSize)]

	c := summarizeCredentials(creds, r.scrape(ctx, sample), len(candidates))
	if c.status == metav1.ConditionUnknown {
		logf.FromContext(ctx).V(1).Info("Could not read credential states", "reason", c.reason, "message", c.message)
	}
	return c, true, nil
}

// sidecarRunning reports whether pod runs with a started sidecar that can be
// asked on its pod IP.
func sidecarRunning(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" || !pod.DeletionTimestamp.IsZero() {
		return false
	}
	for _, s := range pod.Status.InitContainerStatuses {
		if s.Name == SidecarContainerName {
			return s.State.Running != nil && s.Started != nil && *s.Started
		}
	}
	return false
}

// podReport is what one sampled pod's sidecar said.
type podReport struct {
	pod    string
	states credentialStates
	err    error
}

// scrape asks every sampled pod at once, each within DefaultProbeTimeout.
func (r *CredentialsReconciler) scrape(ctx context.Context, pods []corev1.Pod) []podReport {
	reports := make([]podReport, len(pods))
	var wg sync.WaitGroup
	for i := range pods {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, DefaultProbeTimeout)
			defer cancel()
			states, err := scrapeCredentialStates(ctx, r.httpClient, metricsURL(pods[i].Status.PodIP))
			reports[i] = podReport{pod: pods[i].Name, states: states, err: err}
		})
	}
	wg.Wait()
	return reports
}

// routeCredential is one credential of a route, as the sidecar's gauge names
// it, with how a message says it.
type routeCredential struct {
	provider string
	key      string // the gauge's key label
	// describe says what the credential is, by reference, never by value.
	describe string
	// token: a credential that is a token rather than a static key.
	token bool
}

// routeCredentials lists the route's credentials in the order of its spec.
func routeCredentials(route *llmv1alpha1.LLMRoute) []routeCredential {
	var creds []routeCredential
	for i := range route.Spec.Providers {
		p := &route.Spec.Providers[i]
		for _, u := range providerSecretKeys(i, p) {
			switch u.role {
			case roleAPIKey:
				creds = append(creds, routeCredential{provider: p.Name, key: config.CredentialKindAPIKey,
					describe: fmt.Sprintf("the key in Secret %q key %q", u.Ref.Name, u.Ref.Key)})
			case roleAPIKeys:
				creds = append(creds, routeCredential{provider: p.Name, key: u.KeyName(),
					describe: fmt.Sprintf("the key in Secret %q key %q", u.Ref.Name, u.Ref.Key)})
			}
		}
		switch {
		case p.ServiceAccountToken != nil:
			creds = append(creds, routeCredential{provider: p.Name, key: config.CredentialKindToken, token: true,
				describe: fmt.Sprintf("the ServiceAccount token for audience %q", p.ServiceAccountToken.Audience)})
		case p.TokenFile != nil:
			creds = append(creds, routeCredential{provider: p.Name, key: config.CredentialKindToken, token: true,
				describe: fmt.Sprintf("the token file %q of volume %q", p.TokenFile.Path, p.TokenFile.Volume)})
		case p.OAuth2ClientCredentials != nil:
			o := p.OAuth2ClientCredentials
			how := ""
			if o.ClientSecretRef != nil {
				how = fmt.Sprintf(", client secret in Secret %q key %q", o.ClientSecretRef.Name, o.ClientSecretRef.Key)
			} else if o.ClientAssertion != nil {
				how = fmt.Sprintf(", asserted with the ServiceAccount token for audience %q", o.ClientAssertion.ServiceAccountToken.Audience)
			}
			creds = append(creds, routeCredential{provider: p.Name, key: config.CredentialKindOAuth2, token: true,
				describe: fmt.Sprintf("the OAuth2 token of client %q%s", o.ClientID, how)})
		case p.GoogleExternalAccount != nil:
			creds = append(creds, routeCredential{provider: p.Name, key: config.CredentialKindGoogle, token: true,
				describe: fmt.Sprintf("the Google token for %q", p.GoogleExternalAccount.Audience)})
		}
	}
	return creds
}

// credentialsCondition is what summarizeCredentials concludes.
type credentialsCondition struct {
	status  metav1.ConditionStatus
	reason  string
	message string
	// findings identify the failing credentials without counts, for events.
	findings string
}

// summarizeCredentials turns the sampled pods' reports into the condition.
// running is how many pods run the route's sidecar, sampled or not.
func summarizeCredentials(creds []routeCredential, reports []podReport, running int) credentialsCondition {
	answered, reporting := 0, 0
	var firstErr error
	for _, rep := range reports {
		if rep.err != nil {
			firstErr = cmp.Or(firstErr, fmt.Errorf("pod %s: %w", rep.pod, rep.err))
			continue
		}
		answered++
		if slices.ContainsFunc(creds, func(c routeCredential) bool { _, ok := rep.states[c.provider][c.key]; return ok }) {
			reporting++
		}
	}
	sampled := fmt.Sprintf("%d sampled pods", len(reports))
	if running > len(reports) {
		sampled += fmt.Sprintf(" (of %d running)", running)
	}
	switch {
	case answered == 0:
		return credentialsCondition{status: metav1.ConditionUnknown, reason: llmv1alpha1.ReasonMetricsUnreachable,
			message: fmt.Sprintf("None of the %s answered on the sidecar's metrics port %d (a NetworkPolicy may keep the operator out): %v",
				sampled, config.DefaultAdminPort, firstErr)}
	case reporting == 0:
		return credentialsCondition{status: metav1.ConditionUnknown, reason: llmv1alpha1.ReasonNotReported,
			message: fmt.Sprintf("The sidecars of %d of the %s report no state of the route's credentials (%s): "+
				"a sidecar image older than the operator's?", answered, sampled, config.CredentialStateMetric)}
	}

	type finding struct {
		cred  routeCredential
		state config.CredentialState
		pods  int
	}
	var found []finding
	for _, state := range []config.CredentialState{config.CredentialRefused, config.CredentialUnavailable} {
		for _, c := range creds {
			n := 0
			for _, rep := range reports {
				if v, ok := rep.states[c.provider][c.key]; ok && rep.err == nil && v == state {
					n++
				}
			}
			if n > 0 {
				found = append(found, finding{cred: c, state: state, pods: n})
			}
		}
	}
	notAnswered := ""
	if answered < len(reports) {
		notAnswered = fmt.Sprintf("; %d of the %s did not answer", len(reports)-answered, sampled)
	}
	if len(found) == 0 {
		return credentialsCondition{status: metav1.ConditionTrue, reason: llmv1alpha1.ReasonCredentialsUsable,
			message: fmt.Sprintf("The sidecars of %d of the %s can use every credential%s", reporting, sampled, notAnswered)}
	}

	reason := llmv1alpha1.ReasonTokenUnavailable
	var msgs, ids []string
	for i, f := range found {
		if f.state == config.CredentialRefused {
			reason = llmv1alpha1.ReasonKeyRefused
		}
		ids = append(ids, fmt.Sprintf("%s/%s=%d", f.cred.provider, f.cred.key, f.state))
		if i == maxFindings {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(found)-maxFindings))
			continue
		} else if i > maxFindings {
			continue
		}
		what := "could not be obtained"
		if f.state == config.CredentialRefused {
			what = "was refused (401/403)"
			if !f.cred.token {
				what += " and is set aside until its Secret changes"
			}
		}
		msgs = append(msgs, fmt.Sprintf("provider %q: %s %s in %d of %d pods", f.cred.provider, f.cred.describe, what, f.pods, reporting))
	}
	return credentialsCondition{status: metav1.ConditionFalse, reason: reason,
		message:  strings.Join(msgs, "; ") + notAnswered,
		findings: strings.Join(ids, ",")}
}

// credentialsState is what the credential events are about.
type credentialsState struct {
	uid      types.UID
	status   metav1.ConditionStatus
	reason   string
	findings string
}

// recordTransition records an event when a credential starts failing or a
// different one fails, when every credential is usable again after a
// failure, and when the pods become unreachable. Counts and a steady state
// record nothing.
//
// The state before is the one this process last announced for the route:
// the cached route can predate the status patch of the check before. A
// process that announced nothing yet (it just started, or took over as
// leader) starts from the route's status, so that a restart repeats no event.
func (r *CredentialsReconciler) recordTransition(base, route *llmv1alpha1.LLMRoute, c credentialsCondition) {
	now := credentialsState{uid: route.UID, status: c.status, reason: c.reason, findings: c.findings}
	key := client.ObjectKeyFromObject(route)
	var was credentialsState
	if v, ok := r.announced.Load(key); ok && v.(credentialsState).uid == route.UID {
		was = v.(credentialsState)
	} else if old := meta.FindStatusCondition(base.Status.Conditions, llmv1alpha1.ConditionCredentialsHealthy); old != nil {
		was = credentialsState{uid: route.UID, status: old.Status, reason: old.Reason}
		if old.Message == c.message {
			was.findings = now.findings
		}
	}
	r.announced.Store(key, now)
	if r.Recorder == nil {
		return
	}
	switch {
	case now.status == metav1.ConditionFalse && (was.status != metav1.ConditionFalse || was.findings != now.findings):
		r.Recorder.Eventf(route, nil, corev1.EventTypeWarning, now.reason, "CheckCredentials", "%s", c.message)
	case now.status == metav1.ConditionTrue && was.status == metav1.ConditionFalse:
		r.Recorder.Eventf(route, nil, corev1.EventTypeNormal, EventReasonCredentialsRecovered, "CheckCredentials", "%s", c.message)
	case now.reason == llmv1alpha1.ReasonMetricsUnreachable && was.reason != now.reason:
		r.Recorder.Eventf(route, nil, corev1.EventTypeWarning, now.reason, "CheckCredentials", "%s", c.message)
	}
}

// SetupWithManager registers the controller: it checks a route when its spec
// changes, when one of its pods starts, stops or moves, and every Interval
// while the route has running pods.
func (r *CredentialsReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&llmv1alpha1.LLMRoute{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(routeOfPod), builder.WithPredicates(podProbeChanged)).
		// Scrapes wait on the network, not the CPU: a few at once keep one
		// slow namespace from holding up the others.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Named("llmroute-credentials").
		Complete(r)
}

// routeOfPod maps a pod to the route its label names.
func routeOfPod(_ context.Context, pod client.Object) []reconcile.Request {
	name := pod.GetLabels()[RouteLabel]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: pod.GetNamespace(), Name: name}}}
}

// podProbeChanged passes the pod events that change whether or where its
// sidecar can be asked.
var podProbeChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, ok1 := e.ObjectOld.(*corev1.Pod)
		cur, ok2 := e.ObjectNew.(*corev1.Pod)
		if !ok1 || !ok2 {
			return true
		}
		return sidecarRunning(old) != sidecarRunning(cur) || old.Status.PodIP != cur.Status.PodIP ||
			old.Labels[RouteLabel] != cur.Labels[RouteLabel]
	},
}
