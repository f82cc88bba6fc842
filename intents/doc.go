package intents

import (
	"cmp"
	"slices"
	"unicode/utf8"
)

// Building a doc happens in two steps. textFeatures looks a text's units,
// bigrams and words up in the corpus stats (the map lookups, the costly
// part); textFeatures.doc then builds the doc of any run of its tokens from
// those lookups. Match looks the whole message up once and builds the docs of
// the whole message and of each of its parts from it. A doc built from a run
// of tokens is exactly the doc makeDoc builds from those tokens alone: the
// same ids (unknown features get their ids in the same order), the same
// weights, the same sums in the same order.

// isNegation reports whether a unit or a word negates what follows.
func isNegation(s string) bool {
	switch s {
	case "不", "没", "无", "未", "别", "非", "没有", "无法", "not", "no", "never":
		return true
	}
	return false
}

// oovIDs gives features the corpus has never seen ids below -1: the same
// text gets the same id within one doc, and no two texts share one.
type oovIDs struct {
	names []oovName
}

// oovName is an unknown feature: a unit, a bigram of two units, or a word,
// named by textFeatures' keys.
type oovName struct {
	kind byte
	a, b int32
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

// textFeatures is a text's tokens split into units (every Han character
// alone, other tokens whole; see units), with each unit, each bigram of
// adjacent units and each word looked up in the corpus stats. Unknown
// features have id -1 here and a key that names them: equal keys for equal
// texts. A doc gives them their own ids.
type textFeatures struct {
	tokens  []string
	units   []string  // in order
	unitID  []int32   // by unit; -1: unknown
	unitKey []int32   // by unit: its id when known, else -1 - the index of its text in oovUnits
	unitW   []float32 // by unit: its IDF
	pairID  []int32   // by unit i: the bigram of units i and i+1; -1: unknown
	pairW   []float32 // by unit i: that bigram's IDF
	neg     []bool    // by unit: a negation
	tokEnd  []int32   // by token: the end of its units (they start at the previous token's end)
	wordID  []int32   // by token; -1: unknown
	wordKey []int32   // by unknown token: the index of its text in oovWords
	wordW   []float32 // by token: its weight (IDF, less for stop words)
	wneg    []bool    // by token: a negation

	oovUnits, oovWords []string // the distinct unknown units and words
}

// reset looks tokens up in st, reusing tf's memory. info, when not nil, is
// each token's word id and weight, already looked up (analyzeBuf).
func (tf *textFeatures) reset(tokens []string, st *stats, lx *Lexicon, info []tokenInfo) {
	frozen := st.frozen == st.n && len(st.idfs) == len(st.df) && st.stopLx == lx
	oovIDF := st.oovIDF
	if !frozen {
		oovIDF = float32(st.idf(-1))
	}
	idf := func(id int32) float32 {
		switch {
		case id < 0:
			return oovIDF
		case frozen:
			return st.idfs[id]
		}
		return float32(st.idf(id))
	}
	tf.tokens = tokens
	tf.units, tf.unitID, tf.unitKey, tf.unitW, tf.neg = tf.units[:0], tf.unitID[:0], tf.unitKey[:0], tf.unitW[:0], tf.neg[:0]
	tf.tokEnd, tf.wordID, tf.wordKey, tf.wordW, tf.wneg = tf.tokEnd[:0], tf.wordID[:0], tf.wordKey[:0], tf.wordW[:0], tf.wneg[:0]
	tf.oovUnits, tf.oovWords = tf.oovUnits[:0], tf.oovWords[:0]
	// addUnit appends unit u; w is its IDF when known and frozen.
	addUnit := func(u string, id int32, ok bool, w float32) {
		key := id
		if !ok {
			id, key = -1, -1-int32(indexOrAppend(&tf.oovUnits, u))
		}
		if !ok || !frozen {
			w = idf(id)
		}
		tf.units = append(tf.units, u)
		tf.unitID = append(tf.unitID, id)
		tf.unitKey = append(tf.unitKey, key)
		tf.unitW = append(tf.unitW, w)
		tf.neg = append(tf.neg, isNegation(u))
	}
	for ti, t := range tokens {
		if !hasHan(t) {
			id, ok := st.units[t]
			w := float32(0)
			if ok && frozen {
				w = st.idfs[id]
			}
			addUnit(t, id, ok, w)
			if isDigits(t) {
				tf.unitW[len(tf.unitW)-1] *= numberFactor
			}
		} else {
			for i, r := range t {
				if !isHan(r) {
					continue
				}
				var id int32
				var w float32
				var ok bool
				if frozen {
					// The same as units[string(r)] and idfs[id], without
					// hashing a string, in one memory access.
					id, w, ok = st.hanUnits.getW(r)
				} else {
					id, ok = st.units[string(r)]
				}
				addUnit(t[i:i+utf8.RuneLen(r)], id, ok, w)
			}
		}
		tf.tokEnd = append(tf.tokEnd, int32(len(tf.units)))
		var id int32
		var w float32
		if info != nil {
			id, w = info[ti].id, info[ti].w
		} else {
			var ok bool
			if id, ok = st.words[t]; !ok {
				id = -1
			}
			if frozen && id >= 0 {
				w = st.wordW[id]
			} else {
				w64 := st.idf(id)
				if lx != nil && lx.Stop(t) {
					w64 *= stopFactor
				}
				if id >= 0 && isDigits(t) {
					w64 *= numberFactor // as freeze does
				}
				w = float32(w64)
				if id < 0 && isDigits(t) {
					w *= numberFactor // as analyzeBuf's info
				}
			}
		}
		key := int32(0)
		if id < 0 {
			key = int32(indexOrAppend(&tf.oovWords, t))
		}
		tf.wordKey = append(tf.wordKey, key)
		tf.wordID = append(tf.wordID, id)
		tf.wordW = append(tf.wordW, w)
		tf.wneg = append(tf.wneg, isNegation(t))
	}
	tf.pairID, tf.pairW = tf.pairID[:0], tf.pairW[:0]
	for i := 0; i+1 < len(tf.units); i++ {
		a, b := tf.unitID[i], tf.unitID[i+1]
		id, w, ok := int32(0), float32(0), false
		switch {
		case a < 0 || b < 0:
		case frozen:
			// The same as bigrams[...] and idfs[id], one cache line.
			id, w, ok = st.bigramTab.getW(pairKey(a, b))
		default:
			id, ok = st.bigrams[pairKey(a, b)]
		}
		if !ok {
			id = -1
		}
		if !ok || !frozen {
			w = idf(id)
		}
		tf.pairID = append(tf.pairID, id)
		tf.pairW = append(tf.pairW, w)
	}
}

// indexOrAppend is the index of s in *list, appending it when missing (the
// lists are a message's few unknown units or words).
func indexOrAppend(list *[]string, s string) int {
	for i, x := range *list {
		if x == s {
			return i
		}
	}
	*list = append(*list, s)
	return len(*list) - 1
}

// unitStart is where token i's units start.
func (tf *textFeatures) unitStart(i int) int {
	if i == 0 {
		return 0
	}
	return int(tf.tokEnd[i-1])
}

// unitCount is the number of units of tokens[from:to].
func (tf *textFeatures) unitCount(from, to int) int {
	return tf.unitStart(to) - tf.unitStart(from)
}

// docBuf is memory for docs that live only as long as one Match.
type docBuf struct {
	ints  []int32
	feats []feat
	oov   []oovName
}

// doc builds the doc of tokens[from:to] in buf's memory (nil: the doc's
// own).
func (tf *textFeatures) doc(from, to int, buf *docBuf) doc {
	var d doc
	u0, u1 := tf.unitStart(from), tf.unitStart(to)
	n, nt := u1-u0, to-from
	var oov oovIDs
	var ints []int32
	var fs []feat
	if buf != nil {
		oov.names = buf.oov[:0]
		defer func() { buf.oov = oov.names[:0] }() // keep what it grew to
		buf.ints = slices.Grow(buf.ints[:0], 2*n)
		buf.feats = slices.Grow(buf.feats[:0], 2*n+nt)
		ints, fs = buf.ints[:2*n], buf.feats[:0:2*n+nt]
	} else {
		var oovBuf [8]oovName
		oov.names = oovBuf[:0]
		ints, fs = make([]int32, 2*n), make([]feat, 0, 2*n+nt)
	}
	d.seq, d.seqIdx = ints[:0:n], ints[n:n:2*n]
	d.chars = fs[:0:n]
	for i := u0; i < u1; i++ {
		id := tf.unitID[i]
		if id < 0 {
			id = oov.id(oovName{kind: 'c', a: tf.unitKey[i]})
		}
		var k int
		d.chars, k = addFeat(d.chars, id, tf.unitW[i])
		d.seq = append(d.seq, id)
		d.seqIdx = append(d.seqIdx, int32(k))
		d.neg = d.neg || tf.neg[i]
	}
	if n > 1 {
		d.bigrams = fs[n : n : 2*n-1]
	}
	for i := u0; i+1 < u1; i++ {
		id := tf.pairID[i]
		if id < 0 {
			id = oov.id(oovName{kind: 'b', a: tf.unitKey[i], b: tf.unitKey[i+1]})
		}
		d.bigrams, _ = addFeat(d.bigrams, id, tf.pairW[i])
	}
	d.words = fs[2*n : 2*n : 2*n+nt]
	for i := from; i < to; i++ {
		d.neg = d.neg || tf.wneg[i]
		id := tf.wordID[i]
		if id < 0 {
			id = oov.id(oovName{kind: 'w', a: tf.wordKey[i]})
		}
		d.words, _ = addFeat(d.words, id, tf.wordW[i])
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
	// Masks are read of a question's doc only: a message's (in buf) has none.
	if len(d.seq) <= 64 && buf == nil {
		d.masks = make([]uint64, len(d.chars))
		for i, k := range d.seqIdx {
			d.masks[k] |= 1 << uint(i)
		}
	}
	d.nChars, d.nSeq = int32(len(d.chars)), int32(len(d.seq))
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

// makeDoc builds the features of tokens against corpus stats. Features the
// corpus has never seen get the highest IDF and ids that match nothing.
func makeDoc(tokens []string, st *stats, lx *Lexicon) doc {
	var tf textFeatures
	tf.reset(tokens, st, lx, nil)
	return tf.doc(0, len(tokens), nil)
}

// hasHan reports whether t has a Han character: if so its units are its Han
// characters, else t is one unit.
func hasHan(t string) bool {
	for _, r := range t {
		if isHan(r) {
			return true
		}
	}
	return false
}

// sortFeats sorts fs by id (the ids of a list are distinct, so any sort
// gives the same order). A message's lists are short: an insertion sort
// that shifts rather than swaps beats the generic sort, which calls its
// comparison, up to a few dozen.
func sortFeats(fs []feat) {
	if len(fs) <= 48 {
		for i := 1; i < len(fs); i++ {
			f := fs[i]
			j := i
			for ; j > 0 && fs[j-1].id > f.id; j-- {
				fs[j] = fs[j-1]
			}
			fs[j] = f
		}
		return
	}
	slices.SortFunc(fs, func(a, b feat) int { return cmp.Compare(a.id, b.id) })
}

// packDocs moves the lists of docs into three blocks of memory, one doc after
// the other: a long-lived index reads neighbouring cache lines.
func packDocs(docs []doc) {
	nf, nm, ni := 0, 0, 0
	for i := range docs {
		d := &docs[i]
		nf += len(d.chars) + len(d.bigrams) + len(d.words)
		nm += len(d.masks)
		ni += len(d.seq) + len(d.seqIdx)
	}
	feats, masks, ints := make([]feat, 0, nf), make([]uint64, 0, nm), make([]int32, 0, ni)
	move := func(block *[]feat, fs []feat) []feat {
		if fs == nil {
			return nil
		}
		n := len(*block)
		*block = append(*block, fs...)
		return (*block)[n:len(*block):len(*block)]
	}
	moveInts := func(xs []int32) []int32 {
		if xs == nil {
			return nil
		}
		n := len(ints)
		ints = append(ints, xs...)
		return ints[n:len(ints):len(ints)]
	}
	for i := range docs {
		d := &docs[i]
		d.chars, d.bigrams, d.words = move(&feats, d.chars), move(&feats, d.bigrams), move(&feats, d.words)
		if d.masks != nil {
			n := len(masks)
			masks = append(masks, d.masks...)
			d.masks = masks[n:len(masks):len(masks)]
		}
		d.seq, d.seqIdx = moveInts(d.seq), moveInts(d.seqIdx)
	}
}

// numberFactor scales the weight of a number (42 in "订的42码"): the numbers
// a customer writes (sizes, quantities, days) are rarely the FAQ's, and an
// unknown number weighed as much as an unknown word would hide what the
// message is about. Order and tracking numbers are entities, already out.
const numberFactor = stopFactor

// isDigits reports whether t is a run of ASCII digits.
func isDigits(t string) bool {
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return false
		}
	}
	return t != ""
}
