package intents

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yanyiwu/gojieba"
)

// Tokenizer splits normalised text into words. Implementations must be safe
// for concurrent use.
type Tokenizer interface {
	Cut(text string) []string
}

// JiebaTokenizer is the Chinese word segmenter (gojieba, with its HMM for
// unknown words) plus the FAQ's own vocabulary as a user dictionary.
//
// gojieba's AddWord is not safe beside a concurrent Cut, so a tokenizer is
// never mutated: a new FAQ vocabulary builds a new JiebaTokenizer, and the
// matcher that owns it is swapped as a whole.
type JiebaTokenizer struct {
	j     *gojieba.Jieba
	words []string // the user words it was built with, sorted
}

var _ Tokenizer = (*JiebaTokenizer)(nil)

// NewJiebaTokenizer loads the dictionaries from dictDir ("" means the bundled
// ones, see DefaultDictDir) with userWords added. It takes about 1.5 s and
// 130 MB: build one per FAQ vocabulary, not per request.
func NewJiebaTokenizer(dictDir string, userWords []string) (*JiebaTokenizer, error) {
	if dictDir == "" {
		d, err := DefaultDictDir()
		if err != nil {
			return nil, err
		}
		dictDir = d
	}
	if err := CheckDictDir(dictDir); err != nil {
		return nil, err
	}
	words := normaliseWords(userWords)
	// gojieba wants every path to exist and takes a single user dictionary:
	// write the FAQ's words into one temporary file (cppjieba reads it during
	// construction, so it can go right after).
	f, err := os.CreateTemp("", "kefu-userdict-*.utf8")
	if err != nil {
		return nil, fmt.Errorf("user dictionary: %w", err)
	}
	defer os.Remove(f.Name())
	var sb strings.Builder
	for _, w := range words {
		// A high frequency makes the segmenter keep the FAQ's words whole.
		sb.WriteString(w)
		sb.WriteString(" 50000 n\n")
	}
	if sb.Len() == 0 {
		sb.WriteString("客服 3 n\n") // cppjieba rejects an empty user dictionary
	}
	if _, err := f.WriteString(sb.String()); err != nil {
		f.Close()
		return nil, fmt.Errorf("user dictionary: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("user dictionary: %w", err)
	}
	j := gojieba.NewJieba(
		filepath.Join(dictDir, DictFile),
		filepath.Join(dictDir, HMMFile),
		f.Name(),
		filepath.Join(dictDir, IDFFile),
		filepath.Join(dictDir, StopWordsFile),
	)
	return &JiebaTokenizer{j: j, words: words}, nil
}

// Words returns the user words the tokenizer was built with.
func (t *JiebaTokenizer) Words() []string { return t.words }

// SameWords reports whether the tokenizer was built with exactly these user
// words, so a reload that does not change the vocabulary can keep it.
func (t *JiebaTokenizer) SameWords(words []string) bool {
	w := normaliseWords(words)
	if len(w) != len(t.words) {
		return false
	}
	for i := range w {
		if w[i] != t.words[i] {
			return false
		}
	}
	return true
}

// Cut segments text (already normalised) and drops whitespace tokens.
func (t *JiebaTokenizer) Cut(text string) []string {
	return dropSpaces(t.segment(text, nil, nil))
}

// dropSpaces removes gojieba's whitespace tokens, in place.
func dropSpaces(words []string) []string {
	out := words[:0]
	for _, w := range words {
		if strings.TrimSpace(w) == "" {
			continue
		}
		out = append(out, w)
	}
	return out
}

// segment segments text with the HMM, as gojieba's Cut(text, true) does: the
// same words. It goes through gojieba's Tokenize, which returns offsets
// into text rather than a C string per word: the words are slices of text.
// They are appended to buf.
func (t *JiebaTokenizer) segment(text string, buf []string, cbuf *[]byte) []string {
	var own []byte
	if cbuf == nil {
		cbuf = &own
	}
	buf, *cbuf = tokenize(t.j, text, buf, *cbuf)
	return buf
}

// CutParts segments text once and splits the words where text has spaces:
// the same words as cutting each space-separated part on its own, in one
// call into the C++ segmenter.
func (t *JiebaTokenizer) CutParts(text string) [][]string {
	var buf cutBuf
	return t.cutParts(text, &buf)
}

// cutBuf is memory for cutParts' result, reused from one call to the next.
type cutBuf struct {
	text  []byte // the text as the C side reads it
	words []string
	parts [][]string
}

// cutParts is CutParts in buf's memory: the result is valid until the next
// call with buf.
func (t *JiebaTokenizer) cutParts(text string, buf *cutBuf) [][]string {
	raw := t.segment(text, buf.words[:0], &buf.text)
	parts := buf.parts[:0]
	start := 0
	for i, w := range raw {
		if isBlank(w) {
			if i > start {
				parts = append(parts, raw[start:i:i])
			}
			start = i + 1
		}
	}
	if start < len(raw) {
		parts = append(parts, raw[start:len(raw):len(raw)])
	}
	buf.words, buf.parts = raw, parts
	return parts
}

// isBlank reports whether w is empty or all white space, as
// strings.TrimSpace(w) == "" but without trimming a word (most are not
// blank: their first rune says so).
func isBlank(w string) bool {
	if w == "" {
		return true
	}
	if r, _ := utf8.DecodeRuneInString(w); !unicode.IsSpace(r) {
		return false
	}
	return strings.TrimSpace(w) == ""
}

// normaliseWords normalises, dedupes and sorts dictionary words, dropping any
// that would break the dictionary's line format.
func normaliseWords(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, w := range in {
		w = Normalize(w)
		// English words stay out: in cppjieba's trie "hi" would split "this".
		if w == "" || strings.IndexFunc(w, unicode.IsSpace) >= 0 || seen[w] || !strings.ContainsFunc(w, isHan) {
			continue
		}
		seen[w] = true
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}
