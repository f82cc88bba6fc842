package bot

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/priority"
)

// The decision: what one inbound message does to its conversation, as a
// function of the conversation's state (as the claim read it), the message,
// the matcher, the wording and the rules. It reads nothing and writes
// nothing: Engine.handle carries it out (the hand-off queue's side first,
// then one commit script with the fields, the replies and the events).

// policy is what the decision depends on besides the conversation and the
// message.
type policy struct {
	matcher  *intents.Matcher
	texts    map[string]Texts
	lowTurns int
	queue    bool // a Handoff takes hand-offs; without one a hand-off is only recorded
	leaver   bool // the Handoff hears of a customer who leaves or cancels (Leaver)
	notifier bool // the Handoff hears of messages while waiting or held (Notifier)
	rater    bool // the Handoff stores ratings (Rater)
	limited  bool // HandoffAllowed is asked before a hand-off
	prio     *priority.Policy
	messages bool // a MessageTaker records left messages
}

func (p policy) text(lang string) Texts {
	if strings.HasPrefix(lang, "en") {
		if t, ok := p.texts["en"]; ok {
			return t
		}
	}
	return p.texts["zh"]
}

// input is what one decision is about.
type input struct {
	conv Conversation // as claimed
	msg  Message
	// refused: HandoffAllowed refused the hand-off an earlier decision on
	// this input asked about.
	refused bool
}

// reply is one reply the bot decided, with what its bot_reply event says.
type reply struct {
	Outbound
	confidence string // the matcher's confidence; "" when the matcher did not run
	guesses    string // JSON [{"intent","score"}], its top three; "" when it did not run
}

// event is a lifecycle event the commit emits besides bot_reply (one per
// reply, emitted by the commit script itself).
type event struct {
	typ    string
	fields []string // field, value, …
}

// rating is a customer's survey answer.
type rating struct {
	score   int
	comment string
}

// decision is what handling one message does.
type decision struct {
	conv    Conversation // the conversation with its new fields
	save    bool         // write conv's bot-owned fields (fields())
	set     []string     // more hash fields to write, field, value, …
	replies []reply
	events  []event
	closed  bool // the bot ended the episode: the thread leaves the active set

	// The hand-off queue's side, done before the commit.
	leave      bool    // Leaver.Leave: the customer left or canceled while waiting or held
	notify     bool    // Notifier.CustomerMessage: a person has it or will
	rate       *rating // Rater.Rate; without a Rater the commit writes it (selfRate)
	askAllowed bool    // a hand-off HandoffAllowed must allow (else decide again, refused)
	// raise: a message while waiting raised the priority (Prioritizer).
	raise *priority.Assessment
	// enqueue: record the notice keeping the claim, hand the conversation to
	// the queue, then finish with the queue's notices.
	enqueue bool
	// leaveMore: a message written while leaving one goes to its ticket
	// (MessageTaker.AddToMessage).
	leaveMore bool

	err error // ErrBadRating

	// For Engine.Observe.
	observe bool
	reason  string
	match   time.Duration
}

// outbounds are the replies for the customer's channel.
func (d *decision) outbounds() []Outbound {
	if len(d.replies) == 0 {
		return nil
	}
	outs := make([]Outbound, len(d.replies))
	for i, r := range d.replies {
		outs[i] = r.Outbound
	}
	return outs
}

func (d *decision) say(out Outbound) { d.replies = append(d.replies, reply{Outbound: out}) }

func (d *decision) emit(typ string, fields ...string) {
	d.events = append(d.events, event{typ: typ, fields: fields})
}

// selfRate makes the commit write the rating and emit rated: there is no
// Rater, or it did not take the rating (ErrNotRated).
func (d *decision) selfRate() {
	s := strconv.Itoa(d.rate.score)
	d.set = append(d.set, conv.FieldRating, s, conv.FieldRatingComment, d.rate.comment)
	d.emit(conv.Rated, conv.EvScore, s, conv.EvComment, d.rate.comment)
}

// decide is the conversation policy: answer, clarify, hand off, stay silent
// while a person has the conversation, take a rating, let a customer leave.
func decide(p policy, in input) decision {
	c, m := in.conv, in.msg
	d := decision{}
	// The channel's language hint (browser, Telegram language_code) sets the
	// wording until the customer writes: then the language they write in wins.
	if m.Lang != "" && (m.Kind != KindText || c.Lang == "") {
		c.Lang = m.Lang
	}
	if m.Kind == KindText && c.Survey && isRating(m.Text) {
		m.Kind = KindRating // a survey answered by typing the number (WeChat)
	}
	out := Outbound{Channel: m.Channel, User: m.User, Conv: c.ID}
	switch m.Kind {
	case KindLeave:
		return decideLeave(p, c)
	case KindRating:
		return decideRating(p, c, m, out)
	}
	if c.Mode == ModeWaiting && m.Kind == KindText && isCancel(m.Text) {
		d.leave = p.leaver
		if !p.leaver {
			d.emit(conv.Abandoned, conv.EvBy, conv.ByCustomer) // no queue to say so
		}
		c.Mode, c.LowTurns = ModeBot, 0
		out.Kind, out.Text = OutNotice, p.text(c.Lang).Cancelled
		d.say(out)
		d.conv, d.save = c, true
		return d
	}
	if c.Mode == ModeWaiting || c.Mode == ModeAgent {
		dp := decidePeople(p, c, m, out)
		// While it waits, its words are read again for the priority.
		if c.Mode == ModeWaiting && m.Kind == KindText && p.prio != nil && p.prio.Lexicon != nil {
			if a := p.prio.Lexicon.Assess(m.Text); a.Raised() {
				dp.raise = &a
			}
		}
		return dp
	}
	d.conv, d.save = c, true
	tx := p.text(c.Lang)
	switch m.Kind {
	case KindStart:
		out.Kind, out.Text = OutWelcome, tx.Welcome
		d.say(out)
		return d
	case KindMedia, KindImage:
		out.Kind, out.Text = OutNotice, tx.MediaReply
		out.Choices = []Choice{{ID: ChoiceHuman, Label: tx.HumanButton}}
		d.say(out)
		return d
	case KindHuman:
		m.Choice = ChoiceHuman
	}
	mt := p.matcher
	var (
		action      intents.Action
		reason      string
		intent      string
		choices     []string
		urgent      bool
		conf, gjson string
	)
	if m.Choice == ChoiceHuman {
		action, reason = intents.ActionHandoff, intents.ReasonRequested
	} else if m.Choice != "" {
		intent = m.Choice
		action, reason = mt.PickChoice(m.Choice)
		urgent = reason == intents.ReasonUrgent
	} else {
		t0 := time.Now()
		r := mt.Match(m.Text)
		d.match = time.Since(t0)
		action, reason, intent, choices, urgent = r.Action, r.Reason, r.Intent, r.Choices, r.Urgent
		var gs []Guess
		gs, gjson = topGuesses(r)
		// The agent sees the guesses for what the customer asked: a bare
		// request for a person (转人工) keeps those of the question before.
		if substantive(r) {
			c.Guesses = gs
		}
		conf = strconv.FormatFloat(r.Confidence, 'f', -1, 64)
		c.Entities = mergeEntities(c.Entities, r.Entities)
		if r.Lang != "" {
			c.Lang = r.Lang
		}
	}
	tx = p.text(c.Lang)
	say := func(out Outbound) {
		d.replies = append(d.replies, reply{Outbound: out, confidence: conf, guesses: gjson})
	}
	// A message the bot cannot answer (declined or clarified) counts toward
	// the hand-off after lowTurns in a row.
	if action == intents.ActionClarify || action == intents.ActionNone {
		c.LowTurns++
		if c.LowTurns >= p.lowTurns {
			action, reason = intents.ActionHandoff, "low_confidence"
		}
	}
	d.observe = true
	if action == intents.ActionHandoff && p.limited {
		if !in.refused {
			d.askAllowed = true
		} else {
			c.LowTurns = 0
			out.Kind, out.Text = OutNotice, tx.HandoffLimited
			say(out)
			d.conv = c
			return d
		}
	}
	switch action {
	case intents.ActionAnswer:
		in := mt.FAQ().Intent(intent)
		out.Kind, out.Intent, out.Text = OutAnswer, intent, in.Answer.For(m.Channel, c.Lang)
		for _, id := range in.Answer.Choices {
			if ch := mt.FAQ().Intent(id); ch != nil {
				out.Choices = append(out.Choices, Choice{ID: id, Label: ch.Questions[0]})
			}
		}
		c.LowTurns, c.LastIntent = 0, intent
	case intents.ActionClarify:
		out.Kind, out.Text = OutClarify, tx.ClarifyPrompt
		for _, id := range choices {
			out.Choices = append(out.Choices, Choice{ID: id, Label: mt.FAQ().Intent(id).Questions[0]})
		}
		out.Choices = append(out.Choices, Choice{ID: ChoiceHuman, Label: tx.HumanButton})
		if len(choices) > 0 {
			c.LastIntent = choices[0]
		}
	case intents.ActionNone:
		out.Kind, out.Text = OutFallback, tx.Fallback
		out.Choices = []Choice{{ID: ChoiceHuman, Label: tx.HumanButton}}
	case intents.ActionHandoff:
		prevCategory := c.Category
		c.Mode, c.Reason, c.Urgent, c.LowTurns = ModeWaiting, reason, urgent, 0
		if intent != "" {
			c.LastIntent = intent
		}
		var intentLevel priority.Level
		if in := mt.FAQ().Intent(c.LastIntent); in != nil {
			c.Category = in.Category
			intentLevel, _ = priority.Parse(in.Priority)
		}
		if p.prio != nil {
			since := time.Duration(-1)
			if !c.ClosedAt.IsZero() {
				since = c.Updated.Sub(c.ClosedAt)
			}
			pd := p.prio.Decide(priority.Signals{Intent: intentLevel, Text: m.Text, Member: c.Member,
				LastRating: c.LastRating, SinceClose: since, SameThing: prevCategory != "" && prevCategory == c.Category})
			c.Priority, c.PrioWords = pd.Level, pd.Words
			c.Urgent = c.Urgent || pd.Level == priority.Urgent
		}
		out.Kind, out.Intent, out.Text, out.Choices = OutHandoff, intent, tx.HandoffNotice, nil
		d.reason = reason
		c.WaitAcked, c.leave = false, leaveState{}
		d.set = append(d.set, conv.FieldWaitAck, "0", conv.FieldLeave, "")
		if p.queue {
			// The queue records the hand-off (its handoff event) once it
			// has the conversation.
			d.enqueue = true
		} else {
			u := "0"
			if urgent {
				u = "1"
			}
			d.emit(conv.Handoff, conv.EvReason, reason, conv.EvUrgent, u)
		}
	}
	say(out)
	d.conv = c
	return d
}

// topGuesses are the matcher's top three candidates, for the agent, and as
// the bot_reply event's JSON.
func topGuesses(r intents.Result) ([]Guess, string) {
	type guess struct {
		Intent string  `json:"intent"`
		Score  float64 `json:"score"`
	}
	out := []Guess{}
	var gs []guess
	for i, g := range r.Candidates {
		if i == 3 {
			break
		}
		out = append(out, Guess{Intent: g.Intent, Score: g.Score, Question: g.Question})
		gs = append(gs, guess{g.Intent, g.Score})
	}
	b, _ := json.Marshal(gs)
	return out, string(b)
}

// substantive says whether a message asks something the bot's guesses are
// worth showing for: not a bare request for a person ("转人工", "人工客服"),
// which asks nothing of the FAQ; a request with a clear question in it
// ("退款怎么还没到 转人工": the matcher is confident of an intent) is.
func substantive(r intents.Result) bool {
	return r.Reason != intents.ReasonRequested || r.Intent != ""
}

// decidePeople handles a message while a person has the conversation or
// will (waiting, agent): the consoles hear of it; the bot keeps collecting
// the order, tracking and phone numbers in it and keeps its guesses on the
// customer's last real question for the agent. A waiting customer who asks
// for a person again is told their place in line again; the first other
// message after the hand-off is acknowledged, once.
func decidePeople(p policy, c Conversation, m Message, out Outbound) decision {
	d := decision{notify: p.notifier}
	requested := m.Kind == KindHuman || m.Choice == ChoiceHuman
	if m.Kind == KindText && m.Choice == "" && p.matcher != nil {
		r := p.matcher.Match(m.Text)
		if ents := mergeEntities(c.Entities, r.Entities); len(ents) != len(c.Entities) {
			c.Entities = ents
			b, _ := json.Marshal(ents)
			d.set = append(d.set, conv.FieldEntities, string(b))
		}
		if r.Reason == intents.ReasonRequested {
			requested = true
		}
		if substantive(r) && len(r.Candidates) > 0 {
			c.Guesses, _ = topGuesses(r)
			b, _ := json.Marshal(c.Guesses)
			d.set = append(d.set, conv.FieldGuesses, string(b))
		}
	}
	d.conv = c
	if c.Mode != ModeWaiting {
		return d
	}
	if requested && p.queue {
		// Enqueue is idempotent: it reports the place the customer already
		// has, and the engine words it.
		d.enqueue = true
		return d
	}
	if c.leave.ticket != 0 && p.messages && m.Kind == KindText && m.Choice == "" {
		// Leaving a message: the engine adds it to the ticket (and, after
		// the bot asked for what was missing, says when they hear back
		// instead of the waiting acknowledgement).
		d.leaveMore = true
		if c.leave.state == leaveAsk {
			return d
		}
	}
	if !c.WaitAcked && (m.Kind == KindText || m.Kind == KindMedia || m.Kind == KindImage) {
		c.WaitAcked = true
		d.set = append(d.set, conv.FieldWaitAck, "1")
		out.Kind, out.Text = OutNotice, p.text(c.Lang).WaitingAck
		d.say(out)
		d.conv = c
	}
	return d
}

// decideLeave closes the conversation of a customer who left the channel.
func decideLeave(p policy, c Conversation) decision {
	d := decision{conv: c}
	d.leave = p.leaver && (c.Mode == ModeWaiting || c.Mode == ModeAgent)
	if c.Mode == ModeAgent {
		return d // the agent sees the customer left and closes it
	}
	if c.Mode != ModeClosed {
		if c.Mode == ModeWaiting && !p.leaver {
			d.emit(conv.Abandoned, conv.EvBy, conv.ByLeft) // no queue to say so
		}
		d.emit(conv.Closed, conv.EvBy, conv.ByLeft)
		d.closed = true
	}
	d.conv.Mode, d.conv.LowTurns = ModeClosed, 0
	d.save = true
	return d
}

// decideRating takes a satisfaction rating ("1".."5", optionally a comment).
func decideRating(p policy, c Conversation, m Message, out Outbound) decision {
	d := decision{conv: c}
	text := strings.TrimSpace(m.Text)
	if m.Choice != "" {
		text = strings.TrimSpace(m.Choice + " " + text)
	}
	score, comment, _ := strings.Cut(text, " ")
	n, err := strconv.Atoi(score)
	if err != nil || n < 1 || n > 5 {
		d.err = badRating(c.ID, score)
		return d
	}
	d.rate = &rating{score: n, comment: strings.TrimSpace(comment)}
	if !p.rater {
		d.selfRate()
	}
	d.conv.Survey = false
	d.set = append(d.set, conv.FieldSurvey, "0")
	out.Kind, out.Text = OutNotice, p.text(c.Lang).RatingThanks
	d.say(out)
	d.save = true
	return d
}
