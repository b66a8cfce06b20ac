// Package credentials gives the proxy the credential to send on each
// upstream call, and learns from the provider's answer. A provider has one
// Source, built from its config: a static key (a file or an environment
// variable), several weighted keys, a bearer token kept fresh in a file by
// someone else, or access tokens the sidecar obtains itself (OAuth 2.0
// client credentials, Google workload identity federation) and refreshes
// ahead of their expiry.
//
// The proxy asks Pick before every upstream call and tells Answered what the
// provider said. A 401, 403 or 429 may make the source hand back another
// credential to send the same call with at once — the next key of a pool, a
// token refreshed — which is not a retry of the provider: no backoff, no
// retry budget, nothing told to the breaker but the final outcome.
//
// State lives in the sources and survives reloads where the credential did
// not change: a reload must not drop a valid token or forget a key that is
// cooling down. Build carries it over from the running Set; Activate starts
// the refreshers of the new Set once it serves and stops the old ones it
// does not keep.
package credentials

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http/httpguts"

	"github.com/osmen-ai/llmroute/sidecar/config"
	"github.com/osmen-ai/llmroute/sidecar/metrics"
)

// Source is one provider's credential.
type Source interface {
	// Pick returns the credential for a call. It waits only for a token
	// that is being fetched while none is held, as long as ctx allows. The
	// error wraps ErrCoolingDown or ErrNoCredential and says why, never
	// showing a credential.
	Pick(ctx context.Context, call Call) (*Credential, error)
	// Answered tells the source how the provider answered a call made
	// with c. It returns the credential to send the same call with at once
	// instead (another key; a token refreshed after a 401), or nil when the
	// answer stands. It is cheap for a success.
	Answered(ctx context.Context, c *Credential, call Call, a Answer) *Credential
	// Status reports the source's credentials and whether it can give one.
	Status() Status
}

// Credential is what one upstream call sends.
type Credential struct {
	// Header is the canonical name of the header the credential goes in;
	// empty when the provider has none.
	Header string
	// Value is the header's value: "Bearer KEY", or the bare key for
	// Anthropic's x-api-key.
	Value string
	// Key names the credential in logs and metrics, never its value: an
	// apiKeys name, or the source's kind.
	Key string

	key      *poolKey                      // the pool's key it is, if any
	tok      *token                        // the token it is, if any
	attempts map[string]prometheus.Counter // by outcome: pool keys only
}

// Count records an attempt made with the credential, by outcome (the
// outcome label of llmroute_upstream_attempts_total). Only a pool's keys
// are counted by key.
func (c *Credential) Count(outcome string) {
	if ctr := c.attempts[outcome]; ctr != nil {
		ctr.Inc()
	}
}

// Call is what a source needs to know of the call a credential is for.
type Call struct {
	// Model is the requested model, which a pool's keys filter on; empty
	// for a call that names none.
	Model string
	// Stable asks for the same key as long as it is usable rather than a
	// spread: calls that reach state kept at the provider (files, batches,
	// stored responses) stay with the key that made it.
	Stable bool
}

// Answer is what the provider answered a call.
type Answer struct {
	Status int // the HTTP status
	// RetryAfter is how long the provider asked to wait (Retry-After,
	// retry-after-ms), when HasRetryAfter.
	RetryAfter    time.Duration
	HasRetryAfter bool
}

// State is a credential's condition, the value of llmroute_credential_state;
// the operator reads it too, so it is defined with the sidecar's contract.
type State = config.CredentialState

// The states.
const (
	Usable      = config.CredentialUsable
	CoolingDown = config.CredentialCoolingDown
	Refused     = config.CredentialRefused
	Unavailable = config.CredentialUnavailable
)

// Status is a source's condition, for /readyz, /debug/providers and the
// state metric.
type Status struct {
	// Kind is the source's kind: apiKey, apiKeys, token, oauth2, google;
	// empty for a provider without credentials.
	Kind string
	// Keys are the source's credentials: one, or a pool's keys in order.
	Keys []KeyStatus
	// Starting is true while the first token is being fetched.
	Starting bool
	// Err says why no credential can be sent now; nil when one can (for
	// some model, for a pool).
	Err error
}

// KeyStatus is one credential's state.
type KeyStatus struct {
	Name  string `json:"name"`
	State State  `json:"state"`
}

// The kinds of source, and the key label of a single credential (the
// operator reads them back, so they are the config package's).
const (
	KindAPIKey  = config.CredentialKindAPIKey
	KindAPIKeys = "apiKeys"
	KindToken   = config.CredentialKindToken
	KindOAuth2  = config.CredentialKindOAuth2
	KindGoogle  = config.CredentialKindGoogle
)

// Errors Pick wraps.
var (
	// ErrNoCredential: the source has no credential to send: no token
	// could be obtained, or every key is set aside or none serves the model.
	ErrNoCredential = errors.New("no credential")
	// ErrCoolingDown: every key that could serve the call is cooling down
	// after a 429.
	ErrCoolingDown = errors.New("every key is cooling down")
)

// Env is what the sources need from the sidecar. The zero value works.
type Env struct {
	// Transport carries token requests. nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Clock keeps expiry, cool-downs and refresh timers. nil means real time.
	Clock Clock
	// Rand returns a float in [0, 1) for refresh and backoff jitter. nil
	// means math/rand/v2.
	Rand func() float64
	// Log receives credential events: a key set aside, a token that could
	// not be obtained and when it is again. Never a credential.
	Log logr.Logger
	// Metrics receives attempts by key and token fetches. nil means a
	// registry of their own, which nothing scrapes.
	Metrics *metrics.Metrics
}

// Set is the sources of a config's providers.
type Set struct {
	sources map[string]Source
}

// Build makes the sources of cfg's providers, reading their key files. It
// carries state over from prev (the Set being served, or nil) where a
// provider's credential did not change, and changes nothing in prev: if
// Build or anything after it fails, prev keeps serving as it was. Call
// Activate once the new Set serves.
func Build(cfg *config.Config, prev *Set, env *Env) (*Set, error) {
	env = env.withDefaults()
	s := &Set{sources: make(map[string]Source, len(cfg.Providers))}
	var errs []error
	for _, pc := range cfg.Providers {
		src, err := newSource(pc, prev.Get(pc.Name), env)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.sources[pc.Name] = src
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// Get returns a provider's source; nil for a nil Set or an unknown name.
func (s *Set) Get(provider string) Source {
	if s == nil {
		return nil
	}
	return s.sources[provider]
}

// refresher is a source that works in the background: it fetches tokens.
type refresher interface {
	// start begins fetching; on a source already started, it retries at
	// once a fetch that is failing (its files may have been fixed).
	start()
	// stop ends the background work; the token held stays usable.
	stop()
}

// Activate starts the sources of s that work in the background and stops
// those of prev that s does not keep. Call it once s is the Set in use.
func (s *Set) Activate(prev *Set) {
	kept := map[refresher]bool{}
	for _, src := range s.sources {
		if r, ok := src.(refresher); ok {
			kept[r] = true
			r.start()
		}
	}
	if prev == nil {
		return
	}
	for _, src := range prev.sources {
		if r, ok := src.(refresher); ok && !kept[r] {
			r.stop()
		}
	}
}

// Close stops every source's background work.
func (s *Set) Close() {
	for _, src := range s.sources {
		if r, ok := src.(refresher); ok {
			r.stop()
		}
	}
}

// Changed names the credentials of a provider that a reload changed, for its
// log line ("key", "key team-a", "token"); never their values.
func Changed(prev, next Source) []string {
	if c, ok := next.(interface{ changedFrom(Source) []string }); ok && prev != nil {
		return c.changedFrom(prev)
	}
	return nil
}

// newSource builds the source a provider's config names.
func newSource(pc config.Provider, prev Source, env *Env) (Source, error) {
	switch {
	case len(pc.APIKeys) > 0:
		return newPool(pc, prev, env)
	case pc.OAuth2ClientCredentials != nil:
		return newOAuth2(pc, prev, env)
	case pc.GoogleExternalAccount != nil:
		return newGoogle(pc, prev, env)
	case pc.TokenFile != "":
		return newSingle(pc, prev, env)
	case pc.APIKeyFile != "" || pc.APIKeyEnv != "":
		return newSingle(pc, prev, env)
	}
	return none{}, nil
}

// none is the source of a provider without credentials (a local model).
type none struct{}

var noCredential = &Credential{}

func (none) Pick(context.Context, Call) (*Credential, error)                 { return noCredential, nil }
func (none) Answered(context.Context, *Credential, Call, Answer) *Credential { return nil }
func (none) Status() Status                                                  { return Status{} }

// familyHeader is where a static key goes for a provider type: x-api-key
// for Anthropic, Authorization: Bearer for the OpenAI family.
func familyHeader(t config.ProviderType, key string) (header, value string) {
	if t == config.Anthropic {
		return "X-Api-Key", key
	}
	return "Authorization", "Bearer " + key
}

// readSecret reads a credential file, trimmed of the whitespace editors and
// `kubectl create secret --from-file` leave around it. what names it in
// errors ("API key of provider \"openai\"").
func readSecret(file, what string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s: file %s is empty", what, file)
	}
	return v, nil
}

// readKey reads a credential that goes into a header as it is.
func readKey(file, what string) (string, error) {
	v, err := readSecret(file, what)
	if err != nil {
		return "", err
	}
	return v, checkValue(v, what+" (file "+file+")")
}

// readEnv reads a credential from an environment variable.
func readEnv(name, what string) (string, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return "", fmt.Errorf("%s: environment variable %s is unset or empty", what, name)
	}
	return v, checkValue(v, what+" (environment variable "+name+")")
}

// checkValue refuses a credential an HTTP header cannot carry: every call
// would fail in the transport, far from the cause.
func checkValue(v, what string) error {
	if !httpguts.ValidHeaderFieldValue(v) {
		return fmt.Errorf("%s holds a line break or another character an HTTP header cannot carry", what)
	}
	return nil
}

func (env *Env) withDefaults() *Env {
	e := Env{}
	if env != nil {
		e = *env
	}
	if e.Transport == nil {
		e.Transport = http.DefaultTransport
	}
	if e.Clock == nil {
		e.Clock = realClock{}
	}
	if e.Rand == nil {
		e.Rand = randFloat
	}
	if e.Metrics == nil {
		e.Metrics = metrics.New()
	}
	return &e
}
