package intents

import (
	"strings"
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
	// More English function words: they carry no topic, and left in they
	// match whichever English question happens to share them.
	"can": true, "could": true, "would": true, "will": true, "should": true, "there": true,
	"here": true, "with": true, "at": true, "by": true, "from": true, "as": true, "if": true,
	"or": true, "so": true, "just": true, "now": true, "some": true, "any": true, "been": true,
	"we": true, "us": true, "our": true, "its": true, "also": true, "yet": true, "already": true,
	"very": true, "really": true, "still": true, "d": true, "ll": true, "ve": true, "re": true, "get": true,
	"want": true, "need": true, "like": true,
}

// englishPhrases rewrites English expressions of a few words into the one
// word the matcher knows them by: "get my money back" is how customers ask
// for a refund. Matched on word boundaries (the text is padded with spaces).
var englishPhrases = strings.NewReplacer(englishPhraseList...)

// englishPhraseList is englishPhrases' pairs: old, new.
var englishPhraseList = []string{
	" didn t go through ", " failed ", " did not go through ", " failed ", " doesn t go through ", " failed ",
	" won t go through ", " failed ", " isn t going through ", " failed ",
	" money back ", " refund ",
	" log in ", " login ", " sign in ", " login ", " logged in ", " login ",
	" send it back ", " return it ", " send them back ", " return them ", " send back ", " return ",
	" bring it back ", " return it ",
	" go through ", " succeed ", " went through ", " succeed ",
}

// phraseWords: every phrase of englishPhrases has one of these words, so
// a text with none of them has no phrase (mayHavePhrase).
var phraseWords = []string{"through", "back", "in"}

// mayHavePhrase reports whether text (normalised: words between single
// spaces) has one of phraseWords as a word: most English messages have
// none, and skip englishPhrases and its copies.
func mayHavePhrase(text string) bool {
	for _, w := range phraseWords {
		for i := 0; ; {
			j := strings.Index(text[i:], w)
			if j < 0 {
				break
			}
			j += i
			e := j + len(w)
			if (j == 0 || text[j-1] == ' ') && (e == len(text) || text[e] == ' ') {
				return true
			}
			i = j + 1
		}
	}
	return false
}

// synonymMap says what analyze does with a word: leave it out (a particle),
// or map it to its synonym group's first word. One lookup answers both.
type synonymMap map[string]wordRule

// wordRule is what to do with one word.
type wordRule struct {
	particle bool   // leave it out
	synonym  bool   // replace it with canon
	courtesy bool   // the word it becomes (canon or itself) is a courtesy word
	canon    string // the first word of its synonym group

	// In a matcher's map (see Matcher.lexicon), for the word it becomes:
	// its id in the matcher's stats (-1: unknown) and its weight, what
	// textFeatures.reset would look up.
	known bool
	tok   tokenInfo
}

// tokenInfo is a token's word id and weight, looked up once.
type tokenInfo struct {
	id int32
	w  float32
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
	for w := range courtesy {
		m[w] = m[w] // every courtesy word has a rule
	}
	for w, r := range m {
		r.courtesy = courtesy[r.becomes(w)]
		m[w] = r
	}
	return m
}

// becomes is the token word w becomes under rule r: its synonym group's
// first word, or itself.
func (r wordRule) becomes(w string) string {
	if r.synonym {
		return r.canon
	}
	return w
}

// withTokens is syn with every word of the corpus stats and every stop word
// of lx given its tokenInfo, so that analyzing a message looks each word up
// once: a word missing from the result is unknown to the corpus and not a
// stop word. st must be frozen.
func (syn synonymMap) withTokens(st *stats, lx *Lexicon) synonymMap {
	m := make(synonymMap, len(syn)+len(st.words))
	for w, r := range syn {
		m[w] = r
	}
	for w := range st.words {
		m[w] = m[w]
	}
	if lx != nil {
		for w := range lx.stop {
			m[w] = m[w]
		}
	}
	var tf textFeatures
	info := func(w string) tokenInfo {
		tf.reset([]string{w}, st, lx, nil)
		return tokenInfo{tf.wordID[0], tf.wordW[0]}
	}
	for w, r := range m {
		r.known, r.tok = true, info(r.becomes(w))
		m[w] = r
	}
	// Under the empty word (never a token, unknown to the corpus, not a
	// stop word): what any word missing from the map gets.
	m[""] = wordRule{known: true, tok: info("")}
	return m
}

// oovToken is the tokenInfo of a word missing from a map made by
// withTokens; ok is false for other maps.
func (syn synonymMap) oovToken() (tokenInfo, bool) {
	r := syn[""]
	return r.tok, r.known
}

// analyze folds, extracts entities, normalises and tokenises text.
func analyze(text string, tok Tokenizer, syn synonymMap) Analysis {
	return analyzeBuf(text, tok, syn, nil)
}

// analysisBuf is memory analyzeBuf reuses from one call to the next.
type analysisBuf struct {
	cut      cutBuf
	info     []tokenInfo // the result: by token, or nil
	courtesy []bool

	// When preset, syn.oovToken() of the one map the buffer is used with
	// (a matcher's), looked up once rather than per message.
	preset   bool
	oov      tokenInfo
	withInfo bool
}

// analyzeBuf is analyze with the segmenter's words in buf's memory (nil:
// their own); the Analysis does not keep it. With a buf and a map made by
// withTokens, buf.info gets each token's tokenInfo.
func analyzeBuf(text string, tok Tokenizer, syn synonymMap, buf *analysisBuf) Analysis {
	a := Analysis{Text: text}
	if buf != nil {
		buf.info = buf.info[:0] // nothing of the previous message's, even on an early return (its memory is kept)
	}
	folded := Fold(text)
	if hasEntityHint(folded) {
		folded, a.Entities = ExtractEntities(folded)
	}
	var han, latin int
	a.Normalized, han, latin = normalizeCount(folded)
	a.Lang = "zh"
	if latin > 0 && han == 0 {
		a.Lang = "en"
	}
	if a.Normalized == "" {
		return a
	}
	cutText := a.Normalized
	if a.Lang == "en" && mayHavePhrase(cutText) {
		if p := englishPhrases.Replace(" " + cutText + " "); len(p) != len(cutText)+2 || p[1:len(p)-1] != cutText {
			cutText = strings.TrimSpace(p)
		}
	}
	// Each part between punctuation is also scored on its own: keep the
	// words of each part.
	var cut [][]string
	if jt, ok := tok.(*JiebaTokenizer); ok && buf != nil {
		cut = jt.cutParts(cutText, &buf.cut)
	} else if pc, ok := tok.(interface{ CutParts(string) [][]string }); ok {
		cut = pc.CutParts(cutText)
	} else {
		for _, field := range strings.Fields(cutText) {
			cut = append(cut, tok.Cut(field))
		}
	}
	n := 0
	for _, words := range cut {
		n += len(words)
	}
	var info []tokenInfo  // by token, when syn knows every word (withTokens)
	var isCourtesy []bool // by token
	if buf != nil {
		info, isCourtesy = buf.info[:0], buf.courtesy[:0]
	}
	var oov tokenInfo
	var withInfo bool
	if buf != nil && buf.preset {
		oov, withInfo = buf.oov, buf.withInfo
	} else {
		oov, withInfo = syn.oovToken()
	}
	for _, words := range cut {
		start := len(a.Tokens)
		for _, w := range words {
			r, ok := syn[w]
			if ok && r.particle {
				continue
			}
			if !(ok && r.synonym) && a.Lang == "en" {
				w = stemEnglish(w)
				r, ok = syn[w]
			}
			if ok && r.synonym {
				w = r.canon
			}
			if a.Tokens == nil { // stays nil when there is no word
				a.Tokens = make([]string, 0, n)
			}
			a.Tokens = append(a.Tokens, w)
			isCourtesy = append(isCourtesy, r.courtesy) // false when !ok: every courtesy word has a rule
			if !ok {
				r.tok = oov
				if isDigits(w) {
					r.tok.w *= numberFactor // as textFeatures.reset
				}
			}
			info = append(info, r.tok)
		}
		if len(cut) > 1 && len(a.Tokens) > start {
			if a.parts == nil {
				a.parts = make([]span, 0, len(cut))
			}
			a.parts = append(a.parts, span{start, len(a.Tokens)})
		}
	}
	info = dropCourtesy(&a, info, isCourtesy)
	if buf != nil {
		buf.courtesy, buf.info = isCourtesy, nil
		if withInfo {
			buf.info = info
		}
	}
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
