package intents

import (
	"fmt"
	"github.com/kefu-dev/kefu/faq"
	"math"
	"os"
	"testing"
)

func readPairsFile(tb testing.TB, path string) ([][2]string, []bool) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	ps, ys, err := ReadPairs(f)
	if err != nil {
		tb.Fatal(err)
	}
	return ps, ys
}

// TestFitSimilarity refits the similarity coefficients (logistic regression)
// on a pair file and prints them with 2-fold cross-validated accuracy. It only
// runs when KEFU_FIT_PAIRS names the file.
func TestFitSimilarity(t *testing.T) {
	path := os.Getenv("KEFU_FIT_PAIRS")
	if path == "" {
		t.Skip("set KEFU_FIT_PAIRS to a sentence-pair CSV to refit the similarity")
	}
	pairs, ys := readPairsFile(t, path)
	tok, lx := mustTokenizer(t), mustLexicon(t)
	syn := newSynonymMap(builtinSynonyms)
	st := newStats()
	toks := make([][2][]string, len(pairs))
	for i, p := range pairs {
		for j := 0; j < 2; j++ {
			toks[i][j] = analyze(p[j], tok, syn).Tokens
			st.observe((toks[i][j]))
		}
	}
	st.freeze(lx)
	X := make([][]float64, len(pairs))
	for i := range pairs {
		a, b := makeDoc(toks[i][0], st, lx), makeDoc(toks[i][1], st, lx)
		x, _ := simFeatures(&a, &b)
		X[i] = x[:]
	}
	subset := func(idx []int) ([][]float64, []bool) {
		var xs [][]float64
		var ls []bool
		for _, i := range idx {
			xs, ls = append(xs, X[i]), append(ls, ys[i])
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
			if (z > 0) == ys[i] {
				c++
			}
		}
		return float64(c) / float64(len(idx))
	}
	var a, b, all []int
	for i := range pairs {
		all = append(all, i)
		if i%2 == 0 {
			a = append(a, i)
		} else {
			b = append(b, i)
		}
	}
	wa, wb := fitLogistic(subset(a)), fitLogistic(subset(b))
	fmt.Printf("2-fold accuracy: %.4f %.4f\n", acc(wa, b), acc(wb, a))
	w := fitLogistic(X, ys)
	fmt.Printf("fit on all: accuracy %.4f\nvar simCoef = [numSimFeatures]float64{", acc(w, all))
	for j, c := range w {
		if j > 0 {
			fmt.Print(", ")
		}
		fmt.Printf("%.3f", c)
	}
	fmt.Println("}")
}

// TestFitConfidence refits confCoef: in-scope examples are the sample FAQ's
// questions matched leave-one-out and its editor tests; out-of-scope examples
// are first sentences of the pair file named by KEFU_FIT_CONFIDENCE (the BQ
// corpus: bank questions, which a shop's FAQ must not answer).
func TestFitConfidence(t *testing.T) {
	path := os.Getenv("KEFU_FIT_CONFIDENCE")
	if path == "" {
		t.Skip("set KEFU_FIT_CONFIDENCE to a sentence-pair CSV of out-of-scope questions")
	}
	f, err := faq.LoadSample()
	if err != nil {
		t.Fatal(err)
	}
	m := NewMatcher(f, mustTokenizer(t), mustLexicon(t), DefaultConfig())
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
		if tc.Expect[0] == "@handoff" {
			continue
		}
		r := m.Match(tc.Text)
		ok := false
		for _, e := range tc.Expect {
			ok = ok || e == r.Top().Intent
		}
		add(r, ok)
	}
	pairs, _ := readPairsFile(t, path)
	seen := map[string]bool{}
	for _, p := range pairs {
		if len(X) >= 2*inScope+len(f.Tests) {
			break
		}
		if seen[p[0]] {
			continue
		}
		seen[p[0]] = true
		add(m.Match(p[0]), false)
	}
	// Real customer messages (KEFU_FIT_CASES, a cases file such as
	// testdata/dev_cases.tsv): the top intent is right when it is one of the
	// expected ones; out-of-scope ones are negatives. Hand-off requests are
	// decided by phrase, not by confidence, and are left out. Each counts
	// KEFU_FIT_CASES_WEIGHT times (default 3): they are fewer than the FAQ's
	// own questions but are what customers really write.
	if cp := os.Getenv("KEFU_FIT_CASES"); cp != "" {
		fh, err := os.Open(cp)
		if err != nil {
			t.Fatal(err)
		}
		cases, err := ReadCases(fh)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		weight := 3
		fmt.Sscan(os.Getenv("KEFU_FIT_CASES_WEIGHT"), &weight)
		for _, c := range cases {
			r := m.Match(c.Text)
			if r.Action == ActionHandoff && (r.Reason == ReasonRequested || r.Reason == ReasonComplaint) {
				continue
			}
			ok := false
			for _, e := range c.Expected {
				ok = ok || e == r.Top().Intent
			}
			for range weight {
				add(r, ok)
			}
		}
	}
	pos := 0
	for _, y := range ys {
		if y {
			pos++
		}
	}
	w := fitLogistic(X, ys)
	fmt.Printf("%d examples (%d positive)\nvar confCoef = [numConfFeatures]float64{", len(X), pos)
	for j, c := range w {
		if j > 0 {
			fmt.Print(", ")
		}
		fmt.Printf("%.3f", c)
	}
	fmt.Println("}")
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
