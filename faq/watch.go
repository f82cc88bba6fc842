package faq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher reloads a FAQ folder when its files change. A valid FAQ is handed to
// Apply; an invalid one is logged with every problem and the last good FAQ
// stays in service.
type Watcher struct {
	Dir string
	// Options are those of every load (the agents' groups).
	Options Options
	// Apply receives each valid FAQ (builds and swaps in a new matcher). An
	// error counts as a failed reload.
	Apply func(*FAQ) error
	// Debounce waits for a burst of writes (an editor saving several files, a
	// git checkout) to settle. Default 300 ms.
	Debounce time.Duration
	Logger   *slog.Logger
	// OnResult, if set, is told of every reload attempt (for metrics and tests).
	OnResult func(err error)

	wg     sync.WaitGroup
	cancel context.CancelFunc
}

// Start watches Dir and its subfolders until ctx ends or Close is called.
func (w *Watcher) Start(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch faq: %w", err)
	}
	if err := addTree(fw, w.Dir); err != nil {
		fw.Close()
		return fmt.Errorf("watch faq: %w", err)
	}
	if w.Debounce == 0 {
		w.Debounce = 300 * time.Millisecond
	}
	if w.Logger == nil {
		w.Logger = slog.Default()
	}
	ctx, w.cancel = context.WithCancel(ctx)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer fw.Close()
		var timer *time.Timer
		var fire <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				if timer != nil {
					timer.Stop()
				}
				return
			case ev, ok := <-fw.Events:
				if !ok {
					return
				}
				if ev.Op&fsnotify.Create != 0 {
					if st, err := os.Stat(ev.Name); err == nil && st.IsDir() {
						_ = addTree(fw, ev.Name)
					}
				}
				if timer == nil {
					timer = time.NewTimer(w.Debounce)
				} else {
					timer.Reset(w.Debounce)
				}
				fire = timer.C
			case err, ok := <-fw.Errors:
				if !ok {
					return
				}
				w.Logger.Warn("faq watch error", "err", err)
			case <-fire:
				fire = nil
				w.reload()
			}
		}
	}()
	return nil
}

// Reload loads and applies the folder now.
func (w *Watcher) reload() {
	f, err := LoadWith(w.Dir, w.Options)
	if err == nil {
		err = w.Apply(f)
	}
	var ps Problems
	switch {
	case err == nil:
		w.Logger.Info("faq reloaded", "dir", w.Dir, "intents", len(f.Intents))
	case errors.As(err, &ps):
		w.Logger.Error("faq reload refused, the previous faq stays in service", "dir", w.Dir, "problems", len(ps), "err", err.Error())
	default:
		w.Logger.Error("faq reload failed, the previous faq stays in service", "dir", w.Dir, "err", err)
	}
	if w.OnResult != nil {
		w.OnResult(err)
	}
}

// Close stops watching and waits for the watcher goroutine.
func (w *Watcher) Close() {
	if w.cancel != nil {
		w.cancel()
	}
	w.wg.Wait()
}

func addTree(fw *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && len(d.Name()) > 0 && d.Name()[0] == '.' {
				return filepath.SkipDir
			}
			return fw.Add(p)
		}
		return nil
	})
}
