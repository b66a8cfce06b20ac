package reload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// fakeTarget loads the file as the proxy would and records what happened.
type fakeTarget struct {
	mu  sync.Mutex
	cfg *config.Config
}

func (f *fakeTarget) ReloadFile(file string) (*config.Config, error) {
	cfg, err := config.Load(file)
	if err == nil {
		f.mu.Lock()
		f.cfg = cfg
		f.mu.Unlock()
	}
	return cfg, err
}

func (f *fakeTarget) Config() *config.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg
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
	if _, err := target.ReloadFile(filepath.Join(dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 10)
	w := &Watcher{File: filepath.Join(dir, "config.json"), Target: target, Log: logr.Discard(),
		Debounce: 20 * time.Millisecond, OnResult: func(err error) { results <- err }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(50 * time.Millisecond) // let the watch start before the first change

	next := func() error {
		t.Helper()
		select {
		case err := <-results:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("no reload after the file changed")
			return nil
		}
	}
	swap(t, dir, "config.json", `{"providers":[{"name":"a","type":"Ollama"}],"rules":[{"backends":["a"]}],"retry":{"attempts":7}}`, 2)
	if err := next(); err != nil {
		t.Fatalf("valid change refused: %v", err)
	}
	if got := target.Config().Retry.Attempts; got != 7 {
		t.Fatalf("attempts %d after reload, want 7", got)
	}
	swap(t, dir, "config.json", `{"providers":[],"rules":[]}`, 3)
	var fe *config.FieldError
	if err := next(); err == nil || !errors.As(err, &fe) {
		t.Fatalf("invalid change: want a field error, got %v", err)
	}
	if got := target.Config().Retry.Attempts; got != 7 {
		t.Fatalf("an invalid change replaced the config (attempts %d)", got)
	}
}

// Files that share the config's directory but are not the config must not
// cause reloads: a config in a busy directory would reload constantly.
func TestWatcherIgnoresUnrelatedFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.json")
	if err := os.WriteFile(file, []byte(`{"providers":[{"name":"a","type":"Ollama"}],"rules":[{"backends":["a"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	target := &fakeTarget{}
	if _, err := target.ReloadFile(file); err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 10)
	w := &Watcher{File: file, Target: target, Log: logr.Discard(), Debounce: 10 * time.Millisecond, OnResult: func(err error) { results <- err }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(50 * time.Millisecond)

	for i := range 5 {
		os.WriteFile(filepath.Join(dir, "app.log"), []byte(strings.Repeat("x", i)), 0o600)
	}
	select {
	case err := <-results:
		t.Fatalf("an unrelated file caused a reload (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	// The config itself, written in place (not through ..data), still reloads.
	os.WriteFile(file, []byte(`{"providers":[{"name":"a","type":"Ollama"}],"rules":[{"backends":["a"]}],"retry":{"attempts":2}}`), 0o600)
	select {
	case err := <-results:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("writing the config file did not reload it")
	}
}
