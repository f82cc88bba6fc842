package intents

import (
	"slices"
	"testing"
)

func TestCourtesyWordsLeftOutOfLongerMessages(t *testing.T) {
	m := mustSampleMatcher(t)
	tests := []struct {
		text       string
		has, lacks string
	}{
		{"你好 录音笔坏了", "坏", "你好"},
		{"在吗？帮我查下快递", "快递", "在吗"},
		{"你好", "你好", ""},
		{"你好 在吗", "你好", ""},
	}
	for _, tc := range tests {
		a := m.Analyze(tc.text)
		if !slices.Contains(a.Tokens, tc.has) {
			t.Errorf("%q: tokens %q lack %q", tc.text, a.Tokens, tc.has)
		}
		if tc.lacks != "" && slices.Contains(a.Tokens, tc.lacks) {
			t.Errorf("%q: tokens %q still hold %q", tc.text, a.Tokens, tc.lacks)
		}
		for _, p := range a.parts {
			if p.from < 0 || p.to > len(a.Tokens) || p.from >= p.to {
				t.Errorf("%q: part %v outside tokens %q", tc.text, p, a.Tokens)
			}
		}
	}
	// The point of it: a defect described after a greeting is not a greeting.
	if r := m.Match("你好 录音笔坏了"); r.Top().Intent == "greeting" {
		t.Errorf("你好 录音笔坏了: top intent greeting, want the defect")
	}
}
