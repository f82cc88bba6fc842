package priority

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

//go:embed lexicon.yaml
var defaultLexicon []byte

// Lexicon reads how upset or pressed a customer is from their words. It is
// immutable once loaded and safe for concurrent use.
type Lexicon struct {
	high, urgent int
	window       int
	bonus        Bonus
	// entries by their first token, longest first.
	words, negators, emphasis, before, after, hypo map[string][]entry
	rhetEnd                                        map[string]bool
}

// Bonus is what emphasis, repetition and exclamation add to a score.
type Bonus struct {
	Emphasis    int `yaml:"emphasis"`
	Repetition  int `yaml:"repetition"`
	Exclamation int `yaml:"exclamation"`
	Shouting    int `yaml:"shouting"`
}

type entry struct {
	text   string
	toks   []string
	class  string
	weight int
	urgent bool // a word of a class that raises to urgent on its own
	imper  bool // the class is cancelled by imperative negators too
	imperN bool // a negator that is imperative (别, 不用)
	rhet   bool // a negator that asks a rhetorical question before 吗 (这不是…吗)
}

type lexiconFile struct {
	Levels struct {
		High   int `yaml:"high"`
		Urgent int `yaml:"urgent"`
	} `yaml:"levels"`
	Window  int   `yaml:"window"`
	Bonus   Bonus `yaml:"bonus"`
	Classes map[string]struct {
		Level      string   `yaml:"level"`
		Weight     int      `yaml:"weight"`
		Imperative bool     `yaml:"imperative"`
		Words      []string `yaml:"words"`
	} `yaml:"classes"`
	Emphasis      []string `yaml:"emphasis"`
	Negators      []string `yaml:"negators"`
	Imperative    []string `yaml:"imperative_negators"`
	MentionBefore []string `yaml:"mention_before"`
	MentionAfter  []string `yaml:"mention_after"`
	Hypothetical  []string `yaml:"hypothetical"`
	Rhetorical    []string `yaml:"rhetorical_negators"`
	RhetEndings   []string `yaml:"rhetorical_endings"`
}

// Default is the lexicon shipped with kefu (lexicon.yaml in this package).
func Default() *Lexicon {
	x, err := ParseLexicon("lexicon.yaml", defaultLexicon)
	if err != nil {
		panic("priority: the embedded lexicon is invalid: " + err.Error())
	}
	return x
}

// LoadLexicon reads a lexicon file; an empty path is the default lexicon.
func LoadLexicon(path string) (*Lexicon, error) {
	if path == "" {
		return Default(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("priority lexicon: %w", err)
	}
	return ParseLexicon(path, b)
}

// ParseLexicon reads a lexicon from b; name is used in errors.
func ParseLexicon(name string, b []byte) (*Lexicon, error) {
	var f lexiconFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	if f.Levels.High <= 0 || f.Levels.Urgent <= f.Levels.High {
		errs = append(errs, fmt.Errorf("%s: levels: need 0 < high < urgent (have %d, %d)", name, f.Levels.High, f.Levels.Urgent))
	}
	if f.Window < 1 {
		f.Window = 3
	}
	x := &Lexicon{high: f.Levels.High, urgent: f.Levels.Urgent, window: f.Window, bonus: f.Bonus,
		words: map[string][]entry{}, negators: map[string][]entry{}, emphasis: map[string][]entry{},
		before: map[string][]entry{}, after: map[string][]entry{}, hypo: map[string][]entry{}}
	classes := make([]string, 0, len(f.Classes))
	for c := range f.Classes {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	seen := map[string]string{}
	for _, c := range classes {
		cl := f.Classes[c]
		urgent := false
		switch cl.Level {
		case "":
		case "urgent":
			urgent = true
		default:
			errs = append(errs, fmt.Errorf("%s: class %s: level %q: only urgent may be set", name, c, cl.Level))
		}
		if !urgent && cl.Weight <= 0 {
			errs = append(errs, fmt.Errorf("%s: class %s: needs a weight > 0 or level: urgent", name, c))
		}
		for _, w := range cl.Words {
			if prev, ok := seen[w]; ok {
				errs = append(errs, fmt.Errorf("%s: %q is in both %s and %s", name, w, prev, c))
				continue
			}
			seen[w] = c
			add(x.words, w, entry{class: c, weight: cl.Weight, urgent: urgent, imper: cl.Imperative}, &errs, name)
		}
	}
	for _, w := range f.Negators {
		add(x.negators, w, entry{}, &errs, name)
	}
	for _, w := range f.Imperative {
		add(x.negators, w, entry{imperN: true}, &errs, name)
	}
	for _, w := range f.Emphasis {
		add(x.emphasis, w, entry{}, &errs, name)
	}
	for _, w := range f.MentionBefore {
		add(x.before, w, entry{}, &errs, name)
	}
	for _, w := range f.MentionAfter {
		add(x.after, w, entry{}, &errs, name)
	}
	for _, w := range f.Rhetorical {
		add(x.negators, w, entry{rhet: true}, &errs, name)
	}
	x.rhetEnd = map[string]bool{}
	for _, w := range f.RhetEndings {
		x.rhetEnd[w] = true
	}
	for _, w := range f.Hypothetical {
		add(x.hypo, w, entry{}, &errs, name)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, m := range []map[string][]entry{x.words, x.negators, x.emphasis, x.before, x.after, x.hypo} {
		for k, es := range m {
			sort.SliceStable(es, func(i, j int) bool { return len(es[i].toks) > len(es[j].toks) })
			m[k] = es
		}
	}
	return x, nil
}

func add(m map[string][]entry, w string, e entry, errs *[]error, name string) {
	toks := tokenize(w)
	if len(toks) == 0 || len(toks) != countWords(toks) {
		*errs = append(*errs, fmt.Errorf("%s: %q is not a word or phrase", name, w))
		return
	}
	e.text = w
	e.toks = make([]string, len(toks))
	for i, t := range toks {
		e.toks[i] = t.text
	}
	m[e.toks[0]] = append(m[e.toks[0]], e)
}

func countWords(ts []token) int {
	n := 0
	for _, t := range ts {
		if !t.mark {
			n++
		}
	}
	return n
}

// token is one Chinese character, one run of Latin letters and digits (an
// English word, a number), or one punctuation mark.
type token struct {
	text string
	mark bool // punctuation: negation and emphasis do not reach across it
}

func tokenize(s string) []token {
	var out []token
	word := -1 // byte offset of the word being read
	flush := func(end int) {
		if word >= 0 {
			out = append(out, token{text: strings.ToLower(s[word:end])})
			word = -1
		}
	}
	for i, r := range s {
		switch {
		case unicode.Is(unicode.Han, r):
			flush(i)
			out = append(out, token{text: string(r)})
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' || r == '-' && word >= 0) ||
			r >= unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if word < 0 {
				word = i
			}
		case unicode.IsSpace(r):
			flush(i)
		default:
			flush(i)
			out = append(out, token{text: string(foldMark(r)), mark: true})
		}
	}
	flush(len(s))
	return out
}

// foldMark maps full-width ! and ? to their ASCII forms.
func foldMark(r rune) rune {
	switch r {
	case '！':
		return '!'
	case '？':
		return '?'
	}
	return r
}

// at reports the longest entry of m that starts at ts[i], or nil.
func at(m map[string][]entry, ts []token, i int) *entry {
	es := m[ts[i].text]
	for k := range es {
		if matches(es[k].toks, ts, i) {
			return &es[k]
		}
	}
	return nil
}

// endingAt reports an entry of m that ends just before ts[i], or nil.
func endingAt(m map[string][]entry, ts []token, i int) *entry {
	for start := i - 1; start >= 0 && start >= i-4; start-- {
		if ts[start].mark {
			return nil
		}
		if e := at(m, ts, start); e != nil && start+len(e.toks) == i {
			return e
		}
	}
	return nil
}

func matches(want []string, ts []token, i int) bool {
	if i+len(want) > len(ts) {
		return false
	}
	for k, w := range want {
		if ts[i+k].mark || ts[i+k].text != w {
			return false
		}
	}
	return true
}
