// Package reload watches the sidecar's config file and API key files and
// applies a valid change without dropping requests. Kubernetes updates a
// mounted ConfigMap or Secret by swapping a "..data" symlink in the mount's
// directory, so the directories are watched, not the files.
package reload

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// Target is what a reload is applied to: the proxy.
type Target interface {
	// ReloadFile loads the file and applies it, or changes nothing.
	ReloadFile(file string) (*config.Config, error)
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
	// OnResult, if set, is told the outcome of each reload (for tests and metrics).
	OnResult func(error)
}

// Reload loads the file and applies it; on error the running config stays.
func (w *Watcher) Reload() error {
	cfg, err := w.Target.ReloadFile(w.File)
	if err != nil {
		w.Log.Error(err, "Config change refused: the last good config keeps serving", "file", w.File)
	} else {
		w.Log.Info("Config reloaded", "file", w.File, "providers", len(cfg.Providers), "rules", len(cfg.Rules))
	}
	if w.OnResult != nil {
		w.OnResult(err)
	}
	return err
}

// Run watches until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch config: %w", err)
	}
	defer fw.Close()
	watched := map[string]bool{}
	watchDirs := func() {
		for _, d := range w.dirs() {
			if watched[d] {
				continue
			}
			if err := fw.Add(d); err != nil {
				w.Log.Error(err, "Cannot watch directory: changes in it will not be reloaded", "dir", d)
				continue
			}
			watched[d] = true
		}
	}
	watchDirs()

	debounce := w.Debounce
	if debounce <= 0 {
		debounce = 250 * time.Millisecond
	}
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
			if ev.Op == fsnotify.Chmod || !w.relevant(ev.Name) {
				continue
			}
			timer.Reset(debounce)
		case err, ok := <-fw.Errors:
			if !ok {
				return nil
			}
			w.Log.Error(err, "File watch error")
		case <-timer.C:
			if w.Reload() == nil {
				watchDirs() // the new config may name new key files
			}
		}
	}
}

// relevant reports whether a changed path can affect the config: the config
// file, a key file, or the "..data" symlink through which Kubernetes swaps a
// mounted volume's files. Other files in the same directories (a config in
// /etc next to unrelated files, say) are ignored.
func (w *Watcher) relevant(name string) bool {
	if filepath.Base(name) == "..data" || name == w.File {
		return true
	}
	for _, p := range w.Target.Config().Providers {
		if p.APIKeyFile != "" && name == p.APIKeyFile {
			return true
		}
	}
	return false
}

// dirs are the directories holding the config file and the key files.
func (w *Watcher) dirs() []string {
	dirs := []string{filepath.Dir(w.File)}
	for _, p := range w.Target.Config().Providers {
		if p.APIKeyFile != "" {
			dirs = append(dirs, filepath.Dir(p.APIKeyFile))
		}
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}
