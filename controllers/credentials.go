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
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

// Where a provider's credentials come from and where the sidecar finds them.
// The renderer writes these paths into the config, the resolver fills the
// keys Secret under these names, the pod webhook mounts these volumes, and the
// LLMRoute webhook checks the references: all through the functions below, so
// that the config and the pod's mounts cannot disagree.

// The mount paths (config.TokensDir, config.PodVolumesDir) and the key labels
// of llmroute_credential_state (config.CredentialKind*; a key of apiKeys is
// labelled with its secretKeyUse's KeyName) are the sidecar's contract, in
// sidecar/config.

// secretKeyRole is what a referenced Secret key is to its provider.
type secretKeyRole int

const (
	roleAPIKey       secretKeyRole = iota // apiKeySecretRef
	roleAPIKeys                           // an entry of apiKeys
	roleClientSecret                      // oauth2ClientCredentials.clientSecretRef
)

// secretKeyUse is one Secret key a route references.
type secretKeyUse struct {
	role secretKeyRole
	// index is the entry's index in apiKeys (roleAPIKeys).
	index int
	// Field is the reference's path in the route, for messages:
	// spec.providers[0].apiKeys[1].secretRef.
	Field string
	// Provider is the name of the provider that uses the key.
	Provider string
	// Ref is the Secret and key, in the route's namespace.
	Ref llmv1alpha1.SecretKeyRef
	// File is the key's name in the rendered keys Secret, and so its file
	// under config.KeysDir.
	File string
}

// Path is the key's file in the sidecar.
func (u secretKeyUse) Path() string { return config.KeysDir + "/" + u.File }

// KeyName is how the sidecar names the key of an apiKeys entry in its logs,
// metrics and the route's status: "<secret>/<key>", never the value.
func (u secretKeyUse) KeyName() string { return u.Ref.Name + "/" + u.Ref.Key }

// providerSecretKeys lists the Secret keys provider i references, in the
// order of its fields.
//
// File names in the keys Secret are unique across the route and stable: a
// provider's single Secret-backed credential (apiKeySecretRef, or an OAuth2
// client secret) is the file named after the provider, as it always was; an
// apiKeys entry is "<provider>_<secret>_<key>", which depends on nothing but
// the reference, so adding, removing or reordering keys never renames another
// key's file (the kubelet updates the config and keys volumes separately, and
// a renamed file would be missing from one of them meanwhile). Neither a
// provider name nor a Secret name may contain "_", so the name splits one way
// only and never equals a bare provider name. A name too long for a Secret
// key (253) becomes "<provider>_<hash of secret and key>", which has one "_"
// and so never equals a readable name.
func providerSecretKeys(i int, p *llmv1alpha1.Provider) []secretKeyUse {
	field := fmt.Sprintf("spec.providers[%d]", i)
	var uses []secretKeyUse
	if ref := p.APIKeySecretRef; ref != nil {
		uses = append(uses, secretKeyUse{role: roleAPIKey, Field: field + ".apiKeySecretRef", Provider: p.Name, Ref: *ref, File: p.Name})
	}
	for j, k := range p.APIKeys {
		uses = append(uses, secretKeyUse{
			role:     roleAPIKeys,
			index:    j,
			Field:    fmt.Sprintf("%s.apiKeys[%d].secretRef", field, j),
			Provider: p.Name,
			Ref:      k.SecretRef,
			File:     apiKeysFileName(p.Name, k.SecretRef),
		})
	}
	if o := p.OAuth2ClientCredentials; o != nil && o.ClientSecretRef != nil {
		uses = append(uses, secretKeyUse{
			role:  roleClientSecret,
			Field: field + ".oauth2ClientCredentials.clientSecretRef", Provider: p.Name, Ref: *o.ClientSecretRef, File: p.Name,
		})
	}
	return uses
}

// maxSecretKeyLength is the longest key a Secret's data may have.
const maxSecretKeyLength = 253

func apiKeysFileName(provider string, ref llmv1alpha1.SecretKeyRef) string {
	if name := provider + "_" + ref.Name + "_" + ref.Key; len(name) <= maxSecretKeyLength {
		return name
	}
	sum := sha256.Sum256([]byte(ref.Name + "/" + ref.Key)) // "/" is in neither
	return provider + "_" + hex.EncodeToString(sum[:16])
}

// secretKeyUses lists every Secret key the route references.
func secretKeyUses(route *llmv1alpha1.LLMRoute) []secretKeyUse {
	var uses []secretKeyUse
	for i := range route.Spec.Providers {
		uses = append(uses, providerSecretKeys(i, &route.Spec.Providers[i])...)
	}
	return uses
}

// projectedToken is the ServiceAccount token a provider has the pod webhook
// project for it, with the field that asks for it; nil when none.
func projectedToken(p *llmv1alpha1.Provider) (*llmv1alpha1.ServiceAccountToken, string) {
	switch {
	case p.ServiceAccountToken != nil:
		return p.ServiceAccountToken, "serviceAccountToken"
	case p.OAuth2ClientCredentials != nil && p.OAuth2ClientCredentials.ClientAssertion != nil:
		return &p.OAuth2ClientCredentials.ClientAssertion.ServiceAccountToken, "oauth2ClientCredentials.clientAssertion.serviceAccountToken"
	case p.GoogleExternalAccount != nil:
		return &p.GoogleExternalAccount.ServiceAccountToken, "googleExternalAccount.serviceAccountToken"
	}
	return nil, ""
}

// DefaultTokenExpirationSeconds is a projected token's lifetime when the
// route does not say (the CRD's default, for routes the API server has not
// defaulted).
const DefaultTokenExpirationSeconds = 3600

func tokenExpirationSeconds(t *llmv1alpha1.ServiceAccountToken) int64 {
	if t.ExpirationSeconds == 0 {
		return DefaultTokenExpirationSeconds
	}
	return t.ExpirationSeconds
}

// tokenFilePath is where a tokenFile credential is read in the sidecar.
func tokenFilePath(f *llmv1alpha1.TokenFile) string {
	return config.PodVolumeDir(f.Volume) + "/" + f.Path
}
