// Package replay shows what a change to the FAQ or the thresholds would do
// before it goes live (kefu replay): it re-decides the first message of
// each archived conversation with a given matcher and compares with what
// the bot decided then, and, on conversations an agent wrapped up with a
// label, how often each would have answered right and wrong. It reads the
// archive (package archive) and writes nothing.
package replay

import (
	"context"
	"fmt"
	"time"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/faq"
	"github.com/kefu-dev/kefu/intents"
)

// Counts are the decisions on the messages replayed. Its JSON is part of
// the contract of `kefu replay --json`.
type Counts struct {
	Answer  int `json:"answer"`
	Clarify int `json:"clarify"`
	Handoff int `json:"handoff"`
	None    int `json:"none"` // declined
	// Labelled: messages whose conversation an agent wrapped up with a
	// label; Right and Wrong count among them (see Verdict).
	Labelled int `json:"labelled"`
	Right    int `json:"right"`
	Wrong    int `json:"wrong"`
}

// Change is a message decided differently. From and To are "answer:<intent>",
// "clarify", "handoff" or "none".
type Change struct {
	Text string `json:"text"`
	From string `json:"from"`
	To   string `json:"to"`
}

// Report is a replay's result: the JSON of `kefu replay --json`.
type Report struct {
	Messages int      `json:"messages"`
	Current  Counts   `json:"current"`
	Proposed Counts   `json:"proposed"`
	Changed  []Change `json:"changed"` // at most MaxChanged, in archive order
	// ChangedTotal is how many changed in all (Changed may hold fewer).
	ChangedTotal int `json:"-"`
}

// MaxChanged bounds Report.Changed.
const MaxChanged = 100

// Source is the archive (*archive.DB satisfies it).
type Source interface {
	Episodes(ctx context.Context, from, to time.Time, types []string, fn func(archive.Episode) error) error
}

var _ Source = (*archive.DB)(nil)

// then maps the bot's reply actions (bot_reply's action) to decisions;
// other replies (welcome, notices) decided nothing about a question.
var then = map[string]intents.Action{
	"answer":   intents.ActionAnswer,
	"clarify":  intents.ActionClarify,
	"handoff":  intents.ActionHandoff,
	"fallback": intents.ActionNone,
}

// Run replays the first customer text message of every conversation
// started in [from, to) with m.
func Run(ctx context.Context, src Source, m *intents.Matcher, from, to time.Time) (Report, error) {
	rep := Report{Changed: []Change{}}
	f := m.FAQ()
	err := src.Episodes(ctx, from, to, []string{conv.CustomerMessage, conv.BotReply}, func(ep archive.Episode) error {
		text, action, intent, ok := firstDecision(ep)
		if !ok {
			return nil
		}
		r := m.Match(text)
		rep.Messages++
		count(&rep.Current, action, intent, ep.Label, f)
		count(&rep.Proposed, r.Action, r.Intent, ep.Label, f)
		was, now := Decision(action, intent), Decision(r.Action, r.Intent)
		if was != now {
			rep.ChangedTotal++
			if len(rep.Changed) < MaxChanged {
				rep.Changed = append(rep.Changed, Change{Text: text, From: was, To: now})
			}
		}
		return nil
	})
	if err != nil {
		return Report{}, fmt.Errorf("replay: %w", err)
	}
	return rep, nil
}

// firstDecision is the conversation's first customer text message and the
// bot's decision on it, when the bot decided one.
func firstDecision(ep archive.Episode) (text string, action intents.Action, intent string, ok bool) {
	seen := false
	for _, ev := range ep.Events {
		f := ev.Fields
		switch ev.Type {
		case conv.CustomerMessage:
			if seen {
				return "", "", "", false // the next message came before a reply
			}
			if k := f[conv.EvKind]; k == "" || k == "text" {
				text, seen = f[conv.EvText], true
			}
		case conv.BotReply:
			if !seen {
				continue // a welcome
			}
			a, known := then[f[conv.EvAction]]
			if !known {
				return "", "", "", false
			}
			return text, a, f[conv.EvIntent], text != ""
		}
	}
	return "", "", "", false
}

// Decision names a decision as Change does.
func Decision(a intents.Action, intent string) string {
	if a == intents.ActionAnswer {
		return string(a) + ":" + intent
	}
	return string(a)
}

// Verdict is "right", "wrong" or "" (neither) for a decision on a message
// whose conversation an agent labelled: with an intent of the FAQ,
// answering it is right and answering another wrong; with a label that is
// no intent of the FAQ (物流纠纷, 其他), answering anything is wrong and
// handing off or declining right. A clarify is neither.
func Verdict(a intents.Action, intent, label string, f *faq.FAQ) string {
	if f.Intent(label) != nil {
		switch {
		case a != intents.ActionAnswer:
			return ""
		case intent == label:
			return "right"
		}
		return "wrong"
	}
	switch a {
	case intents.ActionAnswer:
		return "wrong"
	case intents.ActionHandoff, intents.ActionNone:
		return "right"
	}
	return ""
}

func count(c *Counts, a intents.Action, intent, label string, f *faq.FAQ) {
	switch a {
	case intents.ActionAnswer:
		c.Answer++
	case intents.ActionClarify:
		c.Clarify++
	case intents.ActionHandoff:
		c.Handoff++
	case intents.ActionNone:
		c.None++
	}
	if label == "" {
		return
	}
	c.Labelled++
	switch Verdict(a, intent, label, f) {
	case "right":
		c.Right++
	case "wrong":
		c.Wrong++
	}
}
