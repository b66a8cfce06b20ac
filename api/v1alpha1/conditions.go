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

package v1alpha1

// Condition types an LLMRoute reports in status.conditions, each with the
// observedGeneration it was computed for.
const (
	// ConditionAccepted says whether the spec renders into a sidecar
	// configuration that the sidecar's own validation accepts.
	ConditionAccepted = "Accepted"
	// ConditionResolvedRefs says whether every Secret key the route
	// references (apiKeySecretRef, apiKeys, clientSecretRef) exists and can
	// be sent.
	ConditionResolvedRefs = "ResolvedRefs"
	// ConditionReady says whether the rendered ConfigMap and keys Secret are
	// written and current, so that injected sidecars run this generation.
	ConditionReady = "Ready"
)

// Condition reasons. A reason is CamelCase and says why a condition has its status.
const (
	// ReasonRendered (Accepted=True): the spec rendered into a valid sidecar configuration.
	ReasonRendered = "Rendered"
	// ReasonInvalidSpec (Accepted=False): the rendered configuration failed validation.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonSecretsResolved (ResolvedRefs=True): every referenced Secret key was read.
	ReasonSecretsResolved = "SecretsResolved"
	// ReasonSecretNotFound (ResolvedRefs=False): a referenced Secret does not exist.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonSecretKeyMissing (ResolvedRefs=False): a referenced Secret lacks the key.
	ReasonSecretKeyMissing = "SecretKeyMissing"
	// ReasonSecretKeyInvalid (ResolvedRefs=False): a referenced key holds
	// bytes an HTTP header cannot carry (control characters, line breaks
	// inside the key, non-ASCII).
	ReasonSecretKeyInvalid = "SecretKeyInvalid"
	// ReasonConfigWritten (Ready=True): the ConfigMap and keys Secret are up to date.
	ReasonConfigWritten = "ConfigWritten"
	// ReasonNotReady (Ready=False): Accepted or ResolvedRefs is not True.
	ReasonNotReady = "NotReady"
	// ReasonConflict (Ready=False): the ConfigMap or keys Secret the route
	// renders to exists and is not controlled by the route; it is left
	// untouched.
	ReasonConflict = "Conflict"
)
