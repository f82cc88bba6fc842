package bot

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
)

// outcome is what a table test compares of a decision.
type outcome struct {
	Replies []string // kind, or kind:intent
	Events  []string // type k=v …
	Mode    string
	Low     int
	Save    bool
	Set     []string
	Closed  bool
	Leave   bool
	Notify  bool
	Rate    string // score comment, when a rating is to be taken
	Ask     bool
	Enqueue bool
	Reason  string
	Err     error
}

func outcomeOf(d decision) outcome {
	o := outcome{Mode: d.conv.Mode, Low: d.conv.LowTurns, Save: d.save, Set: d.set, Closed: d.closed,
		Leave: d.leave, Notify: d.notify, Ask: d.askAllowed, Enqueue: d.enqueue, Reason: d.reason, Err: d.err}
	for _, r := range d.replies {
		s := r.Kind
		if r.Intent != "" {
			s += ":" + r.Intent
		}
		o.Replies = append(o.Replies, s)
	}
	for _, ev := range d.events {
		o.Events = append(o.Events, strings.TrimSpace(ev.typ+" "+strings.Join(ev.fields, " ")))
	}
	if d.rate != nil {
		o.Rate = strings.TrimSpace(strings.Join([]string{string(rune('0' + d.rate.score)), d.rate.comment}, " "))
	}
	return o
}

// TestDecide: the policy as a function, without Redis: the conversation's
// state and a message in, the replies, field changes, events and the hand-off
// queue's part out.
func TestDecide(t *testing.T) {
	mt := sampletest.Live(t).Matcher()
	base := policy{matcher: mt, texts: DefaultTexts(), lowTurns: 2, queue: true}
	withQueue := base
	withQueue.leaver, withQueue.notifier, withQueue.rater = true, true, true
	limited := base
	limited.limited = true
	noQueue := base
	noQueue.queue = false
	bot := Conversation{ID: "web:u", Channel: "web", User: "u", Mode: ModeBot, loadedMode: ModeBot}
	with := func(c Conversation, f func(*Conversation)) Conversation { f(&c); return c }
	waiting := with(bot, func(c *Conversation) { c.Mode, c.loadedMode = ModeWaiting, ModeWaiting })
	agent := with(bot, func(c *Conversation) { c.Mode, c.loadedMode = ModeAgent, ModeAgent })
	closed := with(bot, func(c *Conversation) { c.Mode, c.loadedMode = ModeClosed, ModeClosed })
	msg := func(kind, text string) Message {
		return Message{Channel: "web", User: "u", ID: "1", Kind: kind, Text: text}
	}

	for _, tc := range []struct {
		name    string
		p       policy
		c       Conversation
		m       Message
		refused bool
		want    outcome
	}{
		{name: "answer", p: base, c: bot, m: msg(KindText, "快递到哪了"),
			want: outcome{Replies: []string{"answer:logistics_track"}, Mode: ModeBot, Save: true}},
		{name: "not understood counts a low turn", p: base, c: bot, m: msg(KindText, "asdfgh"),
			want: outcome{Replies: []string{"fallback"}, Mode: ModeBot, Low: 1, Save: true}},
		{name: "the second low turn hands off to the queue", p: base, c: with(bot, func(c *Conversation) { c.LowTurns = 1 }), m: msg(KindText, "asdfgh"),
			want: outcome{Replies: []string{"handoff"}, Mode: ModeWaiting, Save: true, Enqueue: true, Reason: "low_confidence", Set: []string{"wait_ack", "0", "leave", ""}}},
		{name: "without a queue the bot records the hand-off", p: noQueue, c: bot, m: msg(KindHuman, ""),
			want: outcome{Replies: []string{"handoff"}, Events: []string{"handoff reason requested urgent 0"}, Mode: ModeWaiting, Save: true, Reason: intents.ReasonRequested, Set: []string{"wait_ack", "0", "leave", ""}}},
		{name: "a limited hand-off asks first", p: limited, c: bot, m: msg(KindHuman, ""),
			want: outcome{Replies: []string{"handoff"}, Mode: ModeWaiting, Save: true, Ask: true, Enqueue: true, Reason: intents.ReasonRequested, Set: []string{"wait_ack", "0", "leave", ""}}},
		{name: "a refused hand-off stays with the bot", p: limited, c: with(bot, func(c *Conversation) { c.LowTurns = 1 }), m: msg(KindHuman, ""), refused: true,
			want: outcome{Replies: []string{"notice"}, Mode: ModeBot, Save: true}},
		{name: "welcome", p: base, c: bot, m: msg(KindStart, ""),
			want: outcome{Replies: []string{"welcome"}, Mode: ModeBot, Save: true}},
		{name: "media", p: base, c: bot, m: msg(KindMedia, "[photo]"),
			want: outcome{Replies: []string{"notice"}, Mode: ModeBot, Save: true}},
		{name: "waiting: the first message is acknowledged, the consoles hear", p: withQueue, c: waiting, m: msg(KindText, "嗯嗯"),
			want: outcome{Replies: []string{"notice"}, Mode: ModeWaiting, Notify: true, Set: []string{"wait_ack", "1"}}},
		{name: "waiting: acknowledged once, then silent", p: withQueue, c: with(waiting, func(c *Conversation) { c.WaitAcked = true }), m: msg(KindText, "嗯嗯"),
			want: outcome{Mode: ModeWaiting, Notify: true}},
		{name: "waiting: 转人工 again tells the place in line again", p: withQueue, c: with(waiting, func(c *Conversation) { c.WaitAcked = true }), m: msg(KindText, "转人工"),
			want: outcome{Mode: ModeWaiting, Notify: true, Enqueue: true}},
		{name: "waiting: the 转人工 button too", p: withQueue, c: waiting, m: msg(KindHuman, ""),
			want: outcome{Mode: ModeWaiting, Notify: true, Enqueue: true}},
		{name: "held: entities keep being collected, silent", p: withQueue, c: agent, m: msg(KindText, "嗯嗯 13800138000"),
			want: outcome{Mode: ModeAgent, Notify: true, Set: []string{"entities", `[{"type":"phone","value":"13800138000"}]`}}},
		{name: "held: silent, no notifier", p: base, c: agent, m: msg(KindMedia, "[photo]"),
			want: outcome{Mode: ModeAgent}},
		{name: "cancel with a Leaver", p: withQueue, c: waiting, m: msg(KindText, "取消"),
			want: outcome{Replies: []string{"notice"}, Mode: ModeBot, Save: true, Leave: true}},
		{name: "cancel without a Leaver", p: base, c: waiting, m: msg(KindText, "取消"),
			want: outcome{Replies: []string{"notice"}, Events: []string{"abandoned by customer"}, Mode: ModeBot, Save: true}},
		{name: "leave with the bot", p: withQueue, c: bot, m: msg(KindLeave, ""),
			want: outcome{Events: []string{"closed by left"}, Mode: ModeClosed, Save: true, Closed: true}},
		{name: "leave while waiting, with a Leaver", p: withQueue, c: waiting, m: msg(KindLeave, ""),
			want: outcome{Events: []string{"closed by left"}, Mode: ModeClosed, Save: true, Closed: true, Leave: true}},
		{name: "leave while waiting, without", p: base, c: waiting, m: msg(KindLeave, ""),
			want: outcome{Events: []string{"abandoned by left", "closed by left"}, Mode: ModeClosed, Save: true, Closed: true}},
		{name: "leave while held: the agent closes", p: withQueue, c: agent, m: msg(KindLeave, ""),
			want: outcome{Mode: ModeAgent, Leave: true}},
		{name: "leave when closed: nothing changes", p: base, c: closed, m: msg(KindLeave, ""),
			want: outcome{Mode: ModeClosed, Save: true}},
		{name: "rating without a Rater", p: base, c: closed, m: Message{Kind: KindRating, Choice: "4", Text: "很快"},
			want: outcome{Replies: []string{"notice"}, Events: []string{"rated score 4 comment 很快"}, Mode: ModeClosed, Save: true,
				Set: []string{"rating", "4", "rating_comment", "很快", "survey", "0"}, Rate: "4 很快"}},
		{name: "rating with a Rater", p: withQueue, c: closed, m: Message{Kind: KindRating, Text: "5"},
			want: outcome{Replies: []string{"notice"}, Mode: ModeClosed, Save: true, Set: []string{"survey", "0"}, Rate: "5"}},
		{name: "a typed rating answers a pending survey", p: withQueue, c: with(closed, func(c *Conversation) { c.Survey = true }), m: msg(KindText, "3"),
			want: outcome{Replies: []string{"notice"}, Mode: ModeClosed, Save: true, Set: []string{"survey", "0"}, Rate: "3"}},
		{name: "a bad rating", p: base, c: bot, m: Message{Kind: KindRating, Text: "9"},
			want: outcome{Mode: ModeBot, Err: ErrBadRating}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := outcomeOf(decide(tc.p, input{conv: tc.c, msg: tc.m, refused: tc.refused}))
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) || errors.Is(b, a) })); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecideLanguage: the channel's hint sets the wording until the
// customer writes; what they write in wins.
func TestDecideLanguage(t *testing.T) {
	p := policy{matcher: sampletest.Live(t).Matcher(), texts: DefaultTexts(), lowTurns: 2}
	c := Conversation{ID: "telegram:u", Mode: ModeBot, loadedMode: ModeBot}
	d := decide(p, input{conv: c, msg: Message{Kind: KindStart, Lang: "en"}})
	if d.conv.Lang != "en" || d.replies[0].Text != DefaultTexts()["en"].Welcome {
		t.Errorf("start with an English hint: lang %q, %q", d.conv.Lang, d.replies[0].Text)
	}
	d = decide(p, input{conv: d.conv, msg: Message{Text: "快递到哪了", Lang: "en"}})
	if d.conv.Lang != "zh" || d.replies[0].Kind != OutAnswer || d.replies[0].confidence == "" || !strings.Contains(d.replies[0].guesses, "logistics_track") {
		t.Errorf("Chinese text: lang %q, reply %+v", d.conv.Lang, d.replies[0])
	}
}
