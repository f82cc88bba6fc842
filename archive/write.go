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

	"github.com/kefu-dev/kefu/conv"
)

// Event is one lifecycle event as the lifecycle stream carries it. Its type
// and field names are package conv's (conv.Started, conv.EvText, …).
type Event struct {
	// ID is the Redis stream entry id ("1733150000000-0"): the key that makes
	// writing the same event twice store it once.
	ID   string
	Type string
	// Conv is the archived conversation: one episode of a thread,
	// conv.ArchiveID(thread, ep) ("web:v1#3"). Its customer is the thread.
	Conv   string
	At     time.Time
	Fields map[string]string
}

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
	if e.Type == conv.Rated {
		if _, err := strconv.Atoi(e.Fields[conv.EvScore]); err != nil {
			return fmt.Errorf("%w: %s: score %q", ErrBadEvent, e.ID, e.Fields[conv.EvScore])
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
	// that comes, the conversation started with its earliest event. Its
	// customer is the thread and its channel the thread's first part
	// (conv.ThreadID), whichever event comes first.
	customer, channel := threadOf(e.Conv)
	if _, err := tx.ExecContext(ctx, rebind(d.dialect,
		`INSERT INTO conversations (id, customer, channel, started) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE
		 SET started = CASE WHEN excluded.started < conversations.started THEN excluded.started ELSE conversations.started END`),
		e.Conv, customer, channel, at); err != nil {
		return err
	}
	exec := func(stmt string, args ...any) error {
		_, err := tx.ExecContext(ctx, rebind(d.dialect, stmt), args...)
		return err
	}
	f := func(k string) string { return fields[k] }
	switch e.Type {
	case conv.Started:
		// A customer or channel the event names wins over the thread's.
		if c := f(conv.EvCustomer); c != "" {
			customer = c
		}
		if c := f(conv.EvChannel); c != "" {
			channel = c
		}
		return exec(`UPDATE conversations SET customer = ?, channel = ?, started = ? WHERE id = ?`,
			customer, channel, at, e.Conv)
	case conv.CustomerMessage:
		return d.message(ctx, tx, e, DirIn)
	case conv.BotReply:
		return d.message(ctx, tx, e, DirOut)
	case conv.AgentMessage:
		if err := d.message(ctx, tx, e, DirOut); err != nil {
			return err
		}
		return exec(`UPDATE conversations SET agent = ? WHERE id = ? AND agent = ''`, f(conv.EvAgent), e.Conv)
	case conv.Note:
		return d.message(ctx, tx, e, DirNote)
	case conv.Handoff, conv.Transfer:
		// The group it waits in; a transfer to another group moves it there.
		if g := f(conv.EvGroup); g != "" {
			return exec(`UPDATE conversations SET group_name = ? WHERE id = ?`, g, e.Conv)
		}
	case conv.Claimed:
		return exec(`UPDATE conversations SET agent = ? WHERE id = ?`, f(conv.EvAgent), e.Conv)
	case conv.Closed:
		// The outcome is derived when read (outcomeSQL), so a claim
		// archived after the close still counts.
		return exec(`UPDATE conversations SET ended = CASE WHEN ended IS NULL OR ended < ? THEN ? ELSE ended END WHERE id = ?`,
			at, at, e.Conv)
	case conv.Abandoned:
		return exec(`UPDATE conversations SET ended = CASE WHEN ended IS NULL OR ended < ? THEN ? ELSE ended END,
			outcome = ? WHERE id = ?`, at, at, OutcomeAbandoned, e.Conv)
	case conv.Rated:
		score, _ := strconv.Atoi(f(conv.EvScore)) // checked before the transaction
		return exec(`UPDATE conversations SET rating = ? WHERE id = ?`, score, e.Conv)
	}
	return nil
}

// threadOf is the customer (the thread) and the channel of an archived
// conversation id; an id that is no conv.ArchiveID has neither.
func threadOf(id string) (customer, channel string) {
	thread, _, ok := conv.SplitArchiveID(id)
	if !ok {
		return "", ""
	}
	channel, _, _ = strings.Cut(thread, ":")
	return thread, channel
}

// message stores the message e carries, its words and its entities: those
// the event names and those the extractor finds in the text.
func (d *DB) message(ctx context.Context, tx *sql.Tx, e *Event, dir string) error {
	f := e.Fields
	text := f[conv.EvText]
	kind := f[conv.EvKind]
	if kind == "" {
		kind = "text"
	}
	ents := d.entities(f[conv.EvEntities], text)
	words := strings.Join(d.indexWords(text), " ")
	if _, err := tx.ExecContext(ctx, rebind(d.dialect,
		`INSERT INTO messages (event_id, conv, at, dir, kind, text, agent, intent, words, entities)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`),
		e.ID, e.Conv, millis(e.At), dir, kind, text, f[conv.EvAgent], f[conv.EvIntent], words, strings.Join(ents, " ")); err != nil {
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

// entities are the named ones and the extractor's, each once, in order.
func (d *DB) entities(named, text string) []string {
	ents := strings.Fields(named)
	if d.extract != nil && text != "" {
		ents = append(ents, d.extract(text)...)
	}
	seen := make(map[string]bool, len(ents))
	out := ents[:0]
	for _, v := range ents {
		if v = strings.TrimSpace(v); v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
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
