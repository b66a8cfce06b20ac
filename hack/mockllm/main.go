// Command mockllm runs a fake LLM provider that speaks the OpenAI and
// Anthropic wire formats and injects scripted faults, for demos and
// benchmarks of llmroute. See package mock for the routes, the x-mock-*
// request headers and the /mock/ control API.
//
// Usage:
//
//	go run ./hack/mockllm --listen 127.0.0.1:9001 --name openai [flags]
//
// Once listening it prints "mockllm NAME listening on ADDR" on standard
// output (ADDR is the real address, useful with port 0); it logs one line per
// request on standard error unless --quiet. SIGINT or SIGTERM stops it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
)

// statusList is a flag.Value for --status-seq.
type statusList []int

func (l *statusList) String() string {
	s := make([]string, len(*l))
	for i, n := range *l {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}

func (l *statusList) Set(v string) error {
	seq, err := mock.ParseStatusSequence(v)
	if err != nil {
		return err
	}
	*l = seq
	return nil
}

// stringList is a flag.Value for comma-separated lists.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = nil
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("mockllm: ")

	var (
		opts   mock.Options
		f      mock.Faults
		seq    statusList
		models stringList
		tokens mock.TokenOptions
	)
	listen := flag.String("listen", "127.0.0.1:9001", "`address` to listen on (port 0 picks a free port)")
	quiet := flag.Bool("quiet", false, "don't log a line per request")
	flag.StringVar(&opts.Name, "name", "mock", "server `name`: in replies (\"Hello from NAME.\"), the x-mock-name header, stats and logs")
	flag.Func("api-key", "accept this API `key` (Authorization: Bearer KEY, or x-api-key on Anthropic routes); repeat it to accept several (default: any)",
		func(v string) error { opts.APIKeys = append(opts.APIKeys, v); return nil })
	flag.IntVar(&opts.CompletionWords, "completion-words", 12, "reply length in `words` (= completion tokens)")
	flag.IntVar(&opts.CompletionBytes, "completion-bytes", 0, "reply length in `bytes`, overriding --completion-words (e.g. 1024 for ~1 KB replies)")
	flag.IntVar(&opts.StreamChunks, "stream-chunks", 0, "content deltas per streamed reply (0: one per word)")
	flag.DurationVar(&opts.StreamInterval, "stream-interval", 0, "pause between streamed content deltas, e.g. 5ms")
	flag.IntVar(&opts.EmbeddingDims, "embedding-dims", 16, "embedding length when the request doesn't set dimensions")
	flag.Var(&models, "models", "comma-separated model `ids` for GET /v1/models (default: a few OpenAI or Anthropic ones)")

	flag.Var(&seq, "status-seq", "`statuses` of successive requests, e.g. 503,503,200; healthy after the sequence")
	flag.Float64Var(&f.FailRate, "fail-rate", 0, "fraction (0-1) of requests that fail at random with --fail-status")
	flag.IntVar(&f.FailStatus, "fail-status", 500, "status of --fail-rate failures")
	flag.Int64Var(&f.Seed, "seed", 0, "seed of --fail-rate's draws (0: random)")
	flag.DurationVar(&f.Latency, "latency", 0, "delay before the response headers, e.g. 200ms")
	flag.StringVar(&f.RetryAfter, "retry-after", "", "Retry-After `value` on 429, 503 and 529 responses")
	flag.StringVar(&f.RetryAfterMs, "retry-after-ms", "", "retry-after-ms `value` on 429, 503 and 529 responses")
	flag.BoolVar(&f.InsufficientQuota, "insufficient-quota", false, "answer 429 insufficient_quota (OpenAI) or 400 credit balance too low (Anthropic)")
	flag.BoolVar(&f.ContextLengthExceeded, "context-length", false, "answer 400 context_length_exceeded (OpenAI) or prompt is too long (Anthropic)")
	flag.BoolVar(&f.Reset, "reset", false, "reset every connection without a response")
	flag.BoolVar(&f.ResetMidBody, "reset-mid-body", false, "send headers and half the body, then close the connection")
	flag.BoolVar(&f.HangHeaders, "hang", false, "never send headers; hold requests until the client gives up")
	flag.IntVar(&f.StreamCutAfter, "stream-cut-after", 0, "cut streams after `N` events, before their terminating event")
	flag.BoolVar(&f.StreamErrorBeforeContent, "stream-error-before-content", false, "answer streams with 200 and an error event first")
	flag.IntVar(&f.StreamErrorAfter, "stream-error-after", 0, "end streams with the provider's error event after `N` content deltas")
	flag.BoolVar(&f.Down, "down", false, "answer every request 503 (outage)")

	issueTokens := flag.Bool("issue-tokens", false, "also be an identity platform: serve "+mock.TokenPath+" (client credentials), "+mock.STSPath+
		" (token exchange) and "+mock.ImpersonationPrefix+"ACCOUNT:generateAccessToken, and accept only the tokens they issue, while they live, instead of API keys")
	flag.DurationVar(&tokens.Lifetime, "token-lifetime", time.Hour, "lifetime of the tokens issued (with --issue-tokens)")
	flag.StringVar(&tokens.ClientID, "client-id", "", "the client allowed to obtain tokens (default: any)")
	flag.StringVar(&tokens.ClientSecret, "client-secret", "", "the client's secret (default: none needed)")
	flag.StringVar(&tokens.ClientAssertion, "client-assertion", "", "an assertion the client may authenticate with instead of a secret")
	flag.StringVar(&tokens.SubjectToken, "subject-token", "", "the only subject token the token exchange accepts (default: any)")
	flag.StringVar(&tokens.Audience, "token-audience", "", "the only audience the token exchange accepts (default: any)")

	flag.Usage = func() {
		out := flag.CommandLine.Output()
		fmt.Fprint(out, `Usage: mockllm [flags]

A fake OpenAI/Anthropic provider with scripted faults. Routes:
  OpenAI     POST /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses,
             /v1/responses/input_tokens, /v1/images/generations, /v1/audio/speech,
             /v1/audio/transcriptions, /v1/audio/translations, /v1/moderations, /v1/batches;
             GET|DELETE /v1/responses/{id}; GET /v1/responses/{id}/input_items;
             POST /v1/responses/{id}/cancel; GET /v1/batches, /v1/batches/{id}, /v1/chat/completions;
             GET /v1/realtime (WebSocket echo)
  Anthropic  POST /v1/messages, /v1/messages/count_tokens, /v1/messages/batches;
             GET /v1/messages/batches, /v1/messages/batches/{id}, /v1/messages/batches/{id}/results
  Both       POST|GET /v1/files, GET|DELETE /v1/files/{id}, GET /v1/files/{id}/content,
             GET /v1/models, /v1/models/{id} (Anthropic's with an anthropic-version header);
             any method on /v1/echo/... answers with what arrived
Every response carries x-mock-method, -path, -query, -body-sha256, -body-bytes,
-content-type and -header-names, saying what arrived. Requests can carry their own faults
in x-mock-* headers (x-mock-status: 503,200, x-mock-latency: 50ms, x-mock-reset: 1, ...;
see package mock). Control API: GET /mock/stats, GET|POST /mock/faults (JSON Faults),
POST /mock/reset, GET|PUT /mock/keys ({"keys":[...]}; GET says only how many).
With --issue-tokens: POST `+mock.TokenPath+`, `+mock.STSPath+`, `+mock.ImpersonationPrefix+`ACCOUNT:generateAccessToken;
GET|POST /mock/token ({"down":true}, {"lifetime":"2s"}, {"revoke":true}), GET /mock/token/stats.

Flags:
`)
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	f.StatusSequence = seq
	opts.Faults = f
	opts.Models = models
	if !*quiet {
		logger := log.New(os.Stderr, "", log.Ltime|log.Lmicroseconds)
		opts.Logf = logger.Printf
	}
	if *issueTokens {
		opts.Tokens = mock.NewTokenServer(tokens)
	}
	if err := run(*listen, opts); err != nil {
		log.Fatal(err)
	}
}

func run(addr string, opts mock.Options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	m := mock.New(opts)
	var h http.Handler = m
	if opts.Tokens != nil {
		h = opts.Tokens.InFrontOf(m)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("mockllm %s listening on %s\n", opts.Name, ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop()

	// Release hung and paced requests first, so Shutdown needn't wait for
	// clients that never give up.
	m.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
