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

// CredentialsHealthy says whether the sidecars of the route's pods can use
// every credential of the route, as they report it on their metrics endpoint
// (llmroute_credential_state). It is computed from a sample of the route's
// running pods, about once a minute, and names a failing credential by its
// Secret name and key or by its kind, never by value.
const ConditionCredentialsHealthy = "CredentialsHealthy"

// CredentialsHealthy reasons.
const (
	// ReasonCredentialsUsable (CredentialsHealthy=True): every sampled
	// sidecar can use every credential (a key cooling down after a 429
	// counts as usable: the others serve meanwhile).
	ReasonCredentialsUsable = "CredentialsUsable"
	// ReasonNoCredentials (CredentialsHealthy=True): no provider of the
	// route uses a credential; there is nothing to check.
	ReasonNoCredentials = "NoCredentials"
	// ReasonKeyRefused (CredentialsHealthy=False): a provider answered a
	// credential with 401 or 403; the sidecar sets a key aside until its
	// Secret changes.
	ReasonKeyRefused = "KeyRefused"
	// ReasonTokenUnavailable (CredentialsHealthy=False): a sidecar could not
	// obtain a token (the token endpoint is down or refuses the client, or a
	// token file is missing).
	ReasonTokenUnavailable = "TokenUnavailable"
	// ReasonNoPods (CredentialsHealthy=Unknown): no running pod with a
	// started sidecar uses the route.
	ReasonNoPods = "NoPods"
	// ReasonMetricsUnreachable (CredentialsHealthy=Unknown): no sampled
	// sidecar's metrics endpoint answered (a NetworkPolicy that keeps the
	// operator from the pods' admin port, say).
	ReasonMetricsUnreachable = "MetricsUnreachable"
	// ReasonNotReported (CredentialsHealthy=Unknown): the sampled sidecars
	// answered but report no credential state (a sidecar older than the
	// operator).
	ReasonNotReported = "NotReported"
)
