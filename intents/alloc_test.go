package intents

import "testing"

// Match's memory is pooled and the segmenter writes into it (jiebacall.go):
// a short message costs the result's allocations only (its tokens, its
// candidates, its normalised text). More means a buffer stopped being
// reused.
func TestMatchAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	m := mustSampleMatcher(t)
	m.Match("快递到哪了") // fill the pool
	if n := testing.AllocsPerRun(200, func() { m.Match("快递到哪了") }); n > 3 {
		t.Errorf("%v allocations per Match, want at most 3", n)
	}
}
