package intents

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/kefu-dev/kefu/faq"
)

// Live holds the matcher in service and swaps in a new one, built off the hot
// path, when the FAQ changes. Readers call Matcher() for every message and
// never block on a reload.
type Live struct {
	dictDir string
	lx      *Lexicon
	cfg     Config

	cur atomic.Pointer[Matcher]
	mu  sync.Mutex // serialises reloads
	tok *JiebaTokenizer
}

// NewLive loads the lexicon and tokenizer and builds the first matcher.
func NewLive(f *faq.FAQ, dictDir string, cfg Config) (*Live, error) {
	lx, err := LoadLexicon(dictDir)
	if err != nil {
		return nil, err
	}
	l := &Live{dictDir: dictDir, lx: lx, cfg: cfg}
	if err := l.Reload(f); err != nil {
		return nil, err
	}
	return l, nil
}

// Matcher returns the matcher in service.
func (l *Live) Matcher() *Matcher { return l.cur.Load() }

// Reload builds a matcher for f and swaps it in. The tokenizer is rebuilt
// (about 1.5 s) only when the FAQ's vocabulary changed; in-flight matches
// finish on the old matcher.
func (l *Live) Reload(f *faq.FAQ) error {
	if f == nil {
		return fmt.Errorf("reload: nil faq")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	words := UserWords(f)
	tok := l.tok
	if tok == nil || !tok.SameWords(words) {
		t, err := NewJiebaTokenizer(l.dictDir, words)
		if err != nil {
			return fmt.Errorf("reload: %w", err)
		}
		tok = t
	}
	m := NewMatcher(f, tok, l.lx, l.cfg)
	l.tok = tok
	l.cur.Store(m)
	return nil
}
