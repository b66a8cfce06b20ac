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

// Package controllers holds the llmroute operator: the LLMRoute reconciler,
// which renders each route into the sidecar's configuration (a ConfigMap) and
// keys (a Secret), and the pod webhook, which injects the sidecar that loads
// them.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
)

// LLMRouteReconciler renders LLMRoutes into ConfigMap llmroute-<route>
// (config.json) and Secret llmroute-<route>-keys (one key per provider), and
// reports in the route's status whether they are current.
type LLMRouteReconciler struct {
	client.Client
	Scheme *runtime.Scheme
	// Recorder receives an event when a route becomes Ready, stops being
	// Ready, or changes what its sidecars load; nil records none.
	Recorder events.EventRecorder

	// announced holds, per route, the readyState its last events announced.
	announced sync.Map // client.ObjectKey → readyState
}

// staleRequeueDelay is how long a reconcile that read a stale cached route
// waits before it tries again.
const staleRequeueDelay = 200 * time.Millisecond

// conflictRecheckInterval is how often a route in Conflict looks again: the
// object in the way may be one the cache does not hold (a ConfigMap without
// the operator's label), so its removal brings no event.
const conflictRecheckInterval = 30 * time.Second

// routeState is what one reconcile learns, handed from step to step.
type routeState struct {
	// config is the rendered config.json; nil when the spec did not render.
	config []byte
	// keys maps provider names to their API keys; nil while a reference is
	// unresolved.
	keys map[string][]byte
	// written is set once the ConfigMap and Secret hold config and keys.
	written bool
	// conflict, when set, says which object of the route's names exists
	// without this route as its controller, so nothing was written.
	conflict string
	// cause is the reason of the first condition that keeps the route from
	// being Ready, for the event that says so.
	cause string
}

// reconcileStep is one stage of a reconcile. It records what it found in the
// route's conditions and in st; an error means "retry with backoff", so a
// problem only the user can fix (a bad spec, a missing Secret) is a condition,
// not an error.
type reconcileStep func(ctx context.Context, route *llmv1alpha1.LLMRoute, st *routeState) error

// Why list and watch on Secrets: the controller watches the Secrets that
// routes reference (metadata only), so that rotating a key in one reaches the
// keys Secret without touching the LLMRoute. Secret and ConfigMap contents are
// read from the API server, never cached (see Options.ManagerOptions).
// Why update on llmroutes/finalizers: the rendered objects' owner reference
// sets blockOwnerDeletion, which the API server allows only to whoever may
// set finalizers on the owner (OwnerReferencesPermissionEnforcement).
//
// +kubebuilder:rbac:groups=llm.osmen.ai,resources=llmroutes,verbs=get;list;watch
// +kubebuilder:rbac:groups=llm.osmen.ai,resources=llmroutes/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=llm.osmen.ai,resources=llmroutes/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=configmaps;secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile renders one LLMRoute: render the spec (Accepted), resolve the
// referenced keys (ResolvedRefs), write the ConfigMap and Secret, and, in one
// deferred step, summarise Ready and patch the status.
func (r *LLMRouteReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	route := &llmv1alpha1.LLMRoute{}
	if err := r.Get(ctx, req.NamespacedName, route); err != nil {
		if apierrors.IsNotFound(err) {
			r.announced.Delete(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !route.DeletionTimestamp.IsZero() {
		// The garbage collector deletes the owned ConfigMap and Secret.
		return ctrl.Result{}, nil
	}

	base := route.DeepCopy()
	st := &routeState{}
	defer func() {
		err := r.summarizeAndPatch(ctx, base, route, st, retErr)
		if errors.Is(err, errStaleRoute) && retErr == nil {
			// Not a failure: the cache catches up within moments.
			result, err = ctrl.Result{RequeueAfter: staleRequeueDelay}, nil
		}
		retErr = errors.Join(retErr, err)
	}()

	for _, step := range []reconcileStep{r.render, r.resolveKeys, r.write} {
		if err := step(ctx, route, st); err != nil {
			return ctrl.Result{}, err
		}
	}
	if st.conflict != "" {
		return ctrl.Result{RequeueAfter: conflictRecheckInterval}, nil
	}
	return ctrl.Result{}, nil
}

// SetupWithManager registers the controller: it reconciles a route when its
// spec changes, when one of its rendered objects is edited or deleted (Owns),
// and when a Secret it references changes.
func (r *LLMRouteReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &llmv1alpha1.LLMRoute{}, SecretRefIndex, secretRefNames); err != nil {
		return fmt.Errorf("index LLMRoutes by referenced Secret: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		// Status patches do not bump the generation: skip our own writes.
		For(&llmv1alpha1.LLMRoute{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Metadata is enough to know that something changed; the objects
		// themselves are read from the API server when reconciling.
		Owns(&corev1.ConfigMap{}, builder.OnlyMetadata).
		Owns(&corev1.Secret{}, builder.OnlyMetadata).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.routesForSecret)).
		Named("llmroute").
		Complete(r)
}

// record emits an event on route when a recorder is set.
func (r *LLMRouteReconciler) record(route *llmv1alpha1.LLMRoute, eventType, reason, note string, args ...any) {
	if r.Recorder == nil {
		return
	}
	r.Recorder.Eventf(route, nil, eventType, reason, "Reconcile", note, args...)
}
