package bot

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/priority"
)

// Queue connects the engine to the hand-off queue: it implements Handoff
// (and Leaver, Rater, Notifier) over a *handoff.Queue, and words the queue's
// position for the customer.
type Queue struct {
	Q     *handoff.Queue
	Texts map[string]Texts
	Now   func() time.Time // default time.Now
}

var (
	_ Handoff     = (*Queue)(nil)
	_ Leaver      = (*Queue)(nil)
	_ Rater       = (*Queue)(nil)
	_ Notifier    = (*Queue)(nil)
	_ Prioritizer = (*Queue)(nil)
)

func (q *Queue) texts(lang string) Texts {
	if strings.HasPrefix(lang, "en") {
		if t, ok := q.Texts["en"]; ok {
			return t
		}
	}
	return q.Texts["zh"]
}

func (q *Queue) now() time.Time {
	if q.Now != nil {
		return q.Now()
	}
	return time.Now()
}

// Enqueue puts the conversation in its group's queue and returns the notice
// for the customer: their place and the estimated wait, or that nobody is
// there now (closed hours, or no agent online) and the message is kept.
func (q *Queue) Enqueue(ctx context.Context, c Conversation) ([]Outbound, error) {
	p, err := q.Q.Enqueue(ctx, handoff.Ticket{Conv: c.ID, Channel: c.Channel, User: c.User,
		Category: c.Category, Reason: c.Reason, Urgent: c.Urgent, Priority: c.Priority, Words: c.PrioWords})
	if err != nil {
		return nil, fmt.Errorf("enqueue %s: %w", c.ID, err)
	}
	if p.State != handoff.StateWaiting {
		return nil, nil
	}
	return []Outbound{q.Notice(c, p)}, nil
}

// Notice words a queue position for the customer.
func (q *Queue) Notice(c Conversation, p handoff.Position) Outbound {
	tx := q.texts(c.Lang)
	out := Outbound{Channel: c.Channel, User: c.User, Conv: c.ID, Kind: OutNotice}
	switch {
	case !q.Q.Open(q.now()):
		out.Text = tx.OutOfHours
	case p.Online == 0 || p.ETA < 0:
		out.Text = tx.NoAgent
	default:
		mins := int(math.Ceil(p.ETA.Minutes()))
		if mins < 1 {
			mins = 1
		}
		r := strings.NewReplacer("{rank}", fmt.Sprint(p.Rank), "{ahead}", fmt.Sprint(p.Rank-1), "{minutes}", fmt.Sprint(mins))
		out.Text = r.Replace(tx.QueueNotice)
	}
	return out
}

// Leave takes a customer who left out of the queue.
func (q *Queue) Leave(ctx context.Context, c Conversation) error {
	if err := q.Q.Cancel(ctx, c.ID); err != nil && !errors.Is(err, handoff.ErrNotWaiting) {
		return err
	}
	return nil
}

// Rate stores the rating with the agent who closed the conversation. A
// rating without an agent's close is ErrNotRated (the bot keeps it); a
// second rating of the same close is not stored again.
func (q *Queue) Rate(ctx context.Context, c Conversation, score int, comment string) error {
	_, err := q.Q.Rate(ctx, c.ID, score, comment)
	switch {
	case errors.Is(err, handoff.ErrNoSurvey):
		return fmt.Errorf("rate %s: %w", c.ID, ErrNotRated)
	case errors.Is(err, handoff.ErrAlreadyRated):
		return nil
	}
	return err
}

// RaisePriority raises a waiting conversation's priority (never lowers it,
// never overrides an agent's choice). A conversation no longer waiting or
// held is left alone.
func (q *Queue) RaisePriority(ctx context.Context, c Conversation, l priority.Level, words []string) error {
	_, err := q.Q.RaisePriority(ctx, c.ID, l, words)
	if errors.Is(err, handoff.ErrNotOpen) {
		return nil
	}
	return err
}

// CustomerMessage tells the consoles of a customer message.
func (q *Queue) CustomerMessage(ctx context.Context, c Conversation) error {
	_, err := q.Q.CustomerMessage(ctx, c.ID, c.LastEntry)
	return err
}

// awayAt is when a customer who leaves a message at now hears back: after
// the next opening when closed (else by the ticket's due time).
func (q *Queue) awayAt(now time.Time) *away {
	a := &away{closed: !q.Q.Open(now), loc: q.Q.Location()}
	if a.closed {
		a.opens, _ = q.Q.NextOpen(now)
	}
	return a
}

// awayIn is, when one of the queue's notices for c says that nobody can
// answer now (closed hours, nobody online), when they will hear back.
func (q *Queue) awayIn(c Conversation, outs []Outbound) *away {
	tx := q.texts(c.Lang)
	for _, o := range outs {
		if o.Kind == OutNotice && (o.Text == tx.OutOfHours || o.Text == tx.NoAgent) {
			return q.awayAt(q.now())
		}
	}
	return nil
}
