package intents

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Analysis is what the matcher makes of one text before scoring it.
type Analysis struct {
	Text       string   `json:"text"`
	Normalized string   `json:"normalized"`
	Tokens     []string `json:"tokens"` // words after stop-word removal and synonym mapping
	Entities   []Entity `json:"entities,omitempty"`
	Lang       string   `json:"lang"` // "zh" or "en"

	parts []span // runs of Tokens between the message's punctuation or spaces
}

// span is the run of tokens Tokens[from:to].
type span struct{ from, to int }

// particles carry tone, not meaning; they are left out of the features.
var particles = map[string]bool{
	"的": true, "吗": true, "呢": true, "啊": true, "吧": true, "呀": true, "哦": true, "嗯": true,
	"啦": true, "嘛": true, "呗": true, "哈": true, "喔": true, "哇": true, "么": true, "噢": true,
	"亲": true, "请问": true, "请": true, "麻烦": true, "一下": true,
	"the": true, "a": true, "an": true, "is": true, "am": true, "are": true, "my": true, "me": true,
	"i": true, "to": true, "of": true, "it": true, "this": true, "that": true, "please": true,
	"pls": true, "for": true, "in": true, "on": true, "and": true, "be": true, "was": true,
	"were": true, "have": true, "has": true, "do": true, "does": true, "did": true, "you": true,
	"your": true, "s": true, "t": true, "m": true, "hey": false,
}

// synonymMap says what analyze does with a word: leave it out (a particle),
// or map it to its synonym group's first word. One lookup answers both.
type synonymMap map[string]wordRule

// wordRule is what to do with one word.
type wordRule struct {
	particle bool   // leave it out
	synonym  bool   // replace it with canon
	canon    string // the first word of its synonym group
}

func newSynonymMap(groups ...[][]string) synonymMap {
	m := synonymMap{}
	for _, gs := range groups {
		for _, g := range gs {
			if len(g) < 2 {
				continue
			}
			canon := Normalize(g[0])
			for _, w := range g {
				m[Normalize(w)] = wordRule{synonym: true, canon: canon} // later groups (the FAQ's) override earlier ones
			}
		}
	}
	for w, drop := range particles {
		if drop {
			r := m[w]
			r.particle = true
			m[w] = r
		}
	}
	return m
}

// analyze folds, extracts entities, normalises and tokenises text.
func analyze(text string, tok Tokenizer, syn synonymMap) Analysis {
	return analyzeBuf(text, tok, syn, nil)
}

// analyzeBuf is analyze with the segmenter's words in buf's memory (nil:
// their own); the Analysis does not keep it.
func analyzeBuf(text string, tok Tokenizer, syn synonymMap, buf *cutBuf) Analysis {
	a := Analysis{Text: text}
	folded := Fold(text)
	if hasEntityHint(folded) {
		folded, a.Entities = ExtractEntities(folded)
	}
	a.Normalized = normalizeFolded(folded)
	han, latin := 0, 0
	for _, r := range a.Normalized {
		switch {
		case isHan(r):
			han++
		case r < utf8.RuneSelf && unicode.IsLetter(r):
			latin++
		}
	}
	a.Lang = "zh"
	if latin > 0 && han == 0 {
		a.Lang = "en"
	}
	if a.Normalized == "" {
		return a
	}
	// Each part between punctuation is also scored on its own: keep the
	// words of each part.
	var cut [][]string
	if jt, ok := tok.(*JiebaTokenizer); ok && buf != nil {
		cut = jt.cutParts(a.Normalized, buf)
	} else if pc, ok := tok.(interface{ CutParts(string) [][]string }); ok {
		cut = pc.CutParts(a.Normalized)
	} else {
		for _, field := range strings.Fields(a.Normalized) {
			cut = append(cut, tok.Cut(field))
		}
	}
	n := 0
	for _, words := range cut {
		n += len(words)
	}
	for _, words := range cut {
		start := len(a.Tokens)
		for _, w := range words {
			if r, ok := syn[w]; ok && r.particle {
				continue
			} else if ok && r.synonym {
				w = r.canon
			} else if a.Lang == "en" {
				w = stemEnglish(w)
				if r, ok := syn[w]; ok && r.synonym {
					w = r.canon
				}
			}
			if a.Tokens == nil { // stays nil when there is no word
				a.Tokens = make([]string, 0, n)
			}
			a.Tokens = append(a.Tokens, w)
		}
		if len(cut) > 1 && len(a.Tokens) > start {
			if a.parts == nil {
				a.parts = make([]span, 0, len(cut))
			}
			a.parts = append(a.parts, span{start, len(a.Tokens)})
		}
	}
	dropCourtesy(&a)
	return a
}

// hasEntityHint is a cheap test that saves running the entity patterns on
// the common message that has no digit and no placeholder.
func hasEntityHint(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' || c == '[' {
			return true
		}
	}
	return false
}

// stemEnglish strips the commonest English inflections so that "orders" and
// "order", "arrived" and "arrive" meet. Good enough for FAQ questions.
func stemEnglish(w string) string {
	if len(w) <= 3 || !isASCIIWord(w) {
		return w
	}
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "ing") && len(w) > 5:
		return w[:len(w)-3]
	case strings.HasSuffix(w, "ed") && len(w) > 4:
		return w[:len(w)-2]
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us"):
		return w[:len(w)-1]
	}
	return w
}

func isASCIIWord(w string) bool {
	for i := 0; i < len(w); i++ {
		if c := w[i]; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// units splits tokens into the matcher's character-level units: every Han
// character on its own, every other token (an English word, a number) whole.
func units(tokens []string) []string {
	out := make([]string, 0, len(tokens)*2)
	for _, t := range tokens {
		hasHan := false
		for _, r := range t {
			if isHan(r) {
				hasHan = true
				break
			}
		}
		if !hasHan {
			out = append(out, t)
			continue
		}
		for i, r := range t {
			if isHan(r) {
				out = append(out, t[i:i+utf8.RuneLen(r)])
			}
		}
	}
	return out
}
