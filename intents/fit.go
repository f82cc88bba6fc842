package intents

import (
	"errors"
	"math"
	"slices"
)

// The fits below chose the coefficients compiled into this package (simCoef,
// confCoef); `kefu eval fit similarity|confidence` runs them and prints the
// values to paste back.

// ErrFitData is returned when a fit has too little data: no examples, or
// examples of one class only.
var ErrFitData = errors.New("too little data to fit")

// SimilarityFit is FitSimilarity's result.
type SimilarityFit struct {
	Pairs int
	// FoldAccuracy is 2-fold cross-validated accuracy: fitted on the even
	// pairs and measured on the odd ones, then the other way round.
	FoldAccuracy [2]float64
	// Accuracy is that of Coef (fitted on every pair) on every pair.
	Accuracy float64
	// Coef are simCoef's values (the first is the intercept).
	Coef []float64
}

// FitSimilarity refits the sentence-similarity coefficients (logistic
// regression on the similarity features) on labelled sentence pairs. The
// statistics (IDF) are those of the pairs' own sentences, as when simCoef
// was fitted on the BQ corpus.
func FitSimilarity(tok Tokenizer, lx *Lexicon, pairs [][2]string, labels []bool) (SimilarityFit, error) {
	if len(pairs) < 2 || len(pairs) != len(labels) || !slices.Contains(labels, true) || !slices.Contains(labels, false) {
		return SimilarityFit{}, ErrFitData
	}
	X := make([][]float64, len(pairs))
	pairDocs(tok, lx, pairs, func(i int, a, b *doc) {
		x, _ := simFeatures(a, b)
		X[i] = x[:]
	})
	subset := func(idx []int) ([][]float64, []bool) {
		var xs [][]float64
		var ls []bool
		for _, i := range idx {
			xs, ls = append(xs, X[i]), append(ls, labels[i])
		}
		return xs, ls
	}
	acc := func(w []float64, idx []int) float64 {
		c := 0
		for _, i := range idx {
			z := 0.0
			for j := range w {
				z += w[j] * X[i][j]
			}
			if (z > 0) == labels[i] {
				c++
			}
		}
		return float64(c) / float64(len(idx))
	}
	var even, odd, all []int
	for i := range pairs {
		all = append(all, i)
		if i%2 == 0 {
			even = append(even, i)
		} else {
			odd = append(odd, i)
		}
	}
	we, wo := fitLogistic(subset(even)), fitLogistic(subset(odd))
	w := fitLogistic(X, labels)
	return SimilarityFit{Pairs: len(pairs), FoldAccuracy: [2]float64{acc(we, odd), acc(wo, even)},
		Accuracy: acc(w, all), Coef: w}, nil
}

// ConfidenceFit is FitConfidence's result.
type ConfidenceFit struct {
	Examples, Positive int
	// Coef are confCoef's values (the first is the intercept).
	Coef []float64
}

// FitConfidence refits the confidence coefficients on m's FAQ. In-scope
// examples are the FAQ's questions matched leave-one-out and its editor
// tests (hand-off ones left out); out-of-scope examples are the questions in
// outOfScope (e.g. the first sentences of the BQ corpus: bank questions,
// which a shop's FAQ must not answer), at most as many as the in-scope ones
// plus the editor tests. cases (real customer messages, e.g.
// testdata/dev_cases.tsv) count weight times each: right when the top intent
// is one of the expected ones, out-of-scope ones are negatives; hand-off
// requests are decided by phrase, not by confidence, and are left out.
func FitConfidence(m *Matcher, outOfScope []string, cases []Case, weight int) (ConfidenceFit, error) {
	f := m.FAQ()
	var X [][]float64
	var ys []bool
	add := func(r Result, ok bool) {
		if len(r.Candidates) == 0 || r.Candidates[0].Score == 0 {
			return
		}
		x := confFeatures(r.Candidates)
		X = append(X, x[:])
		ys = append(ys, ok)
	}
	for qi, q := range m.questions {
		r := m.match(q.text, int32(qi))
		add(r, r.Top().Intent == m.intents[q.intent].ID)
	}
	inScope := len(X)
	for _, tc := range f.Tests {
		if len(tc.Expect) == 0 || tc.Expect[0] == "@handoff" {
			continue
		}
		r := m.Match(tc.Text)
		add(r, slices.Contains(tc.Expect, r.Top().Intent))
	}
	seen := map[string]bool{}
	for _, q := range outOfScope {
		if len(X) >= 2*inScope+len(f.Tests) {
			break
		}
		if seen[q] {
			continue
		}
		seen[q] = true
		add(m.Match(q), false)
	}
	for _, c := range cases {
		r := m.Match(c.Text)
		if r.Action == ActionHandoff && (r.Reason == ReasonRequested || r.Reason == ReasonComplaint) {
			continue
		}
		ok := slices.Contains(c.Expected, r.Top().Intent)
		for range weight {
			add(r, ok)
		}
	}
	pos := 0
	for _, y := range ys {
		if y {
			pos++
		}
	}
	if pos == 0 || pos == len(ys) {
		return ConfidenceFit{}, ErrFitData
	}
	return ConfidenceFit{Examples: len(X), Positive: pos, Coef: fitLogistic(X, ys)}, nil
}

// fitLogistic fits a logistic regression by gradient descent on standardised
// features and returns raw coefficients (the first feature is the constant 1).
func fitLogistic(X [][]float64, ys []bool) []float64 {
	D := len(X[0])
	mean, sd := make([]float64, D), make([]float64, D)
	for j := 1; j < D; j++ {
		for i := range X {
			mean[j] += X[i][j]
		}
		mean[j] /= float64(len(X))
		for i := range X {
			sd[j] += (X[i][j] - mean[j]) * (X[i][j] - mean[j])
		}
		sd[j] = math.Sqrt(sd[j]/float64(len(X))) + 1e-9
	}
	w, g := make([]float64, D), make([]float64, D)
	s := make([]float64, D)
	for it := 0; it < 3000; it++ {
		clear(g)
		for i := range X {
			s[0] = 1
			for j := 1; j < D; j++ {
				s[j] = (X[i][j] - mean[j]) / sd[j]
			}
			z := 0.0
			for j := range w {
				z += w[j] * s[j]
			}
			y := 0.0
			if ys[i] {
				y = 1
			}
			p := 1 / (1 + math.Exp(-z))
			for j := range w {
				g[j] += (p - y) * s[j]
			}
		}
		for j := range w {
			w[j] -= 0.5 * g[j] / float64(len(X))
		}
	}
	raw := make([]float64, D)
	raw[0] = w[0]
	for j := 1; j < D; j++ {
		raw[j] = w[j] / sd[j]
		raw[0] -= w[j] * mean[j] / sd[j]
	}
	return raw
}
