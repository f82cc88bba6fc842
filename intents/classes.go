package intents

import (
	"math"
	"math/bits"
	"slices"
)

// The similarity says how alike a message and one question are; it cannot
// tell which of the words they share matter in this FAQ. Two intents whose
// questions share a frame (退货流程是什么 / 换货流程是什么, 保修需要发票吗 /
// 需要发票) differ in the one word that discriminates between them. The
// class index weighs words by the intents that use them, over this FAQ's own
// questions, keywords and answers: a word that belongs to one intent points
// at it, a word used across many intents (需要, 流程, 快递 in a shop's FAQ)
// names a topic they share and points at none of them.

// answerWeight is what an intent's answer counts towards the intents that
// use a word, against 1 for each of its questions and keywords that use it:
// an answer speaks of its topic in words customers use (退货 in the refund
// answers, 售后 in the return, exchange and repair answers) but is one
// text among an intent's many questions.
const answerWeight = 1.0

// classIndex lists, for each word id of the matcher's stats, the intents
// that use the word with their counts. The lists lie end to end.
type classIndex struct {
	// By word id: what Match reads of a word, in one place (one cache line
	// rather than one per array).
	words []classWord
	in    []int32   // intents
	n     []float32 // their counts
	scale []float32 // by intent: what one of its texts counts (see newClassIndex)
	// By word id: the intents that have the word alone as a question or a
	// keyword (the editors say the word alone is about them; see
	// classWord.alone).
	alone map[int32][]int32
	// By word id: a word's uses as a topic, when longer FAQ words contain it
	// (see setCompounds).
	compound []compoundUses
	small    bool // at most 64 intents: the words' masks are set
}

// classWord is one word id's entry in the class index.
type classWord struct {
	start, end int32   // its list: in[start:end], n[start:end]
	total      float32 // the sum of its counts
	// The intent with the largest share of its uses (-1: none), and that
	// share (see owned).
	owner    int32
	ownShare float32
	// A stop word (是, 怎么) or a filler (问题, 服务): no topic of its own
	// (see fillerIDF).
	filler bool
	alone  bool // it has a list in classIndex.alone
	// Its uses as a topic (see topicUses) are at least topicMinUses and no
	// intent has more than topicMaxShare of them: alone, it names a topic.
	topical bool
	// Its index in classIndex.compound (-1: none; see setCompounds).
	compound int32
	// When the FAQ has at most 64 intents (classIndex.small): bit i set for
	// every intent i in its list, so an intent's place in the list is the
	// number of bits below its own, with no search.
	mask uint64
}

// classUse is one word's use by one intent while the index is built.
type classUse struct {
	word, in int32
	n        float32
}

// newClassIndex builds the index from each intent's question and keyword
// words (qwords, by intent: one entry per text) and answer words (awords, by
// intent); nf is the number of feature ids.
func newClassIndex(nf int, qwords [][][]int32, awords [][]int32) classIndex {
	// An intent with many paraphrases would otherwise own every word it
	// shares with an intent of few: each text counts the mean number of texts
	// per intent over the intent's own (the share is then p(intent | word)
	// under equal priors).
	scale := make([]float32, len(qwords))
	mean := 0.0
	for in, texts := range qwords {
		mean += float64(len(texts)) + answerWeight
		scale[in] = float32(len(texts)) + answerWeight
	}
	mean /= float64(max(len(qwords), 1))
	for in := range scale {
		scale[in] = float32(mean) / scale[in]
	}
	counts := map[[2]int32]float32{}
	for in, texts := range qwords {
		for _, ws := range texts {
			for _, w := range ws {
				counts[[2]int32{w, int32(in)}] += scale[in]
			}
		}
	}
	for in, ws := range awords {
		for _, w := range ws {
			counts[[2]int32{w, int32(in)}] += answerWeight * scale[in]
		}
	}
	uses := make([]classUse, 0, len(counts))
	for k, n := range counts {
		uses = append(uses, classUse{k[0], k[1], n})
	}
	slices.SortFunc(uses, func(a, b classUse) int {
		if a.word != b.word {
			return int(a.word - b.word)
		}
		return int(a.in - b.in)
	})
	start := make([]int32, nf+1)
	x := classIndex{words: make([]classWord, nf), scale: scale}
	for _, u := range uses {
		start[u.word+1]++
		x.in = append(x.in, u.in)
		x.n = append(x.n, u.n)
		x.words[u.word].total += u.n
	}
	for id := range nf {
		start[id+1] += start[id]
	}
	x.small = len(qwords) <= 64
	for id := range nf {
		cw := &x.words[id]
		cw.start, cw.end, cw.owner = start[id], start[id+1], -1
		if x.small {
			for _, in := range x.in[cw.start:cw.end] {
				cw.mask |= 1 << in
			}
		}
		total := cw.total + classSmoothing
		for k := cw.start; k < cw.end; k++ {
			if sh := x.n[k] / total; sh > cw.ownShare {
				cw.ownShare, cw.owner = sh, x.in[k]
			}
		}
	}
	return x
}

// owned finds the message word that the matched question (its sorted words
// q) lacks and that belongs most to another intent than top: 退货 in
// 退货需要什么, matched to 换货需要什么, belongs to the return intent. It
// returns that intent (-1: none), the share of the word's uses that are that
// intent's, and the word's share of the message's word weight.
func (x *classIndex) owned(words, q []feat, top int32) (owner int32, share, weight float64) {
	all := 0.0
	for _, f := range words {
		all += float64(f.w)
	}
	owner = -1
	if all == 0 {
		return owner, 0, 0
	}
	best := 0.0
	k := 0 // words and q are sorted by id: q[k] is the first not below f
	for _, f := range words {
		if f.id < 0 || int(f.id) >= len(x.words) {
			continue
		}
		cw := &x.words[f.id]
		if cw.owner < 0 || cw.owner == top {
			continue
		}
		for k < len(q) && q[k].id < f.id {
			k++
		}
		if k < len(q) && q[k].id == f.id {
			continue
		}
		sh, w := float64(cw.ownShare), float64(f.w)/all
		if sh*w > best {
			best, owner, share, weight = sh*w, cw.owner, sh, w
		}
	}
	return owner, share, weight
}

// A message word the matched question lacks that another intent owns (at
// least ownedMinShare of its uses) and that weighs at least ownedMinWeight
// of the message makes the match rest on the frame, not on the word that
// matters: the confidence is at most the chance the word is not about its
// owner, and the owner is offered. Chosen on the development cases.
const (
	ownedMinShare  = 0.5
	ownedMinWeight = 0.3
)

// share is p(in | word), smoothed (see classSmoothing): the part of the word's uses that are intent in's.
// A word the FAQ never uses has none. Leave-one-out: the question skipQ
// (when it is one of in's, and uses the word) is not counted.
func (x *classIndex) share(word, in int32, skip *skipped) float64 {
	if word < 0 || int(word) >= len(x.words) {
		return 0
	}
	return x.shareOf(word, in, x.count(word, in), skip)
}

// shareOf is share with the intent's count n of the word (see count)
// already looked up.
func (x *classIndex) shareOf(word, in int32, n float64, skip *skipped) float64 {
	total := float64(x.words[word].total)
	if skip != nil && skip.uses(word) {
		total -= float64(x.scale[skip.in])
		if in == skip.in {
			n -= float64(x.scale[skip.in])
		}
	}
	if total <= 0 || n <= 0 {
		return 0
	}
	return n / (total + classSmoothing)
}

// classSmoothing is added to a word's uses when its share is taken: a word
// used once, by one intent, is weak evidence for that intent, not proof.
const classSmoothing = 2.0

// skipped is the question a leave-one-out match leaves out: its intent and
// its word ids (sorted).
type skipped struct {
	in    int32
	words []feat
}

func (s *skipped) uses(word int32) bool {
	_, ok := slices.BinarySearchFunc(s.words, word, func(f feat, w int32) int { return int(f.id - w) })
	return ok
}

// evidence is how much of the message's word weight points at intent in:
// Σ weight × p(in | word) over the message's words, divided by the weight
// of all of them (words the FAQ never uses included).
func (x *classIndex) evidence(words []feat, in int32, skip *skipped) float64 {
	sum, all := 0.0, 0.0
	for _, f := range words {
		all += float64(f.w)
		sum += float64(f.w) * x.share(f.id, in, skip)
	}
	if all == 0 {
		return 0
	}
	return sum / all
}

// topicMaxShare: a word that topicMinUses questions, keywords and answers
// use, and that points at the intent the similarity ranks first with no more
// than this share, names a topic several intents share (售后, 快递 in a
// shop's FAQ) rather than that intent.
const (
	topicMaxShare = 0.5
	topicMinUses  = 5
)

// topicMaxTokens: a message that names a topic is short (售后, 快递问题,
// 我要售后); a longer one says more than its topic.
const topicMaxTokens = 4

// fillerIDF: a word below this general IDF (问题, 服务, 情况, 一下) adds
// nothing to the topic a message names.
const fillerIDF = 5.5

// topic reports whether a message (its tokens with their word ids) only
// names a topic several intents share, top among them: topic words (售后,
// 快递 物流), and besides them only stop words and fillers. If so it fills
// acc (by intent) with how much the topic points at each intent and returns
// the intents touched (appended to touched). One word points at an intent
// by the share of its uses that are the intent's; several words by the
// product of their shares (naive Bayes: words that name one topic together
// keep it spread, a word that names an intent of its own decides).
func (x *classIndex) topic(tokens []string, ids []int32, lx *Lexicon, top int32, acc []float64, touched []int32) ([]int32, bool) {
	if len(tokens) > topicMaxTokens || len(tokens) == 0 {
		return touched, false
	}
	var buf [topicMaxTokens]int32
	words := buf[:0]
	for i, t := range tokens {
		id := ids[i]
		if isNegation(t) {
			return touched, false // says what is wrong, not only the topic
		}
		// A word the FAQ never uses is a stop word or says something the
		// FAQ may not be about (股票怎么买 is not the topic 买).
		if id >= 0 && int(id) < len(x.words) && x.words[id].filler || id < 0 && lx != nil && lx.Stop(t) {
			continue
		}
		if id < 0 || int(id) >= len(x.words) {
			return touched, false // a word the FAQ never uses
		}
		if !slices.Contains(words, id) {
			words = append(words, id)
		}
	}
	if len(words) == 0 {
		return touched, false
	}
	for _, w := range words {
		cw := &x.words[w]
		// Each of several words must name a topic by itself (see
		// classWord.topical).
		if len(words) > 1 && !cw.topical {
			return touched, false
		}
		// A word that is alone one of top's questions or keywords is top's.
		if cw.alone && slices.Contains(x.alone[w], top) {
			return touched, false
		}
		if _, _, sum := x.topicUses(w); sum < topicMinUses {
			return touched, false // a rare word says more than a topic
		}
	}
	start := len(touched)
	if len(words) == 1 {
		ins, ns, sum := x.topicUses(words[0])
		total := float64(sum) + classSmoothing
		for k, in := range ins {
			if in == top && float64(ns[k])/total > topicMaxShare {
				return touched, false
			}
		}
		for k, in := range ins {
			touched = append(touched, in)
			acc[in] = float64(ns[k]) / total
		}
		return touched, len(touched)-start >= 2
	}
	// Several topic words: the intents any of them points at, each by the
	// product of the words' shares (topicFloor for a word it never uses),
	// normalised.
	for _, w := range words {
		ins, _, _ := x.topicUses(w)
		for _, in := range ins {
			if acc[in] == 0 {
				acc[in] = 1
				touched = append(touched, in)
			}
		}
	}
	sum := 0.0
	for _, in := range touched[start:] {
		p := 1.0
		for _, w := range words {
			ins, ns, total := x.topicUses(w)
			sh := 0.0
			if k, ok := slices.BinarySearch(ins, in); ok {
				sh = float64(ns[k]) / (float64(total) + classSmoothing)
			}
			p *= max(sh, topicFloor)
		}
		acc[in] = p
		sum += p
	}
	isTopic := len(touched)-start >= 2
	for _, in := range touched[start:] {
		acc[in] /= sum
		if in == top && acc[in] > topicMaxShare {
			isTopic = false
		}
	}
	return touched, isTopic
}

// topicFloor is the share a topic word gives an intent that never uses it,
// when several words name the topic.
const topicFloor = 0.01

// topicUses is a word's uses as a topic, by intent (sorted): its own, and
// those of the FAQ's longer words that contain it (优惠 names 优惠券 too;
// see setCompounds).
func (x *classIndex) topicUses(w int32) ([]int32, []float32, float32) {
	cw := &x.words[w]
	if cw.compound >= 0 {
		t := &x.compound[cw.compound]
		return t.in, t.n, t.total
	}
	return x.in[cw.start:cw.end], x.n[cw.start:cw.end], cw.total
}

// compoundUses is a word's uses as a topic when longer FAQ words contain
// it: its own and theirs, by intent (sorted).
type compoundUses struct {
	in    []int32
	n     []float32
	total float32
}

// topicMinRunes: a word names the topic of the longer words that contain it
// when it has at least this many characters (退 is in too many words to
// name one topic).
const topicMinRunes = 2

// setCompounds fills x.compound from the FAQ's words (text -> id): a word
// that at least one longer FAQ word contains (优惠 in 优惠券) gets the uses
// of those words added to its own. Each word's substrings are looked up, so
// the cost grows with the vocabulary, not its square.
func (x *classIndex) setCompounds(words map[string]int32) {
	x.compound = nil
	for id := range x.words {
		x.words[id].compound = -1
	}
	inner := map[int32][]int32{} // word id -> the longer words containing it
	for w, id := range words {
		rs := []rune(w)
		if len(rs) <= topicMinRunes || !hasHan(w) {
			continue
		}
		seen := map[int32]bool{}
		for i := range rs {
			for j := i + topicMinRunes; j <= len(rs); j++ {
				if i == 0 && j == len(rs) {
					continue
				}
				if sub, ok := words[string(rs[i:j])]; ok && !seen[sub] {
					seen[sub] = true
					inner[sub] = append(inner[sub], id)
				}
			}
		}
	}
	for sub, longer := range inner {
		if x.words[sub].filler {
			continue
		}
		slices.Sort(longer) // the sums below in one order: the same result every build
		acc := map[int32]float32{}
		cw := &x.words[sub]
		for k := cw.start; k < cw.end; k++ {
			acc[x.in[k]] += x.n[k]
		}
		for _, id := range longer {
			lw := &x.words[id]
			for k := lw.start; k < lw.end; k++ {
				acc[x.in[k]] += x.n[k]
			}
		}
		var t compoundUses
		for in := range acc {
			t.in = append(t.in, in)
		}
		slices.Sort(t.in)
		for _, in := range t.in {
			t.n = append(t.n, acc[in])
			t.total += acc[in]
		}
		x.words[sub].compound = int32(len(x.compound))
		x.compound = append(x.compound, t)
	}
	for id := range x.words {
		ins, ns, sum := x.topicUses(int32(id))
		top := float32(0)
		for k := range ins {
			top = max(top, ns[k])
		}
		x.words[id].topical = sum >= topicMinUses && float64(top)/(float64(sum)+classSmoothing) <= topicMaxShare
	}
}

// contrast is the naive-Bayes log-likelihood ratio of the message's words
// (IDF-weighted, each word's weight over the mean) between intents a and b:
// positive when the message's words are ones a's texts use and b's do not.
// Words neither uses count alike for both. Clipped to ±contrastClip and
// scaled to ±1.
func (x *classIndex) contrast(words []feat, a, b int32, skip *skipped) float64 {
	if b < 0 {
		return 1
	}
	z, all := 0.0, 0.0
	for _, f := range words {
		all += float64(f.w)
	}
	if all == 0 {
		return 0
	}
	for _, f := range words {
		if f.id < 0 || int(f.id) >= len(x.words) {
			continue
		}
		na, nb := x.uses(f.id, a, skip), x.uses(f.id, b, skip)
		if na == 0 && nb == 0 {
			continue
		}
		z += float64(f.w) / all * math.Log((na+contrastPrior)/(nb+contrastPrior))
	}
	return max(-contrastClip, min(contrastClip, z)) / contrastClip
}

// contrastPrior is what every intent counts of a word it never uses;
// contrastClip bounds the ratio.
const (
	contrastPrior = 0.5
	contrastClip  = 3.0
)

// uses is how many of intent in's texts use the word, in units of the
// intent's texts (a share of them, times the mean number per intent).
func (x *classIndex) uses(word, in int32, skip *skipped) float64 {
	return x.usesOf(word, in, x.count(word, in), skip)
}

// usesOf is uses with the intent's count n of the word (see count) already
// looked up.
func (x *classIndex) usesOf(word, in int32, n float64, skip *skipped) float64 {
	if skip != nil && in == skip.in && skip.uses(word) {
		n -= float64(x.scale[in])
	}
	return max(n, 0)
}

// isFiller reports whether a word adds nothing to the topic a message names:
// a stop word, or a Chinese word below fillerIDF (English words the general
// IDF table does not know, and it knows few).
func isFiller(w string, lx *Lexicon) bool {
	return lx != nil && (lx.Stop(w) || hasHan(w) && lx.IDF(w) < fillerIDF)
}

// count is intent in's count for the word (0: it never uses it); the word's
// intents are sorted, and a common word of a large FAQ has thousands.
func (x *classIndex) count(word, in int32) float64 {
	cw := &x.words[word]
	if x.small {
		if cw.mask&(1<<in) == 0 {
			return 0
		}
		return float64(x.n[int(cw.start)+bits.OnesCount64(cw.mask&(1<<in-1))])
	}
	ins := x.in[cw.start:cw.end]
	if k := lowerBound(ins, in); k < len(ins) && ins[k] == in {
		return float64(x.n[int(cw.start)+k])
	}
	return 0
}

// lowerBound is the index of the first of xs (sorted) not below v: a binary
// search without branches on the comparisons (flag moves), whose
// outcomes a processor could not predict.
func lowerBound(xs []int32, v int32) int {
	base, n := 0, len(xs)
	for n > 1 {
		half := n / 2
		base += half & -b2i(xs[base+half-1] < v)
		n -= half
	}
	if n == 1 && xs[base] < v {
		base++
	}
	return base
}

// classCounts is what the class index says of one message's words about a
// few candidate intents, looked up once: every candidate's evidence and the
// contrast of the top two read the same counts (evidence, share, contrast
// and uses look them up one by one, with the same results to the bit).
type classCounts struct {
	cands []int32   // the candidates
	n     []float64 // by word i and candidate j: count(words[i].id, cands[j]) at i*len(cands)+j
}

// lookUp fills c with the counts of words (a message's, by id) for cands.
func (x *classIndex) lookUp(c *classCounts, words []feat, cands []int32) {
	c.cands = append(c.cands[:0], cands...)
	nc := len(cands)
	c.n = slices.Grow(c.n[:0], len(words)*nc)[:len(words)*nc]
	for i, f := range words {
		row := c.n[i*nc : (i+1)*nc]
		if f.id < 0 || int(f.id) >= len(x.words) {
			clear(row)
			continue
		}
		cw := &x.words[f.id]
		ins, ns := x.in[cw.start:cw.end], x.n[cw.start:cw.end]
		if x.small {
			for j, in := range cands {
				row[j] = 0
				if cw.mask&(1<<in) != 0 {
					row[j] = float64(ns[bits.OnesCount64(cw.mask&(1<<in-1))])
				}
			}
			continue
		}
		for j, in := range cands {
			row[j] = 0
			if k := lowerBound(ins, in); k < len(ins) && ins[k] == in {
				row[j] = float64(ns[k])
			}
		}
	}
}

// evidenceOf is evidence(words, c.cands[j], skip), c looked up for words.
func (x *classIndex) evidenceOf(c *classCounts, words []feat, j int, skip *skipped) float64 {
	in, nc := c.cands[j], len(c.cands)
	sum, all := 0.0, 0.0
	for i, f := range words {
		all += float64(f.w)
		if f.id < 0 || int(f.id) >= len(x.words) {
			continue // a share of 0 adds nothing
		}
		sum += float64(f.w) * x.shareOf(f.id, in, c.n[i*nc+j], skip)
	}
	if all == 0 {
		return 0
	}
	return sum / all
}

// evidenceAll sets ev[j] to evidenceOf(c, words, j, skip) for every
// candidate j of c, in one pass over the words (the same values to the bit:
// each candidate's sum is taken over the words in the same order).
func (x *classIndex) evidenceAll(c *classCounts, words []feat, skip *skipped, ev []float64) {
	nc := len(c.cands)
	ev = ev[:nc]
	clear(ev)
	all := 0.0
	for i, f := range words {
		all += float64(f.w)
		if f.id < 0 || int(f.id) >= len(x.words) {
			continue // a share of 0 adds nothing
		}
		total := float64(x.words[f.id].total)
		skipped := skip != nil && skip.uses(f.id)
		if skipped {
			total -= float64(x.scale[skip.in])
		}
		row := c.n[i*nc : (i+1)*nc]
		for j, n := range row {
			if skipped && c.cands[j] == skip.in {
				n -= float64(x.scale[skip.in])
			}
			sh := 0.0
			if total > 0 && n > 0 {
				sh = n / (total + classSmoothing)
			}
			ev[j] += float64(f.w) * sh
		}
	}
	if all == 0 {
		return
	}
	for j := range ev {
		ev[j] /= all
	}
}

// contrastOf is contrast(words, a, b, skip), c looked up for words, a and b
// among its candidates.
func (x *classIndex) contrastOf(c *classCounts, words []feat, a, b int32, skip *skipped) float64 {
	if b < 0 {
		return 1
	}
	ja, jb, nc := slices.Index(c.cands, a), slices.Index(c.cands, b), len(c.cands)
	z, all := 0.0, 0.0
	for _, f := range words {
		all += float64(f.w)
	}
	if all == 0 {
		return 0
	}
	for i, f := range words {
		if f.id < 0 || int(f.id) >= len(x.words) {
			continue
		}
		na, nb := x.usesOf(f.id, a, c.n[i*nc+ja], skip), x.usesOf(f.id, b, c.n[i*nc+jb], skip)
		if na == 0 && nb == 0 {
			continue
		}
		z += float64(f.w) / all * math.Log((na+contrastPrior)/(nb+contrastPrior))
	}
	return max(-contrastClip, min(contrastClip, z)) / contrastClip
}
