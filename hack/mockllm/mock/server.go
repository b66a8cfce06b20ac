package mock

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a [Server]. The zero value is a working, healthy server.
type Options struct {
	// Name names the server in its completion text ("Hello from NAME."), in
	// the x-mock-name response header, in Stats and in log lines, so a test
	// or a demo can tell which upstream answered. Empty means "mock".
	Name string

	// APIKey, when set, is a key the server accepts: OpenAI routes want
	// "Authorization: Bearer APIKey", Anthropic routes "x-api-key: APIKey"
	// or, as Anthropic's SDKs now send it, "Authorization: Bearer APIKey";
	// anything else gets the provider's 401.
	APIKey string

	// APIKeys are more keys the server accepts besides APIKey. When both are
	// empty, every request is let in. [Server.SetAPIKeys] and PUT /mock/keys
	// replace the whole set at run time, as a key rotation does.
	APIKeys []string

	// Tokens, when set, makes the server accept only the bearer tokens that
	// token server issued, while they live (Authorization: Bearer, on
	// either family's routes), instead of API keys: an expired, revoked or
	// unknown token gets the provider's 401.
	Tokens *TokenServer

	// Faults is the initial server-wide fault script; see [Server.SetFaults].
	Faults Faults

	// CompletionWords is the length in words of a completion's text; zero
	// means 12. The mock counts tokens as words, so it is also the
	// completion_tokens/output_tokens of a reply that isn't cut by max_tokens.
	CompletionWords int

	// CompletionBytes, when positive, sizes the completion text in bytes
	// instead (at least this many, within one word), so a benchmark can ask
	// for replies of about 1 KB.
	CompletionBytes int

	// StreamChunks is the number of content deltas a streamed reply is cut
	// into; zero means one per word.
	StreamChunks int

	// StreamInterval is the pause between content deltas of a stream.
	StreamInterval time.Duration

	// EmbeddingDims is the length of an embedding vector when the request
	// doesn't ask for dimensions; zero means 16.
	EmbeddingDims int

	// Models lists the model ids GET /v1/models returns. Empty means a few
	// OpenAI models (or Anthropic ones, for requests with an
	// anthropic-version header). Every route answers any model name anyway.
	Models []string

	// Logf, when set, is called once per API request with a short line: the
	// server name, method, path, model, status, faults and duration.
	Logf func(format string, args ...any)
}

// Server is a fake LLM provider: an [http.Handler] that speaks the OpenAI and
// Anthropic wire formats and injects scripted faults. It is safe for
// concurrent use.
type Server struct {
	opts        Options
	name        string
	reply       *reply
	fingerprint string
	models      []byte // GET /v1/models, OpenAI format
	claudes     []byte // GET /v1/models, Anthropic format
	done        chan struct{}
	closeOnce   sync.Once
	stats       counters
	keys        atomic.Pointer[[]string] // the accepted API keys; empty lets every request in

	responses      *fifo[*response]
	files          *fifo[*storedFile]
	fileBytes      atomic.Int64 // the bytes of the stored files
	batches        *fifo[*batch]
	messageBatches *fifo[*messageBatch]

	mu        sync.Mutex // guards the fields below
	faults    Faults
	seqPos    int            // position in faults.StatusSequence
	headerSeq map[string]int // positions in header-scripted sequences
	rng       *rand.Rand     // FailRate's draws
}

// New returns a Server configured by opts.
func New(opts Options) *Server {
	if opts.Name == "" {
		opts.Name = "mock"
	}
	if opts.CompletionWords <= 0 {
		opts.CompletionWords = 12
	}
	if opts.EmbeddingDims <= 0 {
		opts.EmbeddingDims = 16
	}
	s := &Server{
		opts:        opts,
		name:        opts.Name,
		reply:       newReply(buildText(opts.Name, opts.CompletionWords, opts.CompletionBytes), opts.StreamChunks),
		fingerprint: "fp_" + strconv.FormatUint(uint64(fnv32(opts.Name)), 16),
		done:        make(chan struct{}),
		headerSeq:   map[string]int{},
	}
	s.models = renderOpenAIModels(opts.Models)
	s.claudes = renderAnthropicModels(opts.Models)
	s.SetAPIKeys(append([]string{opts.APIKey}, opts.APIKeys...))
	s.responses = newFIFO[*response](storedResponses)
	s.files = newFIFO[*storedFile](storedFiles)
	s.batches = newFIFO[*batch](storedBatches)
	s.messageBatches = newFIFO[*messageBatch](storedBatches)
	s.stats.reset(s.name)
	s.SetFaults(opts.Faults)
	return s
}

// SetFaults replaces the server-wide fault script. It restarts the
// server-wide status sequence and reseeds the random failures; requests
// already past their fault checks are not affected.
func (s *Server) SetFaults(f Faults) {
	f = f.clone()
	seed := uint64(f.Seed)
	if seed == 0 {
		seed = rand.Uint64()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.seqPos = 0
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Faults returns the server-wide fault script.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.clone()
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// ResetStats zeroes the counters (but InFlight) and restarts every
// header-scripted status sequence, so a test can start from a clean slate
// without building a new server.
func (s *Server) ResetStats() {
	s.stats.reset(s.name)
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.headerSeq)
}

// Close releases the requests held by HangHeaders, Latency or a stream's
// pacing, so that an http.Server's Shutdown doesn't wait for them. Held
// requests are dropped; later ones are served without those waits.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
}

// exchange is one API request and its response in the making.
type exchange struct {
	s         *Server
	w         http.ResponseWriter
	r         *http.Request
	start     time.Time
	f         Faults
	anthropic bool    // answer errors in Anthropic's format
	requestID string  // x-request-id (OpenAI) or request-id (Anthropic)
	buf       *[]byte // the request body
	seqKey    string  // the header-scripted status sequence, if any
	model     string
	id        string // the resource id in the path, if the route has one
	internal  bool   // a request a batch runs inside the server (see serveInternal)

	status     int
	faults     []string
	stream     bool
	streamDone bool
	reset      bool
	hung       bool
	canceled   bool
}

// ServeHTTP answers the provider routes and the /mock/ control API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/mock/") {
		s.control(w, r)
		return
	}
	rt := lookup(r.Method, r.URL.Path)
	x := s.newExchange(w, r, rt)
	s.stats.begin(x, rt.statsPath(r.URL.Path))
	defer s.finish(x)

	// Read the body before any wait: net/http notices a client that goes
	// away (and cancels the request's context) only once the body is read.
	x.buf = getBuffer()
	defer putBuffer(x.buf)
	if !x.readBody() {
		return
	}

	s.mu.Lock()
	f := s.faults
	s.mu.Unlock()
	f, seqKey, err := f.withHeaders(r.Header)
	if err != nil {
		x.fail(x.invalid("mock: " + err.Error()))
		return
	}
	x.f = f

	if f.Latency > 0 {
		x.fire("latency")
		if !x.wait(f.Latency) {
			return
		}
	}
	switch {
	case f.HangHeaders:
		x.fire("hang")
		x.hang()
		return
	case f.Reset:
		x.fire("reset")
		x.cut(true)
		return
	case f.Down:
		x.fire("down")
		x.fail(x.errorFor(http.StatusServiceUnavailable))
		return
	}

	if rt.handle == nil {
		x.notFound()
		return
	}
	x.seqKey = seqKey
	rt.handle(x)
}

// newExchange starts the exchange of r, in the format its route speaks.
func (s *Server) newExchange(w http.ResponseWriter, r *http.Request, rt route) *exchange {
	x := &exchange{s: s, w: w, r: r, start: time.Now(), id: rt.id}
	x.anthropic = rt.format == anthropicFormat ||
		rt.format == headerFormat && r.Header.Get("Anthropic-Version") != ""
	if x.anthropic {
		x.requestID = randomID("req_011C", 20)
	} else {
		x.requestID = "req_" + randomHex(32)
	}
	return x
}

// serveInternal answers a request that a batch runs inside the server, as
// if a client had sent it with header, but without faults, stats, log
// lines or echo headers of its own. It returns the status, the body and the
// request id the response carried.
func (s *Server) serveInternal(ctx context.Context, method, path string, header http.Header, body []byte) (int, []byte, string) {
	r, err := http.NewRequestWithContext(ctx, method, path, bytes.NewReader(body))
	if err != nil {
		return http.StatusBadRequest, nil, ""
	}
	r.Header = header.Clone()
	r.Header.Set("Content-Type", "application/json")
	r.Header.Del("Content-Length") // the batch's, not this request's
	rec := httptest.NewRecorder()
	rt := lookup(method, r.URL.Path)
	x := s.newExchange(rec, r, rt)
	x.internal = true
	x.buf = getBuffer()
	defer putBuffer(x.buf)
	*x.buf = append((*x.buf)[:0], body...)
	if rt.handle == nil {
		x.notFound()
	} else {
		rt.handle(x)
	}
	return rec.Code, rec.Body.Bytes(), x.requestID
}

// admit makes the checks a request meets once its body is decoded (so that
// errors can name its model) and before it is answered: the API key, the
// anthropic-version header, then the scripted failures. It answers the
// request and reports false when one of them fails.
func (x *exchange) admit(promptTokens int) bool {
	if !x.authorized() {
		return false
	}
	if x.anthropic && x.r.Header.Get("Anthropic-Version") == "" {
		x.fail(anthropicInvalid("anthropic-version: header is required"))
		return false
	}
	if status, fault := x.s.failStatus(x.f, x.seqKey); status != 0 {
		x.fire(fault)
		x.fail(x.errorFor(status))
		return false
	}
	if x.f.InsufficientQuota {
		x.fire("insufficient_quota")
		if x.anthropic {
			x.fail(anthropicInvalid("Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."))
		} else {
			x.fail(openaiQuota())
		}
		return false
	}
	if x.f.ContextLengthExceeded {
		x.fire("context_length")
		if x.anthropic {
			x.fail(anthropicInvalid("prompt is too long: " + strconv.Itoa(200001+promptTokens) + " tokens > 200000 maximum"))
		} else {
			x.fail(openaiContextLength(promptTokens))
		}
		return false
	}
	return true
}

func (s *Server) finish(x *exchange) {
	s.stats.end(x)
	if s.opts.Logf == nil {
		return
	}
	status := "-"
	switch {
	case x.status != 0:
		status = strconv.Itoa(x.status)
	case x.hung:
		status = "hung"
	case x.reset:
		status = "reset"
	case x.canceled:
		status = "canceled"
	}
	var b strings.Builder
	b.WriteString(s.name)
	b.WriteByte(' ')
	b.WriteString(x.r.Method)
	b.WriteByte(' ')
	b.WriteString(x.r.URL.Path)
	if x.model != "" {
		b.WriteString(" model=")
		b.WriteString(x.model)
	}
	if x.stream {
		b.WriteString(" stream")
	}
	b.WriteString(" -> ")
	b.WriteString(status)
	if x.reset && x.status != 0 {
		b.WriteString(" (cut)")
	}
	if len(x.faults) > 0 {
		b.WriteString(" faults=")
		b.WriteString(strings.Join(x.faults, ","))
	}
	b.WriteByte(' ')
	b.WriteString(time.Since(x.start).Round(10 * time.Microsecond).String())
	s.opts.Logf("%s", b.String())
}

// fire records that the fault named name was injected.
func (x *exchange) fire(name string) { x.faults = append(x.faults, name) }

// writeHeader sends the status with the headers every response carries.
func (x *exchange) writeHeader(status int) {
	h := x.w.Header()
	if x.anthropic {
		h.Set("Request-Id", x.requestID)
	} else {
		h.Set("X-Request-Id", x.requestID)
		h.Set("Openai-Processing-Ms", strconv.FormatInt(time.Since(x.start).Milliseconds(), 10))
	}
	h.Set("X-Mock-Name", x.s.name)
	x.echoHeaders(h)
	x.status = status
	x.w.WriteHeader(status)
}

// writeJSON sends body as a JSON response; see writeBody.
func (x *exchange) writeJSON(status int, body []byte) {
	x.writeBody(status, "application/json", body)
}

// writeBody sends body with its length, and applies ResetMidBody: the
// headers announce the whole body, half of which is sent before the cut.
func (x *exchange) writeBody(status int, contentType string, body []byte) {
	h := x.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	x.writeHeader(status)
	if x.f.ResetMidBody && status < 400 {
		x.fire("reset_mid_body")
		_, _ = x.w.Write(body[:len(body)/2])
		x.cut(false)
		return
	}
	if _, err := x.w.Write(body); err != nil {
		x.canceled = true
	}
}

// fail sends e in the provider's error format, with Retry-After and
// retry-after-ms when the faults ask for them.
func (x *exchange) fail(e apiError) {
	if retryable(e.status) {
		if v := x.f.RetryAfter; v != "" {
			x.w.Header().Set("Retry-After", v)
		}
		if v := x.f.RetryAfterMs; v != "" {
			x.w.Header().Set("Retry-After-Ms", v)
		}
	}
	if e.status == http.StatusUnauthorized && !x.anthropic {
		x.w.Header().Set("Www-Authenticate", `Bearer realm="OpenAI API"`)
	}
	bp := getBuffer()
	defer putBuffer(bp)
	if x.anthropic {
		*bp = appendAnthropicError((*bp)[:0], e, x.requestID)
	} else {
		*bp = appendOpenAIError((*bp)[:0], e)
	}
	x.writeJSON(e.status, *bp)
}

// errorFor returns the provider's error for status.
func (x *exchange) errorFor(status int) apiError {
	if x.anthropic {
		return anthropicError(status)
	}
	return openaiError(status, x.model)
}

// invalid returns a 400 invalid_request_error with message.
func (x *exchange) invalid(message string) apiError {
	if x.anthropic {
		return anthropicInvalid(message)
	}
	return apiError{status: http.StatusBadRequest, typ: "invalid_request_error", message: message}
}

func (x *exchange) notFound() {
	if x.anthropic {
		x.fail(anthropicError(http.StatusNotFound))
		return
	}
	x.fail(apiError{
		status:  http.StatusNotFound,
		typ:     "invalid_request_error",
		message: "Invalid URL (" + x.r.Method + " " + x.r.URL.Path + ")",
	})
}

// authorized checks the request's credential against the accepted API keys
// and answers 401 when it matches none.
func (x *exchange) authorized() bool {
	if x.internal {
		return true
	}
	if ts := x.s.opts.Tokens; ts != nil {
		return x.tokenAuthorized(ts)
	}
	keys := *x.s.keys.Load()
	if len(keys) == 0 {
		return true
	}
	if x.anthropic {
		// Anthropic's own SDKs send the key as a bearer token now, so both
		// headers are accepted.
		got := x.r.Header.Get("X-Api-Key")
		bearer, _ := strings.CutPrefix(x.r.Header.Get("Authorization"), "Bearer ")
		if got != "" && slices.Contains(keys, got) || bearer != "" && slices.Contains(keys, bearer) {
			return true
		}
		e := anthropicError(http.StatusUnauthorized)
		if got == "" && bearer == "" {
			e.message = "x-api-key header is required"
		}
		x.fail(e)
		return false
	}
	auth := x.r.Header.Get("Authorization")
	got, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok && auth == "" {
		// Browsers can't set headers on a WebSocket, so the Realtime API
		// also takes the key as a subprotocol.
		got, ok = websocketKey(x.r)
	}
	if ok && slices.Contains(keys, got) {
		return true
	}
	e := openaiError(http.StatusUnauthorized, "")
	switch {
	case auth == "" && !ok:
		e.code = ""
		e.message = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys."
	case ok:
		e.message = "Incorrect API key provided: " + redact(got) + ". You can find your API key at https://platform.openai.com/account/api-keys."
	}
	x.fail(e)
	return false
}

// tokenAuthorized checks the request's bearer token with the token server
// that issued it, and answers the provider's 401 when it is not good.
func (x *exchange) tokenAuthorized(ts *TokenServer) bool {
	bearer, ok := strings.CutPrefix(x.r.Header.Get("Authorization"), "Bearer ")
	if ok && ts.Valid(bearer) {
		return true
	}
	msg := "Access token is missing, invalid, expired or revoked."
	if x.anthropic {
		e := anthropicError(http.StatusUnauthorized)
		e.message = "invalid bearer token: " + msg
		x.fail(e)
		return false
	}
	e := openaiError(http.StatusUnauthorized, "")
	e.code, e.message = "invalid_token", msg
	x.fail(e)
	return false
}

// redact shortens a key the way OpenAI quotes a wrong one: its first and
// last few characters only.
func redact(key string) string {
	if len(key) <= 8 {
		return strings.Repeat("*", len(key))
	}
	return key[:3] + strings.Repeat("*", 10) + key[len(key)-4:]
}

// readBody reads the request body into x.buf, answering 413 when it is too
// large.
func (x *exchange) readBody() bool {
	buf := bytes.NewBuffer((*x.buf)[:0])
	_, err := io.Copy(buf, http.MaxBytesReader(x.w, x.r.Body, 32<<20))
	*x.buf = buf.Bytes()
	if err == nil {
		return true
	}
	if x.r.Context().Err() != nil {
		x.canceled = true
		return false
	}
	x.fail(x.errorFor(http.StatusRequestEntityTooLarge))
	return false
}

// decode parses the request body as JSON into v, answering 400 when it isn't.
func (x *exchange) decode(v any) bool {
	err := json.Unmarshal(*x.buf, v)
	if err == nil {
		return true
	}
	if x.anthropic {
		x.fail(anthropicInvalid("There was an issue with the body of your request: " + err.Error()))
	} else {
		x.fail(x.invalid("We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)"))
	}
	return false
}

// control serves the /mock/ API that lets another process script the faults.
func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	switch r.Method + " " + r.URL.Path {
	case "GET /mock/stats":
		writeControlJSON(w, s.Stats())
	case "GET /mock/faults":
		writeControlJSON(w, s.Faults())
	case "POST /mock/faults", "PUT /mock/faults":
		var f Faults
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&f); err != nil {
			http.Error(w, "mock: bad faults: "+err.Error(), http.StatusBadRequest)
			return
		}
		s.SetFaults(f)
		writeControlJSON(w, s.Faults())
	case "POST /mock/reset":
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	case "GET /mock/keys":
		writeControlJSON(w, keyCount{len(*s.keys.Load())})
	case "PUT /mock/keys", "POST /mock/keys":
		var v struct {
			Keys []string `json:"keys"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			http.Error(w, "mock: bad keys: "+err.Error(), http.StatusBadRequest)
			return
		}
		s.SetAPIKeys(v.Keys)
		writeControlJSON(w, keyCount{len(*s.keys.Load())})
	default:
		http.Error(w, "mock: no such control route: "+r.Method+" "+r.URL.Path, http.StatusNotFound)
	}
}

func writeControlJSON(w http.ResponseWriter, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

// buffers recycles the byte slices that request bodies are read into and
// responses are rendered into.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) > 1<<20 {
		return // don't keep a huge one alive for small requests
	}
	*b = (*b)[:0]
	buffers.Put(b)
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomID returns prefix followed by n random letters and digits, the shape
// of the providers' ids (chatcmpl-..., msg_01..., toolu_01...).
func randomID(prefix string, n int) string {
	b := make([]byte, len(prefix)+n)
	copy(b, prefix)
	for i := len(prefix); i < len(b); i++ {
		b[i] = alnum[rand.IntN(len(alnum))]
	}
	return string(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789abcdef"[rand.IntN(16)]
	}
	return string(b)
}

// fnv32 is FNV-1a, used to derive stable values (fingerprints, embeddings)
// from strings.
func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
