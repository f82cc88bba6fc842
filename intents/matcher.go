// Package intents finds the FAQ intent a customer's message asks about and
// says how sure it is. It owns text normalisation (width, traditional
// characters, case, punctuation, emoji), entity extraction (order, tracking
// and phone numbers), Chinese tokenisation with gojieba, the index over the
// FAQ's questions, the sentence similarity, and the first-message decision
// (answer, clarify, hand off, or decline). It does not hold conversations
// (package bot does) and does not load files (package faq does).
package intents

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/kefu-dev/kefu/faq"
)

// Action is what the bot should do with a message.
type Action string

// The decisions on a message.
const (
	ActionAnswer  Action = "answer"
	ActionClarify Action = "clarify"
	ActionHandoff Action = "handoff"
	ActionNone    Action = "none"
)

// Hand-off reasons recorded on a conversation.
const (
	ReasonRequested = "requested" // the customer asked for a person
	ReasonComplaint = "complaint" // complaint or abusive wording
	ReasonUrgent    = "urgent"    // an urgent intent (payment anomaly, account security)
	ReasonIntent    = "intent"    // an intent the FAQ marks handoff
)

// Candidate is one intent with its score.
type Candidate struct {
	Intent   string  `json:"intent"`
	Score    float64 `json:"score"`    // similarity of the best question, 0..1
	Question string  `json:"question"` // the FAQ question that matched best

	// How much of the message the best question explains: the IDF share of
	// the message's units it contains, and the heaviest message word it lacks.
	cover, unmatched, size float64
	exact                  bool // the message is the question, after normalisation
}

// Result is the matcher's view of one message.
type Result struct {
	Analysis
	Candidates []Candidate `json:"candidates"` // best first, at most Config.TopN
	Confidence float64     `json:"confidence"` // for the top candidate, 0..1
	Action     Action      `json:"action"`
	Intent     string      `json:"intent,omitempty"`  // answered or handed-off intent
	Choices    []string    `json:"choices,omitempty"` // on clarify
	Reason     string      `json:"reason,omitempty"`  // on handoff
	Urgent     bool        `json:"urgent,omitempty"`
}

// Top returns the best candidate, or a zero Candidate.
func (r *Result) Top() Candidate {
	if len(r.Candidates) == 0 {
		return Candidate{}
	}
	return r.Candidates[0]
}

// Config holds the decision thresholds and word lists. Zero values take the
// defaults of DefaultConfig.
type Config struct {
	// AnswerThreshold is the confidence at or above which the bot answers.
	AnswerThreshold float64 `yaml:"answer_threshold"`
	// ClarifyThreshold is the confidence at or above which (and below
	// AnswerThreshold) the bot offers the closest intents as choices; below
	// it, the bot declines politely.
	ClarifyThreshold float64 `yaml:"clarify_threshold"`
	// ClarifySpan: choices are the intents whose score is within this of the
	// best one's.
	ClarifySpan float64 `yaml:"clarify_span"`
	// MaxChoices offered on clarify (2–3 is kind to customers).
	MaxChoices int `yaml:"max_choices"`
	// TopN candidates reported on a result.
	TopN int `yaml:"top_n"`
	// HandoffPhrases: a message containing one asks for a person.
	HandoffPhrases []string `yaml:"handoff_phrases"`
	// ComplaintWords: complaint or abusive wording, handed to a person.
	ComplaintWords []string `yaml:"complaint_words"`
	// SmallTalk intents (greeting, thanks) win only when the whole message is
	// small talk, never from a fragment of a longer message.
	SmallTalk []string `yaml:"small_talk"`
}

// DefaultConfig returns the defaults, chosen on the development cases (see
// BENCHMARKS.md).
func DefaultConfig() Config {
	return Config{
		AnswerThreshold:  0.5,
		ClarifyThreshold: 0.2,
		ClarifySpan:      0.2,
		MaxChoices:       3,
		TopN:             5,
		HandoffPhrases: []string{
			"转人工", "人工客服", "人工服务", "找人工", "要人工", "接人工", "叫人工", "真人", "活人", "客服人员",
			"人工", "找客服", "不要机器人", "不想跟机器人", "human", "real person", "agent", "representative", "talk to a person", "speak to someone",
		},
		ComplaintWords: []string{
			"投诉", "举报", "12315", "曝光", "骗子", "骗人", "垃圾", "坑人", "黑店", "态度差", "太差劲",
			"傻逼", "傻b", "傻x", "sb", "答非所问", "妈的", "他妈", "操你", "滚", "去死", "fuck", "shit", "scam", "complain",
		},
		SmallTalk: []string{"greeting", "thanks_bye"},
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.AnswerThreshold == 0 {
		c.AnswerThreshold = d.AnswerThreshold
	}
	if c.ClarifyThreshold == 0 {
		c.ClarifyThreshold = d.ClarifyThreshold
	}
	if c.ClarifySpan == 0 {
		c.ClarifySpan = d.ClarifySpan
	}
	if c.MaxChoices == 0 {
		c.MaxChoices = d.MaxChoices
	}
	if c.TopN == 0 {
		c.TopN = d.TopN
	}
	if c.HandoffPhrases == nil {
		c.HandoffPhrases = d.HandoffPhrases
	}
	if c.ComplaintWords == nil {
		c.ComplaintWords = d.ComplaintWords
	}
	if c.SmallTalk == nil {
		c.SmallTalk = d.SmallTalk
	}
	return c
}

// question is one indexed FAQ question (or keyword).
type question struct {
	intent int32 // index into Matcher.intents
	text   string
	doc    doc
}

// Matcher answers "which intent is this?" over one FAQ. It is immutable after
// NewMatcher and safe for concurrent use; a new FAQ gets a new Matcher.
type Matcher struct {
	faq       *faq.FAQ
	cfg       Config
	tok       Tokenizer
	lx        *Lexicon
	syn       synonymMap
	st        *stats
	intents   []*faq.Intent
	smallTalk []bool // by intent index
	questions []question
	postings  [][]int32 // bigram or word feature id -> question indexes
	charPost  [][]int32 // unit id -> question indexes (fallback)
	handoff   *phrases
	complaint *phrases
	pool      sync.Pool // *scratch
}

// NewMatcher indexes every question (and keyword) of every intent. The
// tokenizer should have been built with UserWords(f).
func NewMatcher(f *faq.FAQ, tok Tokenizer, lx *Lexicon, cfg Config) *Matcher {
	cfg = cfg.withDefaults()
	m := &Matcher{
		faq: f, cfg: cfg, tok: tok, lx: lx, st: newStats(),
	}
	var groups [][]string
	for _, g := range f.Synonyms {
		groups = append(groups, g.Words)
	}
	m.syn = newSynonymMap(builtinSynonyms, groups)
	small := map[string]bool{}
	for _, id := range cfg.SmallTalk {
		small[id] = true
	}
	type pending struct {
		intent int32
		text   string
		tokens []string
	}
	var ps []pending
	for i, in := range f.Intents {
		m.intents = append(m.intents, in)
		m.smallTalk = append(m.smallTalk, small[in.ID])
		texts := append(append([]string{}, in.Questions...), in.Keywords...)
		for _, q := range texts {
			a := analyze(q, tok, m.syn)
			if len(a.Tokens) == 0 {
				continue
			}
			ps = append(ps, pending{int32(i), q, a.Tokens})
			m.st.observe((a.Tokens))
		}
	}
	m.st.freeze(lx)
	m.postings = make([][]int32, len(m.st.df))
	m.charPost = make([][]int32, len(m.st.df))
	for qi, p := range ps {
		d := makeDoc(p.tokens, m.st, lx)
		m.questions = append(m.questions, question{intent: p.intent, text: p.text, doc: d})
		for _, f := range d.bigrams {
			m.postings[f.id] = append(m.postings[f.id], int32(qi))
		}
		for _, f := range d.words {
			m.postings[f.id] = append(m.postings[f.id], int32(qi))
		}
		for _, f := range d.chars {
			m.charPost[f.id] = append(m.charPost[f.id], int32(qi))
		}
	}
	nq := len(m.questions)
	ni := len(m.intents)
	m.pool.New = func() any {
		return &scratch{
			acc:  accumulator{score: make([]float32, nq)},
			best: make([]float64, ni), bestQ: make([]int32, ni), fromPart: make([]bool, ni),
		}
	}
	m.handoff = newPhrases(cfg.HandoffPhrases)
	m.complaint = newPhrases(cfg.ComplaintWords)
	return m
}

// UserWords is the vocabulary a FAQ adds to the tokenizer: its extra words,
// synonyms and keywords, and the built-in synonyms.
func UserWords(f *faq.FAQ) []string {
	var ws []string
	ws = append(ws, f.Words...)
	for _, g := range f.Synonyms {
		ws = append(ws, g.Words...)
	}
	for _, in := range f.Intents {
		ws = append(ws, in.Keywords...)
	}
	for _, g := range builtinSynonyms {
		ws = append(ws, g...)
	}
	return ws
}

// FAQ returns the FAQ the matcher was built from.
func (m *Matcher) FAQ() *faq.FAQ { return m.faq }

// Config returns the matcher's effective configuration.
func (m *Matcher) Config() Config { return m.cfg }

// Analyze normalises and tokenises text as the matcher does, without scoring.
func (m *Matcher) Analyze(text string) Analysis { return analyze(text, m.tok, m.syn) }

// maxRerank bounds how many retrieved questions get the full similarity for
// a whole message; maxRerankPart for each part of a message of several.
const (
	maxRerank     = 16
	maxRerankPart = 8
)

// Match scores text against every intent and decides what the bot does with
// it as the first message of a conversation.
func (m *Matcher) Match(text string) Result { return m.match(text, -1) }

// match is Match with one indexed question left out (for leave-one-out
// calibration).
func (m *Matcher) match(text string, skip int32) Result {
	r := Result{Analysis: m.Analyze(text)}
	sc := m.pool.Get().(*scratch)
	defer m.pool.Put(sc)
	wholeDoc := makeDoc(r.Tokens, m.st, m.lx)
	m.score(sc, &wholeDoc, false, skip)
	// A message of several sentences ("你好 我想退货 怎么弄"): score each part
	// too, and keep each intent's best, so small talk around a question does
	// not drown it. Small-talk intents only count for the whole message.
	if len(r.parts) > 1 {
		for _, toks := range r.parts {
			part := makeDoc(toks, m.st, m.lx)
			if len(part.seq) < 2 {
				continue // one character or word: too little to stand on its own
			}
			m.score(sc, &part, true, skip)
		}
	}
	r.Candidates = make([]Candidate, 0, len(sc.seen))
	for _, in := range sc.seen {
		qi := sc.bestQ[in]
		r.Candidates = append(r.Candidates, Candidate{
			Intent: m.intents[in].ID, Score: sc.best[in], Question: m.questions[qi].text,
		})
	}
	slices.SortFunc(r.Candidates, func(a, b Candidate) int {
		if a.Score != b.Score {
			return cmp.Compare(b.Score, a.Score)
		}
		return strings.Compare(a.Intent, b.Intent)
	})
	// How much of the message the best questions explain (the confidence's
	// inputs), measured against the whole message, so that a fragment that
	// matches a short question word for word does not make a confident
	// answer to a long message.
	for i := range min(2, len(r.Candidates)) {
		c := &r.Candidates[i]
		in := m.intentIndex(c.Intent, sc)
		d := &m.questions[sc.bestQ[in]].doc
		_, _, sum := overlap(wholeDoc.chars, d.chars)
		if wholeDoc.sumChar > 0 {
			c.cover = sum / wholeDoc.sumChar
		}
		c.unmatched = oneSidedUnmatched(wholeDoc.words, d.words) / 10
		c.size = math.Log1p(float64(len(wholeDoc.seq)))
		c.exact = !sc.fromPart[in] && slices.Equal(wholeDoc.seq, d.seq) && (len(wholeDoc.seq) > 1 || len(wholeDoc.words) == 1)
	}
	sc.reset()
	r.Confidence = m.confidence(r.Candidates)
	if len(r.Candidates) > m.cfg.TopN {
		r.Candidates = r.Candidates[:m.cfg.TopN]
	}
	m.decide(&r)
	return r
}

// intentIndex finds a candidate's intent among those scored.
func (m *Matcher) intentIndex(id string, sc *scratch) int32 {
	for _, in := range sc.seen {
		if m.intents[in].ID == id {
			return in
		}
	}
	return -1
}

// scratch is one Match's working memory, pooled: retrieval's accumulator and
// each intent's best question so far.
type scratch struct {
	acc      accumulator
	best     []float64 // by intent: best similarity so far (0: none)
	bestQ    []int32   // by intent: the question that scored it
	fromPart []bool    // by intent: scored by a part of the message
	seen     []int32   // intents with best > 0
}

func (sc *scratch) reset() {
	for _, in := range sc.seen {
		sc.best[in], sc.bestQ[in], sc.fromPart[in] = 0, 0, false
	}
	sc.seen = sc.seen[:0]
}

// score raises each intent's best in sc to its best question's similarity
// to q, the whole message or (part) one part of it; small-talk intents count
// only for the whole message.
func (m *Matcher) score(sc *scratch, q *doc, part bool, skip int32) {
	if len(q.chars) == 0 || len(m.questions) == 0 {
		return
	}
	k := maxRerank
	if part {
		k = maxRerankPart
	}
	for _, qi := range m.retrieve(&sc.acc, q, k) {
		qq := &m.questions[qi]
		if qi == skip || (part && m.smallTalk[qq.intent]) {
			continue
		}
		s := similarity(q, &qq.doc)
		in := qq.intent
		if s > sc.best[in] {
			if sc.best[in] == 0 {
				sc.seen = append(sc.seen, in)
			}
			sc.best[in], sc.bestQ[in], sc.fromPart[in] = s, qi, part
		}
	}
}

// oneSidedUnmatched is the weight of the heaviest word of a that b lacks.
func oneSidedUnmatched(a, b []feat) float64 {
	m := 0.0
	j := 0
	for _, f := range a {
		for j < len(b) && b[j].id < f.id {
			j++
		}
		if f.id < 0 || j >= len(b) || b[j].id != f.id {
			m = math.Max(m, float64(f.w))
		}
	}
	return m
}

// retrieve returns the questions worth the full similarity: those sharing the
// most IDF weight of bigrams and words with q (characters when q has none).
func (m *Matcher) retrieve(acc *accumulator, q *doc, k int) []int32 {
	if len(m.questions) <= k {
		out := acc.out[:0]
		for i := range m.questions {
			out = append(out, int32(i))
		}
		acc.out = out
		return out
	}
	add := func(fs []feat, post [][]int32) {
		for _, f := range fs {
			if f.id < 0 {
				continue
			}
			w := f.w * f.w
			for _, qi := range post[f.id] {
				if acc.score[qi] == 0 {
					acc.touched = append(acc.touched, qi)
				}
				acc.score[qi] += w
			}
		}
	}
	add(q.bigrams, m.postings)
	add(q.words, m.postings)
	if len(acc.touched) < k {
		add(q.chars, m.charPost)
	}
	var out []int32
	if len(acc.touched) <= k {
		out = append(acc.out[:0], acc.touched...)
	} else {
		// Keep the best k in a small min-heap (ties by lower index).
		worse := func(a, b int32) bool { // a ranks below b
			if acc.score[a] != acc.score[b] {
				return acc.score[a] < acc.score[b]
			}
			return a > b
		}
		h := acc.out[:0]
		down := func(i int) {
			for {
				l, sm := 2*i+1, i
				if l < len(h) && worse(h[l], h[sm]) {
					sm = l
				}
				if r := l + 1; r < len(h) && worse(h[r], h[sm]) {
					sm = r
				}
				if sm == i {
					return
				}
				h[i], h[sm] = h[sm], h[i]
				i = sm
			}
		}
		for _, qi := range acc.touched {
			if len(h) < k {
				h = append(h, qi)
				for i := len(h) - 1; i > 0; {
					p := (i - 1) / 2
					if !worse(h[i], h[p]) {
						break
					}
					h[i], h[p] = h[p], h[i]
					i = p
				}
				continue
			}
			if worse(h[0], qi) {
				h[0] = qi
				down(0)
			}
		}
		out = h
	}
	for _, qi := range acc.touched {
		acc.score[qi] = 0
	}
	acc.touched = acc.touched[:0]
	acc.out = out
	return out
}

// accumulator is retrieve's scratch space, one per concurrent Match.
type accumulator struct {
	score   []float32 // by question index; zero between uses
	touched []int32
	out     []int32 // the result, valid until the next retrieve
}

// confFeatures are the inputs of the confidence, the constant 1 first.
func confFeatures(cs []Candidate) [numConfFeatures]float64 {
	p1, p2 := cs[0].Score, 0.0
	if len(cs) > 1 {
		p2 = cs[1].Score
	}
	return [numConfFeatures]float64{1, p1, p2, cs[0].cover, cs[0].unmatched, cs[0].size}
}

const numConfFeatures = 6

// confCoef turns the top candidate into the probability that answering it is
// right: its similarity, the runner-up's (a close second means ambiguity),
// how much of the message the matched question covers, the heaviest message
// word it leaves unexplained, and the message's length. Fitted on the sample
// FAQ (each question matched leave-one-out as an in-scope message), its
// editor tests, and out-of-scope questions from another domain; refit with
// KEFU_FIT_CONFIDENCE=../../shared/data/bq/dev.csv go test ./intents -run TestFitConfidence -v
var confCoef = [numConfFeatures]float64{-6.575, 12.204, -6.107, 2.448, -2.374, 0.234}

// confidence is the calibrated probability that the top candidate is right.
func (m *Matcher) confidence(cs []Candidate) float64 {
	if len(cs) == 0 || cs[0].Score == 0 {
		return 0
	}
	if cs[0].exact && (len(cs) == 1 || !cs[1].exact) {
		// Word for word one of this intent's questions: the editors said so.
		return math.Max(0.95, cs[0].Score)
	}
	x := confFeatures(cs)
	z := 0.0
	for i, c := range confCoef {
		z += c * x[i]
	}
	return 1 / (1 + math.Exp(-z))
}

// phrase is a normalised hand-off or complaint phrase; English ones match on
// word boundaries, so that "sb" does not fire inside "sbc".
type phrase struct {
	text    string
	english bool
}

// phrases is a set of phrases indexed by their first rune, so that looking
// for any of them costs one probe per rune of the message.
type phrases struct {
	first   [1 << 10]uint64 // bit set of first runes (mod 1<<16)
	byFirst map[rune][]phrase
}

func newPhrases(ws []string) *phrases {
	ps := &phrases{byFirst: map[rune][]phrase{}}
	for _, w := range ws {
		if n := Normalize(w); n != "" {
			r, _ := utf8.DecodeRuneInString(n)
			ps.byFirst[r] = append(ps.byFirst[r], phrase{n, isASCIIWord(strings.ReplaceAll(n, " ", ""))})
			k := r & 0xffff
			ps.first[k>>6] |= 1 << (k & 63)
		}
	}
	return ps
}

// containsAny reports whether s contains one of the phrases (English ones on
// word boundaries).
func containsAny(s string, ps *phrases) bool {
	for i, r := range s {
		if k := r & 0xffff; ps.first[k>>6]&(1<<(k&63)) == 0 {
			continue
		}
		for _, p := range ps.byFirst[r] {
			if !strings.HasPrefix(s[i:], p.text) {
				continue
			}
			if !p.english {
				return true
			}
			j := i + len(p.text)
			if (i == 0 || !isLatin(s[i-1])) && (j == len(s) || !isLatin(s[j])) {
				return true
			}
		}
	}
	return false
}

func isLatin(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func (m *Matcher) decide(r *Result) {
	cfg := m.cfg
	top := r.Top()
	switch {
	case containsAny(r.Normalized, m.handoff):
		r.Action, r.Reason = ActionHandoff, ReasonRequested
		r.Intent = ""
		if r.Confidence >= cfg.AnswerThreshold {
			r.Intent = top.Intent
		}
		r.Urgent = r.Intent != "" && m.faq.Intent(r.Intent).Priority == faq.PriorityUrgent
		return
	case containsAny(r.Normalized, m.complaint):
		r.Action, r.Reason, r.Intent = ActionHandoff, ReasonComplaint, ""
		return
	}
	if r.Confidence >= cfg.AnswerThreshold {
		in := m.faq.Intent(top.Intent)
		r.Intent = in.ID
		switch {
		case in.Priority == faq.PriorityUrgent:
			r.Action, r.Reason, r.Urgent = ActionHandoff, ReasonUrgent, true
		case in.Handoff:
			r.Action, r.Reason = ActionHandoff, ReasonIntent
		default:
			r.Action = ActionAnswer
		}
		return
	}
	if r.Confidence >= cfg.ClarifyThreshold {
		for _, c := range r.Candidates {
			if len(r.Choices) == cfg.MaxChoices || c.Score < top.Score-cfg.ClarifySpan {
				break
			}
			r.Choices = append(r.Choices, c.Intent)
		}
		r.Action = ActionClarify
		return
	}
	r.Action = ActionNone
}

// PickChoice is the decision when a customer picks a clarify choice: answer
// that intent, or hand off when the FAQ says so.
func (m *Matcher) PickChoice(id string) (Action, string) {
	in := m.faq.Intent(id)
	switch {
	case in == nil:
		return ActionNone, ""
	case in.Priority == faq.PriorityUrgent:
		return ActionHandoff, ReasonUrgent
	case in.Handoff:
		return ActionHandoff, ReasonIntent
	}
	return ActionAnswer, ""
}
