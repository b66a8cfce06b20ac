package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/hack/process"
)

// tokenLifetime is short, so that the demo sees several refreshes in a few
// seconds; real tokens live an hour or so.
const tokenLifetime = 2 * time.Second

// expiringTokens shows a provider that takes only short-lived OAuth 2.0
// tokens: a second sidecar, run from a plain file as it runs outside
// Kubernetes, obtains them from a fake identity platform with the client
// credentials grant and refreshes each ahead of its expiry, so calls made
// over several lifetimes all succeed at their first attempt; and a token
// the platform revokes costs one refusal, answered with a new token.
func (d *demo) expiringTokens(ctx context.Context) error {
	d.stepf("A provider with short-lived OAuth2 tokens: the sidecar refreshes them ahead of expiry")
	ts := mock.NewTokenServer(mock.TokenOptions{ClientID: "llmroute-demo", ClientSecret: "demo-secret", Lifetime: tokenLifetime})
	m := mock.New(mock.Options{Name: "azure", Tokens: ts})
	addr, err := d.serveMock("azure", m, ts.InFrontOf(m))
	if err != nil {
		return err
	}
	url := "http://" + addr
	say("provider azure and its identity platform on %s: tokens live %s, and azure refuses any other", addr, tokenLifetime)

	cfg, err := d.writeTokenConfig(url)
	if err != nil {
		return err
	}
	sc, err := process.Start(ctx, process.Options{
		Name:       "sidecar (oauth2)",
		Args:       []string{d.o.sidecar, "--config", cfg, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"},
		Echo:       d.echo(),
		EchoPrefix: "      [sidecar oauth2] ",
		Ready:      process.Logged("llmroute-sidecar serving", "listen", "admin"),
	})
	if err != nil {
		return fmt.Errorf("the second sidecar did not start: %w", err)
	}
	d.defer_(sc.Stop)
	proxy, admin := sc.Addrs[0], sc.Addrs[1]
	// What the injected startup probe does: /readyz answers 200 once the
	// first token has come.
	if err := sc.WaitHTTP(ctx, "http://"+admin+"/readyz", 15*time.Second); err != nil {
		return err
	}
	say("a second sidecar from a plain file (%s): oauth2ClientCredentials with the client secret in a file", cfg)
	say("/readyz on %s answered 200 once the first token had come (the startup probe waits for it)", admin)

	say("calls every 100ms for three token lifetimes:")
	t0 := time.Now()
	before := ts.Stats()
	calls, late, issued := 0, 0, before.Issued
	for time.Since(t0) < 3*tokenLifetime+tokenLifetime/4 {
		status, attempts, err := d.quietCall(ctx, proxy)
		if err != nil {
			return err
		}
		calls++
		if status != http.StatusOK || attempts != "1" {
			late++
			say("call at %s: %d, attempts %s", time.Since(t0).Round(time.Millisecond), status, attempts)
		}
		if n := ts.Stats().Issued; n != issued {
			d.tally.mu.Lock()
			d.tally.refreshes++
			d.tally.mu.Unlock()
			say("  at %4s: token #%d fetched ahead of the old one's expiry; no call waited for it", time.Since(t0).Round(100*time.Millisecond), n)
			issued = n
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	refused := ts.Stats().Rejected - before.Rejected
	d.tally.mu.Lock()
	d.tally.lateTokenCalls += late
	d.tally.refusedTokens += refused
	d.tally.mu.Unlock()
	say("%d calls in %s, %d of them answered 200 at their first attempt; azure refused %d tokens",
		calls, time.Since(t0).Round(100*time.Millisecond), calls-late, refused)

	say("the identity platform revokes every token it issued: the next call is refused once, then sent with a new token:")
	ts.Revoke()
	resp, err := d.callOn(ctx, sc, proxy, "/v1/chat/completions", chatRequest)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusOK && resp.Header.Get("x-llmroute-attempts") == "2" {
		d.tally.mu.Lock()
		d.tally.reauthed = true
		d.tally.mu.Unlock()
	}
	if r, err := http.Get("http://" + admin + "/metrics"); err == nil {
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		say("from this sidecar's /metrics:")
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "llmroute_token_fetches_total") || strings.HasPrefix(l, "llmroute_credential_state") {
				say("  %s", l)
			}
		}
	}
	return nil
}

// writeTokenConfig writes the second sidecar's config and client secret,
// as an LLMRoute with oauth2ClientCredentials renders them.
func (d *demo) writeTokenConfig(url string) (string, error) {
	dir := filepath.Join(d.dir, "oauth2")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	secret := filepath.Join(dir, "client-secret")
	if err := os.WriteFile(secret, []byte("demo-secret\n"), 0o600); err != nil {
		return "", err
	}
	cfg := map[string]any{
		"version": 1,
		"providers": []any{map[string]any{
			"name": "azure", "type": "OpenAICompatible", "baseURL": url + "/v1",
			"oauth2ClientCredentials": map[string]any{"tokenURL": url + mock.TokenPath, "clientID": "llmroute-demo", "clientSecretFile": secret},
		}},
		"rules": []any{map[string]any{"backends": []string{"azure"}}},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, "config.json")
	return file, os.WriteFile(file, b, 0o600)
}

// quietCall sends a call without printing it, and counts it.
func (d *demo) quietCall(ctx context.Context, proxy string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+proxy+"/v1/chat/completions", strings.NewReader(chatRequest))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	attempts := resp.Header.Get("x-llmroute-attempts")
	n, _ := strconv.Atoi(attempts)
	d.tally.mu.Lock()
	d.tally.requests++
	d.tally.attempts += n
	if resp.StatusCode == http.StatusOK {
		d.tally.successes++
		d.tally.servedBy["azure"]++
	}
	d.tally.mu.Unlock()
	return resp.StatusCode, attempts, nil
}
