package bot

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/priority"
)

// Leaving a message. When a conversation is handed off while nobody can
// answer (out of business hours, or no agent online: the queue's notice
// says so), the engine records a ticket with what the customer wrote
// (MessageTaker), asks once for what it lacks to act on it (an order number
// and a phone number: those the bot's entity extraction has not found in
// the conversation, nor the shop's signed identity), and tells the
// customer when they will hear back: after the next opening when closed,
// else by the ticket's due time. What the customer writes while waiting is
// added to the ticket. The ticket's source is the conversation's episode:
// one ticket however often the message is retried or the customer asks for
// a person again.

// MessageTaker records left messages as tickets.
type MessageTaker interface {
	// TakeMessage creates the ticket of a left message, or returns the one
	// created before from the same m.Source, with its number and due time.
	TakeMessage(ctx context.Context, m LeftMessage) (ticket int64, due time.Time, err error)
	// AddToMessage adds a later text of the customer to the ticket, once per
	// key (the message's transcript id), and its contact when it has none.
	AddToMessage(ctx context.Context, ticket int64, key, text, contact string) error
}

// LeftMessage is a message left while nobody could answer.
type LeftMessage struct {
	Source   string // the idempotency key: one ticket per conversation episode
	Customer string // the thread (conv.ThreadID)
	Conv     string // the archived conversation (conv.ArchiveID)
	Channel  string
	Priority priority.Level
	Text     string // what the customer wrote, one message a line
	Contact  string // the phone number they left, if any
}

// away is what a queue notice knows when nobody can answer now.
type away struct {
	closed bool      // out of business hours
	opens  time.Time // the next opening (closed)
	loc    *time.Location
}

// leaveState is FieldLeave parsed.
type leaveState struct {
	ticket int64
	state  string // leaveAsk or leaveDone
	due    time.Time
}

const (
	leaveAsk  = "ask"
	leaveDone = "done"
)

func parseLeave(v string) leaveState {
	parts := strings.Split(v, "|")
	if len(parts) != 3 {
		return leaveState{}
	}
	id, _ := strconv.ParseInt(parts[0], 10, 64)
	ms, _ := strconv.ParseInt(parts[2], 10, 64)
	return leaveState{ticket: id, state: parts[1], due: time.UnixMilli(ms)}
}

func (l leaveState) String() string {
	return fmt.Sprintf("%d|%s|%d", l.ticket, l.state, l.due.UnixMilli())
}

// hasAny reports whether the conversation has an entity of one of types.
func hasAny(ents []intents.Entity, types ...string) bool {
	return slices.ContainsFunc(ents, func(e intents.Entity) bool { return slices.Contains(types, e.Type) })
}

// contact is the phone number the customer left: the last one they wrote,
// else the one the shop signed.
func contact(c Conversation) string {
	for i := len(c.Entities) - 1; i >= 0; i-- {
		if c.Entities[i].Type == intents.EntityPhone {
			return c.Entities[i].Value
		}
	}
	return c.Phone
}

// missing are the names of what the ticket lacks, in the customer's words.
func missing(c Conversation, tx Texts) []string {
	var out []string
	if !hasAny(c.Entities, intents.EntityOrder, intents.EntityTracking) {
		out = append(out, tx.LeaveOrder)
	}
	if contact(c) == "" {
		out = append(out, tx.LeavePhone)
	}
	return out
}

// startLeave records the ticket of a conversation just handed off while
// nobody can answer and adds the ask (or, when nothing is missing, when the
// customer will hear back) to d.
func (e *Engine) startLeave(ctx context.Context, d *decision, c Conversation, a *away) error {
	text, err := e.leftText(ctx, c)
	if err != nil {
		return err
	}
	ep := strconv.Itoa(c.Episode)
	id, due, err := e.Messages.TakeMessage(ctx, LeftMessage{Source: "leave:" + conv.ArchiveID(c.ID, ep),
		Customer: c.ID, Conv: conv.ArchiveID(c.ID, ep), Channel: c.Channel, Priority: c.Priority,
		Text: text, Contact: contact(c)})
	if err != nil {
		return fmt.Errorf("leave a message %s: %w", c.ID, err)
	}
	tx := e.texts(c.Lang)
	st := leaveState{ticket: id, state: leaveDone, due: due}
	out := Outbound{Channel: c.Channel, User: c.User, Conv: c.ID, Kind: OutNotice}
	if m := missing(c, tx); len(m) > 0 {
		st.state = leaveAsk
		out.Text = strings.ReplaceAll(tx.LeaveAsk, "{what}", strings.Join(m, tx.LeaveAnd))
	} else {
		out.Text = e.leaveDone(tx, st, a)
	}
	d.say(out)
	d.set = append(d.set, conv.FieldLeave, st.String())
	return nil
}

// leaveDone is the sentence telling the customer their message is recorded
// and when they will hear back.
func (e *Engine) leaveDone(tx Texts, st leaveState, a *away) string {
	now := e.Store.now()
	when, tmpl := st.due, tx.WhenBy
	if a != nil && a.closed && !a.opens.IsZero() {
		when, tmpl = a.opens, tx.WhenAfter
	}
	loc := time.Local
	if a != nil && a.loc != nil {
		loc = a.loc
	}
	return strings.NewReplacer("{ticket}", strconv.FormatInt(st.ticket, 10), "{when}", whenText(tx, tmpl, now, when, loc)).
		Replace(tx.LeaveDone)
}

// whenText words a time for the customer: today/tomorrow or the date, and
// the hour (24-hour, in the business hours' zone).
func whenText(tx Texts, tmpl string, now, t time.Time, loc *time.Location) string {
	now, t = now.In(loc), t.In(loc)
	d0 := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	d1 := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	var day string
	switch d1.Sub(d0).Round(time.Hour) / (24 * time.Hour) {
	case 0:
		day = tx.DayToday
	case 1:
		day = tx.DayTomorrow
	default:
		day = strings.NewReplacer("{month}", strconv.Itoa(int(t.Month())), "{day}", strconv.Itoa(t.Day())).Replace(tx.DayDate)
	}
	return strings.NewReplacer("{day}", day, "{time}", fmt.Sprintf("%d:%02d", t.Hour(), t.Minute())).Replace(tmpl)
}

// leftText is what the customer wrote in this episode up to the hand-off
// (at most the last five texts, oldest first).
func (e *Engine) leftText(ctx context.Context, c Conversation) (string, error) {
	if c.LastEntry == "" {
		return "", nil
	}
	xs, err := e.Store.rdb.XRevRangeN(ctx, e.Store.txKey(c.ID), c.LastEntry, "-", 16).Result()
	if err != nil {
		return "", fmt.Errorf("leave a message %s: %w", c.ID, err)
	}
	var texts []string
	for _, x := range xs {
		str := func(k string) string { v, _ := x.Values[k].(string); return v }
		if str("dir") == "out" {
			if k := str("kind"); k == OutHandoff || k == OutSurvey || k == OutAgent {
				break // an earlier hand-off or conversation
			}
			continue
		}
		if t := strings.TrimSpace(str("text")); t != "" && str("kind") == KindText {
			texts = append(texts, t)
			if len(texts) == 5 {
				break
			}
		}
	}
	slices.Reverse(texts)
	return strings.Join(texts, "\n"), nil
}

// awayOf is, when the queue's notices say nobody can answer now, when the
// customer will hear back.
func (e *Engine) awayOf(c Conversation, outs []Outbound) *away {
	if q, ok := e.Handoff.(*Queue); ok {
		return q.awayIn(c, outs)
	}
	return nil
}

// continueLeave adds a message written while leaving one to the ticket and,
// when the bot had asked for what was missing, tells the customer when they
// will hear back.
func (e *Engine) continueLeave(ctx context.Context, d *decision, m Message) error {
	c := d.conv
	if err := e.Messages.AddToMessage(ctx, c.leave.ticket, c.LastEntry, m.Text, contact(c)); err != nil {
		return fmt.Errorf("leave a message %s: %w", c.ID, err)
	}
	if c.leave.state != leaveAsk {
		return nil
	}
	var a *away
	if q, ok := e.Handoff.(*Queue); ok {
		a = q.awayAt(e.Store.now())
	}
	st := c.leave
	st.state = leaveDone
	tx := e.texts(c.Lang)
	d.say(Outbound{Channel: c.Channel, User: c.User, Conv: c.ID, Kind: OutNotice, Text: e.leaveDone(tx, st, a)})
	d.set = append(d.set, conv.FieldLeave, st.String())
	d.conv.leave = st
	return nil
}

// TellSolved records, in the customer's thread, that their ticket is
// solved (a notice in the transcript: the web chat shows it on the next
// visit) and returns it for the customer's channel.
func (e *Engine) TellSolved(ctx context.Context, thread string, ticket int64) (Outbound, error) {
	c, err := e.Store.Load(ctx, thread)
	if err != nil {
		return Outbound{}, err
	}
	tx := e.texts(c.Lang)
	out := Outbound{Channel: c.Channel, User: c.User, Conv: thread, Kind: OutNotice,
		Text: strings.ReplaceAll(tx.TicketSolved, "{ticket}", strconv.FormatInt(ticket, 10))}
	if err := e.Store.AppendOut(ctx, out); err != nil {
		return Outbound{}, err
	}
	return out, nil
}
