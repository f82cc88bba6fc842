package intents

import (
	"cmp"
	"math"
	"slices"
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
	seq     []int32 // unit ids in order, for the common subsequence
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
	bigrams map[[2]string]int32
	words   map[string]int32
	df      []int32
	n       int
}

func newStats() *stats {
	return &stats{units: map[string]int32{}, bigrams: map[[2]string]int32{}, words: map[string]int32{}}
}

// idIn returns k's id in m, giving it a new one when absent.
func idIn[K comparable](s *stats, m map[K]int32, k K) int32 {
	id, ok := m[k]
	if !ok {
		s.df = append(s.df, 0)
		id = int32(len(s.df) - 1)
		m[k] = id
	}
	return id
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
	for i, u := range us {
		count(idIn(s, s.units, u))
		if i+1 < len(us) {
			count(idIn(s, s.bigrams, [2]string{u, us[i+1]}))
		}
	}
	for _, t := range tokens {
		count(idIn(s, s.words, t))
	}
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
	next  int32
	names []string
	ids   []int32
}

func (o *oovIDs) id(name string) int32 {
	for i, n := range o.names {
		if n == name {
			return o.ids[i]
		}
	}
	o.next--
	o.names = append(o.names, name)
	o.ids = append(o.ids, o.next)
	return o.next
}

// addFeat appends (id, w) unless id is already in fs (docs are short: a
// linear scan beats a map).
func addFeat(fs []feat, id int32, w float64) []feat {
	for _, f := range fs {
		if f.id == id {
			return fs
		}
	}
	return append(fs, feat{id, float32(w)})
}

// makeDoc builds the features of tokens against corpus stats. Features the
// corpus has never seen get the highest IDF and ids that match nothing.
func makeDoc(tokens []string, st *stats, lx *Lexicon) doc {
	var d doc
	us := units(tokens)
	oov := oovIDs{next: -1}
	d.seq = make([]int32, 0, len(us))
	d.chars = make([]feat, 0, len(us))
	for _, u := range us {
		id, ok := st.units[u]
		if !ok {
			id = oov.id("c" + u)
		}
		d.chars = addFeat(d.chars, id, st.idf(id))
		d.seq = append(d.seq, id)
		if negations[u] {
			d.neg = true
		}
	}
	if len(us) > 1 {
		d.bigrams = make([]feat, 0, len(us)-1)
	}
	for i := 0; i+1 < len(us); i++ {
		id, ok := st.bigrams[[2]string{us[i], us[i+1]}]
		if !ok {
			id = oov.id("b" + us[i] + us[i+1])
		}
		d.bigrams = addFeat(d.bigrams, id, st.idf(id))
	}
	d.words = make([]feat, 0, len(tokens))
	for _, t := range tokens {
		if negations[t] {
			d.neg = true
		}
		id, ok := st.words[t]
		if !ok {
			id = oov.id("w" + t)
		}
		w := st.idf(id)
		if lx != nil && lx.Stop(t) {
			w *= stopFactor
		}
		d.words = addFeat(d.words, id, w)
	}
	sortFeats(d.chars)
	sortFeats(d.bigrams)
	sortFeats(d.words)
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

func sortFeats(fs []feat) {
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
	nc, sqc, sumc := overlap(a.chars, b.chars)
	if nc == 0 {
		return x, false // nothing in common: skip the rest
	}
	_, sqb, _ := overlap(a.bigrams, b.bigrams)
	_, sqw, _ := overlap(a.words, b.words)
	cover := 0.0
	if a.sumChar > 0 && b.sumChar > 0 {
		cover = math.Min(sumc/a.sumChar, sumc/b.sumChar)
	}
	neg := 0.0
	if a.neg != b.neg {
		neg = 1
	}
	la, lb := float64(len(a.seq)), float64(len(b.seq))
	return [numSimFeatures]float64{
		1,
		cosine(float64(nc), a.nChars, b.nChars),
		cosine(sqc, a.normChar, b.normChar),
		cosine(sqb, a.normBigram, b.normBigram),
		cosine(sqw, a.normWord, b.normWord),
		cover,
		maxUnmatched(a.words, b.words) / 10,
		neg,
		float64(lcs(a.seq, b.seq)) / math.Max(la, lb),
	}, true
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
