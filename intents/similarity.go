package intents

import (
	"math"
	"math/bits"
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
// `kefu eval fit similarity ../shared/data/bq/dev.csv` (FitSimilarity).
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
	// What comparing with a question reads of the question comes first.
	chars   []feat   // units (Han characters, other tokens), IDF weight
	masks   []uint64 // per chars entry, the seq positions holding it (len(seq) <= 64)
	bigrams []feat
	words   []feat
	seq     []int32 // unit ids in order, for the common subsequence
	docStats

	seqIdx []int32 // for each unit of seq, its index in chars
}

// docStats are what the similarity reads of a doc besides its features.
type docStats struct {
	normChar, normBigram float64 // IDF norms
	normWord             float64
	sumChar              float64 // Σ IDF over units, for coverage
	nChars               int32   // number of distinct units (flat norm²)
	nSeq                 int32   // number of units (len(seq))
	neg                  bool
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
	idfs      []float32
	wordW     []float32 // word weights: IDF, scaled down for stop words
	hanUnits  hanTable  // the units that are one Han character, by rune
	bigramTab pairTable // bigrams, for lookups
	oovIDF    float32   // the IDF of a feature the corpus never saw
	frozen    int       // n when idfs was computed
	stopLx    *Lexicon
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
		if isDigits(w) {
			x *= numberFactor
		}
		s.wordW[id] = float32(x)
	}
	s.hanUnits = newHanTable()
	for u, id := range s.units {
		if r, size := utf8.DecodeRuneInString(u); size == len(u) && isHan(r) {
			s.hanUnits.set(r, id, s.idfs[id])
		}
	}
	s.bigramTab = newPairTable(s.bigrams, s.idfs)
	s.oovIDF = float32(s.idf(-1))
	s.frozen, s.stopLx = s.n, lx
}

// pairTable is the bigrams map frozen into one open-addressing array: a
// lookup reads one 16-byte slot (rarely the next), where a Go map reads its
// control word and then the slot, two cache misses when cold, as the
// matcher's data are after the segmenter has run.
type pairTable struct {
	slots []pairSlot
	shift uint
}

type pairSlot struct {
	key uint64 // pairKey; emptyPair when free
	id  int32
	w   float32 // its IDF (stats.idfs[id]), in what would be padding
}

// emptyPair is no pairKey: unit ids are below 1<<31.
const emptyPair = ^uint64(0)

func newPairTable(m map[uint64]int32, idfs []float32) pairTable {
	bits := uint(4)
	for 1<<bits < 2*len(m) {
		bits++
	}
	t := pairTable{slots: make([]pairSlot, 1<<bits), shift: 64 - bits}
	for i := range t.slots {
		t.slots[i].key = emptyPair
	}
	for k, id := range m {
		i := t.home(k)
		for t.slots[i].key != emptyPair {
			i = (i + 1) & (len(t.slots) - 1)
		}
		t.slots[i] = pairSlot{k, id, idfs[id]}
	}
	return t
}

func (t *pairTable) home(k uint64) int { return int((k * 0x9e3779b97f4a7c15) >> t.shift) }

// get is m[k] of the map the table was built from.
func (t *pairTable) get(k uint64) (int32, bool) {
	id, _, ok := t.getW(k)
	return id, ok
}

// getW is get with the bigram's IDF, from the same slot.
func (t *pairTable) getW(k uint64) (int32, float32, bool) {
	for i := t.home(k); ; i = (i + 1) & (len(t.slots) - 1) {
		switch t.slots[i].key {
		case k:
			return t.slots[i].id, t.slots[i].w, true
		case emptyPair:
			return 0, 0, false
		}
	}
}

// hanTable maps Han characters to ids and their IDF: the common block
// (U+4E00–U+9FFF) in an array, one memory access a lookup, the rare others
// in a map.
type hanTable struct {
	common []hanEntry // by rune - 0x4e00
	rare   map[rune]hanEntry
}

// hanEntry is one unit's id + 1 (0 for none) and IDF (stats.idfs[id]).
type hanEntry struct {
	id1 int32
	w   float32
}

func newHanTable() hanTable {
	return hanTable{common: make([]hanEntry, 0x9fff-0x4e00+1), rare: map[rune]hanEntry{}}
}

func (h *hanTable) set(r rune, id int32, w float32) {
	if r >= 0x4e00 && r <= 0x9fff {
		h.common[r-0x4e00] = hanEntry{id + 1, w}
		return
	}
	h.rare[r] = hanEntry{id + 1, w}
}

func (h *hanTable) get(r rune) (int32, bool) {
	id, _, ok := h.getW(r)
	return id, ok
}

// getW is get with the unit's IDF.
func (h *hanTable) getW(r rune) (int32, float32, bool) {
	var e hanEntry
	if r >= 0x4e00 && r <= 0x9fff {
		e = h.common[r-0x4e00]
	} else {
		e = h.rare[r]
	}
	return e.id1 - 1, e.w, e.id1 > 0
}

func (s *stats) idf(id int32) float64 {
	df := 0.0
	if id >= 0 {
		df = float64(s.df[id])
	}
	return math.Log(float64(s.n+1) / (df + 0.5))
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
	if dot == 0 || n1 == 0 || n2 == 0 {
		return 0 // as dot / math.Sqrt(n1*n2) when dot is 0, without the root
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
	var o simOverlap
	for i, j := 0, 0; i < len(a.chars) && j < len(b.chars); {
		switch ai, bj := a.chars[i].id, b.chars[j].id; {
		case ai == bj:
			if ai >= 0 {
				w := float64(a.chars[i].w)
				o.nc++
				o.sqc += w * w
				o.sumc += w
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
	if o.nc == 0 {
		return x, false // nothing in common: skip the rest
	}
	_, o.sqb, _ = overlap(a.bigrams, b.bigrams)
	o.sqw, o.unmatched = wordOverlap(a.words, b.words)
	if bitLCS {
		o.common = lcsBits(a.seqIdx, pm, len(b.seq))
	} else {
		o.common = lcs(a.seq, b.seq)
	}
	return o.features(&a.docStats, &b.docStats), true
}

// simOverlap is what two docs share, the raw material of simFeatures: the
// number of shared units, Σw² and Σw over them, Σw² over the shared bigrams
// and words, the heaviest unshared word, and the common subsequence's length.
type simOverlap struct {
	nc                  int
	sqc, sumc, sqb, sqw float64
	unmatched           float64
	common              int
}

// features turns the overlap of a and b into simFeatures' result.
func (o *simOverlap) features(a, b *docStats) [numSimFeatures]float64 {
	cover := 0.0
	if a.sumChar > 0 && b.sumChar > 0 {
		// min(sumc/a, sumc/b), one division: a correctly rounded division by
		// the larger positive number is never larger.
		cover = o.sumc / math.Max(a.sumChar, b.sumChar)
	}
	neg := 0.0
	if a.neg != b.neg {
		neg = 1
	}
	la, lb := float64(a.nSeq), float64(b.nSeq)
	return [numSimFeatures]float64{
		1,
		cosine(float64(o.nc), float64(a.nChars), float64(b.nChars)),
		cosine(o.sqc, a.normChar, b.normChar),
		cosine(o.sqb, a.normBigram, b.normBigram),
		cosine(o.sqw, a.normWord, b.normWord),
		cover,
		o.unmatched / 10,
		neg,
		float64(o.common) / math.Max(la, lb),
	}
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
	return sigmoid(simLogit(&x))
}

// simLogit is the similarity's log-odds for its inputs x.
func simLogit(x *[numSimFeatures]float64) float64 {
	z := 0.0
	for i, c := range simCoef {
		z += c * x[i]
	}
	return z
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
