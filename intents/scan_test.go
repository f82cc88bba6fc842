package intents

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kefu-dev/kefu/faq"
)

// TestScanThresholds prints right/wrong rates on the development cases over
// a grid of thresholds (KEFU_SCAN=1); it chose DefaultConfig's values.
func TestScanThresholds(t *testing.T) {
	if os.Getenv("KEFU_SCAN") == "" {
		t.Skip("set KEFU_SCAN=1 to scan decision thresholds on the development cases")
	}
	f, err := faq.LoadSample()
	if err != nil {
		t.Fatal(err)
	}
	cases := mustCases(t)
	for _, at := range []float64{0.4, 0.5, 0.6, 0.7, 0.8} {
		for _, ct := range []float64{0.1, 0.2, 0.3} {
			for _, span := range []float64{0.05, 0.1, 0.2} {
				cfg := DefaultConfig()
				cfg.AnswerThreshold, cfg.ClarifyThreshold, cfg.ClarifySpan = at, ct, span
				m := NewMatcher(f, mustTokenizer(t), mustLexicon(t), cfg)
				right, wrong := judgeAll(m, cases)
				fmt.Printf("answer %.2f clarify %.2f span %.2f: right %.3f wrong %.3f\n", at, ct, span,
					float64(right)/float64(len(cases)), float64(wrong)/float64(len(cases)))
			}
		}
	}
}

func mustCases(tb testing.TB) []Case {
	tb.Helper()
	fh, err := os.Open("testdata/dev_cases.tsv")
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	cs, err := ReadCases(fh)
	if err != nil {
		tb.Fatal(err)
	}
	return cs
}

// TestDumpCases writes one line per development case (verdict, action,
// intent, confidence, choices, text) to the file KEFU_DUMP names, and the
// editor tests' misses after them: a quick way to see what a change moved.
func TestDumpCases(t *testing.T) {
	path := os.Getenv("KEFU_DUMP")
	if path == "" {
		t.Skip("set KEFU_DUMP=FILE to write the decisions on the development cases")
	}
	m := mustSampleMatcher(t)
	var sb strings.Builder
	right, wrong := 0, 0
	for _, c := range mustCases(t) {
		r := m.Match(c.Text)
		v := Judge(r, c.Expected)
		switch v {
		case Right:
			right++
		case Wrong:
			wrong++
		}
		fmt.Fprintf(&sb, "%-5s %-7s %-28s %.4f %-40s %-40s %s\n", v, r.Action, r.Top().Intent, r.Confidence,
			strings.Join(r.Choices, ","), strings.Join(c.Expected, "|"), c.Text)
	}
	fmt.Fprintf(&sb, "right %d wrong %d\n", right, wrong)
	pass := 0
	for _, tc := range m.FAQ().Tests {
		r := m.Match(tc.Text)
		if editorPass(r, tc.Expect) {
			pass++
			continue
		}
		fmt.Fprintf(&sb, "FAIL %s %s %.4f %s -> %v\n", r.Action, r.Top().Intent, r.Confidence, tc.Text, tc.Expect)
	}
	fmt.Fprintf(&sb, "editor tests %d/%d\n", pass, len(m.FAQ().Tests))
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// editorPass is kefu faq test's rule: answered or handed off as expected, or
// declined when @none is expected; a clarify is a miss.
func editorPass(r Result, expect []string) bool {
	switch r.Action {
	case ActionAnswer:
		return slices.Contains(expect, r.Intent)
	case ActionHandoff:
		return slices.Contains(expect, "@handoff") || (r.Intent != "" && slices.Contains(expect, r.Intent))
	case ActionNone:
		return slices.Contains(expect, "@none")
	}
	return false
}

// TestPairAccuracy prints the best-threshold accuracy on the pair file
// KEFU_PAIRS names (what kefu eval pairs reports).
func TestPairAccuracy(t *testing.T) {
	path := os.Getenv("KEFU_PAIRS")
	if path == "" {
		t.Skip("set KEFU_PAIRS to a sentence-pair CSV")
	}
	pairs, ys := readPairsFile(t, path)
	th, acc := BestThreshold(PairScores(mustTokenizer(t), mustLexicon(t), pairs), ys)
	fmt.Printf("%d pairs, threshold %.4f, accuracy %.4f\n", len(pairs), th, acc)
}
