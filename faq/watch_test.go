package faq

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

const validFAQ = `intents:
  - id: a
    category: c
    questions: [一, 二, 三]
    answer: %s
`

// TestWatcherReload: a valid edit is applied, a broken one is refused and the
// last good FAQ stays, a fix is applied again.
func TestWatcherReload(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "a.yaml")
	write := func(s string) {
		t.Helper()
		// Write through a temporary file and rename, as editors and git do.
		tmp := filepath.Join(dir, ".tmp")
		if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	write(sprintf(validFAQ, "一"))
	applied := make(chan string, 10)
	results := make(chan error, 10)
	w := &Watcher{
		Dir:      dir,
		Debounce: 20 * time.Millisecond,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Apply: func(f *FAQ) error {
			applied <- f.Intent("a").Answer.Text
			return nil
		},
		OnResult: func(err error) { results <- err },
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	next := func() error {
		t.Helper()
		select {
		case err := <-results:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("no reload within 10s")
			return nil
		}
	}
	write(sprintf(validFAQ, "二"))
	if err := next(); err != nil {
		t.Fatalf("valid edit: %v", err)
	}
	if got := <-applied; got != "二" {
		t.Errorf("applied answer %q, want 二", got)
	}

	write("intents:\n  - id: a\n    questions: [only one]\n")
	err := next()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("broken edit: got %v, want ErrInvalid", err)
	}
	select {
	case got := <-applied:
		t.Fatalf("broken FAQ was applied (%q)", got)
	default:
	}

	write(sprintf(validFAQ, "三"))
	if err := next(); err != nil {
		t.Fatalf("fixed edit: %v", err)
	}
	if got := <-applied; got != "三" {
		t.Errorf("applied answer %q, want 三", got)
	}
}

// TestWatcherApplyError: an Apply failure is reported as a failed reload.
func TestWatcherApplyError(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(sprintf(validFAQ, "一")), 0o644)
	results := make(chan error, 10)
	boom := errors.New("boom")
	w := &Watcher{Dir: dir, Debounce: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Apply: func(*FAQ) error { return boom }, OnResult: func(err error) { results <- err }}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(sprintf(validFAQ, "二")), 0o644)
	select {
	case err := <-results:
		if !errors.Is(err, boom) {
			t.Errorf("got %v, want boom", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reload within 10s")
	}
}
