package priority

import "strings"

// Assessment is what a message's words say about its priority, with what
// raised it so that an agent can see why.
type Assessment struct {
	Level Level    // Normal, High or Urgent (words never lower a level)
	Score int      // the sum the level was read from
	Words []string // the words that raised it, as the lexicon has them, in order ("!!!" for shouting)
}

// Raised reports whether the words raised the level above normal.
func (a Assessment) Raised() bool { return a.Level > Normal }

// Assess reads one customer message.
func (x *Lexicon) Assess(text string) Assessment {
	ts := tokenize(text)
	a := Assessment{Level: Normal}
	var (
		found    map[string]bool
		emphatic bool
		repeated bool
		threat   bool
	)
	for i := 0; i < len(ts); {
		if ts[i].mark {
			i++
			continue
		}
		e := at(x.words, ts, i)
		if e == nil {
			i++
			continue
		}
		end := i + len(e.toks)
		if aNotA(ts, end, e) { // 急不急: a question, not a feeling
			i = end + 1 + len(e.toks)
			continue
		}
		if x.negated(ts, i, e) || x.mentioned(ts, i, end) || !e.urgent && x.supposed(ts, i) {
			i = end
			continue
		}
		if found == nil {
			found = map[string]bool{}
		}
		if found[e.text] {
			repeated = true
		} else {
			found[e.text] = true
			a.Score += e.weight
			a.Words = append(a.Words, e.text)
			threat = threat || e.urgent
		}
		if endingAt(x.emphasis, ts, i) != nil {
			emphatic = true
		}
		i = end
	}
	if emphatic {
		a.Score += x.bonus.Emphasis
	}
	if repeated {
		a.Score += x.bonus.Repetition
	}
	switch run := longestMarkRun(ts); {
	case run >= 3 || saidThrice(ts):
		a.Score += x.bonus.Shouting
		a.Words = append(a.Words, "!!!")
	case run == 2 && len(found) > 0:
		a.Score += x.bonus.Exclamation
	}
	switch {
	case threat || a.Score >= x.urgent:
		a.Level = Urgent
	case a.Score >= x.high:
		a.Level = High
	}
	return a
}

// negated reports whether a negator in the window before ts[i] (not across
// punctuation) cancels the word e found there. An imperative negator (别急)
// cancels only the classes marked imperative; "X不X" (急不急, 是不是) is a
// question and negates nothing.
func (x *Lexicon) negated(ts []token, i int, e *entry) bool {
	for k := i - 1; k >= 0 && k >= i-x.window; k-- {
		if ts[k].mark {
			return false
		}
		n := at(x.negators, ts, k)
		if n == nil || k+len(n.toks) > i {
			continue
		}
		if k > 0 && k+1 < len(ts) && ts[k-1].text == ts[k+1].text {
			continue // A-not-A: 是不是, 能不能
		}
		if n.imperN && !e.imper {
			continue
		}
		if n.rhet && x.rhetEnd[clauseEnd(ts, i)] {
			continue
		}
		return true
	}
	return false
}

// mentioned reports whether the word at ts[i:end] is named rather than felt:
// right after an asking word (怎么投诉) or right before a topic word (投诉电话,
// 紧急联系人).
func (x *Lexicon) mentioned(ts []token, i, end int) bool {
	if end < len(ts) && !ts[end].mark && at(x.after, ts, end) != nil {
		return true
	}
	for k := i - 1; k >= 0 && k >= i-x.window; k-- {
		if ts[k].mark {
			return false
		}
		if b := at(x.before, ts, k); b != nil && k+len(b.toks) <= i {
			return true
		}
	}
	return false
}

// aNotA reports whether the word e that ends at ts[end] is asked as "A不A"
// or "A没A" (急不急).
func aNotA(ts []token, end int, e *entry) bool {
	return end < len(ts) && (ts[end].text == "不" || ts[end].text == "没") && matches(e.toks, ts, end+1)
}

// supposed reports whether the clause around ts[i] has a hypothetical
// marker (如果, 的话).
func (x *Lexicon) supposed(ts []token, i int) bool {
	lo, hi := i, i
	for lo > 0 && !ts[lo-1].mark {
		lo--
	}
	for hi < len(ts) && !ts[hi].mark {
		hi++
	}
	for k := lo; k < hi; k++ {
		if h := at(x.hypo, ts, k); h != nil && k+len(h.toks) <= hi {
			return true
		}
	}
	return false
}

// clauseEnd is the last token of the clause around ts[i].
func clauseEnd(ts []token, i int) string {
	for i+1 < len(ts) && !ts[i+1].mark {
		i++
	}
	return ts[i].text
}

// saidThrice reports whether one clause is said three times or more
// (人工！人工！人工！).
func saidThrice(ts []token) bool {
	seen := map[string]int{}
	var b strings.Builder
	for k := 0; k <= len(ts); k++ {
		if k < len(ts) && !ts[k].mark {
			b.WriteString(ts[k].text)
			b.WriteByte(' ')
			continue
		}
		if b.Len() > 0 {
			seen[b.String()]++
			if seen[b.String()] >= 3 {
				return true
			}
			b.Reset()
		}
	}
	return false
}

func longestMarkRun(ts []token) int {
	best, run := 0, 0
	for _, t := range ts {
		if t.mark && (t.text == "!" || t.text == "?") {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}
