package gaps

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// BenchmarkClusters clusters the sample FAQ's questions and the matcher's
// case files as if every one were a message the bot failed on (about 2,000
// distinct texts): the editors' page's cost beyond reading the archive.
//
//	go test -run XXX -bench Clusters -benchtime 3x ./gaps
func BenchmarkClusters(b *testing.B) {
	m := sampleMatcher(b)
	var msgs []Message
	for _, in := range m.FAQ().Intents {
		for _, q := range in.Questions {
			msgs = append(msgs, Message{Text: q, Reasons: []string{ReasonDeclined}})
		}
	}
	for _, name := range []string{"dev_cases.tsv", "heldout_cases.tsv", "heldout2_cases.tsv"} {
		f, err := os.Open("../intents/testdata/" + name)
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
				text, _, _ := strings.Cut(line, "\t")
				msgs = append(msgs, Message{Text: text, Reasons: []string{ReasonDeclined}})
			}
		}
		f.Close()
	}
	var n int
	for b.Loop() {
		n = len(Clusters(msgs, m, nil, 0))
	}
	b.ReportMetric(float64(len(msgs)), "texts")
	b.ReportMetric(float64(n), "clusters")
}
