// Package canned is the agents' picker of ready texts: the canned replies
// (快捷回复) editors keep beside the FAQ and the FAQ's own answers (客服知识库),
// searched by Chinese, full pinyin, pinyin initials or a mix of them
// ("tk", "tuikuan", "tuik" and "退款" all find 退款进度). The pinyin of every
// title and question is computed once, when a FAQ is loaded (Build); a search
// reads it only. It knows nothing of conversations: the console fills the
// variables (faq.FillVars).
package canned

import (
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/mozillazg/go-pinyin"
	"golang.org/x/text/width"

	"github.com/kefu-dev/kefu/faq"
)

// What an Item is.
const (
	KindCanned = "canned" // a canned reply
	KindFAQ    = "faq"    // an FAQ answer (客服知识库)
)

// Item is one text the picker offers.
type Item struct {
	Kind   string
	Title  string   // the canned reply's title, or the intent's standard question
	Text   string   // the canned reply's text (variables unfilled), or the default answer
	Groups []string // KindCanned: the groups that see it (empty: everyone)
	Intent string   // KindFAQ: the intent id
	// Answer is the intent's answer (KindFAQ), for its per-channel variants.
	Answer faq.Answer

	title     key
	questions []key // KindFAQ: every question, the standard one first
	text      string
}

// key is a text prepared for search: folded, and its pinyin.
type key struct {
	fold string     // width-folded, lower-case, without spaces
	syl  [][]string // per Han character its readings; per run of letters or digits that run
}

// Index is the picker's items for one FAQ. It is read-only once built and
// safe for concurrent searches.
type Index struct {
	items []*Item
}

// maxQuery bounds the part of a query the pinyin match reads.
const maxQuery = 32

var pyArgs = func() pinyin.Args {
	a := pinyin.NewArgs()
	a.Heteronym = true // 还 is hai and huan: either finds it
	return a
}()

// Build prepares the canned replies and the intents' answers of f for
// search. Intents written in another language and those the bot never
// answers (no answer text) are left out.
func Build(f *faq.FAQ) *Index {
	x := &Index{}
	if f == nil {
		return x
	}
	py := readings{}
	makeKey := py.key
	for _, c := range f.Canned {
		x.items = append(x.items, &Item{Kind: KindCanned, Title: c.Title, Text: c.Text, Groups: c.Groups,
			title: makeKey(c.Title), text: fold(c.Text)})
	}
	for _, in := range f.Intents {
		if len(in.Questions) == 0 || in.Answer.Text == "" || in.Lang != "" {
			continue
		}
		it := &Item{Kind: KindFAQ, Title: in.Questions[0], Text: in.Answer.Text, Intent: in.ID, Answer: in.Answer,
			title: makeKey(in.Questions[0]), text: fold(in.Answer.Text)}
		for _, q := range in.Questions {
			it.questions = append(it.questions, makeKey(q))
		}
		x.items = append(x.items, it)
	}
	return x
}

// Len is how many items the index holds.
func (x *Index) Len() int { return len(x.items) }

// Visible says whether an agent of groups sees a canned reply scoped to
// scope: an unscoped reply is everyone's; all (supervisors) sees every one.
func Visible(scope, groups []string, all bool) bool {
	if all || len(scope) == 0 {
		return true
	}
	for _, g := range scope {
		if slices.Contains(groups, g) {
			return true
		}
	}
	return false
}

// Search returns at most limit items matching q that an agent of groups
// sees (all: every one, for supervisors), best first: canned replies before
// FAQ answers at the same score. An empty q lists the canned replies in file
// order.
func (x *Index) Search(q string, groups []string, all bool, limit int) []*Item {
	q = fold(q)
	type hit struct {
		it    *Item
		score int
		i     int
	}
	var hits []hit
	for i, it := range x.items {
		if it.Kind == KindCanned && !Visible(it.Groups, groups, all) {
			continue
		}
		s := 0
		if q == "" {
			if it.Kind == KindCanned {
				s = 1
			}
		} else {
			s = it.score(q)
		}
		if s > 0 {
			hits = append(hits, hit{it, s, i})
		}
	}
	sort.SliceStable(hits, func(a, b int) bool {
		if hits[a].score != hits[b].score {
			return hits[a].score > hits[b].score
		}
		return hits[a].i < hits[b].i // canned replies come first in the index
	})
	if limit > 0 && len(hits) > limit {
		hits = hits[:limit]
	}
	out := make([]*Item, len(hits))
	for i, h := range hits {
		out[i] = h.it
	}
	return out
}

// score rates how well the folded query q finds the item; 0: not at all.
func (it *Item) score(q string) int {
	switch {
	case strings.HasPrefix(it.title.fold, q):
		return 100
	case strings.Contains(it.title.fold, q):
		return 90
	}
	if isLatin(q) {
		if at := it.title.pinyin(q); at == 0 {
			return 95
		} else if at > 0 {
			return 80
		}
	}
	for _, k := range it.questions {
		if strings.Contains(k.fold, q) {
			return 60
		}
	}
	if isLatin(q) {
		for _, k := range it.questions {
			if k.pinyin(q) == 0 {
				return 50
			}
		}
	}
	if strings.Contains(it.text, q) {
		return 30
	}
	return 0
}

// pinyin returns the first position from which q reads as consecutive
// syllables, each written whole or by its first letters ("tk", "tuikuan",
// "tuik"); -1 when none.
func (k key) pinyin(q string) int {
	if len(q) > maxQuery {
		q = q[:maxQuery]
	}
	for i := range k.syl {
		if matchFrom(q, k.syl, i) {
			return i
		}
	}
	return -1
}

func matchFrom(q string, syl [][]string, i int) bool {
	if q == "" {
		return true
	}
	if i >= len(syl) {
		return false
	}
	for _, s := range syl[i] {
		n := 0
		for n < len(s) && n < len(q) && s[n] == q[n] {
			n++
		}
		for ; n >= 1; n-- {
			if matchFrom(q[n:], syl, i+1) {
				return true
			}
		}
	}
	return false
}

// readings caches each Han character's readings during one Build (the
// questions share most of their characters).
type readings map[rune][]string

func (py readings) of(r rune) []string {
	ps, ok := py[r]
	if !ok {
		ps = pinyin.SinglePinyin(r, pyArgs)
		py[r] = ps
	}
	return ps
}

// key folds a text and computes its pinyin: each Han character's readings,
// each run of letters or digits as one syllable; punctuation and spaces are
// skipped.
func (py readings) key(s string) key {
	k := key{fold: fold(s)}
	var word []rune
	flush := func() {
		if len(word) > 0 {
			k.syl = append(k.syl, []string{string(word)})
			word = word[:0]
		}
	}
	for _, r := range k.fold {
		switch {
		case unicode.Is(unicode.Han, r):
			flush()
			if ps := py.of(r); len(ps) > 0 {
				k.syl = append(k.syl, ps)
			}
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			word = append(word, r)
		default:
			flush()
		}
	}
	flush()
	return k
}

// fold makes full-width characters half-width, letters lower-case and drops
// spaces, for queries and the texts they are compared with.
func fold(s string) string {
	s = strings.ToLower(width.Fold.String(s))
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

func isLatin(q string) bool {
	for _, r := range q {
		if r >= unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return false
		}
	}
	return q != ""
}
