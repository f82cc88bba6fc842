package intents

import (
	"testing"

	"github.com/kefu-dev/kefu/faq"
)

// Messages asking the same thing in other words land together; a different
// question starts its own cluster; order is kept.
func TestCluster(t *testing.T) {
	f, err := faq.LoadSample()
	if err != nil {
		t.Fatal(err)
	}
	m := NewMatcher(f, mustTokenizer(t), mustLexicon(t), DefaultConfig())
	texts := []string{
		"运费险怎么买",     // 0
		"能开增值税专用发票吗", // 1
		"运费险在哪里买",    // 2
		"怎么购买运费险",    // 3
		"可以开专票吗",     // 4
		"你们有没有实体店",   // 5
	}
	got := m.Cluster(texts, 0.5)
	in := map[int]int{}
	for c, members := range got {
		for _, i := range members {
			in[i] = c
		}
	}
	if len(in) != len(texts) {
		t.Fatalf("clusters %v do not hold every text once", got)
	}
	if in[0] != in[2] || in[0] != in[3] {
		t.Errorf("the 运费险 questions are apart: %v", got)
	}
	if in[0] == in[1] || in[0] == in[5] || in[1] == in[5] {
		t.Errorf("different questions together: %v", got)
	}
	if got[0][0] != 0 {
		t.Errorf("first cluster %v, want it seeded by text 0", got[0])
	}
	if len(m.Cluster(nil, 0.5)) != 0 {
		t.Error("clusters of nothing")
	}
}
