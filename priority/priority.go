// Package priority decides how soon a hand-off must be served: the four
// levels (low, normal, high, urgent), the lexicon that reads anger, urgency
// and threats in a customer's words (with negation, repetition and
// exclamation, and the words that raised it, for the console), and the
// policy that combines the words with the intent's priority and the
// customer's history.
//
// It owns the lexicon (lexicon.yaml, embedded; an editor may replace it) and
// nothing in Redis or the archive: callers store the level it returns.
package priority

import (
	"fmt"
	"strings"
)

// Level is a hand-off's priority. The zero value is Unset; a higher value is
// served sooner.
type Level int8

// The levels, lowest first.
const (
	Unset Level = iota
	Low
	Normal
	High
	Urgent
)

var names = [...]string{Unset: "", Low: "low", Normal: "normal", High: "high", Urgent: "urgent"}

func (l Level) String() string {
	if l < 0 || int(l) >= len(names) {
		return fmt.Sprintf("Level(%d)", int8(l))
	}
	return names[l]
}

// Parse reads a level's name ("low", "normal", "high", "urgent"; "" is
// Unset).
func Parse(s string) (Level, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for l, n := range names {
		if n == s {
			return Level(l), nil
		}
	}
	return Unset, fmt.Errorf("priority %q: use low, normal, high or urgent", s)
}

// Levels lists the levels from the most to the least pressing.
func Levels() []Level { return []Level{Urgent, High, Normal, Low} }

// Max is the more pressing of a and b.
func Max(a, b Level) Level {
	if a > b {
		return a
	}
	return b
}
