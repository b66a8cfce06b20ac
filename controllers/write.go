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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
)

// write brings ConfigMap llmroute-<route> and Secret llmroute-<route>-keys to
// the rendered config and keys, creating them or updating them in place when
// their content differs, and records the config hash. While the spec is not
// accepted or a reference is unresolved it writes nothing: the pods keep the
// last good configuration.
func (r *LLMRouteReconciler) write(ctx context.Context, route *llmv1alpha1.LLMRoute, st *routeState) error {
	if st.config == nil || st.keys == nil {
		return nil
	}
	log := logf.FromContext(ctx)

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName(route.Name), Namespace: route.Namespace}}
	op, err := controllerutil.CreateOrUpdate(ctx, r.Client, cm, func() error {
		setManagedLabels(&cm.ObjectMeta)
		cm.Data = map[string]string{ConfigKey: string(st.config)}
		cm.BinaryData = nil
		return controllerutil.SetControllerReference(route, cm, r.Scheme)
	})
	if err != nil {
		return fmt.Errorf("write ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	if op != controllerutil.OperationResultNone {
		log.Info("Wrote ConfigMap", "configMap", cm.Name, "operation", op)
	}

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: KeysSecretName(route.Name), Namespace: route.Namespace}}
	op, err = controllerutil.CreateOrUpdate(ctx, r.Client, secret, func() error {
		setManagedLabels(&secret.ObjectMeta)
		if secret.Type == "" {
			secret.Type = corev1.SecretTypeOpaque
		}
		secret.Data = st.keys
		secret.StringData = nil
		return controllerutil.SetControllerReference(route, secret, r.Scheme)
	})
	if err != nil {
		return fmt.Errorf("write Secret %s/%s: %w", secret.Namespace, secret.Name, err)
	}
	if op != controllerutil.OperationResultNone {
		log.Info("Wrote keys Secret", "secret", secret.Name, "operation", op)
	}

	st.written = true
	route.Status.ConfigHash = configHash(st.config, secret)
	return nil
}

func setManagedLabels(m *metav1.ObjectMeta) {
	if m.Labels == nil {
		m.Labels = map[string]string{}
	}
	m.Labels[ManagedByLabel] = ManagedByValue
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
