package intents

import (
	"strings"
	"testing"
)

// TestPhraseWords: every English phrase has one of phraseWords, so
// mayHavePhrase lets every text with a phrase through.
func TestPhraseWords(t *testing.T) {
	for i := 0; i < len(englishPhraseList); i += 2 {
		old := strings.TrimSpace(englishPhraseList[i])
		if !mayHavePhrase(old) || !mayHavePhrase("x "+old+" y") {
			t.Errorf("phrase %q has none of %v", old, phraseWords)
		}
	}
	for text, want := range map[string]bool{"log in": true, "login": false, "sign in now": true, "within": false, "come back": true, "go throughput": false, "in": true} {
		if got := mayHavePhrase(text); got != want {
			t.Errorf("mayHavePhrase(%q) = %v, want %v", text, got, want)
		}
	}
}
