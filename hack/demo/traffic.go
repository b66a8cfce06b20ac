package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/hack/process"
)

// tally is what the demo saw, for the summary and the final verdict.
type tally struct {
	mu          sync.Mutex
	requests    int
	successes   int
	attempts    int
	retried     int // requests that needed more than one attempt on a provider
	fellBack    int // requests served by another provider than the first tried
	servedBy    map[string]int
	breakerOpen bool
	breakerShut bool // closed again after opening
	reloaded    bool
	streamed    bool
	responses   bool // a Responses API call was served by a fallback during the outage
	refreshes   int  // tokens fetched ahead of expiry while calls went on
	reauthed    bool // a call refused for its token was served with a new one
	// Calls over the tokens' lifetimes that were not answered 200 at their
	// first attempt, and the tokens azure refused meanwhile: both 0 when
	// every token was refreshed ahead of its expiry.
	lateTokenCalls int
	refusedTokens  int64

	// Events from the sidecar's log, as they are written.
	events []string
}

type accessLine struct {
	Msg      string `json:"msg"`
	ID       string `json:"id"`
	Provider string `json:"provider"`
	Status   int    `json:"status"`
	Attempts int    `json:"attempts"`
	Tries    []struct {
		Provider string `json:"provider"`
		Status   int    `json:"status"`
		Outcome  string `json:"outcome"`
	} `json:"tries"`
	From string `json:"from"`
	To   string `json:"to"`
}

// onSidecarLog reads the sidecar's JSON log as it is written, for events.
func (t *tally) onSidecarLog(line string) {
	var l accessLine
	if json.Unmarshal([]byte(line), &l) != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch l.Msg {
	case "Circuit breaker changed state":
		t.events = append(t.events, fmt.Sprintf("circuit breaker of %s: %s → %s", l.Provider, l.From, l.To))
		if l.To == "open" {
			t.breakerOpen = true
		}
		if l.To == "closed" && t.breakerOpen {
			t.breakerShut = true
		}
	case "Config reloaded":
		t.reloaded = true
		t.events = append(t.events, "sidecar: configuration reloaded")
	}
}

// takeEvents returns the events logged since the last call.
func (t *tally) takeEvents() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.events
	t.events = nil
	return e
}

func (d *demo) startSidecar(ctx context.Context) error {
	d.stepf("Doing the kubelet's part: writing the rendered ConfigMap and Secret as volumes, starting %s", d.o.sidecar)
	if err := d.syncVolumes(ctx); err != nil {
		return err
	}
	d.tally.servedBy = map[string]int{}
	p, err := d.runSidecar(ctx, d.o.listen)
	if process.AddrInUse(err) {
		p, err = d.runSidecar(ctx, "127.0.0.1:0")
	}
	if err != nil {
		return fmt.Errorf("the sidecar did not become ready: %w", err)
	}
	d.sidecar = p
	d.defer_(p.Stop)
	d.proxy, d.admin = p.Addrs[0], p.Addrs[1]
	say("volumes in %s (config/..data → timestamped dir, as Kubernetes lays them out)", d.dir)
	say("sidecar ready: proxy on %s, admin on %s", d.proxy, d.admin)
	return nil
}

// runSidecar starts the sidecar with its proxy on listen and its admin
// listener on a port of its choosing; it is ready when it says which.
func (d *demo) runSidecar(ctx context.Context, listen string) (*process.Process, error) {
	return process.Start(ctx, process.Options{
		Name: "sidecar",
		Args: []string{d.o.sidecar,
			"--config", filepath.Join(d.dir, "config", "config.json"),
			"--listen", listen, "--admin-listen", "127.0.0.1:0"},
		Echo:       d.echo(),
		EchoPrefix: "      [sidecar] ",
		OnLine:     d.tally.onSidecarLog,
		Ready:      process.Logged("llmroute-sidecar serving", "listen", "admin"),
	})
}

// expectLog expects a line of a sidecar's log with msg, and with each
// key's value as given (key, value, ...), from now on.
func expectLog(sidecar *process.Process, what, msg string, kv ...string) *process.Expectation {
	return sidecar.Expect(what, func(line string) bool {
		f, ok := process.LogFields(line)
		if !ok || f["msg"] != msg {
			return false
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if f[kv[i]] != kv[i+1] {
				return false
			}
		}
		return true
	})
}

const chatRequest = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}`

// call sends one request through the pod's sidecar and prints what happened.
func (d *demo) call(ctx context.Context, path, body string, headers ...string) (*http.Response, error) {
	return d.callOn(ctx, d.sidecar, d.proxy, path, body, headers...)
}

// callOn sends one request through a sidecar and prints what happened.
func (d *demo) callOn(ctx context.Context, sidecar *process.Process, proxy, path, body string, headers ...string) (*http.Response, error) {
	d.tally.mu.Lock()
	d.tally.requests++
	id := fmt.Sprintf("demo-%d", d.tally.requests)
	d.tally.mu.Unlock()
	logged := expectLog(sidecar, "the sidecar's access log line of "+id, "Request", "id", id)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+proxy+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-placeholder") // as SDKs send: the sidecar drops it
	req.Header.Set("x-request-id", id)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", id, err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		d.tally.streamed = true
		fmt.Print("      stream: ")
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			fmt.Print(streamText(sc.Text())) // printed as each event arrives
		}
		fmt.Println()
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	took := time.Since(t0)
	// The sidecar writes the line once the response is sent.
	line, err := logged.Wait(ctx, 5*time.Second)
	if err != nil {
		return nil, err
	}
	var l accessLine
	if err := json.Unmarshal([]byte(line), &l); err != nil {
		return nil, fmt.Errorf("the sidecar's access log line of %s: %w", id, err)
	}
	d.record(id, resp, l, took)
	return resp, nil
}

// record prints a request's outcome and the tries the sidecar logged for it.
func (d *demo) record(id string, resp *http.Response, l accessLine, took time.Duration) {
	attempts, _ := strconv.Atoi(resp.Header.Get("x-llmroute-attempts"))
	provider := resp.Header.Get("x-llmroute-provider")
	var tries []string
	first := ""
	for _, t := range l.Tries {
		if first == "" {
			first = t.Provider
		}
		s := t.Outcome
		if t.Status != 0 {
			s = strconv.Itoa(t.Status)
		}
		tries = append(tries, t.Provider+" "+s)
	}
	d.tally.mu.Lock()
	d.tally.attempts += attempts
	if resp.StatusCode == http.StatusOK {
		d.tally.successes++
		d.tally.servedBy[provider]++
	}
	retried := false
	seen := map[string]int{}
	for i, t := range l.Tries {
		// A call sent again after a 401 carries a refreshed token: not a retry.
		if seen[t.Provider]++; seen[t.Provider] > 1 && l.Tries[i-1].Status != http.StatusUnauthorized {
			retried = true
		}
	}
	if retried {
		d.tally.retried++
	}
	if first != "" && provider != first {
		d.tally.fellBack++
	}
	d.tally.mu.Unlock()
	say("%s: %d from %-6s attempts=%d  [%s]  %s", id, resp.StatusCode, provider, attempts, strings.Join(tries, " → "), took.Round(time.Millisecond))
	for _, e := range d.tally.takeEvents() {
		say("  event: %s", e)
	}
}

// streamText pulls the text out of one SSE line of any of the formats: a
// chat completions chunk, an Anthropic text delta, a Responses text delta.
func streamText(line string) string {
	data, ok := strings.CutPrefix(line, "data: ")
	if !ok {
		return ""
	}
	var ev struct {
		Type    string `json:"type"`
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
		} `json:"choices"`
		Delta json.RawMessage `json:"delta"`
	}
	if json.Unmarshal([]byte(data), &ev) != nil {
		return ""
	}
	if len(ev.Choices) > 0 {
		return ev.Choices[0].Delta.Content
	}
	var text string
	if ev.Type == "response.output_text.delta" {
		_ = json.Unmarshal(ev.Delta, &text)
		return text
	}
	var anthropic struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(ev.Delta, &anthropic)
	return anthropic.Text
}

func (d *demo) sendRequests(ctx context.Context) error {
	d.stepf("Sending requests through the sidecar (the app's view: http://%s)", d.proxy)
	say("plain chat completions; openai fails 40%% of calls with 503, the sidecar retries:")
	for range 6 {
		if _, err := d.call(ctx, "/v1/chat/completions", chatRequest); err != nil {
			return err
		}
	}
	say("a streamed chat completion (each event is printed as it arrives):")
	if _, err := d.call(ctx, "/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello"}]}`); err != nil {
		return err
	}
	say("an Anthropic-format request (/v1/messages) for a Claude model:")
	if _, err := d.call(ctx, "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"Say hello"}]}`, "anthropic-version", "2023-06-01"); err != nil {
		return err
	}

	say("")
	say("OUTAGE: openai now answers every call with 503")
	d.mocks["openai"].SetFaults(mock.Faults{Down: true})
	for range 4 {
		if _, err := d.call(ctx, "/v1/chat/completions", chatRequest); err != nil {
			return err
		}
	}
	say("a streamed request during the outage: OpenAI format in, served by Claude, translated back:")
	if _, err := d.call(ctx, "/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello"}]}`); err != nil {
		return err
	}
	say("a streamed OpenAI Responses API call (POST /v1/responses) during the outage: served by Claude, translated back:")
	resp, err := d.call(ctx, "/v1/responses", `{"model":"gpt-4o-mini","stream":true,"instructions":"Be brief.","input":"Say hello"}`)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusOK && resp.Header.Get("x-llmroute-provider") != "openai" {
		d.tally.mu.Lock()
		d.tally.responses = true
		d.tally.mu.Unlock()
	}
	before := d.mocks["openai"].Stats().Requests
	for range 3 {
		if _, err := d.call(ctx, "/v1/chat/completions", chatRequest); err != nil {
			return err
		}
	}
	if n := d.mocks["openai"].Stats().Requests - before; n == 0 {
		say("with the breaker open, openai received no calls at all (0 of the last 3 requests)")
	}
	return nil
}

func (d *demo) editRoute(ctx context.Context) error {
	d.stepf("Editing the LLMRoute: GPT models now fall back to the local model before Claude")
	var r llmv1alpha1.LLMRoute
	if err := d.k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "chat"}, &r); err != nil {
		return err
	}
	oldHash := r.Status.ConfigHash
	r.Spec.Rules[0].Backends = []string{"openai", "local", "claude"}
	if err := d.k8s.Update(ctx, &r); err != nil {
		return fmt.Errorf("update the LLMRoute: %w", err)
	}
	nr, err := d.waitReady(ctx, oldHash)
	if err != nil {
		return err
	}
	say("operator re-rendered the ConfigMap: generation %d, configHash %s → %s", nr.Generation, oldHash, nr.Status.ConfigHash)
	reloaded := expectLog(d.sidecar, `the sidecar's "Config reloaded" log line`, "Config reloaded")
	if err := d.syncVolumes(ctx); err != nil {
		return err
	}
	say("kubelet swapped the volume's ..data symlink; waiting for the sidecar to reload")
	if _, err := reloaded.Wait(ctx, 10*time.Second); err != nil {
		return fmt.Errorf("the sidecar did not reload its config: %w", err)
	}
	for _, e := range d.tally.takeEvents() {
		say("event: %s", e)
	}
	_, err = d.call(ctx, "/v1/chat/completions", chatRequest)
	return err
}

func (d *demo) recover(ctx context.Context) error {
	d.stepf("openai recovers: after openTimeout (3s) a probe goes through and closes the breaker")
	d.mocks["openai"].SetFaults(mock.Faults{})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := d.call(ctx, "/v1/chat/completions", chatRequest)
		if err != nil {
			return err
		}
		if resp.Header.Get("x-llmroute-provider") == "openai" {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("traffic did not return to openai after it recovered")
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
	say("traffic is back on openai")
	return nil
}

func (d *demo) summary() {
	t := &d.tally
	fmt.Printf("\n──────── Summary (%s) ────────\n", since(d.start))
	fmt.Printf("  requests sent        %d\n", t.requests)
	fmt.Printf("  succeeded            %d\n", t.successes)
	fmt.Printf("  upstream attempts    %d (retried on the same provider: %d requests; fell back: %d)\n", t.attempts, t.retried, t.fellBack)
	names := make([]string, 0, len(d.mocks))
	for n := range d.mocks {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Printf("  %-8s %8s %16s\n", "provider", "served", "calls received")
	for _, n := range names {
		fmt.Printf("  %-8s %8d %16d\n", n, t.servedBy[n], d.mocks[n].Stats().Requests)
	}
	if resp, err := http.Get("http://" + d.admin + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println("  from the sidecar's /metrics:")
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "llmroute_fallbacks_total") || strings.HasPrefix(l, "llmroute_config_reloads_total") ||
				strings.HasPrefix(l, "llmroute_circuit_breaker_transitions_total") || strings.HasPrefix(l, "llmroute_retries_total") {
				fmt.Println("    " + l)
			}
		}
	}
}

// verify turns what was seen into the demo's exit status.
func (t *tally) verify() error {
	var errs []error
	check := func(ok bool, what string) {
		if !ok {
			errs = append(errs, errors.New(what))
		}
	}
	check(t.successes == t.requests, fmt.Sprintf("%d of %d requests failed", t.requests-t.successes, t.requests))
	check(t.retried > 0, "no request was retried")
	check(t.fellBack > 0, "no request fell back to another provider")
	check(t.breakerOpen, "the circuit breaker never opened")
	check(t.breakerShut, "the circuit breaker never closed again")
	check(t.reloaded, "the sidecar never reloaded its config")
	check(t.streamed, "no response was streamed")
	check(t.responses, "the Responses API call did not survive the outage by fallback")
	check(t.refreshes >= 2, fmt.Sprintf("the sidecar refreshed the short-lived token %d times over three lifetimes, want at least 2", t.refreshes))
	check(t.lateTokenCalls == 0 && t.refusedTokens == 0, fmt.Sprintf("over three token lifetimes %d calls needed more than one attempt and azure refused %d tokens: "+
		"a token was not refreshed ahead of its expiry", t.lateTokenCalls, t.refusedTokens))
	check(t.reauthed, "a call refused for its revoked token was not served with a new one")
	if len(errs) == 0 {
		fmt.Println("\nOK: every step of the chain worked.")
	}
	return errors.Join(errs...)
}
