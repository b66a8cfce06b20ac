// Command app is the end-to-end suite's application: a pod's main container
// that calls LLMs the way an unmodified app does, with the official OpenAI
// and Anthropic Go SDKs configured only by the OPENAI_BASE_URL and
// ANTHROPIC_BASE_URL variables the webhook sets, and a placeholder key. It
// reports what the SDKs saw (package appapi):
//
//	app                 serve reports on :8080 (GET /startup, POST /call,
//	                    POST /trickle/start, GET /trickle, POST /trickle/stop)
//	app call KIND [MODEL]
//	                    make one call and print its report (for kubectl exec)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	anoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	oaoption "github.com/openai/openai-go/v3/option"

	"github.com/osmen-ai/llmroute/test/e2e/appapi"
)

// placeholderKey is what the app passes as its API key: the sidecar drops
// it and sends the provider's key.
const placeholderKey = "sk-placeholder-the-sidecar-replaces-it"

func main() {
	log.SetFlags(0)
	if len(os.Args) >= 3 && os.Args[1] == "call" {
		model := ""
		if len(os.Args) > 3 {
			model = os.Args[3]
		}
		r := call(context.Background(), os.Args[2], model)
		_ = json.NewEncoder(os.Stdout).Encode(r)
		if !r.OK {
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 {
		log.Fatalf("usage: app | app call chat|stream|messages [MODEL]")
	}
	serve()
}

func serve() {
	// First of all, before serving anything: is the sidecar there? A native
	// sidecar is started, and its startup probe passed, before this
	// container starts.
	startup := appapi.Startup{At: time.Now()}
	if resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(os.Getenv("OPENAI_BASE_URL") + "/models"); err != nil {
		startup.Error = err.Error()
	} else {
		resp.Body.Close()
		startup.SidecarStatus = resp.StatusCode
	}
	log.Printf("startup: sidecar answered %d %s", startup.SidecarStatus, startup.Error)

	var t trickle
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("GET /startup", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, startup) })
	mux.HandleFunc("POST /call", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, call(r.Context(), r.FormValue("kind"), r.FormValue("model")))
	})
	mux.HandleFunc("POST /trickle/start", func(w http.ResponseWriter, r *http.Request) {
		interval, err := time.ParseDuration(r.FormValue("interval"))
		if err != nil {
			http.Error(w, "interval: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := t.start(r.FormValue("kind"), r.FormValue("model"), interval); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	})
	mux.HandleFunc("GET /trickle", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, t.summary()) })
	mux.HandleFunc("POST /trickle/stop", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, t.stop()) })

	srv := &http.Server{Addr: ":" + strconv.Itoa(appapi.AppPort), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		t.stop()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// call makes one call of the given kind and reports it. The SDKs' own
// retries are off: the sidecar retries, and a failure it gives up on must
// show here, not be hidden by a second round of retries.
func call(ctx context.Context, kind, model string) appapi.Result {
	r := appapi.Result{Kind: kind, Model: model, At: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var resp *http.Response
	var err error
	switch kind {
	case appapi.Chat, appapi.Stream:
		if r.Model == "" {
			r.Model = "gpt-4o-mini"
		}
		c := openai.NewClient(oaoption.WithAPIKey(placeholderKey), oaoption.WithMaxRetries(0))
		params := openai.ChatCompletionNewParams{
			Model:    r.Model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello.")},
		}
		if kind == appapi.Chat {
			var cc *openai.ChatCompletion
			cc, err = c.Chat.Completions.New(ctx, params, oaoption.WithResponseInto(&resp))
			if err == nil && len(cc.Choices) > 0 {
				r.Content = cc.Choices[0].Message.Content
			}
			break
		}
		s := c.Chat.Completions.NewStreaming(ctx, params, oaoption.WithResponseInto(&resp))
		for s.Next() {
			if ch := s.Current(); len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
				r.Content += ch.Choices[0].Delta.Content
				r.Chunks++
			}
		}
		err = s.Err()
	case appapi.Messages:
		if r.Model == "" {
			r.Model = "claude-sonnet-4-5"
		}
		c := anthropic.NewClient(anoption.WithAPIKey(placeholderKey), anoption.WithMaxRetries(0))
		var msg *anthropic.Message
		msg, err = c.Messages.New(ctx, anthropic.MessageNewParams{
			Model:     anthropic.Model(r.Model),
			MaxTokens: 64,
			Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello."))},
		}, anoption.WithResponseInto(&resp))
		if err == nil {
			for _, b := range msg.Content {
				r.Content += b.Text
			}
		}
	default:
		err = fmt.Errorf("unknown kind %q: want %s, %s or %s", kind, appapi.Chat, appapi.Stream, appapi.Messages)
	}
	r.Millis = float64(time.Since(r.At).Microseconds()) / 1000
	if resp != nil {
		r.Status = resp.StatusCode
		r.Provider = resp.Header.Get("x-llmroute-provider")
		r.Attempts, _ = strconv.Atoi(resp.Header.Get("x-llmroute-attempts"))
	}
	r.OK = err == nil
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// trickle makes one call after another, a pause between them, until stopped:
// the steady traffic the suite keeps up while it changes things.
type trickle struct {
	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	results []appapi.Result
}

func (t *trickle) start(kind, model string, interval time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cancel != nil {
		return errors.New("a trickle is already running")
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel, t.done, t.results = cancel, make(chan struct{}), nil
	go func() {
		defer close(t.done)
		for ctx.Err() == nil {
			// A call in flight when the trickle stops is finished, not
			// cancelled: its result counts.
			r := call(context.WithoutCancel(ctx), kind, model)
			t.mu.Lock()
			t.results = append(t.results, r)
			t.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(interval):
			}
		}
	}()
	return nil
}

func (t *trickle) stop() appapi.Trickle {
	t.mu.Lock()
	cancel, done := t.cancel, t.done
	t.cancel = nil
	t.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return t.summary()
}

func (t *trickle) summary() appapi.Trickle {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := appapi.Trickle{ByProvider: map[string]int{}, Results: append([]appapi.Result(nil), t.results...)}
	for _, r := range t.results {
		s.Calls++
		if !r.OK {
			s.Failures++
		}
		s.ByProvider[r.Provider]++
	}
	return s
}
