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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
)

// write brings ConfigMap llmroute-<route> and Secret llmroute-<route>-keys to
// the rendered config and keys, creating them or updating them in place when
// their content differs, and records the config hash. While the spec is not
// accepted or a reference is unresolved it writes nothing: the pods keep the
// last good configuration.
//
// It never takes over an object this route does not control: a ConfigMap or
// Secret of that name that exists without this route as its controller
// (someone else's, or left behind) is left untouched and reported in
// st.conflict. Both are checked before either is written, so that a route
// never half-owns its pair.
func (r *LLMRouteReconciler) write(ctx context.Context, route *llmv1alpha1.LLMRoute, st *routeState) error {
	if st.config == nil || st.keys == nil {
		return nil
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName(route.Name), Namespace: route.Namespace}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: KeysSecretName(route.Name), Namespace: route.Namespace}}
	rendered := []struct {
		kind   string
		obj    client.Object
		exists bool
		mutate func()
	}{
		{kind: "ConfigMap", obj: cm, mutate: func() {
			cm.Data = map[string]string{ConfigKey: string(st.config)}
			cm.BinaryData = nil
		}},
		{kind: "Secret", obj: secret, mutate: func() {
			if secret.Type == "" {
				secret.Type = corev1.SecretTypeOpaque
			}
			secret.Data = st.keys
			secret.StringData = nil
		}},
	}

	var conflicts []string
	for i := range rendered {
		o := &rendered[i]
		err := r.Get(ctx, client.ObjectKeyFromObject(o.obj), o.obj)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return fmt.Errorf("get %s %s/%s: %w", o.kind, route.Namespace, o.obj.GetName(), err)
		}
		o.exists = true
		if !metav1.IsControlledBy(o.obj, route) {
			conflicts = append(conflicts, fmt.Sprintf("%s %q exists and %s", o.kind, o.obj.GetName(), controlledBy(o.obj)))
		}
	}
	if len(conflicts) > 0 {
		st.conflict = strings.Join(conflicts, "; ") + ": it is left untouched. Delete or rename it, or give the route another name"
		return nil
	}

	for _, o := range rendered {
		if err := r.writeOwned(ctx, route, o.kind, o.obj, o.exists, o.mutate); err != nil {
			return err
		}
	}
	st.written = true
	route.Status.ConfigHash = configHash(st.config, secret)
	return nil
}

// writeOwned creates obj controlled by route, or, when it exists (obj holds
// the live object), updates it if mutate changed anything.
func (r *LLMRouteReconciler) writeOwned(ctx context.Context, route *llmv1alpha1.LLMRoute, kind string, obj client.Object, exists bool, mutate func()) error {
	before := obj.DeepCopyObject()
	mutate()
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[ManagedByLabel] = ManagedByValue
	obj.SetLabels(labels)
	if err := controllerutil.SetControllerReference(route, obj, r.Scheme); err != nil {
		return fmt.Errorf("own %s %s/%s: %w", kind, obj.GetNamespace(), obj.GetName(), err)
	}

	op := "created"
	var err error
	switch {
	case !exists:
		err = r.Create(ctx, obj)
	case equality.Semantic.DeepEqual(before, obj):
		return nil
	default:
		op = "updated"
		err = r.Update(ctx, obj)
	}
	if err != nil {
		return fmt.Errorf("write %s %s/%s: %w", kind, obj.GetNamespace(), obj.GetName(), err)
	}
	logf.FromContext(ctx).Info("Wrote "+kind, "name", obj.GetName(), "operation", op)
	return nil
}

// controlledBy says who controls obj, for a conflict message.
func controlledBy(obj client.Object) string {
	ref := metav1.GetControllerOf(obj)
	if ref == nil {
		return "has no controller"
	}
	return fmt.Sprintf("is controlled by %s %q (uid %s)", ref.Kind, ref.Name, ref.UID)
}

// configHash is a short hash of what the sidecars load: the rendered config,
// and the keys Secret by identity and version (uid and resourceVersion),
// never by content. A hash of key bytes, shown in status and events, would
// let anyone who may read a route guess a short key offline. The keys
// Secret's resourceVersion changes whenever it is written, which the
// operator does when the keys change (and to repair a hand edit), so the hash
// still changes whenever the sidecars' files do.
func configHash(config []byte, keys metav1.Object) string {
	h := sha256.New()
	h.Write(config)
	// NUL separators: neither a uid nor a resourceVersion contains one.
	h.Write([]byte{0})
	h.Write([]byte(keys.GetUID()))
	h.Write([]byte{0})
	h.Write([]byte(keys.GetResourceVersion()))
	return hex.EncodeToString(h.Sum(nil))[:16]
}
