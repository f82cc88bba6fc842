package archive

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Event is one lifecycle event as the lifecycle stream carries it.
type Event struct {
	// ID is the Redis stream entry id ("1733150000000-0"): the key that makes
	// writing the same event twice store it once.
	ID     string
	Type   string
	Conv   string
	At     time.Time
	Fields map[string]string
}

// The event types Write applies to the conversation and its messages; any
// other type is kept in the events table only. (They move to the package
// that will own the conversation's schema when the events are emitted.)
const (
	ConversationStarted = "conversation_started" // customer, channel, group
	CustomerMessage     = "customer_message"     // text, kind, entities
	BotReply            = "bot_reply"            // text, kind, intent, action
	AgentMessage        = "agent_message"        // agent, text, kind
	Note                = "note"                 // agent, text
	Claimed             = "claimed"              // agent
	Closed              = "closed"               // by, outcome
	Abandoned           = "abandoned"
	Rated               = "rated" // score
)

// Field names inside Event.Fields.
const (
	FieldCustomer = "customer"
	FieldChannel  = "channel"
	FieldGroup    = "group"
	FieldText     = "text"
	FieldKind     = "kind"
	FieldAgent    = "agent"
	FieldIntent   = "intent"
	FieldOutcome  = "outcome"
	FieldScore    = "score"
	// FieldEntities: the order, tracking and phone numbers found in the
	// text, separated by spaces.
	FieldEntities = "entities"
)

// Message directions.
const (
	DirIn   = "in"
	DirOut  = "out"
	DirNote = "note"
)

// Outcomes of a closed conversation.
const (
	OutcomeBot       = "bot"       // closed without a person
	OutcomeAgent     = "agent"     // an agent took part
	OutcomeAbandoned = "abandoned" // the customer left while waiting
)

// Write stores a batch of events in one transaction: all of it or nothing.
// An event whose id is already stored is skipped, changes included, so a
// batch replayed after a crash stores nothing twice. A bad event (no id or
// conversation, an unparsable score) refuses the whole batch with
// ErrBadEvent.
func (d *DB) Write(ctx context.Context, batch []Event) error {
	if len(batch) == 0 {
		return nil
	}
	for i := range batch {
		if err := check(&batch[i]); err != nil {
			return err
		}
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	defer tx.Rollback()
	for i := range batch {
		if testHookApply != nil {
			if err := testHookApply(i); err != nil {
				return fmt.Errorf("write event %s: %w", batch[i].ID, err)
			}
		}
		if err := d.apply(ctx, tx, &batch[i]); err != nil {
			return fmt.Errorf("write event %s: %w", batch[i].ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	return nil
}

// testHookApply, when a test sets it, runs before each event of a batch is
// applied inside the transaction; an error it returns fails the batch there.
var testHookApply func(i int) error

func check(e *Event) error {
	if e.ID == "" || e.Conv == "" || e.Type == "" {
		return fmt.Errorf("%w: id %q, conversation %q, type %q: none may be empty", ErrBadEvent, e.ID, e.Conv, e.Type)
	}
	if e.Type == Rated {
		if _, err := strconv.Atoi(e.Fields[FieldScore]); err != nil {
			return fmt.Errorf("%w: %s: score %q", ErrBadEvent, e.ID, e.Fields[FieldScore])
		}
	}
	return nil
}

// apply stores e and, when it is new, its effect on the conversation.
func (d *DB) apply(ctx context.Context, tx *sql.Tx, e *Event) error {
	fields := e.Fields
	if fields == nil {
		fields = map[string]string{}
	}
	js, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	at := millis(e.At)
	res, err := tx.ExecContext(ctx, rebind(d.dialect,
		`INSERT INTO events (id, conv, at, type, fields) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
		e.ID, e.Conv, at, e.Type, string(js))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return nil // stored before: its changes were applied then
	}
	// Every event has a conversation row to hang on, even one that arrives
	// before its conversation_started (several archivers, any order): until
	// that comes, the conversation started with its earliest event.
	if _, err := tx.ExecContext(ctx, rebind(d.dialect,
		`INSERT INTO conversations (id, started) VALUES (?, ?) ON CONFLICT (id) DO UPDATE
		 SET started = CASE WHEN excluded.started < conversations.started THEN excluded.started ELSE conversations.started END`), e.Conv, at); err != nil {
		return err
	}
	exec := func(stmt string, args ...any) error {
		_, err := tx.ExecContext(ctx, rebind(d.dialect, stmt), args...)
		return err
	}
	f := func(k string) string { return fields[k] }
	switch e.Type {
	case ConversationStarted:
		return exec(`UPDATE conversations SET customer = ?, channel = ?, group_name = ?, started = ? WHERE id = ?`,
			f(FieldCustomer), f(FieldChannel), f(FieldGroup), at, e.Conv)
	case CustomerMessage:
		return d.message(ctx, tx, e, DirIn)
	case BotReply:
		return d.message(ctx, tx, e, DirOut)
	case AgentMessage:
		if err := d.message(ctx, tx, e, DirOut); err != nil {
			return err
		}
		return exec(`UPDATE conversations SET agent = ? WHERE id = ? AND agent = ''`, f(FieldAgent), e.Conv)
	case Note:
		return d.message(ctx, tx, e, DirNote)
	case Claimed:
		return exec(`UPDATE conversations SET agent = ? WHERE id = ?`, f(FieldAgent), e.Conv)
	case Closed:
		// Only an outcome the event names is stored; bot or agent is
		// derived when read (outcomeSQL), so a claim archived after the
		// close still counts.
		return exec(`UPDATE conversations SET ended = CASE WHEN ended IS NULL OR ended < ? THEN ? ELSE ended END,
			outcome = CASE WHEN outcome = ? THEN outcome ELSE ? END WHERE id = ?`,
			at, at, OutcomeAbandoned, f(FieldOutcome), e.Conv)
	case Abandoned:
		return exec(`UPDATE conversations SET ended = CASE WHEN ended IS NULL OR ended < ? THEN ? ELSE ended END,
			outcome = ? WHERE id = ?`, at, at, OutcomeAbandoned, e.Conv)
	case Rated:
		score, _ := strconv.Atoi(f(FieldScore)) // checked before the transaction
		return exec(`UPDATE conversations SET rating = ? WHERE id = ?`, score, e.Conv)
	}
	return nil
}

// message stores the message e carries, its words and its entities.
func (d *DB) message(ctx context.Context, tx *sql.Tx, e *Event, dir string) error {
	f := e.Fields
	text := f[FieldText]
	kind := f[FieldKind]
	if kind == "" {
		kind = "text"
	}
	ents := strings.Fields(f[FieldEntities])
	words := strings.Join(d.indexWords(text), " ")
	if _, err := tx.ExecContext(ctx, rebind(d.dialect,
		`INSERT INTO messages (event_id, conv, at, dir, kind, text, agent, intent, words, entities)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`),
		e.ID, e.Conv, millis(e.At), dir, kind, text, f[FieldAgent], f[FieldIntent], words, strings.Join(ents, " ")); err != nil {
		return err
	}
	for _, v := range ents {
		if _, err := tx.ExecContext(ctx, rebind(d.dialect,
			`INSERT INTO entities (value, conv, event_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`),
			v, e.Conv, e.ID); err != nil {
			return err
		}
	}
	return nil
}

// indexWords segments a message for the full-text index: with
// CutForSearch when the segmenter has it, else as queries are.
func (d *DB) indexWords(text string) []string {
	if s, ok := d.seg.(IndexSegmenter); ok {
		return keepWords(s.CutForSearch(strings.ToLower(text)))
	}
	return d.words(text)
}

// words segments a query.
func (d *DB) words(text string) []string { return keepWords(d.seg.Cut(strings.ToLower(text))) }

// keepWords keeps the words with a letter or a digit (punctuation would be
// a word of its own to PostgreSQL's parser in the C locale).
func keepWords(raw []string) []string {
	out := make([]string, 0, len(raw))
	for _, w := range raw {
		w = strings.TrimSpace(w)
		if strings.IndexFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }) < 0 {
			continue
		}
		out = append(out, w)
	}
	return out
}
