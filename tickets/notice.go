package tickets

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Notifier tells customers that their ticket is solved, once per solve
// whatever the number of instances and restarts: it polls the solved events
// (ticket_events) of the last MaxAge that have no done notice, claims each
// in ticket_notices (the event's id is the primary key: of two instances one
// inserts the claim, the other inserts nothing), calls Tell, and marks the
// notice done with Tell's outcome, also recorded as a notified event of the
// ticket. A claim not done within Lease (its instance died while telling)
// is taken again: a notice is lost only if Tell itself never succeeds, and
// is sent twice only if an instance died between telling and marking done.
// A solve superseded by a reopening (or a later solve) is not told.
//
// Kick (wired to Store.OnSolve) makes the next poll happen now, so the
// customer hears at once; the poll every Every catches the solves of other
// instances and of a restart.
type Notifier struct {
	Store *Store
	// Tell tells the customer of the solved ticket t on their channel (and
	// surveys them) and returns how, or why it could not (recorded); an
	// error leaves the notice to be tried again after Lease.
	Tell    func(ctx context.Context, t Ticket) (outcome string, err error)
	Every   time.Duration // default 5 s
	Lease   time.Duration // default 10 min
	MaxAge  time.Duration // solves older than this are not told (default 7 days)
	Claimer string        // who claims (an instance id), for the record
	Log     *slog.Logger

	kick chan struct{}
	stop context.CancelFunc
	done chan struct{}
	once sync.Once // defaults
}

func (n *Notifier) defaults() { n.once.Do(n.setDefaults) }

func (n *Notifier) setDefaults() {
	n.kick = make(chan struct{}, 1)
	if n.Every <= 0 {
		n.Every = 5 * time.Second
	}
	if n.Lease <= 0 {
		n.Lease = 10 * time.Minute
	}
	if n.MaxAge <= 0 {
		n.MaxAge = 7 * 24 * time.Hour
	}
	if n.Log == nil {
		n.Log = slog.New(slog.DiscardHandler)
	}
}

// Kick asks for a poll now; it never blocks.
func (n *Notifier) Kick(int64) {
	n.defaults()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Start polls until Close.
func (n *Notifier) Start() {
	n.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	n.stop, n.done = cancel, make(chan struct{})
	go func() {
		defer close(n.done)
		t := time.NewTicker(n.Every)
		defer t.Stop()
		for {
			if _, err := n.Tick(ctx); err != nil && ctx.Err() == nil {
				n.Log.Warn("tickets: telling customers of solved tickets", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-n.kick:
			}
		}
	}()
}

// Close stops the polling and waits for a poll under way.
func (n *Notifier) Close() {
	if n.stop != nil {
		n.stop()
		<-n.done
	}
}

// Tick is one poll: it tells the customers of the solves not told yet and
// returns how many this call told.
func (n *Notifier) Tick(ctx context.Context) (int, error) {
	n.defaults()
	s := n.Store
	now := s.now()
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT e.id, e.ticket, e.at FROM ticket_events e
		LEFT JOIN ticket_notices n ON n.event = e.id
		WHERE e.type = ? AND e.at >= ? AND (n.event IS NULL OR (n.done IS NULL AND n.claimed < ?))
		ORDER BY e.id LIMIT 100`), EvSolved, now.Add(-n.MaxAge).UnixMilli(), now.Add(-n.Lease).UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("tickets: notices: %w", err)
	}
	type solve struct{ event, ticket, at int64 }
	var todo []solve
	for rows.Next() {
		var x solve
		if err := rows.Scan(&x.event, &x.ticket, &x.at); err != nil {
			rows.Close()
			return 0, fmt.Errorf("tickets: notices: %w", err)
		}
		todo = append(todo, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("tickets: notices: %w", err)
	}
	told := 0
	for _, x := range todo {
		ok, err := n.claim(ctx, x.event, x.ticket)
		if err != nil {
			return told, err
		}
		if !ok {
			continue // another instance has it
		}
		t, err := s.Get(ctx, x.ticket)
		if err != nil {
			return told, err
		}
		outcome := "superseded"
		if t.State == Solved && t.Solved.UnixMilli() == x.at {
			if outcome, err = n.Tell(ctx, t); err != nil {
				n.Log.Warn("tickets: telling the customer", "ticket", t.ID, "err", err)
				continue // tried again after the lease
			}
			told++
		}
		if err := n.finish(ctx, x.event, outcome); err != nil {
			return told, err
		}
		if outcome != "superseded" {
			if err := s.Record(ctx, t.ID, EvNotified, "system", outcome); err != nil {
				return told, err
			}
		}
	}
	return told, nil
}

// claim takes the notice of one solved event: a new claim, or one whose
// claimer did not finish within the lease.
func (n *Notifier) claim(ctx context.Context, event, ticket int64) (bool, error) {
	s := n.Store
	now := s.now().UnixMilli()
	res, err := s.w.ExecContext(ctx, s.q(`INSERT INTO ticket_notices (event, ticket, claimed, claimer) VALUES (?, ?, ?, ?)
		ON CONFLICT (event) DO NOTHING`), event, ticket, now, n.Claimer)
	if err != nil {
		return false, fmt.Errorf("tickets: claim notice: %w", err)
	}
	if k, _ := res.RowsAffected(); k == 1 {
		return true, nil
	}
	res, err = s.w.ExecContext(ctx, s.q(`UPDATE ticket_notices SET claimed = ?, claimer = ? WHERE event = ? AND done IS NULL AND claimed < ?`),
		now, n.Claimer, event, now-n.Lease.Milliseconds())
	if err != nil {
		return false, fmt.Errorf("tickets: claim notice: %w", err)
	}
	k, _ := res.RowsAffected()
	return k == 1, nil
}

func (n *Notifier) finish(ctx context.Context, event int64, outcome string) error {
	s := n.Store
	if _, err := s.w.ExecContext(ctx, s.q(`UPDATE ticket_notices SET done = ?, outcome = ? WHERE event = ?`),
		s.now().UnixMilli(), outcome, event); err != nil {
		return fmt.Errorf("tickets: notice done: %w", err)
	}
	return nil
}

// Notice is the record of one solve's notice (tests, the console).
type Notice struct {
	Event   int64
	Claimer string
	Done    bool
	Outcome string
}

// Notices are the notices of a ticket's solves, oldest first.
func (s *Store) Notices(ctx context.Context, ticket int64) ([]Notice, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT event, claimer, done, outcome FROM ticket_notices WHERE ticket = ? ORDER BY event`), ticket)
	if err != nil {
		return nil, fmt.Errorf("tickets: notices: %w", err)
	}
	defer rows.Close()
	var out []Notice
	for rows.Next() {
		var x Notice
		var done *int64
		if err := rows.Scan(&x.Event, &x.Claimer, &done, &x.Outcome); err != nil {
			return nil, fmt.Errorf("tickets: notices: %w", err)
		}
		x.Done = done != nil
		out = append(out, x)
	}
	return out, rows.Err()
}
