package reload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// fakeTarget loads the file as the proxy would — a config whose credential
// files cannot be read is not applied — and records what happened.
type fakeTarget struct {
	mu  sync.Mutex
	cfg *config.Config
}

func (f *fakeTarget) ReloadFile(file string) (*config.Config, []string, error) {
	cfg, err := config.Load(file)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range cfg.Providers {
		for _, f := range p.CredentialFiles() {
			if _, err := os.ReadFile(f); err != nil {
				return cfg, nil, err
			}
		}
	}
	f.mu.Lock()
	f.cfg = cfg
	f.mu.Unlock()
	return cfg, []string{"config"}, nil
}

func (f *fakeTarget) Config() *config.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg
}

// startWatcher runs w until the test ends and returns once it watches.
func startWatcher(t *testing.T, w *Watcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-w.Ready():
	case err := <-done:
		t.Fatalf("watcher stopped: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher did not start watching")
	}
}

// nextResult waits for the outcome of the next reload.
func nextResult(t *testing.T, results <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-results:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("no reload after %s", what)
		return nil
	}
}

// swap writes a file the way Kubernetes updates a mounted ConfigMap: a new
// timestamped directory, then one rename of the "..data" symlink.
func swap(t *testing.T, dir, name, content string, n int) {
	t.Helper()
	ts := filepath.Join(dir, "..v"+string(rune('0'+n)))
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, name)); os.IsNotExist(err) {
		os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name))
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

func TestWatcherAppliesValidChangesAndRefusesBadOnes(t *testing.T) {
	dir := t.TempDir()
	swap(t, dir, "config.json", `{"providers":[{"name":"a","type":"Ollama"}],"rules":[{"backends":["a"]}]}`, 1)
	target := &fakeTarget{}
	if _, _, err := target.ReloadFile(filepath.Join(dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 10)
	w := &Watcher{File: filepath.Join(dir, "config.json"), Target: target, Log: logr.Discard(),
		Debounce: 20 * time.Millisecond, OnResult: func(err error) { results <- err }}
	startWatcher(t, w)

	swap(t, dir, "config.json", `{"providers":[{"name":"a","type":"Ollama"}],"rules":[{"backends":["a"]}],"retry":{"attempts":7}}`, 2)
	if err := nextResult(t, results, "a valid change"); err != nil {
		t.Fatalf("valid change refused: %v", err)
	}
	if got := target.Config().Retry.Attempts; got != 7 {
		t.Fatalf("attempts %d after reload, want 7", got)
	}
	swap(t, dir, "config.json", `{"providers":[],"rules":[]}`, 3)
	var fe *config.FieldError
	if err := nextResult(t, results, "an invalid change"); err == nil || !errors.As(err, &fe) {
		t.Fatalf("invalid change: want a field error, got %v", err)
	}
	if got := target.Config().Retry.Attempts; got != 7 {
		t.Fatalf("an invalid change replaced the config (attempts %d)", got)
	}
}

// Files that share the config's directory but are not the config must not
// cause reloads: a config in a busy directory would reload constantly.
func TestRelevantFiles(t *testing.T) {
	cfg := &config.Config{Providers: []config.Provider{{Name: "a", APIKeyFile: "/keys/a"},
		{Name: "p", APIKeys: []config.APIKey{{File: "/keys/p-0"}, {Env: "K"}}},
		{Name: "t", TokenFile: "/var/run/token"},
		{Name: "o", OAuth2ClientCredentials: &config.OAuth2ClientCredentials{ClientSecretFile: "/keys/o"}},
		{Name: "g", GoogleExternalAccount: &config.GoogleExternalAccount{SubjectTokenFile: "/var/run/gcp/token"}}}}
	next := &config.Config{Providers: []config.Provider{{Name: "b", APIKeyFile: "/keys/b"}}}
	w := &Watcher{File: "/etc/llmroute/config.json"}
	for name, want := range map[string]bool{
		"/etc/llmroute/config.json": true, "/etc/llmroute/..data": true, "/keys/..data": true,
		"/keys/a": true, "/keys/b": true, "/keys/p-0": true, "/var/run/token": true, "/keys/o": true, "/var/run/gcp/token": true,
		"/etc/llmroute/app.log": false, "/keys/c": false, "/etc/llmroute/config.json.swp": false, "/var/run/other": false,
	} {
		if got := w.relevant(name, cfg, next); got != want {
			t.Errorf("relevant(%s) = %v, want %v", name, got, want)
		}
	}
}

// A config written in place (not through ..data) reloads.
func TestWatcherSeesPlainWrites(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.json")
	if err := os.WriteFile(file, []byte(`{"providers":[{"name":"a","type":"Ollama"}],"rules":[{"backends":["a"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	target := &fakeTarget{}
	if _, _, err := target.ReloadFile(file); err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 10)
	startWatcher(t, &Watcher{File: file, Target: target, Log: logr.Discard(), Debounce: 10 * time.Millisecond, OnResult: func(err error) { results <- err }})
	os.WriteFile(file, []byte(`{"providers":[{"name":"a","type":"Ollama"}],"rules":[{"backends":["a"]}],"retry":{"attempts":2}}`), 0o600)
	if err := nextResult(t, results, "writing the config file"); err != nil || target.Config().Retry.Attempts != 2 {
		t.Fatalf("reload: %v, attempts %d", err, target.Config().Retry.Attempts)
	}
}

// The kubelet updates the config and the keys volumes one after the other,
// in no set order. A route that gains its first keyed provider can see the
// config before the key: the reload fails, is retried, and succeeds once the
// key arrives — it used to stay stuck on the old config for good.
func TestConfigFirstKeyLater(t *testing.T) {
	configDir, keysDir := t.TempDir(), t.TempDir()
	swap(t, configDir, "config.json", `{"providers":[{"name":"a","type":"Ollama"}],"rules":[{"backends":["a"]}]}`, 1)
	target := &fakeTarget{}
	file := filepath.Join(configDir, "config.json")
	if _, _, err := target.ReloadFile(file); err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 100)
	startWatcher(t, &Watcher{File: file, Target: target, Log: logr.Discard(), Debounce: 10 * time.Millisecond,
		MaxRetryWait: 50 * time.Millisecond, OnResult: func(err error) { results <- err }})

	keyed := `{"providers":[{"name":"a","type":"OpenAI","apiKeyFile":"` + filepath.Join(keysDir, "a") + `"}],"rules":[{"backends":["a"]}]}`
	swap(t, configDir, "config.json", keyed, 2)
	if err := nextResult(t, results, "the config changed"); err == nil {
		t.Fatal("a config naming a missing key was applied")
	}
	if err := nextResult(t, results, "a failed reload"); err == nil {
		t.Fatal("the retry applied a config whose key is still missing")
	}
	swap(t, keysDir, "a", "sk-new\n", 1)
	deadline := time.After(10 * time.Second)
	for target.Config().Providers[0].Type != config.OpenAI {
		select {
		case <-results:
		case <-deadline:
			t.Fatal("the config was never applied after its key arrived")
		}
	}
}

// A token file that another agent keeps fresh (a projected ServiceAccount
// token, in its own volume) is watched like a key: its change reloads, so
// the next call sends the new token.
func TestWatcherSeesTokenFiles(t *testing.T) {
	configDir, tokenDir := t.TempDir(), t.TempDir()
	swap(t, tokenDir, "token", "jwt-1", 1)
	swap(t, configDir, "config.json", `{"providers":[{"name":"a","type":"OpenAI","tokenFile":"`+filepath.Join(tokenDir, "token")+`"}],"rules":[{"backends":["a"]}]}`, 1)
	target := &fakeTarget{}
	file := filepath.Join(configDir, "config.json")
	if _, _, err := target.ReloadFile(file); err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 10)
	startWatcher(t, &Watcher{File: file, Target: target, Log: logr.Discard(), Debounce: 10 * time.Millisecond, OnResult: func(err error) { results <- err }})
	swap(t, tokenDir, "token", "jwt-2", 2)
	if err := nextResult(t, results, "the token file changed"); err != nil {
		t.Fatal(err)
	}
}
