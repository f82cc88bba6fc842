// Package tickets owns the tickets tables of the archive database (tickets,
// ticket_convs, ticket_notes, ticket_events; the migrations are the
// archive's, under archive/migrations, so that one Open sets every table
// up): what outlives a chat. A ticket is created when the customer leaves a
// message while nobody can answer (ReasonLeaveMessage), by an agent from a
// conversation (ReasonAgent), or when a conversation is rated 2 or less
// (ReasonLowRating, a second-contact ticket: RatingWriter). It moves
// open → pending (waiting on a department, or on the customer) → solved →
// closed, and back to open when the customer writes again within the reopen
// window; every change is a ticket event. Nothing else writes these tables.
package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/priority"
)

// State is where a ticket stands.
type State string

// The states.
const (
	Open    State = "open"
	Pending State = "pending" // waiting on a department (WaitingOn) or on the customer
	Solved  State = "solved"
	Closed  State = "closed"
)

// States lists the states in their order.
var States = []State{Open, Pending, Solved, Closed}

// ParseState reads a state's name.
func ParseState(s string) (State, error) {
	if slices.Contains(States, State(s)) {
		return State(s), nil
	}
	return "", fmt.Errorf("%w: state %q: want open, pending, solved or closed", ErrBad, s)
}

// Why a ticket was created.
const (
	ReasonLeaveMessage = "leave_message"
	ReasonAgent        = "agent"
	ReasonLowRating    = "low_rating"
)

// WaitingOnCustomer is Pending's WaitingOn when the customer must answer.
const WaitingOnCustomer = "customer"

// Ticket event types (besides a state change, whose type is the new state's
// verb: created, pending, opened, reopened, solved, closed).
const (
	EvCreated  = "created"
	EvPending  = "pending"
	EvOpened   = "opened"
	EvReopened = "reopened"
	EvSolved   = "solved"
	EvClosed   = "closed"
	EvAssigned = "assigned"
	EvLinked   = "linked"
	EvNoted    = "noted"
	EvNotified = "notified" // the customer was told (detail: how, or why not)
)

// Errors.
var (
	ErrBad        = errors.New("tickets: bad request")
	ErrNotFound   = errors.New("tickets: no such ticket")
	ErrTransition = errors.New("tickets: state change not allowed")
)

// Ticket is one ticket.
type Ticket struct {
	ID         int64
	State      State
	WaitingOn  string // Pending: a department, or "customer"
	Priority   priority.Level
	Owner      string // an agent id or a group
	Department string // a group of the configuration
	Due        time.Time
	Reason     string
	Text       string // what the customer left
	Customer   string // the customer's thread id (conv.ThreadID)
	Contact    string // a phone number or the like the customer left
	Convs      []string
	Created    time.Time
	Updated    time.Time
	Solved     time.Time
	Notes      []Note  // Get only
	Events     []Event // Get only
}

// Note is an internal note.
type Note struct {
	At     time.Time
	Author string
	Text   string
}

// Event is one change of a ticket.
type Event struct {
	At     time.Time
	Type   string
	From   State
	To     State
	By     string
	Detail string
}

// NewTicket is what Create needs.
type NewTicket struct {
	// Source, when not empty, makes creation idempotent: a second Create
	// with the same Source returns the first ticket (created false).
	Source     string
	Priority   priority.Level // Unset: normal
	Owner      string
	Department string
	Due        time.Time
	Reason     string
	Text       string
	Customer   string
	Contact    string
	Convs      []string
	By         string // who created it (an agent id, "customer", "system")
}

// Store reads and writes tickets in an open archive.
type Store struct {
	w, r *sql.DB
	d    archive.Dialect
	now  func() time.Time
	// onSolve, when set (OnSolve), hears of every solve this Store makes.
	onSolve func(id int64)
}

// New is the tickets of db; now nil is time.Now.
func New(db *archive.DB, now func() time.Time) *Store {
	w, r := db.SQL()
	if now == nil {
		now = time.Now
	}
	return &Store{w: w, r: r, d: db.Dialect(), now: now}
}

func (s *Store) q(stmt string) string { return archive.Rebind(s.d, stmt) }

func ms(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func fromMs(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

// Create stores a new open ticket and its created event; with a Source
// already used it returns that ticket and created false.
func (s *Store) Create(ctx context.Context, n NewTicket) (t Ticket, created bool, err error) {
	switch n.Reason {
	case ReasonLeaveMessage, ReasonAgent, ReasonLowRating:
	default:
		return Ticket{}, false, fmt.Errorf("%w: reason %q: want leave_message, agent or low_rating", ErrBad, n.Reason)
	}
	if n.Priority == priority.Unset {
		n.Priority = priority.Normal
	}
	now := s.now().UnixMilli()
	var src any
	if n.Source != "" {
		src = n.Source
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return Ticket{}, false, fmt.Errorf("tickets: create: %w", err)
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, s.q(`INSERT INTO tickets (source, state, priority, owner, department, due, reason, text, customer, contact, created, updated)
		VALUES (?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source) DO NOTHING RETURNING id`),
		src, n.Priority.String(), n.Owner, n.Department, ms(n.Due), n.Reason, n.Text, n.Customer, n.Contact, now, now).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		// Already created from this source (a replay, or another instance).
		if err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM tickets WHERE source = ?`), n.Source).Scan(&id); err != nil {
			return Ticket{}, false, fmt.Errorf("tickets: create: %w", err)
		}
		tx.Rollback()
		t, err := s.Get(ctx, id)
		return t, false, err
	}
	if err != nil {
		return Ticket{}, false, fmt.Errorf("tickets: create: %w", err)
	}
	for _, c := range n.Convs {
		if err := s.link(ctx, tx, id, c); err != nil {
			return Ticket{}, false, err
		}
	}
	if err := s.event(ctx, tx, id, now, EvCreated, "", Open, n.By, n.Reason); err != nil {
		return Ticket{}, false, err
	}
	if err := tx.Commit(); err != nil {
		return Ticket{}, false, fmt.Errorf("tickets: create: %w", err)
	}
	t, err = s.Get(ctx, id)
	return t, true, err
}

func (s *Store) link(ctx context.Context, tx *sql.Tx, id int64, c string) error {
	if c == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO ticket_convs (ticket, conv) VALUES (?, ?) ON CONFLICT DO NOTHING`), id, c)
	if err != nil {
		return fmt.Errorf("tickets: link: %w", err)
	}
	return nil
}

func (s *Store) event(ctx context.Context, tx *sql.Tx, id, at int64, typ string, from, to State, by, detail string) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO ticket_events (ticket, at, type, from_state, to_state, actor, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		id, at, typ, string(from), string(to), by, detail)
	if err != nil {
		return fmt.Errorf("tickets: event: %w", err)
	}
	return nil
}

const cols = `id, state, waiting_on, priority, owner, department, due, reason, text, customer, contact, created, updated, solved`

func scan(row interface{ Scan(...any) error }) (Ticket, error) {
	var t Ticket
	var state, prio string
	var due, created, updated, solved sql.NullInt64
	if err := row.Scan(&t.ID, &state, &t.WaitingOn, &prio, &t.Owner, &t.Department, &due, &t.Reason, &t.Text,
		&t.Customer, &t.Contact, &created, &updated, &solved); err != nil {
		return Ticket{}, err
	}
	t.State = State(state)
	t.Priority, _ = priority.Parse(prio)
	t.Due, t.Created, t.Updated, t.Solved = fromMs(due), fromMs(created), fromMs(updated), fromMs(solved)
	return t, nil
}

// Get is one ticket with its conversations, notes and events.
func (s *Store) Get(ctx context.Context, id int64) (Ticket, error) {
	t, err := scan(s.r.QueryRowContext(ctx, s.q(`SELECT `+cols+` FROM tickets WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Ticket{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("tickets: get: %w", err)
	}
	if err := s.convs(ctx, []*Ticket{&t}); err != nil {
		return Ticket{}, err
	}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT at, author, text FROM ticket_notes WHERE ticket = ? ORDER BY at, id`), id)
	if err != nil {
		return Ticket{}, fmt.Errorf("tickets: notes: %w", err)
	}
	for rows.Next() {
		var n Note
		var at int64
		if err := rows.Scan(&at, &n.Author, &n.Text); err != nil {
			rows.Close()
			return Ticket{}, fmt.Errorf("tickets: notes: %w", err)
		}
		n.At = time.UnixMilli(at).UTC()
		t.Notes = append(t.Notes, n)
	}
	rows.Close()
	rows, err = s.r.QueryContext(ctx, s.q(`SELECT at, type, from_state, to_state, actor, detail FROM ticket_events WHERE ticket = ? ORDER BY id`), id)
	if err != nil {
		return Ticket{}, fmt.Errorf("tickets: events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e Event
		var at int64
		var from, to string
		if err := rows.Scan(&at, &e.Type, &from, &to, &e.By, &e.Detail); err != nil {
			return Ticket{}, fmt.Errorf("tickets: events: %w", err)
		}
		e.At, e.From, e.To = time.UnixMilli(at).UTC(), State(from), State(to)
		t.Events = append(t.Events, e)
	}
	return t, rows.Err()
}

func (s *Store) convs(ctx context.Context, ts []*Ticket) error {
	if len(ts) == 0 {
		return nil
	}
	by := make(map[int64]*Ticket, len(ts))
	ph := make([]string, 0, len(ts))
	args := make([]any, 0, len(ts))
	for _, t := range ts {
		by[t.ID] = t
		ph = append(ph, "?")
		args = append(args, t.ID)
	}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT ticket, conv FROM ticket_convs WHERE ticket IN (`+strings.Join(ph, ",")+`) ORDER BY ticket, conv`), args...)
	if err != nil {
		return fmt.Errorf("tickets: conversations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var c string
		if err := rows.Scan(&id, &c); err != nil {
			return fmt.Errorf("tickets: conversations: %w", err)
		}
		by[id].Convs = append(by[id].Convs, c)
	}
	return rows.Err()
}

// Filter narrows List; zero fields match everything.
type Filter struct {
	State      State
	Owner      string
	Department string
	Customer   string
	DueBefore  time.Time // tickets with a due time before this
	Limit      int       // default 500
}

// List is the tickets f matches, the most recent first.
func (s *Store) List(ctx context.Context, f Filter) ([]Ticket, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.State != "" {
		add("state = ?", string(f.State))
	}
	if f.Owner != "" {
		add("owner = ?", f.Owner)
	}
	if f.Department != "" {
		add("department = ?", f.Department)
	}
	if f.Customer != "" {
		add("customer = ?", f.Customer)
	}
	if !f.DueBefore.IsZero() {
		add("due IS NOT NULL AND due < ?", f.DueBefore.UnixMilli())
	}
	stmt := `SELECT ` + cols + ` FROM tickets`
	if len(where) > 0 {
		stmt += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 500
	}
	stmt += fmt.Sprintf(` ORDER BY created DESC, id DESC LIMIT %d`, limit)
	rows, err := s.r.QueryContext(ctx, s.q(stmt), args...)
	if err != nil {
		return nil, fmt.Errorf("tickets: list: %w", err)
	}
	var out []Ticket
	for rows.Next() {
		t, err := scan(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("tickets: list: %w", err)
		}
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tickets: list: %w", err)
	}
	ptrs := make([]*Ticket, len(out))
	for i := range out {
		ptrs[i] = &out[i]
	}
	return out, s.convs(ctx, ptrs)
}

// allowed are the state changes Move makes.
var allowed = map[State][]State{
	Open:    {Pending, Solved, Closed},
	Pending: {Open, Solved, Closed},
	Solved:  {Open, Closed},
}

// Move changes a ticket's state (waitingOn: Pending's department or
// "customer"), recording the change as an event by by. Solved → Open is a
// reopening. Leaving Pending moves the due time by the time spent pending
// (calendar time): waiting on a department or on the customer does not
// count against the ticket's resolution target; the event's detail says
// how long it was paused (PausedDetail).
func (s *Store) Move(ctx context.Context, id int64, to State, waitingOn, by, detail string) (Ticket, error) {
	if _, err := ParseState(string(to)); err != nil {
		return Ticket{}, err
	}
	if to == Pending && waitingOn == "" {
		return Ticket{}, fmt.Errorf("%w: pending needs what it waits on (a department or customer)", ErrBad)
	}
	if to != Pending {
		waitingOn = ""
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return Ticket{}, fmt.Errorf("tickets: move: %w", err)
	}
	defer tx.Rollback()
	var from string
	err = tx.QueryRowContext(ctx, s.q(`SELECT state FROM tickets WHERE id = ?`+s.forUpdate()), id).Scan(&from)
	if errors.Is(err, sql.ErrNoRows) {
		return Ticket{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("tickets: move: %w", err)
	}
	if !slices.Contains(allowed[State(from)], to) {
		return Ticket{}, fmt.Errorf("%w: %s → %s", ErrTransition, from, to)
	}
	now := s.now().UnixMilli()
	var solved any
	if to == Solved {
		solved = now
	}
	// The clock of the ticket's due time stops while it is pending (waiting
	// on a department or on the customer): leaving pending moves the due
	// time by how long it was paused.
	var paused int64
	if State(from) == Pending {
		var since sql.NullInt64
		err := tx.QueryRowContext(ctx, s.q(`SELECT MAX(at) FROM ticket_events WHERE ticket = ? AND to_state = 'pending'`), id).Scan(&since)
		if err != nil {
			return Ticket{}, fmt.Errorf("tickets: move: %w", err)
		}
		if since.Valid && since.Int64 < now {
			paused = now - since.Int64
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE tickets SET state = ?, waiting_on = ?, updated = ?, solved = COALESCE(?, solved), due = due + ? WHERE id = ?`),
		string(to), waitingOn, now, solved, paused, id); err != nil {
		return Ticket{}, fmt.Errorf("tickets: move: %w", err)
	}
	if paused > 0 {
		detail = strings.TrimSpace(detail + " " + PausedDetail(time.Duration(paused)*time.Millisecond))
	}
	typ := map[State]string{Pending: EvPending, Open: EvOpened, Solved: EvSolved, Closed: EvClosed}[to]
	if State(from) == Solved && to == Open {
		typ = EvReopened
	}
	if to == Pending {
		detail = strings.TrimSpace(waitingOn + " " + detail)
	}
	if err := s.event(ctx, tx, id, now, typ, State(from), to, by, detail); err != nil {
		return Ticket{}, err
	}
	if err := tx.Commit(); err != nil {
		return Ticket{}, fmt.Errorf("tickets: move: %w", err)
	}
	if to == Solved && s.onSolve != nil {
		s.onSolve(id) // the customer is told (Notifier); never blocks
	}
	return s.Get(ctx, id)
}

// PausedDetail is the part of a state change's detail that says how long
// the ticket's clock was paused ("paused 2h0m0s").
func PausedDetail(d time.Duration) string { return "paused " + d.Round(time.Second).String() }

func (s *Store) forUpdate() string {
	if s.d == archive.Postgres {
		return " FOR UPDATE"
	}
	return "" // SQLite: the write transaction is immediate
}

// Assign sets a ticket's owner and department (an empty one is kept).
func (s *Store) Assign(ctx context.Context, id int64, owner, department, by string) (Ticket, error) {
	return s.change(ctx, id, EvAssigned, by, strings.TrimSpace(owner+" "+department), func(tx *sql.Tx, now int64) error {
		_, err := tx.ExecContext(ctx, s.q(`UPDATE tickets SET owner = COALESCE(NULLIF(?, ''), owner), department = COALESCE(NULLIF(?, ''), department), updated = ? WHERE id = ?`),
			owner, department, now, id)
		return err
	})
}

// Link adds an archived conversation to a ticket.
func (s *Store) Link(ctx context.Context, id int64, conv, by string) (Ticket, error) {
	return s.change(ctx, id, EvLinked, by, conv, func(tx *sql.Tx, now int64) error {
		if err := s.link(ctx, tx, id, conv); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`UPDATE tickets SET updated = ? WHERE id = ?`), now, id)
		return err
	})
}

// AddNote adds an internal note.
func (s *Store) AddNote(ctx context.Context, id int64, author, text string) (Ticket, error) {
	if strings.TrimSpace(text) == "" {
		return Ticket{}, fmt.Errorf("%w: an empty note", ErrBad)
	}
	return s.change(ctx, id, EvNoted, author, "", func(tx *sql.Tx, now int64) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO ticket_notes (ticket, at, author, text) VALUES (?, ?, ?, ?)`), id, now, author, text); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`UPDATE tickets SET updated = ? WHERE id = ?`), now, id)
		return err
	})
}

// Record adds an event that changes nothing else (EvNotified: how the
// customer was told).
func (s *Store) Record(ctx context.Context, id int64, typ, by, detail string) error {
	_, err := s.change(ctx, id, typ, by, detail, func(*sql.Tx, int64) error { return nil })
	return err
}

func (s *Store) change(ctx context.Context, id int64, typ, by, detail string, f func(tx *sql.Tx, now int64) error) (Ticket, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return Ticket{}, fmt.Errorf("tickets: %s: %w", typ, err)
	}
	defer tx.Rollback()
	var state string
	err = tx.QueryRowContext(ctx, s.q(`SELECT state FROM tickets WHERE id = ?`+s.forUpdate()), id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return Ticket{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("tickets: %s: %w", typ, err)
	}
	now := s.now().UnixMilli()
	if err := f(tx, now); err != nil {
		return Ticket{}, fmt.Errorf("tickets: %s: %w", typ, err)
	}
	if err := s.event(ctx, tx, id, now, typ, "", "", by, detail); err != nil {
		return Ticket{}, err
	}
	if err := tx.Commit(); err != nil {
		return Ticket{}, fmt.Errorf("tickets: %s: %w", typ, err)
	}
	return s.Get(ctx, id)
}

// CustomerWrote reopens the customer's tickets solved within window before
// now (the customer wrote again about it): each goes back to open with a
// reopened event. It returns the tickets reopened.
func (s *Store) CustomerWrote(ctx context.Context, customer string, window time.Duration, conv string) ([]Ticket, error) {
	if customer == "" || window <= 0 {
		return nil, nil
	}
	since := s.now().Add(-window).UnixMilli()
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT id FROM tickets WHERE customer = ? AND state = 'solved' AND solved >= ?`), customer, since)
	if err != nil {
		return nil, fmt.Errorf("tickets: reopen: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("tickets: reopen: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	var out []Ticket
	for _, id := range ids {
		t, err := s.Move(ctx, id, Open, "", "customer", "the customer wrote again")
		if errors.Is(err, ErrTransition) {
			continue // another instance reopened it meanwhile
		}
		if err != nil {
			return out, err
		}
		if conv != "" {
			if t, err = s.Link(ctx, id, conv, "customer"); err != nil {
				return out, err
			}
		}
		out = append(out, t)
	}
	return out, nil
}
