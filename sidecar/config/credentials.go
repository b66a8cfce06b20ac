package config

import (
	"fmt"
	"slices"
)

// A provider authenticates with at most one credential source: a static key
// (APIKeyFile or APIKeyEnv), several static keys (APIKeys), a bearer token
// kept fresh in a file by someone else (TokenFile: a projected ServiceAccount
// token, a vault agent's file), or short-lived tokens the sidecar obtains and
// refreshes itself (OAuth2ClientCredentials, GoogleExternalAccount).
//
// Static keys go in the provider family's own header (Authorization: Bearer
// for the OpenAI family, x-api-key for Anthropic); tokens always go in
// Authorization: Bearer.

// APIKey is one of several static keys of a provider. Requests are spread
// over the healthy keys by weight; a key answered with 429 cools down while
// the others serve, and one answered with 401 or 403 is set aside until its
// file changes.
type APIKey struct {
	// Name identifies the key in logs, metrics and the route's status, never
	// its value; the operator sets "<secret>/<key>". Default: the key's index.
	Name string `json:"name,omitempty"`
	// File holds the key; surrounding whitespace is trimmed.
	File string `json:"file,omitempty"`
	// Env names an environment variable holding the key, for standalone use.
	// Exactly one of File and Env is set.
	Env string `json:"env,omitempty"`
	// Weight is the key's share of the requests, relative to the others'.
	// Default 1.
	Weight int `json:"weight,omitempty"`
	// Models are glob patterns of the requested models this key may serve.
	// Empty: every model.
	Models []string `json:"models,omitempty"`
}

// OAuth2ClientCredentials obtains access tokens with the OAuth 2.0 client
// credentials grant (RFC 6749 §4.4), authenticating the client with a secret
// or with a signed assertion read from a file (RFC 7523), which is how Azure
// workload identity and most identity providers federate a Kubernetes
// ServiceAccount token.
type OAuth2ClientCredentials struct {
	// TokenURL is the token endpoint. Required; https unless local.
	TokenURL string `json:"tokenURL"`
	// ClientID is the client's id. Required.
	ClientID string `json:"clientID"`
	// ClientSecretFile holds the client secret.
	ClientSecretFile string `json:"clientSecretFile,omitempty"`
	// ClientAssertionFile holds a JWT sent as client_assertion, re-read for
	// every token request (a projected token is renewed in place). Exactly
	// one of ClientSecretFile and ClientAssertionFile is set.
	ClientAssertionFile string `json:"clientAssertionFile,omitempty"`
	// ClientAssertionType is sent as client_assertion_type. Default
	// urn:ietf:params:oauth:client-assertion-type:jwt-bearer.
	ClientAssertionType string `json:"clientAssertionType,omitempty"`
	// Scopes are requested with the token.
	Scopes []string `json:"scopes,omitempty"`
	// Audience is sent as the audience parameter, when the provider wants one.
	Audience string `json:"audience,omitempty"`
	// Params are more form parameters of the token request (a resource, say).
	Params map[string]string `json:"params,omitempty"`
}

// GoogleExternalAccount obtains Google access tokens with workload identity
// federation: a token from a file (a projected ServiceAccount token) is
// exchanged at Google's Security Token Service, then, if set, for a service
// account's token.
type GoogleExternalAccount struct {
	// Audience is the workload identity pool provider's full resource name:
	// //iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/POOL/providers/PROVIDER.
	// Required.
	Audience string `json:"audience"`
	// SubjectTokenFile holds the token to exchange, re-read for every
	// exchange. Required.
	SubjectTokenFile string `json:"subjectTokenFile"`
	// SubjectTokenType is the token's type. Default
	// urn:ietf:params:oauth:token-type:jwt.
	SubjectTokenType string `json:"subjectTokenType,omitempty"`
	// TokenURL is the STS endpoint. Default https://sts.googleapis.com/v1/token.
	TokenURL string `json:"tokenURL,omitempty"`
	// ServiceAccountImpersonationURL, when set, exchanges the federated token
	// for this service account's:
	// https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/SA@PROJECT.iam.gserviceaccount.com:generateAccessToken.
	ServiceAccountImpersonationURL string `json:"serviceAccountImpersonationURL,omitempty"`
	// Scopes are requested. Default https://www.googleapis.com/auth/cloud-platform.
	Scopes []string `json:"scopes,omitempty"`
}

// Credential defaults.
const (
	DefaultClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	DefaultSubjectTokenType    = "urn:ietf:params:oauth:token-type:jwt"
	DefaultGoogleSTSURL        = "https://sts.googleapis.com/v1/token"
	DefaultGoogleScope         = "https://www.googleapis.com/auth/cloud-platform"
	DefaultAPIKeyWeight        = 1
)

// HasCredential reports whether the provider names any credential source.
func (p *Provider) HasCredential() bool { return len(p.credentialSources()) > 0 }

// CredentialFiles lists the files the provider's credential is read from:
// key files, the token file, the client secret or assertion, the subject
// token. The sidecar watches them, and a config naming one that cannot be
// read yet is not applied until it can.
func (p *Provider) CredentialFiles() []string {
	var files []string
	add := func(f string) {
		if f != "" {
			files = append(files, f)
		}
	}
	add(p.APIKeyFile)
	for _, k := range p.APIKeys {
		add(k.File)
	}
	add(p.TokenFile)
	if o := p.OAuth2ClientCredentials; o != nil {
		add(o.ClientSecretFile)
		add(o.ClientAssertionFile)
	}
	if g := p.GoogleExternalAccount; g != nil {
		add(g.SubjectTokenFile)
	}
	return files
}

// credentialSources names the credential fields the provider sets.
func (p *Provider) credentialSources() []string {
	var set []string
	if p.APIKeyFile != "" {
		set = append(set, "apiKeyFile")
	}
	if p.APIKeyEnv != "" {
		set = append(set, "apiKeyEnv")
	}
	if len(p.APIKeys) > 0 {
		set = append(set, "apiKeys")
	}
	if p.TokenFile != "" {
		set = append(set, "tokenFile")
	}
	if p.OAuth2ClientCredentials != nil {
		set = append(set, "oauth2ClientCredentials")
	}
	if p.GoogleExternalAccount != nil {
		set = append(set, "googleExternalAccount")
	}
	return set
}

func (p *Provider) defaultCredentials() {
	for i := range p.APIKeys {
		k := &p.APIKeys[i]
		if k.Name == "" {
			k.Name = fmt.Sprint(i)
		}
		if k.Weight == 0 {
			k.Weight = DefaultAPIKeyWeight
		}
	}
	if o := p.OAuth2ClientCredentials; o != nil && o.ClientAssertionFile != "" && o.ClientAssertionType == "" {
		o.ClientAssertionType = DefaultClientAssertionType
	}
	if g := p.GoogleExternalAccount; g != nil {
		if g.SubjectTokenType == "" {
			g.SubjectTokenType = DefaultSubjectTokenType
		}
		if g.TokenURL == "" {
			g.TokenURL = DefaultGoogleSTSURL
		}
		if len(g.Scopes) == 0 {
			g.Scopes = []string{DefaultGoogleScope}
		}
	}
}

// credentials checks a provider's credential source.
func (v *validator) credentials(f string, p Provider) {
	switch set := p.credentialSources(); {
	case len(set) > 1:
		v.add(f, "set one credential source, not %d: %v", len(set), set)
	case len(set) == 0 && p.Type.needsKey():
		v.add(f+".apiKeyFile", "type %s needs a credential: set apiKeyFile, apiKeyEnv, apiKeys, tokenFile, oauth2ClientCredentials or googleExternalAccount", p.Type)
	}
	names := map[string]int{}
	for i, k := range p.APIKeys {
		kf := fmt.Sprintf("%s.apiKeys[%d]", f, i)
		if (k.File == "") == (k.Env == "") {
			v.add(kf, "set file or env, one of them")
		}
		if j, dup := names[k.Name]; dup {
			v.add(kf+".name", "duplicate key name %q (also apiKeys[%d])", k.Name, j)
		}
		names[k.Name] = i
		if k.Weight < 1 || k.Weight > 1000 {
			v.add(kf+".weight", "must be between 1 and 1000, got %d", k.Weight)
		}
		v.globs(kf+".models", k.Models)
	}
	if o := p.OAuth2ClientCredentials; o != nil {
		of := f + ".oauth2ClientCredentials"
		v.tokenURL(of+".tokenURL", o.TokenURL, p.Insecure)
		if o.ClientID == "" {
			v.add(of+".clientID", "required")
		}
		if (o.ClientSecretFile == "") == (o.ClientAssertionFile == "") {
			v.add(of, "set clientSecretFile or clientAssertionFile, one of them")
		}
		if o.ClientAssertionFile == "" && o.ClientAssertionType != "" {
			v.add(of+".clientAssertionType", "only means something with clientAssertionFile")
		}
		for _, k := range sortedKeys(o.Params) {
			if slices.Contains([]string{"grant_type", "client_id", "client_secret", "client_assertion", "client_assertion_type", "scope", "audience"}, k) {
				v.add(of+".params."+k, "is set by the sidecar from the other fields")
			}
		}
	}
	if g := p.GoogleExternalAccount; g != nil {
		gf := f + ".googleExternalAccount"
		if g.Audience == "" {
			v.add(gf+".audience", "required: the workload identity pool provider's resource name")
		}
		if g.SubjectTokenFile == "" {
			v.add(gf+".subjectTokenFile", "required")
		}
		v.tokenURL(gf+".tokenURL", g.TokenURL, p.Insecure)
		if g.ServiceAccountImpersonationURL != "" {
			v.tokenURL(gf+".serviceAccountImpersonationURL", g.ServiceAccountImpersonationURL, p.Insecure)
		}
	}
}

// tokenURL checks an endpoint the sidecar sends credentials to: a required
// http(s) URL without user information, https unless the host is local or
// the provider says insecure.
func (v *validator) tokenURL(field, raw string, insecure bool) {
	if raw == "" {
		v.add(field, "required")
		return
	}
	switch u := v.httpURL(field, raw); {
	case u == nil:
	case u.User != nil:
		v.add(field, "must not contain user information (user:password@)")
	case inClear(u, insecure):
		v.add(field, "http:// would send credentials unencrypted to %s: use https://, or set insecure: true to allow it", u.Hostname())
	}
}
