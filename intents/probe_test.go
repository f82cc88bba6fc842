package intents

import (
	"cmp"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// probeTexts are messages and the sample FAQ's questions, with sub-clauses.
func probeTexts(tb testing.TB, m *Matcher) []string {
	ts := benchTexts(tb)
	for _, q := range m.questions {
		ts = append(ts, q.text)
	}
	return append(ts, "你好 我想退货 怎么弄", "不要了不要了 订单取消", "how do i return this", "退款 退款 退款", "")
}

// A doc built from a run of a message's tokens is the doc makeDoc builds
// from those tokens alone, without the masks (only a question's are read).
func TestDocOfRunIsMakeDoc(t *testing.T) {
	m := mustSampleMatcher(t)
	var tf textFeatures
	var buf docBuf
	for _, text := range probeTexts(t, m) {
		a := m.Analyze(text)
		tf.reset(a.Tokens, m.st, m.lx, nil)
		runs := append([]span{{0, len(a.Tokens)}}, a.parts...)
		for _, p := range runs {
			got := tf.doc(p.from, p.to, &buf)
			want := makeDoc(a.Tokens[p.from:p.to], m.st, m.lx)
			if got.masks != nil {
				t.Fatalf("%q tokens %d:%d: a message's doc has masks", text, p.from, p.to)
			}
			want.masks = nil
			if !sameDoc(got, want) {
				t.Fatalf("%q tokens %d:%d: doc\n%+v\nwant\n%+v", text, p.from, p.to, got, want)
			}
		}
	}
}

// Match's analysis looks each word up once (Matcher.lex) and hands the
// tokens' ids and weights to textFeatures: the same tokens, ids and weights
// as Analyze and the stats' own lookups, on every message and question, with
// courtesy words dropped the same way.
func TestTokenInfoIsTheLookups(t *testing.T) {
	m := mustSampleMatcher(t)
	var buf analysisBuf
	var want, got textFeatures
	n := 0
	texts := append(probeTexts(t, m), "你好 在吗 我想退货", "咨询一下 订单", "你好", "hello orders shipping", "喂 喂 快递到哪了 谢谢")
	for _, text := range texts {
		a := m.Analyze(text)
		b := analyzeBuf(text, m.tok, m.lex, &buf)
		if !slices.Equal(a.Tokens, b.Tokens) || !reflect.DeepEqual(a.parts, b.parts) {
			t.Fatalf("%q: tokens %q %v, Analyze gives %q %v", text, b.Tokens, b.parts, a.Tokens, a.parts)
		}
		if len(b.Tokens) > 0 && len(buf.info) != len(b.Tokens) {
			t.Fatalf("%q: %d infos for %d tokens", text, len(buf.info), len(b.Tokens))
		}
		want.reset(a.Tokens, m.st, m.lx, nil)
		got.reset(b.Tokens, m.st, m.lx, buf.info)
		if !slices.Equal(got.wordID, want.wordID) || !slices.Equal(got.wordW, want.wordW) || !slices.Equal(got.wordKey, want.wordKey) || !slices.Equal(got.oovWords, want.oovWords) {
			t.Fatalf("%q: ids %v weights %v, the lookups give %v %v", text, got.wordID, got.wordW, want.wordID, want.wordW)
		}
		n += len(b.Tokens)
	}
	if n < 5000 {
		t.Fatalf("only %d tokens compared", n)
	}
}

// sameDoc compares docs field by field, an empty list equal to a missing one.
func sameDoc(a, b doc) bool {
	norm := func(d doc) doc {
		for _, s := range []*[]feat{&d.chars, &d.bigrams, &d.words} {
			if len(*s) == 0 {
				*s = nil
			}
		}
		for _, s := range []*[]int32{&d.seq, &d.seqIdx} {
			if len(*s) == 0 {
				*s = nil
			}
		}
		if len(d.masks) == 0 {
			d.masks = nil
		}
		return d
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// The probe's log-odds is the similarity's to the bit, and it gives up only
// on questions that score below the stop it was given.
func TestProbeLogitIsSimilarity(t *testing.T) {
	m := mustSampleMatcher(t)
	var tf textFeatures
	p := probe{slot8: make([]uint8, len(m.st.df))}
	n, pruned, prunedShare := 0, 0, 0
	var texts []string
	for i, text := range probeTexts(t, m) {
		if i%4 == 0 { // a quarter of them against every question is plenty
			texts = append(texts, text)
		}
	}
	// And one with more distinct units, bigrams or words than a byte counts
	// (the probe's int32 slots).
	var qs []string
	for _, q := range m.questions[:120] {
		qs = append(qs, q.text)
	}
	wide := strings.Join(qs, "")
	texts = append(texts, wide)
	for _, text := range texts {
		a := m.Analyze(text)
		tf.reset(a.Tokens, m.st, m.lx, nil)
		d := tf.doc(0, len(a.Tokens), nil)
		p.set(&d)
		if p.wide != (text == wide) {
			t.Fatalf("%q: wide %v", text, p.wide)
		}
		for qi := range m.questions {
			x, ok := simFeatures(&d, &m.questions[qi].doc)
			want := simLogit(&x)
			got, gotOK := p.logit(&m.qx, int32(qi), math.Inf(-1), noShareBounds)
			if gotOK != ok || (ok && got != want) {
				t.Fatalf("%q vs %q: logit %v, %v; similarity's %v, %v", text, m.questions[qi].text, got, gotOK, want, ok)
			}
			if !ok {
				continue
			}
			n++
			// What retrieval would say of the question: the same float32
			// sums in the same order (its bigrams, then its words; or with
			// its units too).
			q := &m.questions[qi].doc
			bw := float32(0)
			for _, fs := range [][2][]feat{{d.bigrams, q.bigrams}, {d.words, q.words}} {
				for _, f := range fs[0] {
					if f.id >= 0 && slices.ContainsFunc(fs[1], func(g feat) bool { return g.id == f.id }) {
						bw += f.w * f.w
					}
				}
			}
			withUnits := bw
			for _, f := range d.chars {
				if slices.ContainsFunc(q.chars, func(g feat) bool { return g.id == f.id }) {
					withUnits += f.w * f.w
				}
			}
			slack := retrievalSlack(&d)
			for _, share := range []shareBounds{noShareBounds, shareFrom(bw, slack, false), shareFrom(withUnits, slack, true)} {
				// Just above the log-odds (beyond the bounds' margins): may give
				// up; just below: must not.
				if _, ok := p.logit(&m.qx, int32(qi), want+pruneMargin+2*boundMargin, share); !ok {
					pruned++
					if share != noShareBounds {
						prunedShare++
					}
				}
				if z, ok := p.logit(&m.qx, int32(qi), want-1e-6, share); !ok || z != want {
					t.Fatalf("%q vs %q: gave up below its log-odds (%+v)", text, m.questions[qi].text, share)
				}
			}
		}
		p.clear()
	}
	if n == 0 || pruned == 0 || prunedShare == 0 {
		t.Fatalf("compared %d pairs, %d given up (%d with retrieval's bounds): the test tests nothing", n, pruned, prunedShare)
	}
}

// Skipping questions that cannot matter changes no result.
func TestPruningChangesNothing(t *testing.T) {
	m := mustSampleMatcher(t)
	ref := NewMatcher(m.FAQ(), m.tok, m.lx, m.Config())
	ref.exhaustive = true
	for _, text := range probeTexts(t, m) {
		got, want := m.Match(text), ref.Match(text)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: pruned\n%+v\nexhaustive\n%+v", text, got, want)
		}
	}
	for qi, q := range m.questions {
		got, want := m.match(q.text, int32(qi)), ref.match(q.text, int32(qi))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q left out: pruned\n%+v\nexhaustive\n%+v", q.text, got, want)
		}
	}
}

// The confidence's inputs that Match takes from the probe (cover, the
// heaviest unmatched word, exact) are, to the bit, what walking the best
// questions' docs gives.
func TestConfidenceInputsFromProbe(t *testing.T) {
	m := mustSampleMatcher(t)
	byText := map[[2]string]int{}
	for i, q := range m.questions {
		byText[[2]string{m.intents[q.intent].ID, q.text}] = i
	}
	n := 0
	for _, text := range probeTexts(t, m) {
		r := m.Match(text)
		whole := makeDoc(r.Tokens, m.st, m.lx)
		for _, c := range r.Candidates[:min(2, len(r.Candidates))] {
			qi, ok := byText[[2]string{c.Intent, c.Question}]
			if !ok {
				t.Fatalf("%q: candidate question %q not found", text, c.Question)
			}
			d := &m.questions[qi].doc
			_, _, sum := overlap(whole.chars, d.chars)
			cover := 0.0
			if whole.sumChar > 0 {
				cover = sum / whole.sumChar
			}
			unmatched := oneSidedUnmatched(whole.words, d.words) / 10
			if c.cover != cover || c.unmatched != unmatched {
				t.Fatalf("%q, %s: cover %v unmatched %v, walking the docs gives %v %v", text, c.Intent, c.cover, c.unmatched, cover, unmatched)
			}
			same := slices.Equal(whole.seq, d.seq) && (len(whole.seq) > 1 || len(whole.words) == 1)
			if c.exact != same {
				t.Fatalf("%q, %s: exact %v, the sequences say %v", text, c.Intent, c.exact, same)
			}
			n++
		}
	}
	if n < 2000 {
		t.Fatalf("only %d candidates compared", n)
	}
}

// The frozen bigram table answers as the map it was built from.
func TestPairTableIsTheMap(t *testing.T) {
	m := mustSampleMatcher(t)
	st := m.st
	if len(st.bigrams) < 1000 {
		t.Fatalf("only %d bigrams", len(st.bigrams))
	}
	for k, want := range st.bigrams {
		if got, w, ok := st.bigramTab.getW(k); !ok || got != want || w != st.idfs[want] {
			t.Fatalf("key %x: %d %v %v, want %d %v", k, got, w, ok, want, st.idfs[want])
		}
	}
	// And the Han units' table.
	for u, want := range st.units {
		if r, size := utf8.DecodeRuneInString(u); size == len(u) && isHan(r) {
			if got, w, ok := st.hanUnits.getW(r); !ok || got != want || w != st.idfs[want] {
				t.Fatalf("unit %q: %d %v %v, want %d %v", u, got, w, ok, want, st.idfs[want])
			}
		}
	}
	for _, r := range []rune{'丂', '\U00020000', 'a'} {
		if _, known := st.units[string(r)]; !known {
			if _, _, ok := st.hanUnits.getW(r); ok {
				t.Fatalf("unit %q: found", r)
			}
		}
	}
	n := int32(len(st.df))
	for a := int32(0); a < n; a += 7 {
		for b := int32(0); b < n; b += 13 {
			want, wok := st.bigrams[pairKey(a, b)]
			if got, ok := st.bigramTab.get(pairKey(a, b)); ok != wok || got != want {
				t.Fatalf("pair %d %d: %d %v, want %d %v", a, b, got, ok, want, wok)
			}
		}
	}
}

// retrieve keeps the k best questions, best first: by retrieval score, ties
// by lower index; compared with sorting every question it touches.
func TestRetrieveIsBestK(t *testing.T) {
	m := mustSampleMatcher(t)
	acc := accumulator{score: make([]float32, len(m.questions))}
	checked, short := 0, 0
	for _, text := range append(benchTexts(t), "你好", "嗯", "订单", "how") {
		a := m.Analyze(text)
		var tf textFeatures
		tf.reset(a.Tokens, m.st, m.lx, nil)
		d := tf.doc(0, len(a.Tokens), nil)
		for _, k := range []int{maxRerankPart, maxRerank} {
			// The same sums in the same order as retrieve.
			score := map[int32]float32{}
			add := func(fs []feat) {
				for _, f := range fs {
					if f.id >= 0 {
						for _, qi := range m.postings.of(f.id) {
							score[qi] += f.w * f.w
						}
					}
				}
			}
			add(d.bigrams)
			add(d.words)
			if len(score) < k {
				add(d.chars)
			}
			var want []int32
			for qi := range score {
				want = append(want, qi)
			}
			slices.SortFunc(want, func(x, y int32) int {
				if score[x] != score[y] {
					return cmp.Compare(score[y], score[x])
				}
				return cmp.Compare(x, y)
			})
			want = want[:min(k, len(want))]
			if got := m.retrieve(&acc, &d, k); !slices.Equal(got, want) {
				t.Fatalf("%q, k=%d: retrieved %v, want %v", text, k, got, want)
			}
			if slices.ContainsFunc(acc.score, func(s float32) bool { return s != 0 }) {
				t.Fatalf("%q: the accumulator was not left at zero", text)
			}
			checked++
			if len(want) < k {
				short++
			}
		}
	}
	if checked < 700 || short == 0 {
		t.Fatalf("checked %d retrievals, %d with fewer than k questions", checked, short)
	}
}
