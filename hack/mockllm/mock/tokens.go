package mock

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The token routes a [TokenServer] answers.
const (
	// TokenPath is the OAuth 2.0 token endpoint: the client credentials
	// grant (RFC 6749 §4.4), the client authenticated with a secret or an
	// assertion (RFC 7523 §2.2).
	TokenPath = "/oauth2/token"
	// STSPath is the token exchange endpoint (RFC 8693) as Google's
	// Security Token Service answers it.
	STSPath = "/sts/v1/token"
	// ImpersonationPrefix starts the path of generateAccessToken, Google's
	// service account impersonation: ImpersonationPrefix + ACCOUNT +
	// ":generateAccessToken".
	ImpersonationPrefix = "/iamcredentials/v1/projects/-/serviceAccounts/"
)

// The OAuth 2.0 names the token routes check.
const (
	GrantClientCredentials = "client_credentials"
	GrantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	AssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	TokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
)

// TokenOptions configures a [TokenServer]. The zero value issues tokens to
// any client, for an hour.
type TokenOptions struct {
	// ClientID is the client that may obtain tokens at TokenPath; empty
	// lets any client_id in.
	ClientID string
	// ClientSecret, when set, is its secret, sent in a Basic header or in
	// the form (client_secret_basic, client_secret_post).
	ClientSecret string
	// ClientAssertion, when set, is an assertion the client may send
	// instead, as client_assertion with client_assertion_type
	// AssertionTypeJWTBearer. The mock compares it; it verifies no
	// signature. With neither set, any client is let in.
	ClientAssertion string
	// SubjectToken, when set, is the only subject_token STSPath exchanges;
	// Audience the only audience it accepts.
	SubjectToken string
	Audience     string
	// Lifetime is how long the tokens issued are good for; zero means an
	// hour. expires_in says it in whole seconds, rounded up.
	Lifetime time.Duration
	// Now is the clock tokens expire by. nil means time.Now.
	Now func() time.Time
}

// TokenServer is a fake identity platform: an OAuth 2.0 token endpoint, a
// Google-like Security Token Service and service account impersonation,
// all issuing opaque bearer tokens that expire. A provider [Server] whose
// Options.Tokens names it accepts those tokens, and only while they live.
// It is an [http.Handler], safe for concurrent use, with a control API:
//
//	GET  /mock/token        the TokenState, as JSON
//	POST /mock/token        change it: {"down":true}, {"lifetime":"2s"}, {"revoke":true}
//	GET  /mock/token/stats  the TokenStats
type TokenServer struct {
	opts TokenOptions
	now  func() time.Time

	mu       sync.Mutex
	issued   map[string]time.Time // token → expiry
	down     bool
	lifetime time.Duration
	secret   string
	asserted string
	stats    TokenStats
}

// TokenState is what the control API reads and changes.
type TokenState struct {
	// Down makes every token route answer 503, as an outage would.
	Down bool `json:"down"`
	// Lifetime of the tokens issued from now on, as a Go duration.
	Lifetime string `json:"lifetime"`
	// Revoke, in a POST, makes every token issued so far invalid.
	Revoke bool `json:"revoke,omitempty"`
}

// TokenStats counts what a TokenServer did.
type TokenStats struct {
	// Requests counts requests to each token route.
	Requests map[string]int64 `json:"requests"`
	// Issued counts the tokens issued; Refused the requests refused (bad
	// client, grant or subject token, or an outage).
	Issued  int64 `json:"issued"`
	Refused int64 `json:"refused"`
	// Accepted and Rejected count the bearer tokens providers checked.
	Accepted int64 `json:"accepted"`
	Rejected int64 `json:"rejected"`
	// LastForm is the form of the latest request to TokenPath or STSPath,
	// with client_secret, client_assertion and subject_token shown as
	// "sha256:HEX" of the value, so a test can tell which one arrived.
	LastForm map[string]string `json:"last_form"`
	// LastAuth says how the latest client authenticated: "basic", "post",
	// "assertion", or "" for none.
	LastAuth string `json:"last_auth"`
}

// NewTokenServer returns a TokenServer configured by opts.
func NewTokenServer(opts TokenOptions) *TokenServer {
	ts := &TokenServer{opts: opts, now: opts.Now, issued: map[string]time.Time{},
		lifetime: opts.Lifetime, secret: opts.ClientSecret, asserted: opts.ClientAssertion}
	if ts.now == nil {
		ts.now = time.Now
	}
	if ts.lifetime <= 0 {
		ts.lifetime = time.Hour
	}
	ts.stats.Requests = map[string]int64{}
	return ts
}

// SetDown starts or ends an outage: while down, every token route answers
// 503 and issues nothing. Tokens already issued stay valid.
func (ts *TokenServer) SetDown(down bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.down = down
}

// SetLifetime changes the lifetime of the tokens issued from now on.
func (ts *TokenServer) SetLifetime(d time.Duration) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if d > 0 {
		ts.lifetime = d
	}
}

// SetClientSecret and SetClientAssertion replace what the client must
// send, as a rotation does.
func (ts *TokenServer) SetClientSecret(s string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.secret = s
}

// SetClientAssertion: see SetClientSecret.
func (ts *TokenServer) SetClientAssertion(a string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.asserted = a
}

// Revoke makes every token issued so far invalid: the providers answer
// their next use with 401.
func (ts *TokenServer) Revoke() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	clear(ts.issued)
}

// Stats returns a snapshot of the counters.
func (ts *TokenServer) Stats() TokenStats {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	s := ts.stats
	s.Requests = map[string]int64{}
	for k, v := range ts.stats.Requests {
		s.Requests[k] = v
	}
	s.LastForm = map[string]string{}
	for k, v := range ts.stats.LastForm {
		s.LastForm[k] = v
	}
	return s
}

// Valid reports whether token is one this server issued, not revoked, and
// not expired. A provider calls it for every request.
func (ts *TokenServer) Valid(token string) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	exp, ok := ts.issued[token]
	ok = ok && ts.now().Before(exp)
	if ok {
		ts.stats.Accepted++
	} else {
		ts.stats.Rejected++
	}
	return ok
}

// issue makes a token. ts.mu is held.
func (ts *TokenServer) issue() (token string, expiresIn int64, expiry time.Time) {
	now := ts.now()
	if len(ts.issued) > 10000 {
		for t, exp := range ts.issued {
			if !now.Before(exp) {
				delete(ts.issued, t)
			}
		}
	}
	expiresIn = int64(math.Ceil(ts.lifetime.Seconds()))
	expiry = now.Add(time.Duration(expiresIn) * time.Second)
	token = "mock-at-" + randomHex(32)
	ts.issued[token] = expiry
	ts.stats.Issued++
	return token, expiresIn, expiry
}

// InFrontOf returns a handler that sends ts's token routes and control API
// to ts and every other request to provider: a provider and its identity
// platform on one address, as hack/mockllm --issue-tokens serves them.
func (ts *TokenServer) InFrontOf(provider http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", provider)
	for _, p := range []string{TokenPath, STSPath, ImpersonationPrefix, "/mock/token", "/mock/token/stats"} {
		mux.Handle(p, ts)
	}
	return mux
}

// ServeHTTP answers the token routes and the control API.
func (ts *TokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/mock/token" || p == "/mock/token/stats":
		ts.control(w, r)
	case r.Method != http.MethodPost:
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
	case p == TokenPath:
		ts.serve(w, r, p, ts.clientCredentials)
	case p == STSPath:
		ts.serve(w, r, p, ts.exchange)
	case strings.HasPrefix(p, ImpersonationPrefix) && strings.HasSuffix(p, ":generateAccessToken"):
		ts.serve(w, r, ImpersonationPrefix+"{account}:generateAccessToken", ts.impersonate)
	default:
		oauthError(w, http.StatusNotFound, "invalid_request", "mock: no token route at "+r.URL.Path)
	}
}

// serve counts a request to a token route and answers an outage for it.
func (ts *TokenServer) serve(w http.ResponseWriter, r *http.Request, route string, h func(http.ResponseWriter, *http.Request)) {
	ts.mu.Lock()
	ts.stats.Requests[route]++
	down := ts.down
	if down {
		ts.stats.Refused++
	}
	ts.mu.Unlock()
	if down {
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "mock: the token endpoint is down")
		return
	}
	h(w, r)
}

// clientCredentials answers the client credentials grant.
func (ts *TokenServer) clientCredentials(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.stats.LastForm = redactForm(form)
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: both are form-encoded before going in the header.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	assertion := form.Get("client_assertion")
	ts.stats.LastAuth = ""
	switch {
	case basic:
		ts.stats.LastAuth = "basic"
	case assertion != "":
		ts.stats.LastAuth = "assertion"
	case secret != "":
		ts.stats.LastAuth = "post"
	}
	refuse := func(status int, code, desc string) {
		ts.stats.Refused++
		if status == http.StatusUnauthorized && basic {
			w.Header().Set("Www-Authenticate", `Basic realm="mock"`)
		}
		oauthError(w, status, code, desc)
	}
	switch {
	case form.Get("grant_type") != GrantClientCredentials:
		refuse(http.StatusBadRequest, "unsupported_grant_type", "mock: grant_type must be client_credentials")
	case ts.opts.ClientID != "" && id != ts.opts.ClientID:
		refuse(http.StatusUnauthorized, "invalid_client", "mock: unknown client "+id)
	case assertion != "" && form.Get("client_assertion_type") != AssertionTypeJWTBearer:
		refuse(http.StatusBadRequest, "invalid_request", "mock: client_assertion_type must be "+AssertionTypeJWTBearer)
	case assertion != "" && (ts.asserted == "" || assertion != ts.asserted):
		refuse(http.StatusUnauthorized, "invalid_client", "mock: the client assertion is not valid")
	case assertion == "" && ts.secret != "" && secret != ts.secret:
		refuse(http.StatusUnauthorized, "invalid_client", "mock: client authentication failed")
	case assertion == "" && ts.secret == "" && ts.asserted != "":
		refuse(http.StatusUnauthorized, "invalid_client", "mock: this client authenticates with an assertion")
	default:
		token, expiresIn, _ := ts.issue()
		writeToken(w, map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": expiresIn})
	}
}

// exchange answers a token exchange, as Google's STS does.
func (ts *TokenServer) exchange(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.stats.LastForm = redactForm(form)
	refuse := func(code, desc string) {
		ts.stats.Refused++
		oauthError(w, http.StatusBadRequest, code, desc)
	}
	switch {
	case form.Get("grant_type") != GrantTokenExchange:
		refuse("unsupported_grant_type", "mock: grant_type must be "+GrantTokenExchange)
	case form.Get("requested_token_type") != TokenTypeAccessToken:
		refuse("invalid_request", "mock: requested_token_type must be "+TokenTypeAccessToken)
	case form.Get("subject_token") == "" || form.Get("subject_token_type") == "":
		refuse("invalid_request", "mock: subject_token and subject_token_type are required")
	case ts.opts.SubjectToken != "" && form.Get("subject_token") != ts.opts.SubjectToken:
		refuse("invalid_grant", "mock: the subject token is not valid")
	case ts.opts.Audience != "" && form.Get("audience") != ts.opts.Audience:
		refuse("invalid_target", "mock: the audience is not a known workload identity pool provider")
	default:
		token, expiresIn, _ := ts.issue()
		writeToken(w, map[string]any{"access_token": token, "issued_token_type": TokenTypeAccessToken,
			"token_type": "Bearer", "expires_in": expiresIn})
	}
}

// impersonate answers generateAccessToken: a service account's token for
// the bearer of a token this server issued.
func (ts *TokenServer) impersonate(w http.ResponseWriter, r *http.Request) {
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	var req struct {
		Scope    []string `json:"scope"`
		Lifetime string   `json:"lifetime"`
	}
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req)
	if !ts.Valid(bearer) {
		ts.googleError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
		return
	}
	if err != nil || len(req.Scope) == 0 {
		ts.googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "mock: a JSON body with a scope is required")
		return
	}
	ts.mu.Lock()
	token, _, expiry := ts.issue()
	ts.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"accessToken": token, "expireTime": expiry.UTC().Format(time.RFC3339)})
}

// googleError writes a Google API error and counts a refusal.
func (ts *TokenServer) googleError(w http.ResponseWriter, status int, code, msg string) {
	ts.mu.Lock()
	ts.stats.Refused++
	ts.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": status, "message": msg, "status": code}})
}

func (ts *TokenServer) control(w http.ResponseWriter, r *http.Request) {
	switch r.Method + " " + r.URL.Path {
	case "GET /mock/token/stats":
		writeControlJSON(w, ts.Stats())
	case "GET /mock/token":
		writeControlJSON(w, ts.state())
	case "POST /mock/token", "PUT /mock/token":
		var st TokenState
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&st); err != nil {
			http.Error(w, "mock: bad token state: "+err.Error(), http.StatusBadRequest)
			return
		}
		if st.Lifetime != "" {
			d, err := time.ParseDuration(st.Lifetime)
			if err != nil || d <= 0 {
				http.Error(w, "mock: bad lifetime "+st.Lifetime, http.StatusBadRequest)
				return
			}
			ts.SetLifetime(d)
		}
		if st.Revoke {
			ts.Revoke()
		}
		ts.SetDown(st.Down)
		writeControlJSON(w, ts.state())
	default:
		http.Error(w, "mock: no such control route: "+r.Method+" "+r.URL.Path, http.StatusNotFound)
	}
}

func (ts *TokenServer) state() TokenState {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return TokenState{Down: ts.down, Lifetime: ts.lifetime.String()}
}

func readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "mock: "+err.Error())
		return nil, false
	}
	return r.PostForm, true
}

// redactForm keeps a form's fields, with the secret ones hashed.
func redactForm(form url.Values) map[string]string {
	m := make(map[string]string, len(form))
	for k := range form {
		v := form.Get(k)
		switch k {
		case "client_secret", "client_assertion", "subject_token":
			sum := sha256.Sum256([]byte(v))
			v = "sha256:" + hex.EncodeToString(sum[:])
		}
		m[k] = v
	}
	return m
}

// writeToken writes a token response (RFC 6749 §5.1).
func writeToken(w http.ResponseWriter, body map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(body)
}

// oauthError writes an OAuth 2.0 error response (RFC 6749 §5.2).
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
