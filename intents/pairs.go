package intents

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strings"
)

// ReadPairs reads `sentence1,sentence2,label` rows (label 0 or 1); a header
// row and a UTF-8 BOM are tolerated.
func ReadPairs(r io.Reader) ([][2]string, []bool, error) {
	rd := csv.NewReader(r)
	rd.FieldsPerRecord = -1
	rows, err := rd.ReadAll()
	if err != nil {
		return nil, nil, fmt.Errorf("read pairs: %w", err)
	}
	var pairs [][2]string
	var labels []bool
	for i, row := range rows {
		if i == 0 && len(row) > 0 {
			row[0] = strings.TrimPrefix(row[0], "\ufeff")
			if row[0] == "sentence1" {
				continue
			}
		}
		if len(row) < 3 {
			return nil, nil, fmt.Errorf("line %d: want sentence1,sentence2,label", i+1)
		}
		switch strings.TrimSpace(row[2]) {
		case "1":
			labels = append(labels, true)
		case "0":
			labels = append(labels, false)
		default:
			return nil, nil, fmt.Errorf("line %d: label %q is not 0 or 1", i+1, row[2])
		}
		pairs = append(pairs, [2]string{row[0], row[1]})
	}
	return pairs, labels, nil
}

// PairScores scores sentence pairs with the matcher's similarity: the same
// normalisation, tokens, synonyms and weights, with document frequencies
// taken from all the sentences given (as the matcher takes them from the
// FAQ's questions).
func PairScores(tok Tokenizer, lx *Lexicon, pairs [][2]string) []float64 {
	out := make([]float64, len(pairs))
	pairDocs(tok, lx, pairs, func(i int, a, b *doc) { out[i] = similarity(a, b) })
	return out
}

// pairDocs makes the two documents of each pair as the matcher would, with
// document frequencies from all the sentences given, and hands them to each.
func pairDocs(tok Tokenizer, lx *Lexicon, pairs [][2]string, each func(i int, a, b *doc)) {
	syn := newSynonymMap(builtinSynonyms)
	toks := make([][2][]string, len(pairs))
	st := newStats()
	for i, p := range pairs {
		for j := range 2 {
			toks[i][j] = analyze(p[j], tok, syn).Tokens
			st.observe(toks[i][j])
		}
	}
	st.freeze(lx)
	for i := range pairs {
		a, b := makeDoc(toks[i][0], st, lx), makeDoc(toks[i][1], st, lx)
		each(i, &a, &b)
	}
}

// BestThreshold returns the threshold that maximises accuracy when a score at
// or above it predicts a positive label, and that accuracy.
func BestThreshold(scores []float64, labels []bool) (threshold, accuracy float64) {
	n := len(scores)
	if n == 0 {
		return 0.5, 0
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	pos := 0
	for _, y := range labels {
		if y {
			pos++
		}
	}
	// Predict negative for idx[:k], positive for idx[k:].
	bestK, best := 0, pos
	negBelow, posBelow := 0, 0
	for k := 1; k <= n; k++ {
		if labels[idx[k-1]] {
			posBelow++
		} else {
			negBelow++
		}
		if k < n && scores[idx[k]] == scores[idx[k-1]] {
			continue // a threshold cannot split equal scores
		}
		if c := negBelow + pos - posBelow; c > best {
			best, bestK = c, k
		}
	}
	switch {
	case bestK == 0:
		threshold = scores[idx[0]]
	case bestK == n:
		threshold = scores[idx[n-1]] + 1e-9
	default:
		threshold = (scores[idx[bestK-1]] + scores[idx[bestK]]) / 2
	}
	return threshold, float64(best) / float64(n)
}

// Accuracy at a fixed threshold.
func Accuracy(scores []float64, labels []bool, threshold float64) float64 {
	if len(scores) == 0 {
		return 0
	}
	c := 0
	for i, s := range scores {
		if (s >= threshold) == labels[i] {
			c++
		}
	}
	return float64(c) / float64(len(scores))
}
