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
	same                   bool // the message has the question's units in order (see probe.sameSeq)
	// The share of the message's word weight that points at this intent
	// rather than at others in this FAQ (see classIndex.evidence).
	evidence float64
	// For the top candidate: how much more its words are this intent's than
	// the runner-up's (see classIndex.contrast).
	contrast float64
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

// rank orders candidates: their similarity, plus what the message's words
// point at them in this FAQ.
func (c *Candidate) rank() float64 {
	if c.same {
		// Word for word one of its questions or keywords (运费 is a keyword
		// of the shipping fee, not of the return fee): the editors said so.
		return 2 + c.Score + rankEvidence*c.evidence
	}
	return c.Score + rankEvidence*c.evidence
}

// rankEvidence weighs a candidate's evidence against its similarity in its
// rank; chosen on the development cases.
const rankEvidence = 1.0

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
	// Decline intents name what the shop's FAQ does not cover (product
	// recommendations, the company's address, opening a shop of one's own):
	// a message whose likeliest intent is one of them is declined politely
	// (action none), and they are never offered as choices. Listing such
	// questions lets the bot tell them apart from an FAQ question that
	// shares one word with them (推荐一件衣服 / 帮我推荐个尺码).
	Decline []string `yaml:"decline"`
}

// DefaultConfig returns the defaults, chosen on the development cases (see
// BENCHMARKS.md).
func DefaultConfig() Config {
	return Config{
		AnswerThreshold:  0.5,
		ClarifyThreshold: 0.15,
		ClarifySpan:      0.3,
		MaxChoices:       3,
		TopN:             5,
		HandoffPhrases: []string{
			"转人工", "人工客服", "人工服务", "找人工", "要人工", "接人工", "叫人工", "真人", "活人", "客服人员",
			"人工", "找客服", "不要机器人", "不想跟机器人", "human", "real person", "agent", "representative", "talk to a person", "speak to someone",
		},
		ComplaintWords: []string{
			"投诉", "举报", "12315", "曝光", "维权", "消协", "申诉", "纠纷", "差评", "没人理", "没人管", "没人处理", "骗子", "骗人", "垃圾", "坑人", "黑店", "态度差", "太差劲",
			"傻逼", "傻b", "傻x", "sb", "答非所问", "妈的", "他妈", "操你", "滚", "去死", "fuck", "shit", "scam", "complain",
		},
		SmallTalk: []string{"greeting", "thanks_bye"},
		Decline:   []string{"out_of_scope"},
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
	if c.Decline == nil {
		c.Decline = d.Decline
	}
	return c
}

// question is one indexed FAQ question (or keyword).
type question struct {
	doc    doc
	intent int32 // index into Matcher.intents
	text   string
}

// Matcher answers "which intent is this?" over one FAQ. It is immutable after
// NewMatcher and safe for concurrent use; a new FAQ gets a new Matcher.
type Matcher struct {
	faq       *faq.FAQ
	cfg       Config
	tok       Tokenizer
	lx        *Lexicon
	syn       synonymMap
	lex       synonymMap // syn withTokens, for Match
	st        *stats
	intents   []*faq.Intent
	smallTalk []bool // by intent index
	decline   []bool // by intent index (see Config.Decline)
	// What a result reads, in small arrays of their own (the intents and
	// questions themselves are large and cold): by intent index its id and
	// whether it is urgent, by question index its text.
	intentID     []string
	urgent       []bool
	questionText []string
	questions    []question
	postings     postings      // feature id -> the questions that have it
	classes      classIndex    // word id -> the intents that use it
	qx           questionIndex // the questions' docs as scoring reads them
	handoff      *phrases
	complaint    *phrases
	pool         sync.Pool // *scratch

	exhaustive bool // tests: compute every similarity, skip none
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
	small, decline := map[string]bool{}, map[string]bool{}
	for _, id := range cfg.SmallTalk {
		small[id] = true
	}
	for _, id := range cfg.Decline {
		decline[id] = true
	}
	type pending struct {
		intent int32
		text   string
		tokens []string
	}
	var ps []pending
	for i, in := range f.Intents {
		m.intents = append(m.intents, in)
		m.intentID = append(m.intentID, in.ID)
		m.urgent = append(m.urgent, in.Priority == faq.PriorityUrgent)
		m.smallTalk = append(m.smallTalk, small[in.ID])
		m.decline = append(m.decline, decline[in.ID])
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
	m.lex = m.syn.withTokens(m.st, lx)
	docs := make([]doc, len(ps))
	var tf textFeatures
	for qi, p := range ps {
		tf.reset(p.tokens, m.st, lx, nil) // makeDoc, reusing tf
		docs[qi] = tf.doc(0, len(p.tokens), nil)
	}
	// Every question's features in one block of memory, in question order,
	// so that scoring a question reads a few neighbouring cache lines.
	packDocs(docs)
	intentOf := make([]int32, len(ps))
	for qi, p := range ps {
		m.questions = append(m.questions, question{intent: p.intent, text: p.text, doc: docs[qi]})
		m.questionText = append(m.questionText, p.text)
		intentOf[qi] = p.intent
	}
	m.qx = newQuestionIndex(docs, intentOf)
	qwords := make([][][]int32, len(m.intents))
	for qi := range docs {
		ids := make([]int32, len(docs[qi].words))
		for i, f := range docs[qi].words {
			ids[i] = f.id
		}
		qwords[intentOf[qi]] = append(qwords[intentOf[qi]], ids)
	}
	awords := make([][]int32, len(m.intents))
	for i, in := range m.intents {
		seen := map[int32]bool{}
		for _, text := range []string{in.Answer.Text, in.Answer.En} {
			for _, t := range analyze(text, tok, m.syn).Tokens {
				if id, ok := m.st.words[t]; ok && !seen[id] {
					seen[id] = true
					awords[i] = append(awords[i], id)
				}
			}
		}
	}
	m.classes = newClassIndex(len(m.st.df), qwords, awords)
	m.classes.alone = map[int32][]int32{}
	for qi := range docs {
		if ws := docs[qi].words; len(ws) == 1 {
			m.classes.alone[ws[0].id] = append(m.classes.alone[ws[0].id], intentOf[qi])
		}
	}
	for id := range m.classes.alone {
		m.classes.words[id].alone = true
	}
	for w, id := range m.st.words {
		m.classes.words[id].filler = isFiller(w, lx)
	}
	m.classes.setCompounds(m.st.words)
	m.postings = newPostings(len(m.st.df), docs)
	nq := len(m.questions)
	ni := len(m.intents)
	nf := len(m.st.df)
	m.pool.New = func() any {
		sc := &scratch{
			acc:     accumulator{score: make([]float32, nq)},
			is:      make([]intentState, ni),
			probe:   probe{slot8: make([]uint8, nf)},
			leaders: leaders{n: max(cfg.TopN, 2)},
			topic:   make([]float64, ni),
		}
		for i := range ni {
			sc.is[i].bestZ, sc.is[i].callZ = math.Inf(-1), math.Inf(-1)
		}
		sc.an.oov, sc.an.withInfo = m.lex.oovToken()
		sc.an.preset = true
		return sc
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

// Tokenizer is the segmenter the matcher cuts messages with (the archive
// indexes messages with the same one).
func (m *Matcher) Tokenizer() Tokenizer { return m.tok }

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
	sc := m.pool.Get().(*scratch)
	defer m.pool.Put(sc)
	r := Result{Analysis: analyzeBuf(text, m.tok, m.lex, &sc.an)}
	// The message's features are looked up once; the docs of the whole
	// message and of its parts are built from them.
	sc.tf.reset(r.Tokens, m.st, m.lx, sc.an.info)
	sc.wholeDoc = sc.tf.doc(0, len(r.Tokens), &sc.whole)
	wholeDoc := &sc.wholeDoc // in sc: a local would escape to the heap
	m.score(sc, wholeDoc, false, skip, 1)
	// A message of several sentences ("你好 我想退货 怎么弄"): score each part
	// too, and keep each intent's best, so small talk around a question does
	// not drown it. Small-talk intents only count for the whole message.
	// Not when the whole message already matches a question closely: its
	// parts would not change the decision (none did on the development and
	// held-out cases) and cost about a quarter of the time.
	if len(r.parts) > 1 && !(len(sc.leaders.z) > 0 && sc.leaders.z[0] >= partsAboveLogit) {
		for _, p := range r.parts {
			if sc.tf.unitCount(p.from, p.to) < 2 {
				continue // one character or word: too little to stand on its own
			}
			sc.partDoc = sc.tf.doc(p.from, p.to, &sc.part)
			part := &sc.partDoc
			// A part that is a small share of the message (怎么回事 in
			// "怎么回事 物流长时间没更新") counts for a little less.
			f := 1.0
			if wholeDoc.sumChar > 0 {
				f = 1 - partDiscount*(1-part.sumChar/wholeDoc.sumChar)
			}
			m.score(sc, part, true, skip, f)
		}
	}
	// The candidates, best first (ties by intent id): as many as a result
	// reports, and at least the two the confidence reads.
	seen := sc.seen
	m.sortSeen(sc, seen)
	r.Candidates = make([]Candidate, min(len(seen), max(m.cfg.TopN, 2)))
	for i := range r.Candidates {
		in := seen[i]
		r.Candidates[i] = Candidate{
			Intent: m.intentID[in], Score: sc.is[in].best, Question: m.questionText[sc.is[in].bestQ],
			same: sc.is[in].bestSame && !sc.is[in].fromPart,
		}
	}
	// Which of them the message's words point at in this FAQ (see
	// classIndex): the candidates are ranked by similarity plus that
	// evidence, so that of two questions with the same frame the one with
	// the word that matters comes first.
	var skipQ *skipped
	if skip >= 0 {
		q := &m.questions[skip]
		skipQ = &skipped{in: q.intent, words: q.doc.words}
	}
	m.classes.lookUp(&sc.classes, wholeDoc.words, seen[:len(r.Candidates)])
	sc.ev = slices.Grow(sc.ev[:0], len(r.Candidates))[:len(r.Candidates)]
	m.classes.evidenceAll(&sc.classes, wholeDoc.words, skipQ, sc.ev)
	for i := range r.Candidates {
		c := &r.Candidates[i]
		// sc.ev[i] is still for Candidates[i] (sc.classes.cands[i]): the
		// loop has moved only those before it.
		c.evidence = sc.ev[i]
		for j := i; j > 0 && r.Candidates[j].rank() > r.Candidates[j-1].rank(); j-- {
			r.Candidates[j], r.Candidates[j-1] = r.Candidates[j-1], r.Candidates[j]
			seen[j], seen[j-1] = seen[j-1], seen[j]
		}
	}
	if len(r.Candidates) > 1 {
		r.Candidates[0].contrast = m.classes.contrastOf(&sc.classes, wholeDoc.words, seen[0], seen[1], skipQ)
	}
	// A message word the top question lacks and another intent owns (see
	// ownedMinShare).
	owner, ownShare, ownWeight := int32(-1), 0.0, 0.0
	if len(r.Candidates) > 0 {
		owner, ownShare, ownWeight = m.classes.owned(wholeDoc.words, m.questions[sc.is[seen[0]].bestQ].doc.words, seen[0])
	}
	// How much of the message the best questions explain (the confidence's
	// inputs), measured against the whole message, so that a fragment that
	// matches a short question word for word does not make a confident
	// answer to a long message.
	// A best found by the whole message comes with them (see probe); one
	// found by a part is measured here.
	for i := range min(2, len(r.Candidates)) {
		c, in := &r.Candidates[i], seen[i]
		is := &sc.is[in]
		sum, unmatched, same := is.bestSum, is.bestUnmatched, is.bestSame
		if is.fromPart {
			d := &m.questions[is.bestQ].doc
			_, _, sum = overlap(wholeDoc.chars, d.chars)
			unmatched = oneSidedUnmatched(wholeDoc.words, d.words)
			same = false
		}
		if wholeDoc.sumChar > 0 {
			c.cover = sum / wholeDoc.sumChar
		}
		c.unmatched = unmatched / 10
		c.size = math.Log1p(float64(len(wholeDoc.seq)))
		c.exact = same && (len(wholeDoc.seq) > 1 || len(wholeDoc.words) == 1)
	}
	sc.reset()
	r.Confidence = m.confidence(r.Candidates)
	owned := owner >= 0 && ownShare >= ownedMinShare && ownWeight >= ownedMinWeight && !r.Candidates[0].exact
	if owned {
		r.Confidence = math.Min(r.Confidence, 1-ownShare)
	}
	if len(r.Candidates) > m.cfg.TopN {
		r.Candidates = r.Candidates[:m.cfg.TopN]
	}
	topIn := int32(-1)
	if len(r.Candidates) > 0 {
		topIn = seen[0]
	}
	m.decide(&r, topIn, seen)
	if owned && r.Action == ActionClarify && !m.decline[owner] && !slices.Contains(r.Choices, m.intentID[owner]) {
		// The intent the word that matters belongs to is offered second.
		if len(r.Choices) >= max(m.cfg.MaxChoices, 2) {
			r.Choices = r.Choices[:len(r.Choices)-1]
		}
		r.Choices = slices.Insert(r.Choices, min(1, len(r.Choices)), m.intentID[owner])
	}
	m.decideTopic(sc, &r, topIn)
	return r
}

// sortSeen sorts intents best first, ties by intent id: an insertion sort
// with the comparison inlined (a message touches a few dozen intents at
// most; the generic sort called a closure per comparison).
func (m *Matcher) sortSeen(sc *scratch, seen []int32) {
	is, ids := sc.is, m.intentID
	for i := 1; i < len(seen); i++ {
		x := seen[i]
		bx := is[x].best
		j := i
		for ; j > 0; j-- {
			y := seen[j-1]
			if by := is[y].best; by > bx || by == bx && ids[y] < ids[x] {
				break // y stays before x
			}
			seen[j] = y
		}
		seen[j] = x
	}
}

// decideTopic turns a decision on a message that only names a topic several
// intents share (售后, 快递 alone) into a clarify among those intents, the
// ones the topic's words point at most first: picking one would be a guess.
// Hand-offs the customer asked for, messages that are word for word one of
// the top intent's questions, and a word that is alone one of its questions
// or keywords keep their decision.
func (m *Matcher) decideTopic(sc *scratch, r *Result, top int32) {
	if r.Action == ActionHandoff && (r.Reason == ReasonRequested || r.Reason == ReasonComplaint) {
		return
	}
	if len(r.Candidates) > 0 && r.Candidates[0].exact {
		return // word for word one of its questions
	}
	tokens, ids := sc.tf.tokens, sc.tf.wordID
	if len(tokens) <= topicMaxTokens && slices.Contains(ids, -1) {
		tokens, ids = m.splitUnknown(sc, tokens, ids)
	}
	touched, ok := m.classes.topic(tokens, ids, m.lx, top, sc.topic, sc.topicIn[:0])
	sc.topicIn = touched
	if ok {
		m.topicChoices(sc, touched, r)
	}
	for _, in := range touched {
		sc.topic[in] = 0
	}
}

// splitUnknown returns a short message's tokens with each Chinese word the
// FAQ never uses (售后服务, when the FAQ says 售后 and 服务) replaced by the
// FAQ words it is made of, longest first from its start; a word that is not
// made of FAQ words alone stays whole. The segmenter keeps some compounds
// whole that the FAQ uses in parts: the topic is in the parts. The result
// lies in sc's buffers.
func (m *Matcher) splitUnknown(sc *scratch, tokens []string, ids []int32) ([]string, []int32) {
	sc.splitTok, sc.splitID = sc.splitTok[:0], sc.splitID[:0]
	for i, t := range tokens {
		if ids[i] >= 0 || !hasHan(t) {
			sc.splitTok, sc.splitID = append(sc.splitTok, t), append(sc.splitID, ids[i])
			continue
		}
		from := len(sc.splitTok)
		rest := t
		for rest != "" {
			n, id := 0, int32(-1)
			// The longest FAQ word rest starts with (of at least two
			// characters: a lone character is not a word of its own here).
			for j, cut := 0, 0; j < len(rest); {
				_, size := utf8.DecodeRuneInString(rest[j:])
				j += size
				cut++
				if cut < 2 {
					continue
				}
				if wid, ok := m.st.words[rest[:j]]; ok {
					n, id = j, wid
				}
			}
			if id < 0 {
				break
			}
			sc.splitTok, sc.splitID = append(sc.splitTok, rest[:n]), append(sc.splitID, id)
			rest = rest[n:]
		}
		if rest != "" || len(sc.splitTok)-from < 2 {
			sc.splitTok, sc.splitID = append(sc.splitTok[:from], t), append(sc.splitID[:from], -1)
		}
	}
	return sc.splitTok, sc.splitID
}

// topicChoices makes r a clarify among the intents a topic word points at
// (touched, with their shares in sc.topic), the likeliest first.
func (m *Matcher) topicChoices(sc *scratch, touched []int32, r *Result) {
	slices.SortFunc(touched, func(a, b int32) int {
		if sc.topic[a] != sc.topic[b] {
			return cmp.Compare(sc.topic[b], sc.topic[a])
		}
		return strings.Compare(m.intentID[a], m.intentID[b])
	})
	sum := 0.0
	for _, in := range touched {
		sum += sc.topic[in]
	}
	offered := func(in int32) bool { return sc.topic[in] >= topicMinChoice*sum && !m.smallTalk[in] && !m.decline[in] }
	n := 0
	for _, in := range touched {
		if offered(in) {
			n++
		}
	}
	if m.cfg.MaxChoices >= 0 {
		n = min(n, m.cfg.MaxChoices)
	}
	if n == 0 {
		return
	}
	r.Choices = make([]string, 0, n)
	first := int32(-1)
	for _, in := range touched {
		if len(r.Choices) == n {
			break
		}
		if offered(in) {
			if first < 0 {
				first = in
			}
			r.Choices = append(r.Choices, m.intentID[in])
		}
	}
	r.Action, r.Intent, r.Reason, r.Urgent = ActionClarify, "", "", false
	// The chance that the intent the topic points at most is the one meant.
	r.Confidence = math.Min(r.Confidence, sc.topic[first]/sum)
}

// topicMinChoice: an intent is offered for a topic when at least this share
// of the topic word's uses are its (the small talk's answers, which name
// every topic, are never offered).
const topicMinChoice = 0.05

// intentState is what a Match keeps of one intent, in one place (one cache
// line rather than one per array).
type intentState struct {
	best     float64 // best similarity so far (0: none)
	bestZ    float64 // its log-odds (-Inf: none)
	callZ    float64 // the highest log-odds in this score call (-Inf: none)
	bestQ    int32   // the question that scored it
	fromPart bool    // scored by a part of the message
	// When scored by the whole message: its best question's confidence
	// inputs (see probe.sumc).
	bestSame               bool
	bestSum, bestUnmatched float64
}

// scratch is one Match's working memory, pooled: retrieval's accumulator,
// each intent's best question so far, and the message's features and docs.
type scratch struct {
	acc  accumulator
	is   []intentState // by intent
	seen []int32       // intents with best > 0

	an          analysisBuf  // the segmenter's words, the tokens' ids
	tf          textFeatures // the message's features
	whole, part docBuf       // memory for the docs of the whole message and of one part
	wholeDoc    doc
	partDoc     doc
	probe       probe        // the doc being scored
	evals       []evaluation // score's retrieved questions, in retrieval's order
	leaders     leaders
	called      []int32   // intents with a callZ
	topic       []float64 // by intent: its evidence when the message names a topic (see classIndex.topic)
	topicIn     []int32   // intents with a topic evidence
	splitTok    []string  // a short message's tokens, unknown words split (see splitUnknown)
	splitID     []int32
	classes     classCounts
	ev          []float64 // the candidates' evidence (see classIndex.evidenceAll)
}

func (sc *scratch) reset() {
	for _, in := range sc.seen {
		is := &sc.is[in]
		is.best, is.bestZ, is.bestQ, is.fromPart = 0, math.Inf(-1), 0, false
	}
	sc.leaders.reset()
	sc.seen = sc.seen[:0]
}

// score raises each intent's best in sc to its best question's similarity
// to q, the whole message or (part) one part of it; small-talk intents count
// only for the whole message.
//
// Each similarity is multiplied by f (a part's discount; 1 for the whole
// message). Bests, the stop bounds and the leaders are kept as log-odds of
// the discounted similarity; the probe works on the undiscounted one, so
// its bound is converted.
func (m *Matcher) score(sc *scratch, q *doc, part bool, skip int32, f float64) {
	if len(q.chars) == 0 || len(m.questions) == 0 {
		return
	}
	k := maxRerank
	if part {
		k = maxRerankPart
	}
	retrieved := m.retrieve(&sc.acc, q, k)
	slack := retrievalSlack(q)
	ev := sc.evals[:0]
	for pos, qi := range retrieved {
		// The heads are read here, all at once, rather than one by one in
		// the loop below: the loads overlap.
		in := m.qx.heads[qi].intent
		if qi == skip || (part && m.smallTalk[in]) {
			continue
		}
		e := evaluation{qi: qi, in: in, share: noShareBounds}
		if sc.acc.scored {
			e.share = shareFrom(sc.acc.outScore[pos], slack, sc.acc.withChars)
		}
		ev = append(ev, e)
	}
	sc.evals = ev
	// Compute the similarities in retrieval's order (the likeliest first),
	// skipping the questions that certainly score below their intent's best
	// so far (in this call or before) or below the n-th best intent (it
	// would not be reported; see leaders). Skipping does not change the
	// result: a question skipped scores below a best that stands.
	sc.probe.set(q)
	// A part's bounds repeat (the floor, an intent's best): the last one
	// converted is kept (NaN: none yet).
	lastStop, lastRaw := math.NaN(), 0.0
	for i := range ev {
		e := &ev[i]
		in := e.in
		is := &sc.is[in]
		stop := max(is.bestZ, is.callZ, sc.leaders.floor())
		if m.exhaustive {
			stop = math.Inf(-1)
		}
		if f != 1 {
			if stop != lastStop {
				lastStop, lastRaw = stop, rawLogit(stop, f)
			}
			stop = lastRaw
			if math.IsInf(stop, 1) {
				continue // even a perfect match would not count
			}
		}
		z, ok := sc.probe.logit(&m.qx, e.qi, stop, e.share)
		if ok && f != 1 {
			z = logit(f * sigmoid(z))
		}
		e.ok, e.z = ok, z
		if ok {
			e.sum, e.unmatched, e.same = sc.probe.sumc, sc.probe.oneSided, sc.probe.sameSeq
		}
		if ok && z > is.callZ {
			if is.callZ == math.Inf(-1) {
				sc.called = append(sc.called, in)
			}
			is.callZ = z
			if z > is.bestZ {
				sc.leaders.raise(in, z)
			}
		}
	}
	sc.probe.clear()
	for _, in := range sc.called {
		sc.is[in].callZ = math.Inf(-1)
	}
	sc.called = sc.called[:0]
	// Raise each intent's best in retrieval's order: on a tie the first
	// question keeps it.
	for _, e := range ev {
		if !e.ok {
			continue // shares nothing, or certainly below the best and the floor
		}
		in := e.in
		is := &sc.is[in]
		if s := sigmoid(e.z); s > is.best {
			if is.best == 0 {
				sc.seen = append(sc.seen, in)
			}
			is.best, is.bestZ, is.bestQ, is.fromPart = s, e.z, e.qi, part
			is.bestSum, is.bestUnmatched, is.bestSame = e.sum, e.unmatched, e.same
		}
	}
}

// partsAboveLogit: the log-odds of the whole message's best similarity
// (0.88) above which its parts are not scored.
const partsAboveLogit = 2.0

// partDiscount scales a part's similarity by 1 - partDiscount × (the share
// of the message's weight outside the part); chosen on the development cases.
const partDiscount = 0.2

// logit is the inverse of sigmoid.
func logit(p float64) float64 { return math.Log(p / (1 - p)) }

// rawLogit converts a bound on the log-odds of f × similarity into a bound
// on the log-odds of the similarity itself (+Inf when no similarity reaches
// it).
func rawLogit(z, f float64) float64 {
	p := sigmoid(z) / f
	if p >= 1 {
		return math.Inf(1)
	}
	return logit(p)
}

// evaluation is one retrieved question in score.
type evaluation struct {
	qi    int32       // the question
	in    int32       // its intent
	share shareBounds // from its retrieval score
	ok    bool        // z is its similarity's log-odds
	z     float64

	// When ok, what probe found (see probe.sumc).
	sum, unmatched float64
	same           bool
}

// leaders are the n intents with the highest log-odds so far, n the
// candidates a result reports (at least the two the confidence reads). An
// intent whose best stays below the n-th is never reported, so a question
// scoring below it needs no similarity. Bests only rise, so the floor only
// rises too.
type leaders struct {
	n  int
	z  []float64 // best first
	in []int32
}

// raise records that intent in reached log-odds z, higher than before.
func (l *leaders) raise(in int32, z float64) {
	i := slices.Index(l.in, in)
	switch {
	case i >= 0:
		l.z[i] = z
	case len(l.in) < l.n:
		l.z, l.in = append(l.z, z), append(l.in, in)
		i = len(l.in) - 1
	case z > l.z[l.n-1]:
		i = l.n - 1
		l.z[i], l.in[i] = z, in
	default:
		return
	}
	for ; i > 0 && l.z[i] > l.z[i-1]; i-- {
		l.z[i], l.z[i-1] = l.z[i-1], l.z[i]
		l.in[i], l.in[i-1] = l.in[i-1], l.in[i]
	}
}

// floor is the n-th highest log-odds, -Inf while fewer intents have one.
func (l *leaders) floor() float64 {
	if len(l.z) < l.n {
		return math.Inf(-1)
	}
	return l.z[l.n-1]
}

func (l *leaders) reset() { l.z, l.in = l.z[:0], l.in[:0] }

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

// retrieve returns the questions worth the full similarity: the k sharing
// the most IDF weight (Σw², q's weights) of bigrams and words with q (and of
// units when that touches fewer than k), best first, ties by lower index.
// acc.outScore has their scores.
func (m *Matcher) retrieve(acc *accumulator, q *doc, k int) []int32 {
	if len(m.questions) <= k {
		out := acc.out[:0]
		for i := range m.questions {
			out = append(out, int32(i))
		}
		acc.out = out
		acc.outScore = append(acc.outScore[:0], make([]float32, len(out))...)
		acc.scored, acc.withChars = false, false
		return out // not scored: all alike, in index order
	}
	add := func(fs []feat) {
		for _, f := range fs {
			if f.id < 0 {
				continue
			}
			w := f.w * f.w
			post := m.postings.of(f.id)
			// A question is touched when its score leaves 0 (see addPostings).
			touched := slices.Grow(acc.touched, len(post)+1)
			n := addPostings(acc.score, touched[:cap(touched)], len(touched), post, w)
			acc.touched = touched[:n]
		}
	}
	add(q.bigrams)
	add(q.words)
	acc.scored, acc.withChars = true, len(acc.touched) < k
	if acc.withChars {
		add(q.chars)
	}
	// The best k, best first: ranked by score, ties by lower index. A
	// question's rank is one integer, rankKey; the best k are kept in
	// ascending order in a small array of keys (a few moves per insertion,
	// and the loop's branches are predictable, unlike a heap's).
	score := acc.score
	top := acc.top[:0]
	n := min(k, len(acc.touched))
	for _, qi := range acc.touched[:n] {
		key := rankKey(score[qi], qi)
		top = append(top, key)
		j := len(top) - 1
		for ; j > 0 && top[j-1] > key; j-- {
			top[j] = top[j-1]
		}
		top[j] = key
	}
	// Most questions rank below the least kept.
	if n == k {
		least := top[0]
		for _, qi := range acc.touched[k:] {
			key := rankKey(score[qi], qi)
			if key <= least {
				continue
			}
			j := 1
			for ; j < k && top[j] < key; j++ {
				top[j-1] = top[j]
			}
			top[j-1] = key
			least = top[0]
		}
	}
	acc.top = top
	out, outScore := acc.out[:0], acc.outScore[:0]
	for i := len(top) - 1; i >= 0; i-- {
		qi, s := unRankKey(top[i])
		out, outScore = append(out, qi), append(outScore, s)
	}
	acc.outScore = outScore
	if len(acc.touched) > len(acc.score)/8 {
		clear(acc.score) // faster than as many scattered writes
	} else {
		for _, qi := range acc.touched {
			acc.score[qi] = 0
		}
	}
	acc.touched = acc.touched[:0]
	acc.out = out
	return out
}

// addPostings adds w to the score of every question of post, writing each
// down in touched[n:] and counting it when its score leaves 0; it returns the
// new count. Without a branch (whether a question was seen is a coin toss
// the processor would often lose): write it down always, keep it only when
// new. A function of its own, with few live values, so that the loop keeps
// its index and count in registers (inside retrieve they were stored and
// reloaded on every posting): not inlined.
//
//go:noinline
func addPostings(score []float32, touched []int32, n int, post []int32, w float32) int {
	for _, qi := range post {
		s := score[qi]
		touched[n] = qi
		n += b2i(s == 0)
		score[qi] = s + w
	}
	return n
}

// rankKey orders retrieved questions as one integer: by score (s > 0, so
// its bits order as the floats do), then by lower index.
func rankKey(s float32, qi int32) uint64 {
	return uint64(math.Float32bits(s))<<32 | uint64(^uint32(qi))
}

// unRankKey is the question and score of a rankKey.
func unRankKey(key uint64) (int32, float32) {
	return int32(^uint32(key)), math.Float32frombits(uint32(key >> 32))
}

// b2i is 1 for true, 0 for false (the compiler makes it a flag move, not a
// branch).
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// postings lists, for each feature id (units, bigrams and words alike: their
// ids differ), the questions that have it, in question order. The lists lie
// end to end in one slice.
type postings struct {
	start []int32 // by id: where its list starts; it ends where the next one starts
	qs    []int32
}

// newPostings indexes docs by their features (ids below nf).
func newPostings(nf int, docs []doc) postings {
	p := postings{start: make([]int32, nf+1)}
	each := func(f func(id, qi int32)) {
		for qi := range docs {
			for _, fs := range [][]feat{docs[qi].chars, docs[qi].bigrams, docs[qi].words} {
				for _, ft := range fs {
					f(ft.id, int32(qi))
				}
			}
		}
	}
	each(func(id, _ int32) { p.start[id+1]++ })
	for id := range nf {
		p.start[id+1] += p.start[id]
	}
	p.qs = make([]int32, p.start[nf])
	next := slices.Clone(p.start[:nf])
	each(func(id, qi int32) {
		p.qs[next[id]] = qi
		next[id]++
	})
	return p
}

// of is the list of the questions that have feature id.
func (p *postings) of(id int32) []int32 { return p.qs[p.start[id]:p.start[id+1]] }

// accumulator is retrieve's scratch space, one per concurrent Match.
type accumulator struct {
	score    []float32 // by question index; zero between uses
	touched  []int32
	out      []int32   // the result, valid until the next retrieve
	top      []uint64  // rankKeys of the best, ascending
	outScore []float32 // the result's scores (0: not scored)
	// Whether the result was scored, and with the units too (when the
	// bigrams and words touch fewer than k questions).
	scored, withChars bool
}

// confFeatures are the inputs of the confidence, the constant 1 first.
func confFeatures(cs []Candidate) [numConfFeatures]float64 {
	p1, p2 := cs[0].Score, 0.0
	if len(cs) > 1 {
		p2 = cs[1].Score
	}
	e1, e2 := cs[0].evidence, 0.0
	if len(cs) > 1 {
		e2 = cs[1].evidence
	}
	return [numConfFeatures]float64{1, p1, p2, cs[0].cover, cs[0].unmatched, cs[0].size, e1, e2, cs[0].contrast}
}

const numConfFeatures = 9

// confCoef turns the top candidate into the probability that answering it is
// right: its similarity, the runner-up's (a close second means ambiguity),
// how much of the message the matched question covers, the heaviest message
// word it leaves unexplained, the message's length, the share of the
// message's word weight that points at the top and at the runner-up in this
// FAQ, and the contrast between the two (see classIndex). Fitted on the
// sample FAQ (each question matched leave-one-out, its own uses left out of
// the class index too), its editor tests, out-of-scope questions from another
// domain, and the development cases (testdata/dev_cases.tsv and
// dev_classes.tsv, each counted once; a case that expects a clarify on a
// topic counts as a wrong top intent); refit with
//
//	(cat intents/testdata/dev_cases.tsv; sed -E 's/\t@clarify\|.*/\t@clarify/' intents/testdata/dev_classes.tsv) >/tmp/fitcases.tsv
//	kefu eval fit confidence --cases /tmp/fitcases.tsv --cases-weight 1 ../shared/data/bq/dev.csv
//
// (testdata/heldout_cases.tsv, heldout_classes.tsv and heldout2_cases.tsv are never used to fit
// or choose anything).
var confCoef = [numConfFeatures]float64{-7.801, 8.169, -2.444, 0.035, -0.096, 0.449, 4.969, 4.546, 4.837}

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
// for any of them costs one probe of a small filter per rune of the message.
type phrases struct {
	filter [16]uint64 // bit r%1024 set for every first rune r (2 cache lines)
	firsts []rune     // the first runes, sorted
	from   []int32    // the phrases of firsts[i] are list[from[i]:from[i+1]]
	list   []phrase
}

func newPhrases(ws []string) *phrases {
	byFirst := map[rune][]phrase{}
	for _, w := range ws {
		if n := Normalize(w); n != "" {
			r, _ := utf8.DecodeRuneInString(n)
			byFirst[r] = append(byFirst[r], phrase{n, isASCIIWord(strings.ReplaceAll(n, " ", ""))})
		}
	}
	ps := &phrases{}
	for r := range byFirst {
		ps.firsts = append(ps.firsts, r)
	}
	slices.Sort(ps.firsts)
	for _, r := range ps.firsts {
		ps.from = append(ps.from, int32(len(ps.list)))
		ps.list = append(ps.list, byFirst[r]...)
		ps.filter[r>>6&15] |= 1 << (r & 63)
	}
	ps.from = append(ps.from, int32(len(ps.list)))
	return ps
}

// containsAny reports whether s contains one of the phrases (English ones on
// word boundaries).
func containsAny(s string, ps *phrases) bool {
	for i, r := range s {
		if ps.may(r) && ps.at(s, i, r) {
			return true
		}
	}
	return false
}

// containsWhich is containsAny(s, a), containsAny(s, b) in one pass over s;
// the second is only certain when the first is false.
func containsWhich(s string, a, b *phrases) (inA, inB bool) {
	for i, r := range s {
		if !inB && b.may(r) && b.at(s, i, r) {
			inB = true
		}
		if a.may(r) && a.at(s, i, r) {
			return true, inB
		}
	}
	return false, inB
}

// may is false when no phrase starts with r.
func (ps *phrases) may(r rune) bool { return ps.filter[r>>6&15]&(1<<(r&63)) != 0 }

// at reports whether one of the phrases starts at s[i:], whose first rune
// is r.
func (ps *phrases) at(s string, i int, r rune) bool {
	k, ok := slices.BinarySearch(ps.firsts, r)
	if !ok {
		return false
	}
	for _, p := range ps.list[ps.from[k]:ps.from[k+1]] {
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
	return false
}

func isLatin(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// decide sets r's action; topIn is the index of r's top candidate's intent
// (-1: none), candIn those of all its candidates, in order.
func (m *Matcher) decide(r *Result, topIn int32, candIn []int32) {
	cfg := m.cfg
	top := r.Top()
	handoff, complaint := containsWhich(r.Normalized, m.handoff, m.complaint)
	switch {
	case handoff:
		r.Action, r.Reason = ActionHandoff, ReasonRequested
		r.Intent = ""
		if r.Confidence >= cfg.AnswerThreshold {
			r.Intent = top.Intent
		}
		r.Urgent = r.Intent != "" && m.urgent[topIn]
		return
	case complaint:
		r.Action, r.Reason, r.Intent = ActionHandoff, ReasonComplaint, ""
		return
	}
	if topIn >= 0 && m.decline[topIn] {
		// The likeliest reading is something the FAQ says it does not cover.
		r.Action = ActionNone
		return
	}
	if r.Confidence >= cfg.AnswerThreshold {
		r.Intent = top.Intent
		switch {
		case m.urgent[topIn]:
			r.Action, r.Reason, r.Urgent = ActionHandoff, ReasonUrgent, true
		case m.intents[topIn].Handoff:
			r.Action, r.Reason = ActionHandoff, ReasonIntent
		default:
			r.Action = ActionAnswer
		}
		return
	}
	if r.Confidence >= cfg.ClarifyThreshold {
		n := len(r.Candidates)
		if cfg.MaxChoices >= 0 { // negative: no limit
			n = min(n, cfg.MaxChoices)
		}
		r.Choices = make([]string, 0, n)
		for i, c := range r.Candidates {
			if len(r.Choices) == cfg.MaxChoices || c.Score < top.Score-cfg.ClarifySpan {
				break
			}
			if m.decline[candIn[i]] {
				continue // never offered
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
