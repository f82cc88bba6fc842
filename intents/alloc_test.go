package intents

import "testing"

// Match's memory is pooled: a short message costs the segmenter's own
// allocations (gojieba's Tokenize: 4 for a few words) and the result's.
// More means a buffer stopped being reused.
func TestMatchAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	m := mustSampleMatcher(t)
	m.Match("快递到哪了") // fill the pool
	if n := testing.AllocsPerRun(200, func() { m.Match("快递到哪了") }); n > 6 {
		t.Errorf("%v allocations per Match, want at most 6", n)
	}
}
