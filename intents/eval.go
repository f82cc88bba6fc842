package intents

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Case is one labelled development case: a message and the outcomes that
// are acceptable for it.
type Case struct {
	Text     string
	Expected []string // intent ids, "@handoff", "@none"; any one is right
	Line     int
}

// ReadCases parses `text<TAB>expected` lines; # starts a comment line.
// Expected is intent ids, "@handoff", "@none" or "@clarify" (see ExpectClarify)
// joined with "|".
func ReadCases(r io.Reader) ([]Case, error) {
	var cs []Case
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		text, exp, ok := strings.Cut(line, "\t")
		if !ok || strings.TrimSpace(exp) == "" {
			return nil, fmt.Errorf("line %d: want text<TAB>expected", n)
		}
		c := Case{Text: text, Line: n}
		for _, e := range strings.Split(exp, "|") {
			if e = strings.TrimSpace(e); e != "" {
				c.Expected = append(c.Expected, e)
			}
		}
		cs = append(cs, c)
	}
	return cs, sc.Err()
}

// Verdict of one decision against its case.
type Verdict string

// Verdicts: right (answered correctly, the right intent among the clarify
// choices, correctly handed off or declined), wrong (answered with an intent
// not expected, out-of-scope answered included), other (not answered and not
// right: an unneeded hand-off, a decline or clarify that missed).
const (
	Right Verdict = "right"
	Wrong Verdict = "wrong"
	Other Verdict = "other"
)

// ExpectClarify among a case's expectations means the message names a topic
// several intents share: answering any one of them is wrong, a clarify that
// offers one of the expected intents is right.
const ExpectClarify = "@clarify"

// Judge compares a decision with the acceptable outcomes.
func Judge(r Result, expected []string) Verdict {
	ok := func(s string) bool { return slices.Contains(expected, s) }
	switch r.Action {
	case ActionAnswer:
		if ok(r.Intent) && !ok(ExpectClarify) {
			return Right
		}
		return Wrong
	case ActionHandoff:
		if ok("@handoff") || (r.Intent != "" && ok(r.Intent)) {
			return Right
		}
		return Other
	case ActionClarify:
		for _, c := range r.Choices {
			if ok(c) {
				return Right
			}
		}
		return Other
	default:
		if ok("@none") {
			return Right
		}
		return Other
	}
}
