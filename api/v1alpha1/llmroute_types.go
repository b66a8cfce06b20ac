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

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The schema mirrors the sidecar's configuration file (package sidecar/config):
// the operator renders each LLMRoute into that file, so field names, meanings,
// defaults and bounds are the same. The differences: credentials come from
// Secrets (apiKeySecretRef, apiKeys, clientSecretRef) or from tokens the pod
// webhook projects or mounts (serviceAccountToken, tokenFile), never from a
// file path or an environment variable the route names, and there is no
// version field.
//
// A duration is a Go duration string ("500ms", "2s", "1m30s"). The API server
// checks its syntax with a pattern because its own "duration" format accepts
// forms such as "2 seconds" that metav1.Duration cannot decode.

// ProviderType names a provider's API family. All but Anthropic speak the
// OpenAI wire format.
// +kubebuilder:validation:Enum=OpenAI;Anthropic;Ollama;LMStudio;OpenAICompatible
type ProviderType string

// The provider types.
const (
	// ProviderOpenAI is api.openai.com; baseURL defaults to https://api.openai.com/v1.
	ProviderOpenAI ProviderType = "OpenAI"
	// ProviderAnthropic is api.anthropic.com; baseURL defaults to https://api.anthropic.com.
	ProviderAnthropic ProviderType = "Anthropic"
	// ProviderOllama is an Ollama server; baseURL defaults to http://localhost:11434/v1.
	ProviderOllama ProviderType = "Ollama"
	// ProviderLMStudio is an LM Studio server; baseURL defaults to http://localhost:1234/v1.
	ProviderLMStudio ProviderType = "LMStudio"
	// ProviderOpenAICompatible is any other server that speaks the OpenAI API; baseURL is required.
	ProviderOpenAICompatible ProviderType = "OpenAICompatible"
)

// API names an LLM API, as a client calls it and as a provider serves it.
// Messages is Anthropic's; the others are the OpenAI family's.
// +kubebuilder:validation:Enum=ChatCompletions;Responses;Messages;Completions;Embeddings
type API string

// The APIs.
const (
	// APIChatCompletions is POST /v1/chat/completions.
	APIChatCompletions API = "ChatCompletions"
	// APIResponses is POST /v1/responses.
	APIResponses API = "Responses"
	// APIMessages is POST /v1/messages, Anthropic's API.
	APIMessages API = "Messages"
	// APICompletions is POST /v1/completions, the legacy completions API.
	APICompletions API = "Completions"
	// APIEmbeddings is POST /v1/embeddings.
	APIEmbeddings API = "Embeddings"
)

// HeaderValue is the value of a static provider header: at most 4096 bytes,
// without line breaks or other control characters (a tab is allowed).
// +kubebuilder:validation:MaxLength=4096
// +kubebuilder:validation:XValidation:rule="!self.matches('[\\x00-\\x08\\x0a-\\x1f\\x7f]')",message="a header value must not contain line breaks or other control characters"
type HeaderValue string

// SecretKeyRef selects one key of a Secret in the LLMRoute's namespace.
type SecretKeyRef struct {
	// name is the name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`

	// key is the key within the Secret whose value is the credential.
	// Surrounding whitespace in the value is trimmed.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// APIKey is one of several static keys of a provider.
type APIKey struct {
	// secretRef selects the Secret key holding this API key. The key is
	// named "<secret>/<key>" in the sidecar's logs and metrics and in the
	// route's status, never by its value.
	// +required
	SecretRef SecretKeyRef `json:"secretRef"`

	// weight is the key's share of the requests, relative to the other
	// keys' weights.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	Weight int32 `json:"weight,omitempty"`

	// models are glob patterns (Go path.Match syntax) of the requested
	// models this key may serve. An empty list serves every model.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	Models []string `json:"models,omitempty"`
}

// ServiceAccountToken asks the kubelet for a token of the pod's
// ServiceAccount with an audience of the route's choosing, renewed before it
// expires. The pod webhook projects it into the sidecar only; the app's
// containers never see it. automountServiceAccountToken: false on the pod
// does not prevent it: a projected token is requested explicitly.
type ServiceAccountToken struct {
	// audience is the token's intended recipient, its "aud" claim: the
	// gateway or identity provider that validates it. Never use the
	// Kubernetes API server's own audience: whoever receives such a token can
	// call the API server as the pod's ServiceAccount.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^\S+$`
	Audience string `json:"audience"`

	// expirationSeconds is the token's requested lifetime. The kubelet renews
	// the token once 80% of it has passed, and the sidecar re-reads the file.
	// At least 600 (Kubernetes' minimum), at most 86400: the token leaves the
	// cluster, so it should not live long.
	// +optional
	// +kubebuilder:default=3600
	// +kubebuilder:validation:Minimum=600
	// +kubebuilder:validation:Maximum=86400
	ExpirationSeconds int64 `json:"expirationSeconds,omitempty"`
}

// TokenFile is a bearer token that something else in the pod keeps fresh in a
// file of one of the pod's own volumes: a Vault agent's or a SPIFFE helper's
// shared emptyDir, a CSI driver's volume. The pod webhook mounts that volume,
// read-only, into the sidecar at /etc/llmroute/volumes/<volume>, and refuses
// a pod that has no such volume.
type TokenFile struct {
	// volume is the name of the pod's volume that holds the token.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Volume string `json:"volume"`

	// path is the token file's path inside the volume: relative, without
	// "..". Surrounding whitespace in the file is trimmed.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^[^/\s]+(/[^/\s]+)*$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|/)[.][.](/|$)')",message="path must stay inside the volume: no '..' segment"
	Path string `json:"path"`
}

// ClientAssertion is how the client proves who it is to the token endpoint
// without a secret: a signed token sent as client_assertion (RFC 7523).
type ClientAssertion struct {
	// serviceAccountToken is projected into the sidecar and sent as the
	// assertion (client_assertion_type jwt-bearer). For Azure workload
	// identity its audience is api://AzureADTokenExchange.
	// +required
	ServiceAccountToken ServiceAccountToken `json:"serviceAccountToken"`
}

// OAuth2ClientCredentials obtains access tokens with the OAuth 2.0 client
// credentials grant; the sidecar fetches them before the first call and
// refreshes them ahead of expiry.
// +kubebuilder:validation:XValidation:rule="has(self.clientSecretRef) != has(self.clientAssertion)",message="set clientSecretRef or clientAssertion, one of them"
type OAuth2ClientCredentials struct {
	// tokenURL is the token endpoint, for example
	// https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token. https://
	// unless the host is loopback or cluster-local or the provider sets
	// insecure; no user information (user:password@).
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#]+([/?#]\S*)?$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[a-z]+://[^/?#]*@')",message="tokenURL must not contain user information (user:password@)",reason=FieldValueForbidden
	TokenURL string `json:"tokenURL"`

	// clientID is the client's id at the token endpoint (for Azure, the
	// application's or managed identity's client id).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^\S+$`
	ClientID string `json:"clientID"`

	// clientSecretRef selects the Secret key holding the client secret. Set
	// this or clientAssertion.
	// +optional
	ClientSecretRef *SecretKeyRef `json:"clientSecretRef,omitempty"`

	// clientAssertion authenticates the client with a projected
	// ServiceAccount token instead of a secret (workload identity federation).
	// +optional
	ClientAssertion *ClientAssertion `json:"clientAssertion,omitempty"`

	// scopes are requested with the token, for example
	// https://cognitiveservices.azure.com/.default.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:items:Pattern=`^\S+$`
	Scopes []string `json:"scopes,omitempty"`

	// audience is sent as the token request's audience parameter, for
	// identity providers that want one.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Audience string `json:"audience,omitempty"`

	// params are more form parameters of the token request (a resource, say).
	// They are configuration, not secrets: they are stored in the rendered
	// ConfigMap. Parameters the sidecar sets itself are refused.
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) >= 1 && size(k) <= 256 && size(self[k]) <= 2048)",message="parameter names must be 1 to 256 characters and values at most 2048"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !(k in ['grant_type', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type', 'scope', 'audience']))",message="grant_type, client_id, client_secret, client_assertion, client_assertion_type, scope and audience are set by the sidecar from the other fields"
	Params map[string]string `json:"params,omitempty"`
}

// GoogleExternalAccount obtains Google access tokens with workload identity
// federation: a projected ServiceAccount token is exchanged at Google's
// Security Token Service, then, if serviceAccountImpersonationURL is set, for
// a Google service account's token.
type GoogleExternalAccount struct {
	// audience is the workload identity pool provider's full resource name:
	// //iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^\S+$`
	Audience string `json:"audience"`

	// serviceAccountToken is the token exchanged: its audience must be one
	// the pool provider allows (by default
	// https://iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>).
	// +required
	ServiceAccountToken ServiceAccountToken `json:"serviceAccountToken"`

	// tokenURL is the Security Token Service endpoint. When omitted the
	// sidecar uses https://sts.googleapis.com/v1/token.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#]+([/?#]\S*)?$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[a-z]+://[^/?#]*@')",message="tokenURL must not contain user information (user:password@)",reason=FieldValueForbidden
	TokenURL string `json:"tokenURL,omitempty"`

	// serviceAccountImpersonationURL, when set, exchanges the federated token
	// for this Google service account's access token:
	// https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/<email>:generateAccessToken.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#]+([/?#]\S*)?$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[a-z]+://[^/?#]*@')",message="serviceAccountImpersonationURL must not contain user information (user:password@)",reason=FieldValueForbidden
	ServiceAccountImpersonationURL string `json:"serviceAccountImpersonationURL,omitempty"`

	// scopes are requested. When omitted the sidecar asks for
	// https://www.googleapis.com/auth/cloud-platform.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:items:Pattern=`^\S+$`
	Scopes []string `json:"scopes,omitempty"`
}

// Provider is one upstream LLM API.
// +kubebuilder:validation:XValidation:rule="self.type != 'OpenAICompatible' || has(self.baseURL)",message="baseURL is required for type OpenAICompatible",fieldPath=".baseURL",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="(has(self.apiKeySecretRef) ? 1 : 0) + (has(self.apiKeys) ? 1 : 0) + (has(self.serviceAccountToken) ? 1 : 0) + (has(self.tokenFile) ? 1 : 0) + (has(self.oauth2ClientCredentials) ? 1 : 0) + (has(self.googleExternalAccount) ? 1 : 0) <= 1",message="set one credential source at most: apiKeySecretRef, apiKeys, serviceAccountToken, tokenFile, oauth2ClientCredentials or googleExternalAccount",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!(self.type in ['OpenAI', 'Anthropic']) || (has(self.apiKeySecretRef) || has(self.apiKeys) || has(self.serviceAccountToken) || has(self.tokenFile) || has(self.oauth2ClientCredentials) || has(self.googleExternalAccount))",message="a credential is required for types OpenAI and Anthropic: set apiKeySecretRef, apiKeys, serviceAccountToken, tokenFile, oauth2ClientCredentials or googleExternalAccount",fieldPath=".apiKeySecretRef",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.apis) || self.type != 'Anthropic' || self.apis.all(a, a == 'Messages')",message="type Anthropic serves the Messages API only",fieldPath=".apis",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.apis) || self.type == 'Anthropic' || !('Messages' in self.apis)",message="only type Anthropic serves the Messages API; the other types speak the OpenAI format (ChatCompletions, Responses, Completions, Embeddings)",fieldPath=".apis",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.baseURL) || !(has(self.apiKeySecretRef) || has(self.apiKeys) || has(self.serviceAccountToken) || has(self.tokenFile) || has(self.oauth2ClientCredentials) || has(self.googleExternalAccount)) || (has(self.insecure) && self.insecure) || !self.baseURL.startsWith('http://') || self.baseURL.matches('(?i)^http://(localhost|[^/?#:@]+[.]localhost|[^/?#:@]+[.]svc|[^/?#:@]+[.]cluster[.]local|127[.]((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])[.]){2}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])|\\\\[::1\\\\])[.]?(:[0-9]*)?([/?#]|$)')",message="http:// would send the provider's credential unencrypted to a host that is neither loopback nor a cluster-local name (*.svc, *.cluster.local): use https://, or set insecure: true to allow it",fieldPath=".baseURL",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.oauth2ClientCredentials) || (has(self.insecure) && self.insecure) || !self.oauth2ClientCredentials.tokenURL.startsWith('http://') || self.oauth2ClientCredentials.tokenURL.matches('(?i)^http://(localhost|[^/?#:@]+[.]localhost|[^/?#:@]+[.]svc|[^/?#:@]+[.]cluster[.]local|127[.]((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])[.]){2}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])|\\\\[::1\\\\])[.]?(:[0-9]*)?([/?#]|$)')",message="http:// would send credentials unencrypted to a token endpoint that is neither loopback nor a cluster-local name: use https://, or set insecure: true to allow it",fieldPath=".oauth2ClientCredentials.tokenURL",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.googleExternalAccount) || !has(self.googleExternalAccount.tokenURL) || (has(self.insecure) && self.insecure) || !self.googleExternalAccount.tokenURL.startsWith('http://') || self.googleExternalAccount.tokenURL.matches('(?i)^http://(localhost|[^/?#:@]+[.]localhost|[^/?#:@]+[.]svc|[^/?#:@]+[.]cluster[.]local|127[.]((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])[.]){2}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])|\\\\[::1\\\\])[.]?(:[0-9]*)?([/?#]|$)')",message="http:// would send credentials unencrypted to a token endpoint that is neither loopback nor a cluster-local name: use https://, or set insecure: true to allow it",fieldPath=".googleExternalAccount.tokenURL",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.googleExternalAccount) || !has(self.googleExternalAccount.serviceAccountImpersonationURL) || (has(self.insecure) && self.insecure) || !self.googleExternalAccount.serviceAccountImpersonationURL.startsWith('http://') || self.googleExternalAccount.serviceAccountImpersonationURL.matches('(?i)^http://(localhost|[^/?#:@]+[.]localhost|[^/?#:@]+[.]svc|[^/?#:@]+[.]cluster[.]local|127[.]((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])[.]){2}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])|\\\\[::1\\\\])[.]?(:[0-9]*)?([/?#]|$)')",message="http:// would send credentials unencrypted to a token endpoint that is neither loopback nor a cluster-local name: use https://, or set insecure: true to allow it",fieldPath=".googleExternalAccount.serviceAccountImpersonationURL",reason=FieldValueForbidden
type Provider struct {
	// name identifies the provider in rules, logs and metrics, and names its
	// files in the rendered keys Secret. A DNS label, unique within the route.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// type is the API family; it decides the wire format and the auth header.
	// +required
	Type ProviderType `json:"type"`

	// baseURL is what the provider's own SDK calls its base URL: with /v1 for
	// the OpenAI family (https://api.openai.com/v1), the bare host for
	// Anthropic (https://api.anthropic.com). When omitted the operator uses the
	// type's default; required for OpenAICompatible.
	// It must not carry user information (user:password@) or a fragment.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#]+([/?#]\S*)?$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[a-z]+://[^/?#]*@')",message="baseURL must not contain user information (user:password@): the provider's credential comes from its credential source",reason=FieldValueForbidden
	// +kubebuilder:validation:XValidation:rule="!self.contains('#')",message="baseURL must not contain a fragment (#...)"
	BaseURL string `json:"baseURL,omitempty"`

	// apiKeySecretRef selects the Secret key that holds the provider's API key.
	//
	// A provider has one credential source at most: apiKeySecretRef, apiKeys,
	// serviceAccountToken, tokenFile, oauth2ClientCredentials or
	// googleExternalAccount. OpenAI and Anthropic need one; the other types
	// are often local servers that need none. Secrets are read from the
	// route's namespace, and only if the route's author may get them.
	// +optional
	APIKeySecretRef *SecretKeyRef `json:"apiKeySecretRef,omitempty"`

	// apiKeys are several static keys of the provider. Requests are spread
	// over the usable keys by weight; a key answered with 429 cools down while
	// the others serve, and a key answered with 401 or 403 is set aside until
	// its Secret changes (the route's CredentialsHealthy condition names it).
	// Each Secret key may be listed once.
	// +optional
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(a, self.exists_one(b, b.secretRef.name == a.secretRef.name && b.secretRef.key == a.secretRef.key))",message="each Secret key may be listed once in apiKeys"
	APIKeys []APIKey `json:"apiKeys,omitempty"`

	// serviceAccountToken sends a token of the pod's ServiceAccount, with the
	// given audience, as the bearer token: for a gateway that validates
	// Kubernetes tokens. The pod webhook projects it into the sidecar only,
	// so a change here reaches pods created after it. The route's author
	// must be allowed to create ServiceAccount tokens in the namespace.
	// +optional
	ServiceAccountToken *ServiceAccountToken `json:"serviceAccountToken,omitempty"`

	// tokenFile sends a bearer token that something else in the pod keeps
	// fresh, from a file in one of the pod's own volumes. The route's author
	// must be allowed to exec into the namespace's pods, which would read the
	// file as well.
	// +optional
	TokenFile *TokenFile `json:"tokenFile,omitempty"`

	// oauth2ClientCredentials obtains and refreshes OAuth 2.0 access tokens
	// with the client credentials grant, authenticated by a client secret or
	// a projected ServiceAccount token (Azure workload identity, most
	// identity providers' workload federation).
	// +optional
	OAuth2ClientCredentials *OAuth2ClientCredentials `json:"oauth2ClientCredentials,omitempty"`

	// googleExternalAccount obtains and refreshes Google access tokens
	// through workload identity federation (Vertex AI and other Google
	// endpoints) from a projected ServiceAccount token.
	// +optional
	GoogleExternalAccount *GoogleExternalAccount `json:"googleExternalAccount,omitempty"`

	// apis are the LLM APIs the provider serves natively. A request for an API
	// it does not serve is translated to one it does where a translation
	// exists (Responses to ChatCompletions or Messages, ChatCompletions to
	// Messages and back); otherwise the provider is skipped. When omitted:
	// OpenAI serves ChatCompletions, Responses, Completions and Embeddings;
	// Anthropic serves Messages; the other types serve ChatCompletions,
	// Completions and Embeddings. Messages is for Anthropic only, the others
	// for the OpenAI-format types only.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=5
	APIs []API `json:"apis,omitempty"`

	// insecure allows sending the provider's credential over plain http:// to
	// a host that is neither loopback nor a cluster-local name (*.svc,
	// *.cluster.local): to the baseURL and to the token endpoints. Without it
	// such URLs are refused when the provider has a credential.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// headers are sent on every request to this provider, replacing what the
	// app sent under those names (OpenAI-Organization, OpenAI-Project, a
	// gateway's routing header). They are configuration, not secrets: they
	// are stored in the rendered ConfigMap. Names the sidecar sets itself
	// (credentials, framing, hop-by-hop headers, x-request-id) are refused.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 256 && k.matches('^[-!#$%&\\x27*+.^_|~0-9A-Za-z\\x60]+$'))",message="every name must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~, at most 256)"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !(k.lowerAscii() in ['authorization', 'x-api-key', 'api-key', 'proxy-authorization', 'host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'x-request-id']))",message="Authorization, x-api-key, api-key, Proxy-Authorization, Host, Content-Length, Content-Type, Transfer-Encoding, Connection, Keep-Alive, TE, Trailer, Upgrade and x-request-id are set by the sidecar and cannot be configured (credentials come from the provider's credential source)"
	Headers map[string]HeaderValue `json:"headers,omitempty"`

	// timeout bounds one attempt, from sending the request to the end of the
	// response headers.
	// +optional
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="timeout must be a positive duration"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// models maps a requested model name to this provider's model name.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, k != '' && self[k] != '')",message="models must map non-empty model names to non-empty model names"
	Models map[string]string `json:"models,omitempty"`

	// defaultModel is sent when a request reaches this provider with a model
	// that models does not map (typically during a fallback). When empty, the
	// requested name is sent unchanged.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	DefaultModel string `json:"defaultModel,omitempty"`

	// anthropicVersion is the anthropic-version header sent on requests that
	// the sidecar translated into the Anthropic format. When omitted the
	// sidecar sends 2023-06-01.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^\S+$`
	AnthropicVersion string `json:"anthropicVersion,omitempty"`

	// requestsPerMinute caps the calls this route's sidecar makes to the
	// provider; over it the provider is skipped like an open circuit breaker.
	// 0 means no cap.
	// +optional
	// +kubebuilder:validation:Minimum=0
	RequestsPerMinute int32 `json:"requestsPerMinute,omitempty"`

	// tokensPerMinute caps the tokens (input plus output, as the provider
	// reports them) the sidecar spends on the provider per minute. 0 means no cap.
	// +optional
	// +kubebuilder:validation:Minimum=0
	TokensPerMinute int64 `json:"tokensPerMinute,omitempty"`
}

// Rule sends the requests whose model matches to an ordered list of providers.
type Rule struct {
	// models are glob patterns (Go path.Match syntax, e.g. "gpt-*") matched
	// against the request's model. An empty list matches every model.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	Models []string `json:"models,omitempty"`

	// backends are provider names, tried in order: the fallback cascade.
	// Each names a provider of this route, at most once.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Backends []string `json:"backends"`
}

// Retry governs retries within one provider and the sidecar-wide retry budget.
// +kubebuilder:validation:XValidation:rule="!has(self.initialBackoff) || !has(self.maxBackoff) || duration(self.maxBackoff) >= duration(self.initialBackoff)",message="maxBackoff must not be shorter than initialBackoff (maxBackoff defaults to 10s)",fieldPath=".maxBackoff",reason=FieldValueInvalid
type Retry struct {
	// attempts is the maximum number of tries per provider, the first included.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	Attempts int32 `json:"attempts,omitempty"`

	// initialBackoff is the wait before the first retry.
	// +optional
	// +kubebuilder:default="2s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="initialBackoff must be a positive duration"
	InitialBackoff *metav1.Duration `json:"initialBackoff,omitempty"`

	// maxBackoff caps every wait; not shorter than initialBackoff.
	// +optional
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="maxBackoff must be a positive duration"
	MaxBackoff *metav1.Duration `json:"maxBackoff,omitempty"`

	// multiplier grows the wait after each retry.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	Multiplier float64 `json:"multiplier,omitempty"`

	// jitter draws each wait uniformly from [backoff/2, backoff], so that
	// clients that failed together do not retry together.
	// +optional
	// +kubebuilder:default=true
	Jitter *bool `json:"jitter,omitempty"`

	// retryOn lists what is retried: HTTP status codes 400-599 ("429", "503")
	// and the network failures "connect-failure", "reset" and "timeout". Any
	// other 4xx fails fast and moves on to the next backend.
	// +optional
	// +kubebuilder:default={"429","500","502","503","504","529","connect-failure","reset","timeout"}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Pattern=`^([45][0-9][0-9]|connect-failure|reset|timeout)$`
	RetryOn []string `json:"retryOn,omitempty"`

	// maxRetryAfter is the longest Retry-After (or retry-after-ms) the sidecar
	// waits for on a provider; a longer one moves to the next provider at once.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="maxRetryAfter must be a positive duration; to never wait on Retry-After, set it to a small value such as 1ms"
	MaxRetryAfter *metav1.Duration `json:"maxRetryAfter,omitempty"`

	// budgetPercent caps retries (attempts after the first, fallbacks
	// included) at this percentage of requests over a 10 s window, plus
	// minRetriesPerSecond. 0 turns the retry budget off.
	// +optional
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	BudgetPercent *int32 `json:"budgetPercent,omitempty"`

	// minRetriesPerSecond is always allowed on top of budgetPercent, so that a
	// quiet sidecar can still retry.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=0
	MinRetriesPerSecond *int32 `json:"minRetriesPerSecond,omitempty"`
}

// CircuitBreaker configures one breaker per provider (sony/gobreaker semantics).
// An open breaker sends requests to the next backend at once.
type CircuitBreaker struct {
	// consecutiveFailures trips the breaker after this many failures in a row.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	ConsecutiveFailures int32 `json:"consecutiveFailures,omitempty"`

	// failureRatio trips the breaker when failures/requests within interval
	// reach it, once minRequests were seen; in (0, 1].
	// +optional
	// +kubebuilder:default=0.5
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:ExclusiveMinimum=true
	// +kubebuilder:validation:Maximum=1
	FailureRatio float64 `json:"failureRatio,omitempty"`

	// minRequests is how many requests interval must see before failureRatio applies.
	// +optional
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=1
	MinRequests int32 `json:"minRequests,omitempty"`

	// interval is the closed-state window after which the counts are cleared.
	// +optional
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="interval must be a positive duration"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// openTimeout is how long an open breaker refuses calls before it lets
	// probes through (half-open).
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="openTimeout must be a positive duration"
	OpenTimeout *metav1.Duration `json:"openTimeout,omitempty"`

	// halfOpenRequests is how many probes a half-open breaker lets through;
	// that many successes close it.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	HalfOpenRequests int32 `json:"halfOpenRequests,omitempty"`
}

// Timeouts bound whole requests and the silence inside a stream.
type Timeouts struct {
	// request bounds a whole request: every attempt, wait and fallback, and a
	// stream to its end.
	// +optional
	// +kubebuilder:default="300s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="request must be a positive duration"
	Request *metav1.Duration `json:"request,omitempty"`

	// streamIdle bounds the gap between two events of a stream.
	// +optional
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="streamIdle must be a positive duration"
	StreamIdle *metav1.Duration `json:"streamIdle,omitempty"`
}

// RateLimit is a token bucket over the requests the sidecar accepts from its pod.
type RateLimit struct {
	// requestsPerSecond is the bucket's refill rate. 0 turns rate limiting off.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	RequestsPerSecond float64 `json:"requestsPerSecond,omitempty"`

	// burst is the bucket's size. 0 means requestsPerSecond rounded up.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	Burst int32 `json:"burst,omitempty"`
}

// LLMRouteSpec defines how the sidecars of the pods that use this route call
// LLM providers: which providers exist, which models go where, and how hard to
// try before falling back.
// +kubebuilder:validation:XValidation:rule="self.rules.all(r, r.backends.all(b, self.providers.exists(p, p.name == b)))",message="every entry of rules[].backends must name a provider in providers",fieldPath=".rules",reason=FieldValueInvalid
type LLMRouteSpec struct {
	// providers are the upstream LLM APIs this route may call; names unique.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(p, self.exists_one(q, q.name == p.name))",message="providers must have unique names"
	Providers []Provider `json:"providers"`

	// rules map a request's model to an ordered list of providers to try.
	// The first rule whose models match wins; a rule without models matches
	// every model. A request that no rule matches is refused.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	Rules []Rule `json:"rules"`

	// retry governs retries on one provider and the sidecar-wide retry budget.
	// +optional
	// +kubebuilder:default={}
	Retry *Retry `json:"retry,omitempty"`

	// circuitBreaker is applied to each provider separately.
	// +optional
	// +kubebuilder:default={}
	CircuitBreaker *CircuitBreaker `json:"circuitBreaker,omitempty"`

	// timeouts bound a whole request and the silence inside a stream.
	// +optional
	// +kubebuilder:default={}
	Timeouts *Timeouts `json:"timeouts,omitempty"`

	// rateLimit caps the requests each sidecar accepts from its pod.
	// +optional
	// +kubebuilder:default={}
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
}

// LLMRouteStatus is the observed state of an LLMRoute.
type LLMRouteStatus struct {
	// observedGeneration is the metadata.generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Accepted, ResolvedRefs, Ready and CredentialsHealthy,
	// each with the observedGeneration it was computed for.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// configHash is a hash of the rendered sidecar configuration and of the
	// keys Secret's uid and resourceVersion (never of the keys themselves); it
	// changes whenever what the sidecars load changes.
	// +optional
	ConfigHash string `json:"configHash,omitempty"`

	// providers is the number of providers in the spec, for kubectl get.
	// +optional
	Providers int32 `json:"providers,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=llmr,categories=llm
// +kubebuilder:printcolumn:name="Providers",type=integer,JSONPath=`.status.providers`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Credentials",type=string,JSONPath=`.status.conditions[?(@.type=="CredentialsHealthy")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 239",message="metadata.name must be at most 239 characters: the keys Secret llmroute-<name>-keys must fit Kubernetes' 253"

// LLMRoute routes a namespace's LLM calls through the llmroute sidecar. Pods
// labelled llm.osmen.ai/route=<name> get a sidecar configured from it.
type LLMRoute struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired routing and resilience configuration.
	// +required
	Spec LLMRouteSpec `json:"spec"`

	// status is the observed state of the route.
	// +optional
	Status LLMRouteStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// LLMRouteList contains a list of LLMRoute.
type LLMRouteList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LLMRoute `json:"items"`
}
