package intents

import (
	"math"
	"slices"
)

// Scoring a message against the questions retrieval picked is the hot path
// of Match. Two things make it cheaper than similarity, with the same result
// to the bit:
//
//   - A probe indexes the message's doc by feature id once, so comparing it
//     with a question walks the question's lists only, in the same order (by
//     id) as the merge walks of simFeatures: the same sums in the same order.
//   - The comparison stops after the units, and again after the bigrams, when
//     an upper bound of the log-odds shows the question cannot raise its
//     intent's best (or enter the candidates reported): the features still
//     unknown are bounded by what they can add at most.

// pruneMargin is what an upper bound must stay below the log-odds it is
// compared with before a question is skipped: far above the rounding error
// of either (about 1e-15), far below any real difference.
const pruneMargin = 1e-7

// probe is a message's doc indexed for comparison with many questions.
type probe struct {
	d *doc
	// By feature id: 1 + its index in d's list of its kind; 0: not in d. In
	// bytes (a quarter of the cache lines) unless a list of d is longer than
	// a byte counts (wide; the int32 slots are made on the first such doc).
	slot8 []uint8
	slot  []int32
	wide  bool

	// By slot (so index 0 stands for a feature d lacks): the weight of d's
	// unit or bigram (0 for none), and the positions of the question
	// holding the unit (pm[0] is written to and ignored). Missing features
	// then cost no branch: adding a weight of 0 leaves a sum unchanged.
	cw, bw []float64
	pm     []uint64

	// Bounds that hold against any question.
	bigramMax  float64  // Σw² over d's known bigrams: no question shares more
	unmatchMin float64  // the heaviest unknown word of d: always unmatched
	inv        invStats // d's stats inverted, for the bounds

	// What the last logit that returned true found, for the confidence's
	// inputs (Match reads them for its best candidates rather than walk
	// their docs again): Σw over the shared units (as overlap), the
	// heaviest word of d the question lacks (as oneSidedUnmatched), and
	// whether the two unit sequences are the same.
	sumc     float64
	oneSided float64
	sameSeq  bool
}

// set indexes d; the slots must be all zero (as clear leaves them).
func (p *probe) set(d *doc) {
	p.d = d
	p.bigramMax, p.unmatchMin = 0, 0
	p.inv = newInvStats(&d.docStats)
	p.wide = max(len(d.chars), len(d.bigrams), len(d.words)) > math.MaxUint8
	if p.wide {
		if p.slot == nil {
			p.slot = make([]int32, len(p.slot8))
		}
		setSlots(p.slot, d)
	} else {
		setSlots(p.slot8, d)
	}
	for _, f := range d.bigrams {
		if f.id >= 0 {
			p.bigramMax += float64(f.w) * float64(f.w)
		}
	}
	for _, f := range d.words {
		if f.id < 0 {
			p.unmatchMin = math.Max(p.unmatchMin, float64(f.w))
		}
	}
	p.cw, p.bw = append(p.cw[:0], 0), append(p.bw[:0], 0)
	for _, f := range d.chars {
		p.cw = append(p.cw, float64(f.w))
	}
	for _, f := range d.bigrams {
		p.bw = append(p.bw, float64(f.w))
	}
	p.pm = slices.Grow(p.pm[:0], len(d.chars)+1)[:len(d.chars)+1]
}

// setSlots writes d's slots (see probe.slot).
func setSlots[S uint8 | int32](slot []S, d *doc) {
	for _, fs := range [][]feat{d.chars, d.bigrams, d.words} {
		for i, f := range fs {
			if f.id >= 0 {
				slot[f.id] = S(i + 1)
			}
		}
	}
}

// clear undoes set.
func (p *probe) clear() {
	if p.wide {
		clearSlots(p.slot, p.d)
	} else {
		clearSlots(p.slot8, p.d)
	}
	p.d = nil
}

func clearSlots[S uint8 | int32](slot []S, d *doc) {
	for _, fs := range [][]feat{d.chars, d.bigrams, d.words} {
		for _, f := range fs {
			if f.id >= 0 {
				slot[f.id] = 0
			}
		}
	}
}

// logit is simLogit(simFeatures(p's doc, question qi's doc)) and true, or
// false when the two share no unit (similarity 0) or when the log-odds is
// certainly below stop.
//
// r bounds what the question shares with the doc, from its retrieval score
// (see shareFrom): Σw² over the shared bigrams is at most r.sqbMax, and over
// the shared words at least r.sqMin minus that over the shared bigrams. The
// bounds after the units and after the bigrams are the tighter for it.
func (p *probe) logit(qx *questionIndex, qi int32, stop float64, r shareBounds) (float64, bool) {
	if p.wide {
		return probeLogit(p, p.slot, qx, qi, stop, r)
	}
	return probeLogit(p, p.slot8, qx, qi, stop, r)
}

// probeLogit is p.logit with p's slots.
func probeLogit[S uint8 | int32](p *probe, slot []S, qx *questionIndex, qi int32, stop float64, r shareBounds) (float64, bool) {
	a, h := p.d, &qx.heads[qi]
	if len(a.chars) == 0 || h.nChars == 0 {
		return 0, false
	}
	sqbMax := min(p.bigramMax, h.normBigram, r.sqbMax)
	nc, nb, nw := int(h.nChars), int(h.nBigrams), int(h.nWords)
	data := qx.data[h.off:]
	charIDs, data := data[:(nc+1)/2], data[(nc+1)/2:]
	var masks []uint64
	if h.nSeq <= 64 { // the question's doc has masks
		masks, data = data[:nc], data[nc:]
	}
	bigramIDs, words := data[:(nb+1)/2], data[(nb+1)/2:(nb+1)/2+nw]

	var o simOverlap
	bitLCS := len(a.chars) <= 64 && masks != nil
	cw, pm := p.cw, p.pm
	if bitLCS {
		clear(pm)
	}
	// The sums in locals, not in o: o's address is taken (features), so
	// its fields would be stored and reloaded on every iteration, a chain
	// through memory.
	ncs, sqc, sumc := 0, 0.0, 0.0
	for j := range nc {
		k := slot[packedID(charIDs, j)]
		w := cw[k]
		ncs += b2i(k != 0)
		sqc += w * w
		sumc += w
		if bitLCS { // the same way for every unit: predicted
			pm[k] = masks[j]
		}
	}
	o.nc, o.sqc, o.sumc = ncs, sqc, sumc
	if o.nc == 0 {
		return 0, false
	}
	// Bound the rest: the bigrams share at most what both have (and what
	// retrieval found), the words at least what retrieval found beyond
	// that, and the heaviest unmatched word weighs at least a's heaviest
	// unknown word. First with the common subsequence at its longest (the
	// shorter sequence): on the sample, two compared questions in five stop
	// here, without it.
	ia, iq := &p.inv, &qx.inv[qi]
	neg := 0.0
	if a.neg != h.neg {
		neg = 1
	}
	seqRatio := float64(min(ia.invSeq, iq.invSeq)) // 1 / the longer sequence
	// The features as features would set them, by reciprocals.
	x := [numSimFeatures]float64{
		1,
		float64(ncs) * float64(ia.rsChars) * float64(iq.rsChars),
		sqc * float64(ia.rsChar) * float64(iq.rsChar),
		sqbMax * float64(ia.rsBigram) * float64(iq.rsBigram),
		max(0, r.sqMin-sqbMax) * float64(ia.rsWord) * float64(iq.rsWord),
		sumc * float64(min(ia.invSum, iq.invSum)),
		p.unmatchMin / 10,
		neg,
		float64(min(len(a.seq), int(h.nSeq))) * seqRatio,
	}
	if canPruneLCS && fastBound(&x) < stop {
		return 0, false
	}
	if bitLCS {
		o.common = lcsBits(a.seqIdx, pm[1:], int(h.nSeq))
	} else {
		o.common = lcs(a.seq, qx.docs[qi].seq)
	}
	x[8] = float64(o.common) * seqRatio
	b := fastBound(&x)
	if b < stop {
		return 0, false
	}
	// From here on only the bigram and word features change: they are set
	// as features sets them.
	sqb, bw := 0.0, p.bw
	for j := range nb {
		w := bw[slot[packedID(bigramIDs, j)]]
		sqb += w * w
	}
	o.sqb = sqb
	x3 := sqb * float64(ia.rsBigram) * float64(iq.rsBigram)
	x4 := max(0, r.sqMin-sqb) * float64(ia.rsWord) * float64(iq.rsWord)
	// The bound again, from the last one by what changed: it differs from
	// fastBound(&x) by a few ulps, far inside pruneMargin.
	if b+simCoef[3]*(x3-x[3])+simCoef[4]*(x4-x[4]) < stop {
		return 0, false
	}
	o.sqw = 0
	if len(a.words) <= 64 {
		// The shared words' Σw² by id, as wordOverlap; the unmatched ones are
		// the question's not in a and a's not hit.
		var hit uint64
		m := float32(0)
		sqw := 0.0
		for _, f := range words {
			id, w := unpackWord(f)
			if k := slot[id]; k > 0 {
				w := float64(a.words[k-1].w)
				sqw += w * w
				hit |= 1 << (k - 1)
			} else {
				m = max(m, w)
			}
		}
		o.sqw = sqw
		m1 := float32(0)
		for i, f := range a.words {
			if hit&(1<<i) == 0 {
				m1 = max(m1, f.w)
			}
		}
		o.unmatched = float64(max(m, m1))
		p.oneSided = float64(m1)
	} else {
		o.sqw, o.unmatched = wordOverlap(a.words, qx.docs[qi].words)
		p.oneSided = oneSidedUnmatched(a.words, qx.docs[qi].words)
	}
	// The longest common subsequence has the length of both exactly when
	// they are the same sequence.
	p.sumc, p.sameSeq = o.sumc, o.common == len(a.seq) && int(h.nSeq) == len(a.seq)
	// The similarity itself, exactly, from the docs' stats.
	x = o.features(&a.docStats, &h.docStats)
	return simLogit(&x), true
}

// canPrune: the bounds in logit rely on the signs of these coefficients (a
// refit that flips one turns pruning off rather than making it wrong).
var canPrune = simCoef[3] >= 0 && simCoef[4] <= 0 && simCoef[6] <= 0

// canPruneLCS: the first bound in logit also relies on the common
// subsequence's coefficient being positive.
var canPruneLCS = canPrune && simCoef[8] >= 0

// bound is an upper bound of the log-odds when x holds upper bounds of the
// features whose coefficient is positive and lower bounds of the others.
func bound(x *[numSimFeatures]float64) float64 {
	if !canPrune {
		return math.Inf(1)
	}
	return simLogit(x) + pruneMargin
}

// shareBounds is what retrieval tells logit about a question before it is
// compared (see probe.logit).
type shareBounds struct {
	sqbMax float64 // Σw² over the bigrams shared with the doc is at most this
	sqMin  float64 // Σw² over the shared bigrams and words is at least this
}

// noShareBounds says nothing.
var noShareBounds = shareBounds{sqbMax: math.Inf(1)}

// retrievalSlack is how far, relatively, a retrieval score of q can be from
// the exact sum of its terms: it is a float32 sum, and each term and each
// addition rounds by at most 2⁻²⁴ of the sum (a generous 4 ulps per term).
func retrievalSlack(q *doc) float64 {
	return float64(len(q.bigrams)+len(q.words)+len(q.chars)+1) * 0x1p-22
}

// shareFrom is what a retrieval score r says: it counts the bigrams and
// words shared with the doc (and the units, withChars), so it bounds the
// bigrams' share, and without units it is the bigrams' and words' share.
func shareFrom(r float32, slack float64, withChars bool) shareBounds {
	b := shareBounds{sqbMax: float64(r) * (1 + slack)}
	if !withChars {
		b.sqMin = float64(r) * (1 - slack)
	}
	return b
}

// questionIndex is the questions' docs packed for logit: per question a
// 64-byte head, and its features in a few neighbouring cache lines of data
// (a doc's lists lie in separate blocks).
type questionIndex struct {
	heads []questionHead
	inv   []invStats // by question: what the bounds read of its head, inverted
	data  []uint64
	docs  []doc // the same docs, for the rare long question
}

// invStats are a doc's stats as the bounds in logit read them: the
// similarity's cosines divide by square roots of norms, its coverage and its
// common subsequence ratio by the larger of two sums or lengths. A bound
// needs no exact value, only an upper bound of the log-odds, so it
// multiplies by these reciprocals (computed once per question, and once per
// message) instead of dividing and taking roots for every question compared;
// boundMargin covers their rounding. The similarity itself is computed
// exactly as before, from the docs' stats.
type invStats struct {
	rsChars, rsChar, rsBigram, rsWord float32 // 1/√norm (0 for a norm of 0)
	invSum, invSeq                    float32 // 1/sumChar, 1/nSeq (0 for 0)
}

func newInvStats(d *docStats) invStats {
	rs := func(n float64) float32 {
		if n <= 0 {
			return 0
		}
		return float32(1 / math.Sqrt(n))
	}
	inv := func(n float64) float32 {
		if n <= 0 {
			return 0
		}
		return float32(1 / n)
	}
	return invStats{rs(float64(d.nChars)), rs(d.normChar), rs(d.normBigram), rs(d.normWord), inv(d.sumChar), inv(float64(d.nSeq))}
}

// boundMargin is what a bound computed with invStats adds for their
// rounding: each reciprocal is within 2⁻²³ of its value, so each feature
// (at most 1 apart from the unmatched word's, which is exact) within a few
// 10⁻⁷ of the exact one, and the log-odds, whose coefficients sum to less
// than 8 in magnitude, within a few 10⁻⁶.
const boundMargin = 1e-5

// fastBound is bound(x) for features computed with invStats.
func fastBound(x *[numSimFeatures]float64) float64 {
	if !canPrune {
		return math.Inf(1)
	}
	return simLogit(x) + pruneMargin + boundMargin
}

// questionHead is one question's doc stats and where its features are in
// questionIndex.data: the unit ids two to a word, the unit masks (when
// nSeq <= 64), the bigram ids two to a word, and the words (id and weight
// in one word each). Only logit reads them; ids only, as the similarity
// takes the weights of the message's side.
type questionHead struct {
	docStats
	off              int32
	nBigrams, nWords int32
	intent           int32
}

// newQuestionIndex packs docs (of the questions of intents). The questions
// made the corpus stats, so every feature of theirs has an id.
func newQuestionIndex(docs []doc, intents []int32) questionIndex {
	for _, d := range docs {
		for _, fs := range [][]feat{d.chars, d.bigrams, d.words} {
			for _, f := range fs {
				if f.id < 0 {
					panic("intents: a question has a feature the corpus never saw")
				}
			}
		}
	}
	qx := questionIndex{heads: make([]questionHead, len(docs)), docs: docs}
	n := 0
	for _, d := range docs {
		n += (len(d.chars)+1)/2 + len(d.masks) + (len(d.bigrams)+1)/2 + len(d.words)
	}
	qx.data = make([]uint64, 0, n)
	ids := func(fs []feat) {
		for i := 0; i < len(fs); i += 2 {
			x := uint64(uint32(fs[i].id))
			if i+1 < len(fs) {
				x |= uint64(uint32(fs[i+1].id)) << 32
			}
			qx.data = append(qx.data, x)
		}
	}
	qx.inv = make([]invStats, len(docs))
	for qi, d := range docs {
		qx.inv[qi] = newInvStats(&d.docStats)
		qx.heads[qi] = questionHead{
			docStats: d.docStats, off: int32(len(qx.data)),
			nBigrams: int32(len(d.bigrams)), nWords: int32(len(d.words)), intent: intents[qi],
		}
		ids(d.chars)
		qx.data = append(qx.data, d.masks...) // nil exactly when nSeq > 64
		ids(d.bigrams)
		for _, f := range d.words {
			qx.data = append(qx.data, uint64(uint32(f.id))|uint64(math.Float32bits(f.w))<<32)
		}
	}
	return qx
}

// packedID is the j-th of the ids packed two to a word in ids.
func packedID(ids []uint64, j int) int32 {
	return int32(uint32(ids[j/2] >> (32 * uint(j%2))))
}

// unpackWord is the id and weight of a packed word.
func unpackWord(x uint64) (int32, float32) {
	return int32(uint32(x)), math.Float32frombits(uint32(x >> 32))
}
