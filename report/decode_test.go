package report

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDecodeMetrics: the rollup rows' reader gives what encoding/json
// gives, on random metrics and on other JSON.
func TestDecodeMetrics(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 5))
	for range 300 {
		var m metrics
		for range rnd.IntN(6) {
			m.add(metrics{C: map[string]int64{[]string{mConversations, mHandled, mScoreSum}[rnd.IntN(3)]: rnd.Int64N(1e6) - 5}}, 1)
		}
		for range rnd.IntN(40) {
			h := hist{bucketOf(rnd.Int64N(1e9)): 1 + rnd.Int64N(9)}
			m.add(metrics{H: map[string]hist{[]string{hQueueWait, hFirstResp}[rnd.IntN(2)]: h}}, 1)
		}
		b, _ := json.Marshal(m)
		var want, got metrics
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if err := decodeMetrics(b, &got); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("%s:\n%s", b, d)
		}
	}
	var got metrics
	if err := decodeMetrics([]byte(`{"c":`), &got); err == nil {
		t.Error("a cut row decoded")
	}
	if err := decodeMetrics([]byte(`{"c":{"a\u0062":1}}`), &got); err != nil || got.C["ab"] != 1 {
		t.Errorf("escaped key: %v %v", got, err)
	}
}

func BenchmarkDecodeMetrics(b *testing.B) {
	var m metrics
	for i := range 300 {
		m.add(metrics{C: map[string]int64{mConversations: 5}, H: map[string]hist{hQueueWait: {i: 3}, hFirstResp: {i + 7: 2}}}, 1)
	}
	js, _ := json.Marshal(m)
	b.Run("rollup reader", func(b *testing.B) {
		for b.Loop() {
			var x metrics
			_ = decodeMetrics(js, &x)
		}
	})
	// As a report reads: each row added to a running sum.
	b.Run("rollup reader, summing", func(b *testing.B) {
		var p rowReader
		var sum metrics
		for b.Loop() {
			_ = p.addTo(js, &sum)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var x metrics
			_ = json.Unmarshal(js, &x)
		}
	})
}
