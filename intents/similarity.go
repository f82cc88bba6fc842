package intents

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"unicode/utf8"
)

// The sentence similarity is a logistic model over lexical features of two
// texts: how much of their characters, character bigrams and words they share
// (IDF-weighted cosines and coverage), the heaviest word one has and the
// other lacks, a negation on one side only, and the longest common
// subsequence of characters. Its output is a probability that the two texts
// ask the same thing. The coefficients were fitted once on the BQ corpus dev
// pairs (10,000 labelled pairs of real customer questions; see BENCHMARKS.md
// and `kefu eval pairs`) and are fixed: the matcher's confidence therefore
// means the same on any FAQ.
//
// Order: bias, units cosine (flat), units cosine (IDF), bigram cosine, word
// cosine, unit coverage (the smaller side's share), heaviest unmatched word,
// negation mismatch, common subsequence ratio. Refit with
// KEFU_FIT_PAIRS=../../shared/data/bq/dev.csv go test ./intents -run TestFitSimilarity -v
var simCoef = [numSimFeatures]float64{-1.530, 3.024, 0.865, 1.228, -0.574, 1.041, -0.434, -0.508, 0.962}

// stopFactor scales down the weight of generic stop words (我, 是, 在 ...).
const stopFactor = 0.3

// feat is one feature of a text with its weight.
type feat struct {
	id int32
	w  float32
}

// doc is a text prepared for similarity: sorted feature lists per channel
// and their norms.
type doc struct {
	chars   []feat // units (Han characters, other tokens), IDF weight
	bigrams []feat
	words   []feat
	seq     []int32  // unit ids in order, for the common subsequence
	seqIdx  []int32  // for each unit of seq, its index in chars
	masks   []uint64 // per chars entry, the seq positions holding it (len(seq) <= 64)
	neg     bool

	nChars               float64 // number of distinct units (flat norm²)
	normChar, normBigram float64 // IDF norms
	normWord             float64
	sumChar              float64 // Σ IDF over units, for coverage
}

// stats are document frequencies over a corpus (the FAQ's questions, or the
// sentences of a pair file) for the three kinds of feature. Ids are shared:
// one df slice indexed by id.
type stats struct {
	units   map[string]int32
	bigrams map[uint64]int32 // two unit ids
	words   map[string]int32
	df      []int32
	n       int

	// Set by freeze once every document is observed: the IDF of each id and
	// which word ids are stop words, so that makeDoc needs no logarithm.
	idfs   []float32
	wordW  []float32 // word weights: IDF, scaled down for stop words
	frozen int // n when idfs was computed
	stopLx *Lexicon
}

func newStats() *stats {
	return &stats{units: map[string]int32{}, bigrams: map[uint64]int32{}, words: map[string]int32{}}
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// newID appends a feature with no documents yet and returns its id.
func (s *stats) newID() int32 {
	s.df = append(s.df, 0)
	return int32(len(s.df) - 1)
}

// observe counts one document's distinct features, adding new ones.
func (s *stats) observe(tokens []string) {
	s.n++
	us := units(tokens)
	seen := make(map[int32]bool, 2*len(us)+len(tokens))
	count := func(id int32) {
		if !seen[id] {
			seen[id] = true
			s.df[id]++
		}
	}
	prev := int32(-1)
	for i, u := range us {
		id, ok := s.units[u]
		if !ok {
			id = s.newID()
			s.units[u] = id
		}
		count(id)
		if i > 0 {
			k := pairKey(prev, id)
			bid, ok := s.bigrams[k]
			if !ok {
				bid = s.newID()
				s.bigrams[k] = bid
			}
			count(bid)
		}
		prev = id
	}
	for _, t := range tokens {
		id, ok := s.words[t]
		if !ok {
			id = s.newID()
			s.words[t] = id
		}
		count(id)
	}
}

// freeze caches the IDF of every id and the stop words among the words;
// makeDoc computes them itself when the stats changed since.
func (s *stats) freeze(lx *Lexicon) {
	s.idfs = make([]float32, len(s.df))
	for id := range s.df {
		s.idfs[id] = float32(s.idf(int32(id)))
	}
	s.wordW = make([]float32, len(s.df))
	for w, id := range s.words {
		x := s.idf(id)
		if lx != nil && lx.Stop(w) {
			x *= stopFactor
		}
		s.wordW[id] = float32(x)
	}
	s.frozen, s.stopLx = s.n, lx
}

func (s *stats) idf(id int32) float64 {
	df := 0.0
	if id >= 0 {
		df = float64(s.df[id])
	}
	return math.Log(float64(s.n+1) / (df + 0.5))
}

var negations = map[string]bool{"不": true, "没": true, "无": true, "未": true, "别": true, "非": true, "没有": true, "无法": true, "not": true, "no": true, "never": true}

// oovIDs gives features the corpus has never seen ids below -1: the same
// text gets the same id within one doc, and no two texts share one.
type oovIDs struct {
	names []oovName
}

// oovName is an unknown feature: a unit, a bigram of two units, or a word.
type oovName struct {
	kind byte
	a, b string
}

func (o *oovIDs) id(n oovName) int32 {
	for i, m := range o.names {
		if m == n {
			return -2 - int32(i)
		}
	}
	o.names = append(o.names, n)
	return -1 - int32(len(o.names))
}

// addFeat appends (id, w) unless id is already in fs (docs are short: a
// linear scan beats a map); it returns the index of id in fs.
func addFeat(fs []feat, id int32, w float32) ([]feat, int) {
	for i, f := range fs {
		if f.id == id {
			return fs, i
		}
	}
	return append(fs, feat{id, w}), len(fs)
}

// makeDoc builds the features of tokens against corpus stats. Features the
// corpus has never seen get the highest IDF and ids that match nothing.
func makeDoc(tokens []string, st *stats, lx *Lexicon) doc {
	var d doc
	frozen := st.frozen == st.n && len(st.idfs) == len(st.df) && st.stopLx == lx
	oovIDF := float32(st.idf(-1))
	idf := func(id int32) float32 {
		switch {
		case id < 0:
			return oovIDF
		case frozen:
			return st.idfs[id]
		}
		return float32(st.idf(id))
	}
	// Units: every Han character alone, other tokens whole (see units).
	n := 0
	for _, t := range tokens {
		n += unitCount(t)
	}
	var oov oovIDs
	var oovBuf [8]oovName
	oov.names = oovBuf[:0]
	ints := make([]int32, 2*n)
	d.seq, d.seqIdx = ints[:0:n], ints[n:n:2*n]
	fs := make([]feat, 0, 2*n+len(tokens))
	d.chars = fs[:0:n]
	var us [64]string
	for _, t := range tokens {
		forUnits(t, func(u string) {
			id, ok := st.units[u]
			if !ok {
				id = oov.id(oovName{kind: 'c', a: u})
			}
			var k int
			d.chars, k = addFeat(d.chars, id, idf(id))
			if len(d.seq) < len(us) {
				us[len(d.seq)] = u
			}
			d.seq = append(d.seq, id)
			d.seqIdx = append(d.seqIdx, int32(k))
			if negations[u] {
				d.neg = true
			}
		})
	}
	if n > 1 {
		d.bigrams = fs[n:n:2*n-1]
	}
	for i := 0; i+1 < len(d.seq); i++ {
		a, b := d.seq[i], d.seq[i+1]
		id, ok := int32(0), false
		if a >= 0 && b >= 0 {
			id, ok = st.bigrams[pairKey(a, b)]
		}
		if !ok {
			var ua, ub string
			if i+1 < len(us) {
				ua, ub = us[i], us[i+1]
			} else {
				ua, ub = unitAt(tokens, i), unitAt(tokens, i+1)
			}
			id = oov.id(oovName{kind: 'b', a: ua, b: ub})
		}
		d.bigrams, _ = addFeat(d.bigrams, id, idf(id))
	}
	d.words = fs[2*n : 2*n : 2*n+len(tokens)]
	for _, t := range tokens {
		if negations[t] {
			d.neg = true
		}
		id, ok := st.words[t]
		if !ok {
			id = oov.id(oovName{kind: 'w', a: t})
		}
		var w float32
		if frozen && id >= 0 {
			w = st.wordW[id]
		} else {
			w64 := st.idf(id)
			if lx != nil && lx.Stop(t) {
				w64 *= stopFactor
			}
			w = float32(w64)
		}
		d.words, _ = addFeat(d.words, id, w)
	}
	// Sort the channels; seqIdx follows the units' new places.
	if len(d.chars) > 1 {
		var perm [64]int32
		if len(d.chars) <= len(perm) {
			for i := range d.chars {
				perm[i] = int32(i)
			}
			// Insertion sort keeps the permutation (docs are short).
			for i := 1; i < len(d.chars); i++ {
				for j := i; j > 0 && d.chars[j].id < d.chars[j-1].id; j-- {
					d.chars[j], d.chars[j-1] = d.chars[j-1], d.chars[j]
					perm[j], perm[j-1] = perm[j-1], perm[j]
				}
			}
			var inv [64]int32
			for newI, oldI := range perm[:len(d.chars)] {
				inv[oldI] = int32(newI)
			}
			for i, k := range d.seqIdx {
				d.seqIdx[i] = inv[k]
			}
		} else {
			sortFeats(d.chars)
			for i, id := range d.seq {
				k, _ := slices.BinarySearchFunc(d.chars, id, func(f feat, id int32) int { return cmp.Compare(f.id, id) })
				d.seqIdx[i] = int32(k)
			}
		}
	}
	sortFeats(d.bigrams)
	sortFeats(d.words)
	if len(d.seq) <= 64 {
		d.masks = make([]uint64, len(d.chars))
		for i, k := range d.seqIdx {
			d.masks[k] |= 1 << uint(i)
		}
	}
	d.nChars = float64(len(d.chars))
	for _, f := range d.chars {
		d.normChar += float64(f.w) * float64(f.w)
		d.sumChar += float64(f.w)
	}
	for _, f := range d.bigrams {
		d.normBigram += float64(f.w) * float64(f.w)
	}
	for _, f := range d.words {
		d.normWord += float64(f.w) * float64(f.w)
	}
	return d
}

// unitCount is the number of units of one token.
func unitCount(t string) int {
	n := 0
	for _, r := range t {
		if isHan(r) {
			n++
		}
	}
	if n == 0 {
		return 1
	}
	return n
}

// forUnits calls f with each unit of one token, as units does.
func forUnits(t string, f func(string)) {
	han := false
	for _, r := range t {
		if isHan(r) {
			han = true
			break
		}
	}
	if !han {
		f(t)
		return
	}
	for i, r := range t {
		if isHan(r) {
			f(t[i : i+utf8.RuneLen(r)])
		}
	}
}

// unitAt is the i-th unit of tokens (the slow path of long texts).
func unitAt(tokens []string, i int) string {
	us := units(tokens)
	return us[i]
}

func sortFeats(fs []feat) {
	if len(fs) < 12 {
		for i := 1; i < len(fs); i++ {
			for j := i; j > 0 && fs[j].id < fs[j-1].id; j-- {
				fs[j], fs[j-1] = fs[j-1], fs[j]
			}
		}
		return
	}
	slices.SortFunc(fs, func(a, b feat) int { return cmp.Compare(a.id, b.id) })
}

// overlap walks two sorted feature lists: the number of shared features, Σw²
// and Σw over them.
func overlap(a, b []feat) (n int, sq, sum float64) {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i].id == b[j].id:
			if a[i].id >= 0 {
				w := float64(a[i].w)
				n++
				sq += w * w
				sum += w
			}
			i++
			j++
		case a[i].id < b[j].id:
			i++
		default:
			j++
		}
	}
	return
}

// maxUnmatched is the weight of the heaviest word in either list that the
// other lacks: the key noun that makes two similar sentences differ.
func maxUnmatched(a, b []feat) float64 {
	m := 0.0
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j >= len(b) || (i < len(a) && a[i].id < b[j].id):
			m = math.Max(m, float64(a[i].w))
			i++
		case i >= len(a) || b[j].id < a[i].id:
			m = math.Max(m, float64(b[j].w))
			j++
		default:
			if a[i].id < 0 { // two unknown words are never the same word
				m = math.Max(m, math.Max(float64(a[i].w), float64(b[j].w)))
			}
			i++
			j++
		}
	}
	return m
}

// lcs is the length of the longest common subsequence of two id sequences.
func lcs(a, b []int32) int {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	if len(b) > len(a) {
		a, b = b, a
	}
	var buf [64]int32
	row := buf[:0]
	if len(b)+1 <= len(buf) {
		row = buf[:len(b)+1]
	} else {
		row = make([]int32, len(b)+1)
	}
	for i := range row {
		row[i] = 0
	}
	for _, x := range a {
		var diag int32
		for j, y := range b {
			up := row[j+1]
			if x == y && x >= 0 {
				row[j+1] = diag + 1
			} else if row[j] > up {
				row[j+1] = row[j]
			}
			diag = up
		}
	}
	return int(row[len(b)])
}

func cosine(dot, n1, n2 float64) float64 {
	if n1 == 0 || n2 == 0 {
		return 0
	}
	return dot / math.Sqrt(n1*n2)
}

// numSimFeatures is the length of simFeatures' result.
const numSimFeatures = 9

// simFeatures are the similarity's inputs, the constant 1 first; ok is false
// when the texts share nothing (similarity 0).
func simFeatures(a, b *doc) (x [numSimFeatures]float64, ok bool) {
	if len(a.chars) == 0 || len(b.chars) == 0 {
		return x, false
	}
	// One walk over the units gives their overlap and, for the common
	// subsequence, where in b each unit of a occurs.
	var pmBuf [64]uint64
	bitLCS := len(a.chars) <= len(pmBuf) && b.masks != nil
	pm := pmBuf[:len(a.chars)*btoi(bitLCS)]
	nc, sqc, sumc := 0, 0.0, 0.0
	for i, j := 0, 0; i < len(a.chars) && j < len(b.chars); {
		switch ai, bj := a.chars[i].id, b.chars[j].id; {
		case ai == bj:
			if ai >= 0 {
				w := float64(a.chars[i].w)
				nc++
				sqc += w * w
				sumc += w
				if bitLCS {
					pm[i] = b.masks[j]
				}
			}
			i++
			j++
		case ai < bj:
			i++
		default:
			j++
		}
	}
	if nc == 0 {
		return x, false // nothing in common: skip the rest
	}
	_, sqb, _ := overlap(a.bigrams, b.bigrams)
	sqw, unmatched := wordOverlap(a.words, b.words)
	cover := 0.0
	if a.sumChar > 0 && b.sumChar > 0 {
		cover = math.Min(sumc/a.sumChar, sumc/b.sumChar)
	}
	neg := 0.0
	if a.neg != b.neg {
		neg = 1
	}
	var common int
	if bitLCS {
		common = lcsBits(a.seqIdx, pm, len(b.seq))
	} else {
		common = lcs(a.seq, b.seq)
	}
	la, lb := float64(len(a.seq)), float64(len(b.seq))
	return [numSimFeatures]float64{
		1,
		cosine(float64(nc), a.nChars, b.nChars),
		cosine(sqc, a.normChar, b.normChar),
		cosine(sqb, a.normBigram, b.normBigram),
		cosine(sqw, a.normWord, b.normWord),
		cover,
		unmatched / 10,
		neg,
		float64(common) / math.Max(la, lb),
	}, true
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lcsBits is the length of the longest common subsequence of a (given as
// indexes into pm, the bit masks of the positions in b, of m <= 64 units,
// that hold the same unit) and b: the bit-parallel algorithm of Allison and
// Dix (Crochemore et al. 2001).
func lcsBits(aIdx []int32, pm []uint64, m int) int {
	v := ^uint64(0)
	for _, k := range aIdx {
		u := pm[k]
		v = (v + (v & u)) | (v &^ u)
	}
	if m < 64 {
		v |= ^uint64(0) << uint(m)
	}
	return 64 - bits.OnesCount64(v)
}

// wordOverlap is overlap's Σw² over the shared words and maxUnmatched in one
// walk.
func wordOverlap(a, b []feat) (sq, unmatched float64) {
	m := float32(0)
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j >= len(b) || (i < len(a) && a[i].id < b[j].id):
			m = max(m, a[i].w)
			i++
		case i >= len(a) || b[j].id < a[i].id:
			m = max(m, b[j].w)
			j++
		default:
			if a[i].id < 0 { // two unknown words are never the same word
				m = max(m, a[i].w, b[j].w)
			} else {
				w := float64(a[i].w)
				sq += w * w
			}
			i++
			j++
		}
	}
	return sq, float64(m)
}

// similarity is the probability that two docs ask the same thing.
func similarity(a, b *doc) float64 {
	x, ok := simFeatures(a, b)
	if !ok {
		return 0
	}
	z := 0.0
	for i, c := range simCoef {
		z += c * x[i]
	}
	return 1 / (1 + math.Exp(-z))
}
