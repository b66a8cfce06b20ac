package credentials

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// poolConfig is a valid config with one provider "p" holding keys.
func poolConfig(t *testing.T, typ config.ProviderType, keys ...config.APIKey) *config.Config {
	t.Helper()
	c := &config.Config{Providers: []config.Provider{{Name: "p", Type: typ, APIKeys: keys}}, Rules: []config.Rule{{Backends: []string{"p"}}}}
	c.Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func buildPool(t *testing.T, cfg *config.Config, env *Env) *pool {
	t.Helper()
	s, err := Build(cfg, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	return s.Get("p").(*pool)
}

func pick(t *testing.T, s Source, model string) *Credential {
	t.Helper()
	c, err := s.Pick(context.Background(), Call{Model: model})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Calls are spread over the keys by weight, smoothly: a key of weight 3
// next to one of weight 1 gets three calls in four, never the heavy key's
// whole share in one burst. The key goes in the family's header.
func TestPoolSpreadsByWeight(t *testing.T) {
	dir := t.TempDir()
	cfg := poolConfig(t, config.Anthropic,
		config.APIKey{Name: "light", File: writeFile(t, dir, "a", "sk-a\n")},
		config.APIKey{Name: "heavy", File: writeFile(t, dir, "b", "sk-b"), Weight: 3})
	p := buildPool(t, cfg, testEnv(newFakeClock(), 0))
	var seq []string
	counts := map[string]int{}
	for range 400 {
		c := pick(t, p, "claude-haiku")
		if c.Header != "X-Api-Key" || (c.Value != "sk-a" && c.Value != "sk-b") {
			t.Fatalf("credential %+v", c)
		}
		counts[c.Key]++
		seq = append(seq, c.Key)
	}
	if counts["light"] != 100 || counts["heavy"] != 300 {
		t.Errorf("spread %v, want 100/300", counts)
	}
	for i := 0; i+4 <= len(seq); i++ {
		if n := strings.Count(strings.Join(seq[i:i+4], ","), "light"); n != 1 {
			t.Fatalf("picks %d–%d are %v: not smooth", i, i+3, seq[i:i+4])
		}
	}
}

// A key serves only the models its patterns match; a call for a model no
// key serves gets no credential, and says so.
func TestPoolFiltersByModel(t *testing.T) {
	dir := t.TempDir()
	cfg := poolConfig(t, config.OpenAI,
		config.APIKey{Name: "mini", File: writeFile(t, dir, "a", "sk-a"), Models: []string{"gpt-4o-mini*"}},
		config.APIKey{Name: "big", File: writeFile(t, dir, "b", "sk-b"), Models: []string{"gpt-5*", "o3"}})
	p := buildPool(t, cfg, testEnv(newFakeClock(), 0))
	for model, want := range map[string]string{"gpt-4o-mini": "mini", "gpt-5.1": "big", "o3": "big"} {
		for range 3 {
			if c := pick(t, p, model); c.Key != want || c.Value != "Bearer sk-"+map[string]string{"mini": "a", "big": "b"}[want] {
				t.Fatalf("%s got %+v, want key %s", model, c, want)
			}
		}
	}
	if _, err := p.Pick(context.Background(), Call{Model: "claude-haiku"}); !errors.Is(err, ErrNoCredential) || !strings.Contains(err.Error(), "serves model") {
		t.Errorf("no key for the model: %v", err)
	}
	if c := pick(t, p, ""); c == nil {
		t.Error("a call that names no model (a file upload) must get a key")
	}
}

// A key answered 429 cools down for its Retry-After while the others
// serve, and Answered hands over the next key at once; when every key is
// cooling the source says so, and once the time is up the key serves again.
func TestPoolKeyCoolsDownOn429(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	cfg := poolConfig(t, config.OpenAI,
		config.APIKey{Name: "a", File: writeFile(t, dir, "a", "sk-a")},
		config.APIKey{Name: "b", File: writeFile(t, dir, "b", "sk-b")})
	p := buildPool(t, cfg, testEnv(clock, 0))
	ctx := context.Background()
	a := pick(t, p, "m")
	next := p.Answered(ctx, a, Call{Model: "m"}, Answer{Status: http.StatusTooManyRequests, RetryAfter: 5 * time.Second, HasRetryAfter: true})
	if next == nil || next == a {
		t.Fatalf("after a 429 the next key: %+v", next)
	}
	for range 4 {
		if c := pick(t, p, "m"); c != next {
			t.Fatalf("a cooling key was picked: %s", c.Key)
		}
	}
	if st := p.Status(); st.Keys[0].State != CoolingDown || st.Keys[1].State != Usable || st.Err != nil {
		t.Fatalf("status %+v", st)
	}
	// A reload in the meantime keeps the cool-down: the key's value is the same.
	reloaded, err := Build(cfg, &Set{sources: map[string]Source{"p": p}}, testEnv(clock, 0))
	if err != nil {
		t.Fatal(err)
	}
	if st := reloaded.Get("p").Status(); st.Keys[0].State != CoolingDown {
		t.Fatalf("a reload forgot the cool-down: %+v", st)
	}
	if again := p.Answered(ctx, next, Call{Model: "m"}, Answer{Status: http.StatusTooManyRequests}); again != nil {
		t.Fatalf("every key cooling, yet Answered offered %s", again.Key)
	}
	if _, err := p.Pick(ctx, Call{Model: "m"}); !errors.Is(err, ErrCoolingDown) {
		t.Fatalf("every key cooling: %v", err)
	}
	if st := p.Status(); !errors.Is(st.Err, ErrCoolingDown) {
		t.Fatalf("status %+v", st)
	}
	clock.Advance(5 * time.Second) // a's Retry-After; b cools for DefaultCooldown
	if c := pick(t, p, "m"); c != a {
		t.Fatalf("after its cool-down, got %s", c.Key)
	}
	clock.Advance(DefaultCooldown)
	if st := p.Status(); st.Keys[1].State != Usable {
		t.Fatalf("status %+v", st)
	}
}

// A key answered 401 or 403 is set aside: the next key serves at once, and
// the refused one is never picked again, even across a reload, until its
// file holds another key.
func TestPoolKeySetAsideUntilFileChanges(t *testing.T) {
	dir := t.TempDir()
	env := testEnv(newFakeClock(), 0)
	fa := writeFile(t, dir, "a", "sk-revoked")
	cfg := poolConfig(t, config.OpenAI,
		config.APIKey{Name: "secret-a/api-key", File: fa},
		config.APIKey{Name: "secret-b/api-key", File: writeFile(t, dir, "b", "sk-b")})
	set, err := Build(cfg, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	p := set.Get("p").(*pool)
	a := pick(t, p, "m")
	if a.Key != "secret-a/api-key" {
		t.Fatalf("first pick %s", a.Key)
	}
	next := p.Answered(context.Background(), a, Call{Model: "m"}, Answer{Status: http.StatusUnauthorized})
	if next == nil || next.Key != "secret-b/api-key" {
		t.Fatalf("after a 401: %+v", next)
	}
	for range 4 {
		if c := pick(t, p, "m"); c.Key != "secret-b/api-key" {
			t.Fatal("a refused key was picked")
		}
	}
	if st := p.Status(); st.Keys[0].State != Refused || st.Err != nil {
		t.Fatalf("status %+v", st)
	}

	// A reload with the same key file content keeps it aside.
	same, err := Build(cfg, set, env)
	if err != nil {
		t.Fatal(err)
	}
	if st := same.Get("p").Status(); st.Keys[0].State != Refused {
		t.Fatalf("a reload forgot the refusal: %+v", st)
	}
	if got := Changed(set.Get("p"), same.Get("p")); got != nil {
		t.Errorf("changed %v", got)
	}
	// The Secret is rotated: the key comes back.
	writeFile(t, dir, "a", "sk-new")
	rotated, err := Build(cfg, same, env)
	if err != nil {
		t.Fatal(err)
	}
	if st := rotated.Get("p").Status(); st.Keys[0].State != Usable {
		t.Fatalf("a rotated key is still aside: %+v", st)
	}
	if got := Changed(same.Get("p"), rotated.Get("p")); len(got) != 1 || got[0] != "key secret-a/api-key" {
		t.Errorf("changed %v", got)
	}
	// Every key refused: the source has nothing to send.
	rp := rotated.Get("p").(*pool)
	for range 2 {
		c := pick(t, rp, "m")
		rp.Answered(context.Background(), c, Call{Model: "m"}, Answer{Status: http.StatusForbidden})
	}
	if _, err := rp.Pick(context.Background(), Call{Model: "m"}); !errors.Is(err, ErrNoCredential) || !strings.Contains(err.Error(), "set aside") {
		t.Fatalf("every key refused: %v", err)
	}
}

// Calls that reach state kept at the provider stay on one key: the first
// usable one, in order.
func TestPoolStablePick(t *testing.T) {
	dir := t.TempDir()
	cfg := poolConfig(t, config.OpenAI,
		config.APIKey{Name: "a", File: writeFile(t, dir, "a", "sk-a")},
		config.APIKey{Name: "b", File: writeFile(t, dir, "b", "sk-b"), Weight: 10})
	p := buildPool(t, cfg, testEnv(newFakeClock(), 0))
	for range 5 {
		if c, _ := p.Pick(context.Background(), Call{Stable: true}); c.Key != "a" {
			t.Fatalf("stable pick %s", c.Key)
		}
	}
}

// A single key file is read again on a 401: the kubelet may have written
// the rotated key before the watcher reloaded it, and the provider may
// already refuse the old one. Unchanged, the refusal stands and the state
// says so until a success; the key is not set aside (the provider's only
// one: its breaker decides).
func TestSingleKeyRereadOn401(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "key", "sk-old")
	cfg := &config.Config{Providers: []config.Provider{{Name: "p", Type: config.OpenAI, APIKeyFile: f}}}
	cfg.Default()
	set, err := Build(cfg, nil, testEnv(newFakeClock(), 0))
	if err != nil {
		t.Fatal(err)
	}
	s := set.Get("p")
	ctx := context.Background()
	old := pick(t, s, "m")
	if next := s.Answered(ctx, old, Call{}, Answer{Status: http.StatusUnauthorized}); next != nil {
		t.Fatalf("the file did not change, yet: %+v", next)
	}
	if st := s.Status(); st.Keys[0] != (KeyStatus{Name: KindAPIKey, State: Refused}) {
		t.Fatalf("status %+v", st)
	}
	if c := pick(t, s, "m"); c != old {
		t.Fatal("the only key was set aside")
	}
	writeFile(t, dir, "key", "sk-new\n")
	next := s.Answered(ctx, old, Call{}, Answer{Status: http.StatusUnauthorized})
	if next == nil || next.Value != "Bearer sk-new" {
		t.Fatalf("after the file changed: %+v", next)
	}
	if st := s.Status(); st.Keys[0].State != Usable {
		t.Fatalf("status %+v", st)
	}
	if c := pick(t, s, "m"); c != next {
		t.Fatal("the new key is not the one picked")
	}
}

// A token file is a bearer token whatever the provider's family; a key
// that an HTTP header cannot carry is refused at load, naming the file,
// never showing the key.
func TestSingleSources(t *testing.T) {
	dir := t.TempDir()
	env := testEnv(newFakeClock(), 0)
	tok := writeFile(t, dir, "token", "eyJhbGciOi.x.y\n")
	cfg := &config.Config{Providers: []config.Provider{{Name: "p", Type: config.Anthropic, TokenFile: tok}}}
	cfg.Default()
	set, err := Build(cfg, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if c := pick(t, set.Get("p"), ""); c.Header != "Authorization" || c.Value != "Bearer eyJhbGciOi.x.y" || c.Key != KindToken {
		t.Fatalf("token file: %+v", c)
	}
	bad := writeFile(t, dir, "bad", "sk-one\nsk-two")
	cfg.Providers[0].TokenFile, cfg.Providers[0].APIKeyFile = "", bad
	if _, err := Build(cfg, nil, env); err == nil || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), "sk-one") {
		t.Fatalf("a key with a line break: %v", err)
	}
	t.Setenv("LLMROUTE_TEST_KEY", " sk-env ")
	cfg.Providers[0].APIKeyFile, cfg.Providers[0].APIKeyEnv = "", "LLMROUTE_TEST_KEY"
	set, err = Build(cfg, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if c := pick(t, set.Get("p"), ""); c.Header != "X-Api-Key" || c.Value != "sk-env" {
		t.Fatalf("env key: %+v", c)
	}
}

// A token file that is not there yet (written by another container of the
// pod, which waits for the sidecar) leaves the provider unavailable rather
// than failing the config: a sidecar that would not start would hold up
// the very container that writes the file. Once it is there it is sent.
func TestTokenFileNotThereYet(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	tok := dir + "/llm.jwt"
	cfg := &config.Config{Providers: []config.Provider{{Name: "p", Type: config.OpenAICompatible, BaseURL: "http://127.0.0.1:1/v1", TokenFile: tok}}}
	cfg.Default()
	set, err := Build(cfg, nil, testEnv(clock, 0))
	if err != nil {
		t.Fatalf("a missing token file failed the config: %v", err)
	}
	s := set.Get("p")
	if st := s.Status(); st.Keys[0].State != Unavailable || !errors.Is(st.Err, ErrNoCredential) || !strings.Contains(st.Err.Error(), tok) {
		t.Fatalf("status %+v", st)
	}
	if _, err := s.Pick(context.Background(), Call{}); !errors.Is(err, ErrNoCredential) {
		t.Fatalf("pick without the file: %v", err)
	}
	writeFile(t, dir, "llm.jwt", "jwt-1")
	if _, err := s.Pick(context.Background(), Call{}); err == nil {
		t.Fatal("the file was read again within a second: every call would read it")
	}
	clock.Advance(time.Second)
	if c := pick(t, s, ""); c.Value != "Bearer jwt-1" {
		t.Fatalf("after the file came: %+v", c)
	}
	if st := s.Status(); st.Keys[0].State != Usable || st.Err != nil {
		t.Fatalf("status %+v", st)
	}
	// A key file, unlike it, must be there: the config waits for it.
	cfg.Providers[0].TokenFile, cfg.Providers[0].APIKeyFile = "", dir+"/missing-key"
	if _, err := Build(cfg, nil, testEnv(clock, 0)); err == nil {
		t.Error("a missing key file was accepted")
	}
}
