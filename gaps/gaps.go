// Package gaps finds what real customers asked that the bot did not answer
// well, for the FAQ's editors (kefu faq gaps, the console's editors' page):
// it reads archived conversations (package archive), picks the customer
// messages the bot failed on, groups them into clusters of the same
// question with the matcher's own similarity, and suggests for each a
// change to the FAQ as YAML an editor pastes. It writes nothing but the
// dismissals an editor makes.
package gaps

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/faq"
	"github.com/kefu-dev/kefu/intents"
)

// Why a message counts as not answered well.
const (
	// ReasonDeclined: the bot said it did not understand (fallback).
	ReasonDeclined = "declined"
	// ReasonClarifyNotTaken: the bot offered choices and the customer took
	// none of them (wrote something else, asked for a person or left).
	ReasonClarifyNotTaken = "clarify_not_taken"
	// ReasonLowConfidence: handed off because the bot could not answer
	// several messages in a row.
	ReasonLowConfidence = "low_confidence"
	// ReasonHumanAfterAnswer: the customer asked for a person (转人工)
	// right after the bot's answer to it.
	ReasonHumanAfterAnswer = "human_after_answer"
	// ReasonLowRating: the customer rated 1 or 2 right after the bot's
	// answer to it, no agent in between.
	ReasonLowRating = "low_rating_after_answer"
	// ReasonLabelDiffers: the agent's wrap-up says the conversation was
	// about something else than the bot's answer to it.
	ReasonLabelDiffers = "label_differs"
)

// Suggestions.
const (
	SuggestParaphrase = "paraphrase" // add the examples as questions of NearestIntent
	SuggestNewIntent  = "new_intent" // the FAQ has no intent for them yet
)

// Message is one customer message the bot did not answer well.
type Message struct {
	Text    string
	Conv    string   // the archived conversation
	Reasons []string // why (Reason*), each once
	Label   string   // the conversation's wrap-up label ("" none)
}

// Source is the archive, as Find reads it (*archive.DB satisfies it).
type Source interface {
	Episodes(ctx context.Context, from, to time.Time, types []string, fn func(archive.Episode) error) error
	GapDismissals(ctx context.Context) (map[string]bool, error)
}

var _ Source = (*archive.DB)(nil)

// eventTypes are the events Collect reads.
var eventTypes = []string{conv.CustomerMessage, conv.BotReply, conv.Handoff, conv.Claimed, conv.AgentMessage, conv.Rated}

// Collect returns the customer messages of the conversations started in
// [from, to) that the bot did not answer well, oldest first.
func Collect(ctx context.Context, src Source, from, to time.Time) ([]Message, error) {
	var out []Message
	err := src.Episodes(ctx, from, to, eventTypes, func(ep archive.Episode) error {
		out = append(out, episodeGaps(ep)...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("gaps: %w", err)
	}
	return out, nil
}

// bot_reply actions (bot's outbound kinds) that Collect tells apart.
const (
	actionAnswer   = "answer"
	actionClarify  = "clarify"
	actionFallback = "fallback"
)

// handoff reasons Collect tells apart (intents.ReasonRequested and bot's
// low-turns reason).
const (
	reasonRequested     = intents.ReasonRequested
	reasonLowConfidence = "low_confidence"
)

// episodeGaps reads one conversation's events in order.
func episodeGaps(ep archive.Episode) []Message {
	type msg struct {
		text    string
		reasons []string
		skip    bool // a request for a person typed as text: not a question
	}
	var msgs []msg
	mark := func(i int, reason string) {
		if i >= 0 && !slices.Contains(msgs[i].reasons, reason) {
			msgs[i].reasons = append(msgs[i].reasons, reason)
		}
	}
	type answer struct {
		msg    int
		intent string
	}
	var answers []answer
	cur := -1            // the customer's last text message
	replied := false     // the bot has replied to cur
	before := -1         // the message the bot had just answered when cur came
	answered := -1       // the message the bot just answered, until the customer's next move
	clarified := -1      // the message the bot offered choices for, until the next reply
	var offered []string // those choices
	for _, ev := range ep.Events {
		f := ev.Fields
		switch ev.Type {
		case conv.CustomerMessage:
			switch f[conv.EvKind] {
			case "", "text":
				msgs = append(msgs, msg{text: strings.TrimSpace(f[conv.EvText])})
				cur, before, answered, replied = len(msgs)-1, answered, -1, false
			case "human":
				mark(answered, ReasonHumanAfterAnswer)
				answered = -1
			}
		case conv.BotReply:
			action := f[conv.EvAction]
			replied = true
			if clarified >= 0 {
				if !(action == actionAnswer && slices.Contains(offered, f[conv.EvIntent])) {
					mark(clarified, ReasonClarifyNotTaken)
				}
				clarified, offered = -1, nil
			}
			switch action {
			case actionAnswer:
				answered = cur
				if cur >= 0 {
					answers = append(answers, answer{cur, f[conv.EvIntent]})
				}
			case actionClarify:
				clarified, offered = cur, guessIntents(f[conv.EvGuesses])
			case actionFallback:
				mark(cur, ReasonDeclined)
			}
		case conv.Handoff:
			switch f[conv.EvReason] {
			case reasonRequested:
				if cur >= 0 && !replied {
					// The customer typed 转人工: not a question, and right
					// after the answer before it.
					msgs[cur].skip = true
					mark(before, ReasonHumanAfterAnswer)
				} else {
					mark(answered, ReasonHumanAfterAnswer)
				}
			case reasonLowConfidence:
				mark(cur, ReasonLowConfidence)
			}
			answered = -1
		case conv.Claimed, conv.AgentMessage:
			answered = -1
		case conv.Rated:
			if s := f[conv.EvScore]; (s == "1" || s == "2") && answered >= 0 {
				mark(answered, ReasonLowRating)
			}
			answered = -1
		}
	}
	if clarified >= 0 {
		mark(clarified, ReasonClarifyNotTaken) // the customer left
	}
	if ep.Label != "" && !slices.ContainsFunc(answers, func(a answer) bool { return a.intent == ep.Label }) {
		for _, a := range answers {
			mark(a.msg, ReasonLabelDiffers)
		}
	}
	var out []Message
	for _, m := range msgs {
		if len(m.reasons) > 0 && !m.skip && m.text != "" {
			out = append(out, Message{Text: m.text, Conv: ep.Conv, Reasons: m.reasons, Label: ep.Label})
		}
	}
	return out
}

// guessIntents are the intents of a bot_reply's guesses (JSON
// [{"intent","score"}]).
func guessIntents(js string) []string {
	var gs []struct {
		Intent string `json:"intent"`
	}
	if err := jsonUnmarshal(js, &gs); err != nil {
		return nil
	}
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.Intent)
	}
	return out
}

// Cluster is a group of messages asking the same question. Its JSON is the
// contract of `kefu faq gaps --json`.
type Cluster struct {
	Size          int      `json:"size"`     // messages in it
	Examples      []string `json:"examples"` // up to MaxExamples distinct texts, most frequent first
	NearestIntent string   `json:"nearest_intent"`
	Score         float64  `json:"score"` // the similarity of the first example to NearestIntent's closest question
	Suggestion    string   `json:"suggestion"`
	YAML          string   `json:"yaml"`

	// ID names the cluster while its most frequent text leads it: the
	// console dismisses by it.
	ID string `json:"-"`
	// Keys are the archive.GapKey of its messages' texts (Dismiss keeps them).
	Keys []string `json:"-"`
	// Reasons counts its messages by reason.
	Reasons map[string]int `json:"-"`
	// Convs are conversations its messages come from (at most MaxExamples).
	Convs []string `json:"-"`
}

// Options tune Find.
type Options struct {
	From, To time.Time
	// Threshold: the similarity at which two messages are the same
	// question (DefaultThreshold when 0).
	Threshold float64
}

const (
	// MaxExamples bounds a cluster's examples.
	MaxExamples = 5
	// MaxTexts bounds the distinct texts clustered, the most frequent
	// first: clustering costs texts × clusters similarities (2,000 texts,
	// BenchmarkClusters: about half a second on a loaded machine).
	MaxTexts = 3000
	// DefaultThreshold: the matcher's similarity is a probability that two
	// texts ask the same thing; at even odds they are put together.
	DefaultThreshold = 0.5
)

// Find collects the messages the bot failed on, clusters them, leaves out
// the dismissed clusters and returns the others, largest first.
func Find(ctx context.Context, src Source, m *intents.Matcher, opt Options) ([]Cluster, error) {
	msgs, err := Collect(ctx, src, opt.From, opt.To)
	if err != nil {
		return nil, err
	}
	dismissed, err := src.GapDismissals(ctx)
	if err != nil {
		return nil, fmt.Errorf("gaps: %w", err)
	}
	return Clusters(msgs, m, dismissed, opt.Threshold), nil
}

// Clusters groups msgs (see Find); dismissed holds archive.GapKeys: a
// cluster at least half of whose messages were dismissed is left out (new
// messages of a dismissed question that outnumber the dismissed ones bring
// it back).
func Clusters(msgs []Message, m *intents.Matcher, dismissed map[string]bool, threshold float64) []Cluster {
	if threshold <= 0 {
		threshold = DefaultThreshold
	}
	// Identical texts (width, case and punctuation aside) are one text with
	// a count, most frequent first, so that they seed the clusters.
	type text struct {
		key, text string
		n, first  int
		msgs      []int
	}
	byKey := map[string]*text{}
	var texts []*text
	for i, msg := range msgs {
		k := faq.QuestionKey(msg.Text)
		if k == "" {
			continue
		}
		t := byKey[k]
		if t == nil {
			t = &text{key: k, text: msg.Text, first: i}
			byKey[k] = t
			texts = append(texts, t)
		}
		t.n++
		t.msgs = append(t.msgs, i)
	}
	sort.SliceStable(texts, func(i, j int) bool { return texts[i].n > texts[j].n })
	if len(texts) > MaxTexts {
		texts = texts[:MaxTexts] // the rarest, each asked least often, wait for a narrower range
	}
	strs := make([]string, len(texts))
	for i, t := range texts {
		strs[i] = t.text
	}
	var out []Cluster
	for _, members := range m.Cluster(strs, threshold) {
		c := Cluster{Reasons: map[string]int{}}
		gone := 0
		labels := map[string]int{}
		sort.SliceStable(members, func(a, b int) bool { return texts[members[a]].n > texts[members[b]].n })
		for _, ti := range members {
			t := texts[ti]
			c.Size += t.n
			key := archive.GapKey(t.key)
			c.Keys = append(c.Keys, key)
			if dismissed[key] {
				gone += t.n
			}
			if len(c.Examples) < MaxExamples {
				c.Examples = append(c.Examples, t.text)
			}
			for _, mi := range t.msgs {
				for _, r := range msgs[mi].Reasons {
					c.Reasons[r]++
				}
				if l := msgs[mi].Label; l != "" {
					labels[l]++
				}
				if len(c.Convs) < MaxExamples && !slices.Contains(c.Convs, msgs[mi].Conv) {
					c.Convs = append(c.Convs, msgs[mi].Conv)
				}
			}
		}
		if 2*gone >= c.Size {
			continue
		}
		c.ID = archive.GapKey(texts[members[0]].key)
		suggest(&c, m, labels)
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Size > out[j].Size })
	return out
}

// suggest names the cluster's nearest intent and what to do. The agents'
// wrap-up is the truth when most of its messages carry the same label and
// that label is an intent of this FAQ (a paraphrase of it); else the
// matcher's top candidate for the first example: a paraphrase when the
// matcher's confidence in it reaches the clarify threshold, a new intent
// below.
func suggest(c *Cluster, m *intents.Matcher, labels map[string]int) {
	f := m.FAQ()
	r := m.Match(c.Examples[0])
	score := func(intent string) float64 {
		for _, cand := range r.Candidates {
			if cand.Intent == intent {
				return cand.Score
			}
		}
		return 0
	}
	for l, n := range labels {
		if 2*n > c.Size && f.Intent(l) != nil {
			c.NearestIntent, c.Score, c.Suggestion = l, score(l), SuggestParaphrase
		}
	}
	if c.NearestIntent == "" && len(r.Candidates) > 0 {
		top := r.Candidates[0]
		c.NearestIntent, c.Score = top.Intent, top.Score
		// The similarity alone is a poor judge here (a question about cat
		// food is 0.57 like one about return shipping: same frame); the
		// matcher's confidence, a probability that answering the top
		// intent is right, is calibrated: at the clarify threshold the bot
		// itself would offer it.
		c.Suggestion = SuggestNewIntent
		if r.Confidence >= m.Config().ClarifyThreshold {
			c.Suggestion = SuggestParaphrase
		}
	}
	if c.Suggestion == "" {
		c.Suggestion = SuggestNewIntent
	}
	c.YAML = pasteYAML(c, f)
}

// pasteYAML is the change as YAML to paste into the FAQ: the examples as
// questions under the nearest intent's questions, or a new intent whose id,
// category and answer the editor fills in (left empty, `kefu faq lint`
// refuses it until they do).
func pasteYAML(c *Cluster, f *faq.FAQ) string {
	var b strings.Builder
	if c.Suggestion == SuggestParaphrase {
		in := f.Intent(c.NearestIntent)
		fmt.Fprintf(&b, "# add under questions: of intent %s (%s:%d)\n", c.NearestIntent, in.Pos.File, in.Pos.Line)
		for _, e := range c.Examples {
			fmt.Fprintf(&b, "      - %s\n", scalar(e))
		}
		return b.String()
	}
	b.WriteString("# a new intent: add under intents: in a FAQ file; choose its id and category, write its answer\n")
	b.WriteString("  - id: new_intent\n    category: \"\"\n    questions:\n")
	for _, e := range c.Examples {
		fmt.Fprintf(&b, "      - %s\n", scalar(e))
	}
	b.WriteString("    answer: \"\"\n")
	return b.String()
}

// scalar is s as one YAML scalar on one line (quoted when YAML would read
// it otherwise).
func scalar(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	out, err := yaml.Marshal(s)
	if err != nil {
		return fmt.Sprintf("%q", s)
	}
	return strings.TrimSuffix(string(out), "\n")
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
