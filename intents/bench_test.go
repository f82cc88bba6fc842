package intents

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kefu-dev/kefu/faq"
)

// benchTexts are realistic first messages: the sample FAQ's editor tests and
// the development cases.
func benchTexts(tb testing.TB) []string {
	f, err := faq.LoadSample()
	if err != nil {
		tb.Fatal(err)
	}
	var ts []string
	for _, tc := range f.Tests {
		ts = append(ts, tc.Text)
	}
	for _, c := range mustCases(tb) {
		ts = append(ts, c.Text)
	}
	return ts
}

// BenchmarkMatchSample: Match on the sample FAQ (44 intents, ~700 questions).
func BenchmarkMatchSample(b *testing.B) {
	m := mustSampleMatcher(b)
	ts := benchTexts(b)
	timed(b, func(i int) { m.Match(ts[i%len(ts)]) })
}

// timed runs f in the benchmark loop and adds p50 and p99 of the per-call
// latencies to the benchmark line (time/op is the mean, which the long
// messages dominate).
func timed(b *testing.B, f func(i int)) {
	lat := make([]time.Duration, 0, 1<<16)
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		f(i)
		lat = append(lat, time.Since(t0))
	}
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkCutSample: a bare gojieba Cut of the same texts, for the ratio.
func BenchmarkCutSample(b *testing.B) {
	tok := mustTokenizer(b)
	ts := benchTexts(b)
	for i := range ts {
		ts[i] = Normalize(ts[i])
	}
	timed(b, func(i int) { tok.j.Cut(ts[i%len(ts)], true) })
}

// BenchmarkMatchCutAlternating: Match and a bare Cut of another text in
// one loop, so that the Cut runs with the cache as matching leaves it (in
// BenchmarkCutSample it has the cache to itself). For understanding the
// ratio, not a replacement for the two benchmarks above.
func BenchmarkMatchCutAlternating(b *testing.B) {
	m, tok, ts, norm := matchAndCut(b)
	var lm, lc []time.Duration
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		tok.j.Cut(norm[(i+len(ts)/2)%len(ts)], true)
		t1 := time.Now()
		m.Match(ts[i%len(ts)])
		lc, lm = append(lc, t1.Sub(t0)), append(lm, time.Since(t1))
	}
	b.ReportMetric(float64(p50(lm)), "match-p50-ns")
	b.ReportMetric(float64(p50(lc)), "cut-p50-ns")
}

// matchAndCut is what the benchmarks comparing Match with Cut share: the
// sample matcher, the tokenizer, the texts, and the texts normalised (what
// Cut is given: what Match segments).
func matchAndCut(b *testing.B) (*Matcher, *JiebaTokenizer, []string, []string) {
	m := mustSampleMatcher(b)
	ts := benchTexts(b)
	norm := make([]string, len(ts))
	for i := range ts {
		norm[i] = Normalize(ts[i])
	}
	return m, mustTokenizer(b), ts, norm
}

// p50 is the median of ds, which it sorts.
func p50(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

var (
	bigOnce sync.Once
	bigFAQ  *faq.FAQ
	bigQs   []string
)

// generatedFAQ builds a FAQ of 10,000 intents × 10 questions from words of
// the general dictionary: each intent has a topic of two words and each
// question adds two to four more, as real paraphrases share a core. Queries
// are questions with one word replaced.
func generatedFAQ(tb testing.TB) (*faq.FAQ, []string) {
	bigOnce.Do(func() {
		lx := mustLexicon(tb)
		var vocab []string
		gz, _ := dictFS.ReadFile("dict/" + DictFile + ".gz")
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(zr)
		for sc.Scan() {
			w, _, _ := strings.Cut(sc.Text(), " ")
			if n := len([]rune(w)); n >= 2 && n <= 3 && lx.Known(w) && !lx.Stop(w) {
				vocab = append(vocab, w)
			}
		}
		rng := rand.New(rand.NewPCG(1, 2))
		pick := func() string { return vocab[rng.IntN(len(vocab))] }
		fs := fstest.MapFS{}
		var sb strings.Builder
		seen := map[string]bool{}
		for i := 0; i < 10000; i++ {
			if i%1000 == 0 && sb.Len() > 0 {
				fs[fmt.Sprintf("f%02d.yaml", i/1000)] = &fstest.MapFile{Data: []byte(sb.String())}
				sb.Reset()
			}
			if sb.Len() == 0 {
				sb.WriteString("intents:\n")
			}
			topic := pick() + pick()
			fmt.Fprintf(&sb, "  - id: intent_%d\n    category: c%d\n    answer: answer %d\n    questions:\n", i, i%20, i)
			for q := 0; q < 10; q++ {
				var words []string
				for k := 0; k < 2+rng.IntN(3); k++ {
					words = append(words, pick())
				}
				pos := rng.IntN(len(words) + 1)
				words = append(words[:pos], append([]string{topic}, words[pos:]...)...)
				text := strings.Join(words, "")
				if seen[text] {
					continue
				}
				seen[text] = true
				fmt.Fprintf(&sb, "      - %s\n", text)
				if q == 0 && i%10 == 0 {
					words[len(words)-1] = pick()
					bigQs = append(bigQs, strings.Join(words, ""))
				}
			}
		}
		fs["f10.yaml"] = &fstest.MapFile{Data: []byte(sb.String())}
		bigFAQ, err = faq.LoadFS(fs)
		if err != nil {
			tb.Fatal(err)
		}
	})
	return bigFAQ, bigQs
}

// BenchmarkMatch10k: Match on a generated FAQ of 10,000 intents × 10 questions.
func BenchmarkMatch10k(b *testing.B) {
	f, qs := generatedFAQ(b)
	m := NewMatcher(f, mustTokenizer(b), mustLexicon(b), DefaultConfig())
	timed(b, func(i int) { m.Match(qs[i%len(qs)]) })
}

// BenchmarkBuildSample: building the index of the sample FAQ (what a reload
// that keeps the vocabulary costs), with the heap the matcher holds.
func BenchmarkBuildSample(b *testing.B) {
	f, err := faq.LoadSample()
	if err != nil {
		b.Fatal(err)
	}
	benchBuild(b, f)
}

// BenchmarkBuild10k: building the index of the 10,000-intent FAQ.
func BenchmarkBuild10k(b *testing.B) {
	f, _ := generatedFAQ(b)
	benchBuild(b, f)
}

func benchBuild(b *testing.B, f *faq.FAQ) {
	tok, lx := mustTokenizer(b), mustLexicon(b)
	var ms0, ms1 runtime.MemStats
	var keep *Matcher
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		keep = NewMatcher(f, tok, lx, DefaultConfig())
		runtime.GC()
		runtime.ReadMemStats(&ms1)
	}
	b.ReportMetric(float64(ms1.HeapAlloc-ms0.HeapAlloc)/(1<<20), "heap-MB")
	runtime.KeepAlive(keep)
}

// BenchmarkReloadNewVocabulary: a reload whose FAQ adds a word, which
// rebuilds the tokenizer too.
func BenchmarkReloadNewVocabulary(b *testing.B) {
	f, err := faq.LoadSample()
	if err != nil {
		b.Fatal(err)
	}
	live, err := NewLive(f, "", Config{})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		f.Words = append(f.Words, fmt.Sprintf("新品牌%d号", i))
		if err := live.Reload(f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLexiconAndTokenizer: process start-up cost of the dictionaries.
func BenchmarkLexiconAndTokenizer(b *testing.B) {
	for b.Loop() {
		if _, err := LoadLexicon(""); err != nil {
			b.Fatal(err)
		}
		if _, err := NewJiebaTokenizer("", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatchCutRatio measures what BenchmarkMatchSample and
// BenchmarkCutSample measure, interleaved: passes of Cut over every text
// alternate with passes of Match, so that both see the machine in the same
// state (this VM's speed drifts by tens of percent from second to second,
// which makes the ratio of two separate runs noisy). Each pass is run
// several times in a row and only the last counts, so Cut runs with the
// cache its own tight loop leaves and Match with the one it leaves. It
// reports each p50 and their ratio.
func BenchmarkMatchCutRatio(b *testing.B) {
	m, tok, ts, norm := matchAndCut(b)
	var lm, lc []time.Duration
	pass := func(f func(i int), keep *[]time.Duration) {
		for i := range ts {
			t0 := time.Now()
			f(i)
			if keep != nil {
				*keep = append(*keep, time.Since(t0))
			}
		}
	}
	cut := func(i int) { tok.j.Cut(norm[i], true) }
	match := func(i int) { m.Match(ts[i]) }
	const warm = 4 // passes before the one that counts: Cut reaches its tight-loop speed (1 pass is not enough)
	for b.Loop() {
		for range warm {
			pass(cut, nil)
		}
		pass(cut, &lc)
		for range warm {
			pass(match, nil)
		}
		pass(match, &lm)
	}
	pm, pc := p50(lm), p50(lc)
	b.ReportMetric(float64(pm.Nanoseconds()), "match-p50-ns")
	b.ReportMetric(float64(pc.Nanoseconds()), "cut-p50-ns")
	b.ReportMetric(float64(pm)/float64(pc), "ratio")
}
