package intents

import "testing"

// BenchmarkMatchShort: one short, common message on the sample FAQ.
func BenchmarkMatchShort(b *testing.B) {
	m := mustSampleMatcher(b)
	for b.Loop() {
		m.Match("快递到哪了")
	}
}
