package intents

import "testing"

func BenchmarkMatchMid(b *testing.B) {
	m := mustSampleMatcher(b)
	var ts []string
	for _, s := range benchTexts(b) {
		if n := len([]rune(s)); n >= 10 && n <= 14 {
			ts = append(ts, s)
		}
	}
	timed(b, func(i int) { m.Match(ts[i%len(ts)]) })
}

func BenchmarkCutMid(b *testing.B) {
	tok := mustTokenizer(b)
	var ts []string
	for _, s := range benchTexts(b) {
		if n := len([]rune(s)); n >= 10 && n <= 14 {
			ts = append(ts, Normalize(s))
		}
	}
	timed(b, func(i int) { tok.Cut(ts[i%len(ts)]) })
}

func midTexts(b *testing.B) []string {
	var ts []string
	for _, s := range benchTexts(b) {
		if n := len([]rune(s)); n >= 10 && n <= 14 {
			ts = append(ts, s)
		}
	}
	return ts
}

func BenchmarkStageAnalyze(b *testing.B) {
	m := mustSampleMatcher(b)
	ts := midTexts(b)
	timed(b, func(i int) { m.Analyze(ts[i%len(ts)]) })
}

func BenchmarkStageMakeDoc(b *testing.B) {
	m := mustSampleMatcher(b)
	var as []Analysis
	for _, t := range midTexts(b) {
		as = append(as, m.Analyze(t))
	}
	timed(b, func(i int) { makeDoc(as[i%len(as)].Tokens, m.st, m.lx) })
}

func BenchmarkStageRetrieve(b *testing.B) {
	m := mustSampleMatcher(b)
	var ds []doc
	for _, t := range midTexts(b) {
		ds = append(ds, makeDoc(m.Analyze(t).Tokens, m.st, m.lx))
	}
	var acc accumulator
	acc.score = make([]float32, len(m.questions))
	timed(b, func(i int) { m.retrieve(&acc, &ds[i%len(ds)], 16) })
}

func BenchmarkStageScore(b *testing.B) {
	m := mustSampleMatcher(b)
	var ds []doc
	for _, t := range midTexts(b) {
		ds = append(ds, makeDoc(m.Analyze(t).Tokens, m.st, m.lx))
	}
	timed(b, func(i int) { sc := m.pool.Get().(*scratch); m.score(sc, &ds[i%len(ds)], false, -1); sc.reset(); m.pool.Put(sc) })
}

func BenchmarkStageSim16(b *testing.B) {
	m := mustSampleMatcher(b)
	var ds []doc
	var rs [][]int32
	for _, t := range midTexts(b) {
		ds = append(ds, makeDoc(m.Analyze(t).Tokens, m.st, m.lx))
		var acc accumulator
		acc.score = make([]float32, len(m.questions))
		rs = append(rs, m.retrieve(&acc, &ds[len(ds)-1], 16))
	}
	timed(b, func(i int) {
		k := i % len(ds)
		for _, qi := range rs[k] {
			similarity(&ds[k], &m.questions[qi].doc)
		}
	})
}

func BenchmarkStageFold(b *testing.B) {
	ts := midTexts(b)
	timed(b, func(i int) { Fold(ts[i%len(ts)]) })
}

func BenchmarkStageNormalize(b *testing.B) {
	ts := midTexts(b)
	timed(b, func(i int) { Normalize(ts[i%len(ts)]) })
}

func BenchmarkStageCutParts(b *testing.B) {
	tok := mustTokenizer(b)
	ts := midTexts(b)
	for i := range ts {
		ts[i] = Normalize(ts[i])
	}
	timed(b, func(i int) { tok.CutParts(ts[i%len(ts)]) })
}

func BenchmarkStageDecide(b *testing.B) {
	m := mustSampleMatcher(b)
	var rs []Result
	for _, t := range midTexts(b) {
		rs = append(rs, m.Match(t))
	}
	timed(b, func(i int) { r := rs[i%len(rs)]; r.Choices = nil; m.decide(&r) })
}

func BenchmarkFloorAll(b *testing.B) {
	m := mustSampleMatcher(b)
	ts := benchTexts(b)
	timed(b, func(i int) { a := m.Analyze(ts[i%len(ts)]); makeDoc(a.Tokens, m.st, m.lx) })
}
