// Package reload watches the sidecar's config file and credential files
// (keys, tokens, client secrets and assertions) and applies a valid change
// without dropping requests. Kubernetes updates a
// mounted ConfigMap or Secret by swapping a "..data" symlink in the mount's
// directory, so the directories are watched, not the files.
//
// The config and the keys live in two volumes that the kubelet updates one
// after the other, in no set order: a config naming a key that has not
// arrived yet fails to load. Such a reload is retried with backoff until the
// files agree, and the new config's key directories are watched at once, so
// the key's arrival is seen too.
package reload

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// Target is what a reload is applied to: the proxy.
type Target interface {
	// ReloadFile loads the file and applies it, or changes nothing. It
	// returns the config it read even when applying it failed (a key file
	// it names is missing, say), and what the reload changed ("config",
	// "key of openai").
	ReloadFile(file string) (cfg *config.Config, changed []string, err error)
	// Config is the config being served.
	Config() *config.Config
}

// Watcher reloads Target when its files change.
type Watcher struct {
	// File is the config file.
	File string
	// Target receives each valid config.
	Target Target
	// Log reports reloads and refused changes.
	Log logr.Logger
	// Debounce gathers a burst of file events into one reload. 0 means 250ms:
	// a Secret or ConfigMap update is several renames in a row.
	Debounce time.Duration
	// MaxRetryWait caps the wait between retries of a config whose files do
	// not agree yet. 0 means 30s.
	MaxRetryWait time.Duration
	// OnResult, if set, is told the outcome of each reload (for tests and metrics).
	OnResult func(error)

	readyOnce sync.Once
	ready     chan struct{}
}

// Ready is closed once Run watches the files: a change made after it is seen.
func (w *Watcher) Ready() <-chan struct{} {
	w.readyOnce.Do(func() { w.ready = make(chan struct{}) })
	return w.ready
}

// reload loads the file and applies it; on error the running config stays.
// It returns the config read (nil when the file does not load) and whether
// a retry may succeed without the file changing: the config is valid but
// names a key file that is not readable yet.
func (w *Watcher) reload() (*config.Config, bool) {
	cfg, changed, err := w.Target.ReloadFile(w.File)
	switch {
	case err != nil && cfg != nil:
		w.Log.Error(err, "Config change not applied yet: a file it names cannot be read; retrying, the last good config keeps serving", "file", w.File)
	case err != nil:
		w.Log.Error(err, "Config change refused: the last good config keeps serving", "file", w.File)
	case len(changed) == 0:
		w.Log.V(1).Info("Files changed, config unchanged", "file", w.File)
	default:
		w.Log.Info("Config reloaded", "changed", changed, "providers", len(cfg.Providers), "rules", len(cfg.Rules))
	}
	if w.OnResult != nil {
		w.OnResult(err)
	}
	return cfg, err != nil && cfg != nil
}

// Run watches until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch config: %w", err)
	}
	defer fw.Close()
	watched, unwatchable := map[string]bool{}, map[string]bool{}
	watchDirs := func(cfg *config.Config) {
		for _, d := range w.dirs(cfg) {
			if watched[d] {
				continue
			}
			if err := fw.Add(d); err != nil {
				if !unwatchable[d] {
					unwatchable[d] = true
					w.Log.Error(err, "Cannot watch directory: changes in it are seen only by retries", "dir", d)
				}
				continue
			}
			watched[d] = true
		}
	}
	watchDirs(w.Target.Config())
	w.Ready()
	close(w.ready)

	debounce := w.Debounce
	if debounce <= 0 {
		debounce = 250 * time.Millisecond
	}
	maxWait := w.MaxRetryWait
	if maxWait <= 0 {
		maxWait = 30 * time.Second
	}
	retryWait := debounce
	var candidate *config.Config // the last config read, applied or not
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fw.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod || !w.relevant(ev.Name, w.Target.Config(), candidate) {
				continue
			}
			timer.Reset(debounce)
			retryWait = debounce
		case err, ok := <-fw.Errors:
			if !ok {
				return nil
			}
			w.Log.Error(err, "File watch error")
		case <-timer.C:
			cfg, retry := w.reload()
			if cfg != nil {
				candidate = cfg
				watchDirs(cfg) // the new config may name new credential files, arrived or not
			}
			if retry {
				retryWait = min(2*retryWait, maxWait)
				timer.Reset(retryWait)
			}
		}
	}
}

// relevant reports whether a changed path can affect the config: the config
// file, a credential file, or the "..data" symlink through which Kubernetes swaps a
// mounted volume's files. Other files in the same directories (a config in
// /etc next to unrelated files, say) are ignored.
func (w *Watcher) relevant(name string, cfgs ...*config.Config) bool {
	if filepath.Base(name) == "..data" || name == w.File {
		return true
	}
	for _, cfg := range cfgs {
		if cfg == nil {
			continue
		}
		for _, p := range cfg.Providers {
			if slices.Contains(p.CredentialFiles(), name) {
				return true
			}
		}
	}
	return false
}

// dirs are the directories holding the config file and cfg's credential files.
func (w *Watcher) dirs(cfg *config.Config) []string {
	dirs := []string{filepath.Dir(w.File)}
	for _, p := range cfg.Providers {
		for _, f := range p.CredentialFiles() {
			dirs = append(dirs, filepath.Dir(f))
		}
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}
