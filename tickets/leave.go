package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// EvCustomerWrote is the event of a customer's text added to a ticket
// (AddCustomerText; detail: the caller's key for the message).
const EvCustomerWrote = "customer_wrote"

// OnSolve makes f hear of every solve this Store makes (Move to Solved,
// Solve), after it is committed: the Notifier's Kick, so that the customer
// is told at once rather than at the next poll. f must not block. Set it
// before the Store is used.
func (s *Store) OnSolve(f func(id int64)) { s.onSolve = f }

// Solve marks a ticket solved (Move to Solved): the customer is then told on
// their channel and surveyed, once, by a Notifier of any instance.
func (s *Store) Solve(ctx context.Context, id int64, by, detail string) (Ticket, error) {
	return s.Move(ctx, id, Solved, "", by, detail)
}

// AddCustomerText adds what the customer wrote to a ticket's text (on a new
// line) and sets its contact when it has none, once per key (the message's
// transcript id: a retried delivery adds nothing twice). added is false
// when the key was added before.
func (s *Store) AddCustomerText(ctx context.Context, id int64, key, text, contact string) (t Ticket, added bool, err error) {
	text = strings.TrimSpace(text)
	if key == "" {
		return Ticket{}, false, fmt.Errorf("%w: a customer text needs its message's key", ErrBad)
	}
	var dup bool
	t, err = s.change(ctx, id, EvCustomerWrote, "customer", key, func(tx *sql.Tx, now int64) error {
		var one int
		err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM ticket_events WHERE ticket = ? AND type = ? AND detail = ?`),
			id, EvCustomerWrote, key).Scan(&one)
		if err == nil {
			dup = true
			return errDup
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE tickets SET
			text = CASE WHEN ? = '' THEN text WHEN text = '' THEN ? ELSE text || ? || ? END,
			contact = CASE WHEN contact = '' THEN ? ELSE contact END, updated = ? WHERE id = ?`),
			text, text, "\n", text, contact, now, id)
		return err
	})
	if dup {
		t, err = s.Get(ctx, id)
		return t, false, err
	}
	return t, err == nil, err
}

var errDup = errors.New("tickets: already added")
