package tickets

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Reminder kinds: what a push about a ticket says.
const (
	KindNew     = "new"      // a ticket was created
	KindDueSoon = "due_soon" // an open ticket's due time is within the lead
	KindOverdue = "overdue"  // an open ticket is past its due time
)

// Ticket event types of the reminders (recorded once, with the reminder).
const (
	EvDueSoon = "due_soon"
	EvOverdue = "overdue"
)

// Reminder is one push to make about a ticket, claimed by this instance.
type Reminder struct {
	Kind   string
	Ticket Ticket
	Due    time.Time // the due time it is about (zero for KindNew)
}

// Key is the reminder's identity: one push per ticket, kind and due time.
func (r Reminder) Key() string {
	return fmt.Sprintf("ticket:%d:%s:%d", r.Ticket.ID, r.Kind, r.Due.UnixMilli())
}

// RemindConfig sets Reminders up.
type RemindConfig struct {
	// Lead: an open ticket is "due soon" this long before its due time
	// (default 1h).
	Lead time.Duration
	// Every: how often the archive is looked at (default 30 s).
	Every time.Duration
	// NewWithin: tickets created within this long before a sweep are
	// announced (KindNew); older ones never are (default 24h, so that a
	// first start on an old archive announces no history).
	NewWithin time.Duration
	// Lease: a reminder claimed and not pushed within this long (its
	// instance died pushing) is claimed again (default 10 min).
	Lease time.Duration
	// Instance names this process in the claims (for the record).
	Instance string
	// Push is told each reminder this instance claimed (nil: none; the
	// due-soon and overdue ones are in the ticket's events anyway). It runs
	// on the sweeper's goroutine, never on a conversation's path.
	Push func(ctx context.Context, r Reminder)
	Log  *slog.Logger
}

// Reminders finds tickets due soon, overdue and new, and claims each
// reminder once in the archive (ticket_reminders: a row per ticket, kind
// and due time, inserted or ignored): with several instances sweeping, and
// across restarts, each fires once. The row is marked done once pushed; a
// claim left undone past the lease (the instance died pushing) is taken
// again by the next sweep, so a reminder is lost to no crash and pushed
// twice only if an instance dies between pushing and marking it done.
// Pending tickets get none (their clock is paused); a due time moved by a
// pause is a new due time.
type Reminders struct {
	s   *Store
	cfg RemindConfig

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewReminders makes the reminders of s; it does no I/O.
func NewReminders(s *Store, cfg RemindConfig) *Reminders {
	if cfg.Lead <= 0 {
		cfg.Lead = time.Hour
	}
	if cfg.Every <= 0 {
		cfg.Every = 30 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 10 * time.Minute
	}
	if cfg.NewWithin <= 0 {
		cfg.NewWithin = 24 * time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Reminders{s: s, cfg: cfg}
}

// sweepLimit bounds the tickets of one kind looked at per sweep; the rest
// wait for the next.
const sweepLimit = 200

// Sweep claims and pushes what is due now; it returns the reminders this
// instance claimed.
func (m *Reminders) Sweep(ctx context.Context) ([]Reminder, error) {
	now := m.s.now()
	nowMs := now.UnixMilli()
	var out []Reminder
	type pass struct {
		kind, where string
		args        []any
	}
	// Not yet: no claim, or one left undone past the lease.
	stale := now.Add(-m.cfg.Lease).UnixMilli()
	notYet := func(kind string, due string) string {
		return ` AND NOT EXISTS (SELECT 1 FROM ticket_reminders r WHERE r.ticket = t.id AND r.kind = '` + kind + `' AND r.due = ` + due +
			` AND (r.done = 1 OR r.at > ?))`
	}
	passes := []pass{
		{KindNew, `t.created >= ?` + notYet(KindNew, "0"), []any{now.Add(-m.cfg.NewWithin).UnixMilli(), stale}},
		{KindOverdue, `t.state = 'open' AND t.due IS NOT NULL AND t.due <= ?` + notYet(KindOverdue, "t.due"), []any{nowMs, stale}},
		{KindDueSoon, `t.state = 'open' AND t.due IS NOT NULL AND t.due > ? AND t.due <= ?` + notYet(KindDueSoon, "t.due"),
			[]any{nowMs, now.Add(m.cfg.Lead).UnixMilli(), stale}},
	}
	for _, p := range passes {
		rows, err := m.s.r.QueryContext(ctx, m.s.q(`SELECT `+prefixed("t.", cols)+` FROM tickets t WHERE `+p.where+
			fmt.Sprintf(` ORDER BY t.id LIMIT %d`, sweepLimit)), p.args...)
		if err != nil {
			return out, fmt.Errorf("tickets: reminders: %w", err)
		}
		var ts []Ticket
		for rows.Next() {
			t, err := scan(rows)
			if err != nil {
				rows.Close()
				return out, fmt.Errorf("tickets: reminders: %w", err)
			}
			ts = append(ts, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return out, fmt.Errorf("tickets: reminders: %w", err)
		}
		for _, t := range ts {
			r := Reminder{Kind: p.kind, Ticket: t}
			if p.kind != KindNew {
				r.Due = t.Due
			}
			won, err := m.claim(ctx, r, nowMs, stale)
			if err != nil {
				return out, err
			}
			if !won {
				continue
			}
			out = append(out, r)
			if m.cfg.Push != nil {
				m.cfg.Push(ctx, r)
			}
			if _, err := m.s.w.ExecContext(ctx, m.s.q(`UPDATE ticket_reminders SET done = 1 WHERE ticket = ? AND kind = ? AND due = ?`),
				r.Ticket.ID, r.Kind, r.Due.UnixMilli()); err != nil {
				return out, fmt.Errorf("tickets: reminder done: %w", err)
			}
		}
	}
	return out, nil
}

// claim inserts the reminder's row, and for due-soon and overdue the
// ticket's event, in one transaction; or takes over a claim left undone
// since before stale (no second event). won is false when another instance
// holds it or it is done.
func (m *Reminders) claim(ctx context.Context, r Reminder, now, stale int64) (won bool, err error) {
	tx, err := m.s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("tickets: reminder: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, m.s.q(`INSERT INTO ticket_reminders (ticket, kind, due, at, instance) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		r.Ticket.ID, r.Kind, r.Due.UnixMilli(), now, m.cfg.Instance)
	if err != nil {
		return false, fmt.Errorf("tickets: reminder: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("tickets: reminder: %w", err)
	}
	if n != 1 {
		res, err := tx.ExecContext(ctx, m.s.q(`UPDATE ticket_reminders SET at = ?, instance = ? WHERE ticket = ? AND kind = ? AND due = ? AND done = 0 AND at <= ?`),
			now, m.cfg.Instance, r.Ticket.ID, r.Kind, r.Due.UnixMilli(), stale)
		if err != nil {
			return false, fmt.Errorf("tickets: reminder: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return false, err
		}
		return true, tx.Commit()
	}
	if typ := map[string]string{KindDueSoon: EvDueSoon, KindOverdue: EvOverdue}[r.Kind]; typ != "" {
		if err := m.s.event(ctx, tx, r.Ticket.ID, now, typ, "", "", "system", r.Due.UTC().Format(time.RFC3339)); err != nil {
			return false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("tickets: reminder: %w", err)
	}
	return true, nil
}

// Start sweeps every cfg.Every until Close (or ctx ends); a failed sweep is
// logged and tried again at the next tick.
func (m *Reminders) Start(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cancel != nil {
		return
	}
	ctx, m.cancel = context.WithCancel(ctx)
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		tick := time.NewTicker(m.cfg.Every)
		defer tick.Stop()
		for {
			if _, err := m.Sweep(ctx); err != nil && ctx.Err() == nil {
				m.cfg.Log.WarnContext(ctx, "ticket reminders", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// Close stops the sweeps and waits for the one running.
func (m *Reminders) Close() {
	m.mu.Lock()
	cancel, done := m.cancel, m.done
	m.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// prefixed is a column list with each column prefixed.
func prefixed(p, list string) string {
	parts := strings.Split(list, ",")
	for i := range parts {
		parts[i] = p + strings.TrimSpace(parts[i])
	}
	return strings.Join(parts, ", ")
}
