package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDefaults(t *testing.T) {
	c, err := Load("testdata/minimal.json")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Version: 1,
		Providers: []Provider{{Name: "local", Type: LMStudio, BaseURL: "http://localhost:1234/v1", Timeout: D(DefaultProviderTimeout),
			APIs: []API{ChatCompletions, Completions, Embeddings}}},
		Rules: []Rule{{Backends: []string{"local"}}},
		Retry: Retry{
			Attempts: 3, InitialBackoff: D(2 * time.Second), MaxBackoff: D(10 * time.Second), Multiplier: 2,
			Jitter: ptr(true), RetryOn: DefaultRetryOn, MaxRetryAfter: D(30 * time.Second),
			BudgetPercent: ptr(20), MinRetriesPerSecond: ptr(5),
		},
		CircuitBreaker: CircuitBreaker{
			ConsecutiveFailures: 5, FailureRatio: 0.5, MinRequests: 20,
			Interval: D(time.Minute), OpenTimeout: D(30 * time.Second), HalfOpenRequests: 1,
		},
		Timeouts: Timeouts{Request: D(300 * time.Second), StreamIdle: D(time.Minute)},
	}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", *c, want)
	}
}

func TestParseFullYAML(t *testing.T) {
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"anthropic base URL default", c.Providers[1].BaseURL, "https://api.anthropic.com"},
		{"openai base URL default", c.Providers[0].BaseURL, "https://api.openai.com/v1"},
		{"provider timeout", c.Providers[0].Timeout.Duration, 45 * time.Second},
		{"model mapping", c.Providers[0].Models["gpt-4o-mini"], "gpt-4o-mini-2024-07-18"},
		{"requests per minute", c.Providers[0].RequestsPerMinute, 600},
		{"compound duration", c.Retry.MaxBackoff.Duration, 90 * time.Second},
		{"fractional multiplier", c.Retry.Multiplier, 1.5},
		{"jitter off kept", c.Retry.JitterEnabled(), false},
		{"budget 0 kept (off), not defaulted", *c.Retry.BudgetPercent, 0},
		{"min retries 0 kept", *c.Retry.MinRetriesPerSecond, 0},
		{"retryOn kept", c.Retry.RetryOn, []string{"429", "503", "connect-failure"}},
		{"half-open probes", c.CircuitBreaker.HalfOpenRequests, 2},
		{"burst defaults to rate rounded up", c.RateLimit.Burst, 3},
		{"catch-all rule", len(c.Rules[1].Models), 0},
		{"OpenAI serves Responses by default", c.Providers[0].APIs, []API{ChatCompletions, Responses, Completions, Embeddings}},
		{"Anthropic serves Messages", c.Providers[1].APIs, []API{Messages}},
		{"apis kept", c.Providers[3].APIs, []API{ChatCompletions, Responses}},
		{"oauth2 client assertion", c.Providers[2].OAuth2ClientCredentials.ClientAssertionType, DefaultClientAssertionType},
		{"static headers", c.Providers[0].Headers["OpenAI-Organization"], "org-123"},
		{"insecure kept", c.Providers[3].Insecure, true},
	}
	for _, tc := range checks {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

// A rendered config must load back identically: the operator writes JSON with
// this package's own marshalling, and the sidecar reads it.
func TestJSONRoundTrip(t *testing.T) {
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(js)
	if err != nil {
		t.Fatalf("reparse %s: %v", js, err)
	}
	if !reflect.DeepEqual(c, back) {
		t.Errorf("round trip changed the config:\n got %+v\nwant %+v", back, c)
	}
}

const base = `{"providers":[{"name":"a","type":"Ollama"}],"rules":[{"backends":["a"]}]`

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		wantErr []string
	}{
		{"not YAML", "providers: [", []string{"not valid YAML or JSON"}},
		{"empty", "", []string{"empty"}},
		{"top-level unknown field", base + `,"retries":{}}`, []string{`(document): unknown field "retries"`}},
		{"nested unknown field", base + `,"retry":{"atempts":3}}`, []string{`retry: unknown field "atempts"`}},
		{"unknown provider field", `{"providers":[{"name":"a","type":"Ollama","apikey":"x"}],"rules":[{"backends":["a"]}]}`, []string{`providers[0]: unknown field "apikey"`}},
		{"bad duration", base + `,"retry":{"initialBackoff":"2 seconds"}}`, []string{`retry.initialBackoff: invalid duration "2 seconds"`}},
		{"duration as number", base + `,"timeouts":{"request":300}}`, []string{`timeouts.request: want a duration string`}},
		{"string for int", base + `,"retry":{"attempts":"3"}}`, []string{`retry.attempts: want a whole number, got the string "3"`}},
		{"fraction for int", base + `,"retry":{"attempts":2.5}}`, []string{`retry.attempts: want a whole number`}},
		{"number for retryOn", base + `,"retry":{"retryOn":[503]}}`, []string{`retry.retryOn[0]: want a string, got 503 (quote it)`}},
		{"object for list", `{"providers":{"name":"a"},"rules":[]}`, []string{`providers: want a list, got an object`}},
		{"version", base + `,"version":2}`, []string{"version: unsupported version 2"}},
		{"no providers", `{"rules":[{"backends":["a"]}]}`, []string{"providers: at least one provider is required", `rules[0].backends[0]: "a" names no provider`}},
		{"too many providers", tooMany(), []string{"providers: at most 16 providers"}},
		{"no rules", `{"providers":[{"name":"a","type":"Ollama"}]}`, []string{"rules: at least one rule is required"}},
		{"all provider problems at once", `{"providers":[
			{"name":"A_b","type":"Gemini"},
			{"name":"c","type":"OpenAICompatible","timeout":"-1s"},
			{"name":"c","type":"OpenAI","baseURL":"ftp://x","apiKeyFile":"/k","apiKeyEnv":"K"},
			{"name":"d","type":"Anthropic","models":{"x":""},"requestsPerMinute":-1,"tokensPerMinute":-2}],
			"rules":[{"backends":["c"]}]}`, []string{
			`providers[0].name: "A_b" is not a DNS label`,
			`providers[0].type: unknown type "Gemini"`,
			`providers[1].baseURL: required for type OpenAICompatible`,
			`providers[1].timeout: must be a positive duration, got -1s`,
			`providers[2].name: duplicate provider name "c" (also providers[1])`,
			`providers[2].baseURL: "ftp://x" is not an http(s) URL`,
			`providers[2]: set one credential source, not 2: [apiKeyFile apiKeyEnv]`,
			`providers[3].apiKeyFile: type Anthropic needs a credential`,
			`providers[3].models: model names must not be empty`,
			`providers[3].requestsPerMinute: must not be negative`,
			`providers[3].tokensPerMinute: must not be negative`,
		}},
		{"rule problems", `{"providers":[{"name":"a","type":"Ollama"}],"rules":[{"models":["gpt-["],"backends":["a","b","a"]},{"backends":[]}]}`, []string{
			`rules[0].models[0]: "gpt-[" is not a valid glob pattern`,
			`rules[0].backends[1]: "b" names no provider`,
			`rules[0].backends[2]: "a" is listed twice`,
			`rules[1].backends: at least one backend is required`,
		}},
		{"retry problems", base + `,"retry":{"attempts":11,"initialBackoff":"5s","maxBackoff":"1s","multiplier":0.5,"retryOn":["200","teapot","5xx"],"maxRetryAfter":"-1s","budgetPercent":101,"minRetriesPerSecond":-1}}`, []string{
			"retry.attempts: must be between 1 and 10, got 11",
			"retry.maxBackoff: 1s is shorter than initialBackoff 5s",
			"retry.multiplier: must be between 1 and 10, got 0.5",
			`retry.retryOn[0]: "200" is neither a status code 400-599`,
			`retry.retryOn[1]: "teapot"`,
			`retry.retryOn[2]: "5xx"`,
			"retry.maxRetryAfter: must not be negative",
			"retry.budgetPercent: must be between 0 and 100, got 101",
			"retry.minRetriesPerSecond: must not be negative",
		}},
		{"attempts negative", base + `,"retry":{"attempts":-1}}`, []string{"retry.attempts: must be between 1 and 10, got -1"}},
		{"breaker problems", base + `,"circuitBreaker":{"consecutiveFailures":-1,"failureRatio":1.5,"minRequests":-1,"interval":"-1s","openTimeout":"-1s","halfOpenRequests":-1}}`, []string{
			"circuitBreaker.consecutiveFailures: must be at least 1",
			"circuitBreaker.failureRatio: must be in (0, 1], got 1.5",
			"circuitBreaker.minRequests: must be at least 1",
			"circuitBreaker.interval: must be a positive duration",
			"circuitBreaker.openTimeout: must be a positive duration",
			"circuitBreaker.halfOpenRequests: must be at least 1",
		}},
		{"apis", `{"providers":[
			{"name":"a","type":"Ollama","apis":["Messages","Chat","ChatCompletions","ChatCompletions"]},
			{"name":"b","type":"Anthropic","apiKeyEnv":"K","apis":["Responses"]},
			{"name":"c","type":"OpenAI","apiKeyEnv":"K","apis":[]}],"rules":[{"backends":["a"]}]}`, []string{
			`providers[0].apis[0]: type Ollama speaks the OpenAI format and cannot serve the Anthropic Messages API`,
			`providers[0].apis[1]: unknown API "Chat"`,
			`providers[0].apis[3]: "ChatCompletions" is listed twice`,
			`providers[1].apis[0]: type Anthropic serves the Messages API only, not Responses`,
		}},
		{"base URL credentials, fragment and plain http", `{"providers":[
			{"name":"a","type":"OpenAICompatible","baseURL":"https://user:secret@gw.example/v1?key=abc"},
			{"name":"b","type":"OpenAICompatible","baseURL":"https://gw.example/v1#x"},
			{"name":"c","type":"OpenAICompatible","baseURL":"http://gw.example/v1","apiKeyEnv":"K"}],"rules":[{"backends":["a"]}]}`, []string{
			`providers[0].baseURL: must not contain user information`,
			`providers[1].baseURL: must not contain a fragment`,
			`providers[2].baseURL: http:// would send the API key unencrypted to gw.example: use https://, or set insecure: true`,
		}},
		{"headers", base[:len(base)-len(`],"rules":[{"backends":["a"]}]`)] + `,{"name":"b","type":"Ollama","headers":{"Authorization":"Bearer x","bad name":"v","X-Ok":"a\nb","X-Ctl":"a\u0001b","X-Del":"\u007f"}}],"rules":[{"backends":["a"]}]}`, []string{
			`providers[1].headers.Authorization: Authorization is set by the sidecar`,
			`providers[1].headers.bad name: "bad name" is not a valid HTTP header name`,
			`providers[1].headers.X-Ok: the value must not contain line breaks`,
			`providers[1].headers.X-Ctl: the value must not contain control characters`,
			`providers[1].headers.X-Del: the value must not contain control characters`,
		}},
		{"credentials", `{"providers":[
			{"name":"a","type":"OpenAI","apiKeyFile":"/k","tokenFile":"/t"},
			{"name":"b","type":"OpenAI","apiKeys":[{"file":"/k0","env":"K"},{"name":"x","file":"/k1","weight":-1},{"name":"x","env":"K2","weight":1001,"models":["gpt-["]}]},
			{"name":"c","type":"OpenAI","oauth2ClientCredentials":{"tokenURL":"http://login.example/token","clientSecretFile":"/s","clientAssertionFile":"/a","params":{"scope":"x"}}},
			{"name":"d","type":"OpenAI","oauth2ClientCredentials":{"tokenURL":"https://u:p@login.example/token","clientID":"id","clientSecretFile":"/s","clientAssertionType":"t"}},
			{"name":"e","type":"OpenAICompatible","baseURL":"https://vertex.example/v1","googleExternalAccount":{"tokenURL":"ftp://sts"}}],
			"rules":[{"backends":["a"]}]}`, []string{
			`providers[0]: set one credential source, not 2: [apiKeyFile tokenFile]`,
			`providers[1].apiKeys[0]: set file or env, one of them`,
			`providers[1].apiKeys[1].weight: must be between 1 and 1000, got -1`,
			`providers[1].apiKeys[2].name: duplicate key name "x" (also apiKeys[1])`,
			`providers[1].apiKeys[2].weight: must be between 1 and 1000, got 1001`,
			`providers[1].apiKeys[2].models[0]: "gpt-[" is not a valid glob pattern`,
			`providers[2].oauth2ClientCredentials.tokenURL: http:// would send credentials unencrypted to login.example`,
			`providers[2].oauth2ClientCredentials.clientID: required`,
			`providers[2].oauth2ClientCredentials: set clientSecretFile or clientAssertionFile, one of them`,
			`providers[2].oauth2ClientCredentials.params.scope: is set by the sidecar`,
			`providers[3].oauth2ClientCredentials.tokenURL: must not contain user information`,
			`providers[3].oauth2ClientCredentials.clientAssertionType: only means something with clientAssertionFile`,
			`providers[4].googleExternalAccount.audience: required`,
			`providers[4].googleExternalAccount.subjectTokenFile: required`,
			`providers[4].googleExternalAccount.tokenURL: "ftp://sts" is not an http(s) URL`,
		}},
		{"timeouts and rate limit", base + `,"timeouts":{"request":"-5s","streamIdle":"-1ms"},"rateLimit":{"requestsPerSecond":-1,"burst":-3}}`, []string{
			"timeouts.request: must be a positive duration, got -5s",
			"timeouts.streamIdle: must be a positive duration",
			"rateLimit.requestsPerSecond: must be 0 (off) or positive",
			"rateLimit.burst: must not be negative",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
			if got := strings.Count(err.Error(), "\n") + 1; len(tc.wantErr) > 1 && got < len(tc.wantErr) {
				t.Errorf("want every problem reported (%d), got %d:\n%v", len(tc.wantErr), got, err)
			}
		})
	}
}

func tooMany() string {
	var b strings.Builder
	b.WriteString(`{"providers":[`)
	for i := range 17 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"name":"p` + string(rune('a'+i)) + `","type":"Ollama"}`)
	}
	b.WriteString(`],"rules":[{"backends":["pa"]}]}`)
	return b.String()
}

// Credential defaults: key names and weights, the assertion type, Google's
// STS endpoint and scope.
func TestCredentialDefaults(t *testing.T) {
	c, err := Parse([]byte(`{"providers":[
		{"name":"a","type":"OpenAI","apiKeys":[{"file":"/k0"},{"name":"openai-2/api-key","env":"K","weight":3}]},
		{"name":"b","type":"OpenAI","oauth2ClientCredentials":{"tokenURL":"https://login.example/token","clientID":"id","clientAssertionFile":"/var/run/token"}},
		{"name":"c","type":"OpenAICompatible","baseURL":"https://vertex.example/v1","googleExternalAccount":{"audience":"//iam.googleapis.com/x","subjectTokenFile":"/var/run/token"}}],
		"rules":[{"backends":["a"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	keys := c.Providers[0].APIKeys
	if keys[0].Name != "0" || keys[0].Weight != 1 || keys[1].Name != "openai-2/api-key" || keys[1].Weight != 3 {
		t.Errorf("keys %+v", keys)
	}
	if got := c.Providers[1].OAuth2ClientCredentials.ClientAssertionType; got != DefaultClientAssertionType {
		t.Errorf("assertion type %q", got)
	}
	g := c.Providers[2].GoogleExternalAccount
	if g.TokenURL != DefaultGoogleSTSURL || g.SubjectTokenType != DefaultSubjectTokenType || len(g.Scopes) != 1 || g.Scopes[0] != DefaultGoogleScope {
		t.Errorf("google %+v", g)
	}
	for _, p := range c.Providers {
		if !p.HasCredential() {
			t.Errorf("%s: no credential", p.Name)
		}
	}
}

func TestParseNeverPrintsURLSecrets(t *testing.T) {
	_, err := Parse([]byte(`{"providers":[{"name":"a","type":"OpenAICompatible","baseURL":"https://user:hunter2@gw.example/v1?key=sk-123"}],"rules":[{"backends":["a"]}]}`))
	if err == nil {
		t.Fatal("a base URL with user information was accepted")
	}
	for _, secret := range []string{"hunter2", "sk-123"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows %q: %v", secret, err)
		}
	}
}

func TestLocalHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true, "ollama.ollama.svc": true,
		"ollama.ollama.svc.cluster.local": true, "ollama.ollama.svc.cluster.local.": true, "LOCALHOST": true,
		"api.openai.com": false, "10.0.0.1": false, "ollama": false, "svc.example.com": false, "": false,
	} {
		if got := LocalHost(host); got != want {
			t.Errorf("LocalHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "read config") {
		t.Fatalf("want a read error, got %v", err)
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(f, []byte("version: 1\nproviders: []\nrules: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(f)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Fatalf("want the file named in %v", err)
	}
}

func TestDefaultIsIdempotent(t *testing.T) {
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := json.Marshal(c)
	c.Default()
	after, _ := json.Marshal(c)
	if string(before) != string(after) {
		t.Errorf("Default changed a defaulted config:\n%s\n%s", before, after)
	}
}
