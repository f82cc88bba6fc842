package intents

import (
	"fmt"
	"os"
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
