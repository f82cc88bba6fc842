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
//
// Round trips, not rows, cost: the events, the conversations, the messages
// and the entities go in one multi-row statement each (per writeChunk
// events); only the changes events make to their conversation go one by
// one, in the batch's order.
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
	touched := map[string]bool{}
	var convs []string
	for start := 0; start < len(batch); start += writeChunk {
		fresh, err := d.write(ctx, tx, batch[start:min(start+writeChunk, len(batch))], start)
		if err != nil {
			return err
		}
		for _, c := range fresh {
			if !touched[c] {
				touched[c] = true
				convs = append(convs, c)
			}
		}
	}
	if d.rollups != nil && len(convs) > 0 {
		if err := d.rollups.Apply(ctx, tx, d.dialect, convs); err != nil {
			return fmt.Errorf("write events: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	return nil
}

// writeChunk bounds one multi-row statement (SQLite allows 32,766
// parameters, PostgreSQL 65,535; a message row has 10).
const writeChunk = 500

// write stores one chunk of a batch (base: its first event's index in the
// batch) inside tx, and returns the conversations of its new events.
func (d *DB) write(ctx context.Context, tx *sql.Tx, batch []Event, base int) ([]string, error) {
	fresh, err := d.insertEvents(ctx, tx, batch)
	if err != nil {
		return nil, fmt.Errorf("write events: %w", err)
	}
	if len(fresh) == 0 {
		return nil, nil // stored before: their changes were applied then
	}
	if err := d.upsertConversations(ctx, tx, batch, fresh); err != nil {
		return nil, fmt.Errorf("write events: %w", err)
	}
	var convs []string
	seenConv := map[string]bool{}
	for i := range batch {
		if c := batch[i].Conv; fresh[batch[i].ID] && !seenConv[c] {
			seenConv[c] = true
			convs = append(convs, c)
		}
	}
	var msgs []messageRow
	for i := range batch {
		e := &batch[i]
		if testHookApply != nil {
			if err := testHookApply(base + i); err != nil {
				return nil, fmt.Errorf("write event %s: %w", e.ID, err)
			}
		}
		if !fresh[e.ID] {
			continue
		}
		delete(fresh, e.ID) // the same event twice in a batch applies once
		m, err := d.apply(ctx, tx, e)
		if err != nil {
			return nil, fmt.Errorf("write event %s: %w", e.ID, err)
		}
		if m != nil {
			msgs = append(msgs, *m)
		}
	}
	if err := d.insertMessages(ctx, tx, msgs); err != nil {
		return nil, fmt.Errorf("write events: %w", err)
	}
	if d.dialect == SQLite {
		// The conversations of the new events: new ones, and those whose
		// start an event moved.
		if err := placeConversations(ctx, tx, convs); err != nil {
			return nil, fmt.Errorf("write events: %w", err)
		}
	}
	if err := d.addWords(ctx, tx, msgs); err != nil {
		return nil, fmt.Errorf("write events: %w", err)
	}
	return convs, nil
}

// seqShift: on SQLite a conversation's seq is its start in milliseconds
// shifted by seqShift, plus a tiebreak among the conversations of that
// millisecond: the newest-first order, and the full-text document's rowid
// (migration 00003).
const seqShift = 20

// seqRange is the smallest seq of a conversation started at ms, and the end
// of that millisecond's range.
func seqRange(ms int64) (lo, hi int64) { return ms << seqShift, (ms + 1) << seqShift }

// placeConversations gives each of ids whose seq does not match its start
// (a new conversation, or one whose start an earlier event moved) the
// next free seq of its millisecond. SQLite has one writer at a time, so
// no other transaction takes the same one.
func placeConversations(ctx context.Context, tx *sql.Tx, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	q := &query{d: SQLite}
	ps := make([]string, len(ids))
	for i, id := range ids {
		ps[i] = q.arg(id)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, started FROM conversations WHERE id IN (`+strings.Join(ps, ", ")+
		`) AND (seq IS NULL OR seq < (started << `+strconv.Itoa(seqShift)+`) OR seq >= ((started + 1) << `+strconv.Itoa(seqShift)+`))`, q.args...)
	if err != nil {
		return err
	}
	type place struct {
		id      string
		started int64
	}
	var todo []place
	for rows.Next() {
		var p place
		if err := rows.Scan(&p.id, &p.started); err != nil {
			rows.Close()
			return err
		}
		todo = append(todo, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range todo {
		lo, hi := seqRange(p.started)
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(seq) FROM conversations WHERE seq >= ? AND seq < ?`, lo, hi).Scan(&last); err != nil {
			return err
		}
		seq := lo
		if last.Valid {
			seq = last.Int64 + 1
		}
		if seq >= hi {
			return fmt.Errorf("conversation %s: more than %d conversations started in one millisecond", p.id, hi-lo)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE conversations SET seq = ? WHERE id = ?`, seq, p.id); err != nil {
			return err
		}
	}
	return nil
}

// addWords adds the messages' words to their conversations' (the
// conversation's full-text document): each word once, in the order first
// written.
func (d *DB) addWords(ctx context.Context, tx *sql.Tx, msgs []messageRow) error {
	add := map[string][]string{}
	var convs []string
	for _, m := range msgs {
		if m.words == "" {
			continue
		}
		if _, ok := add[m.conv]; !ok {
			convs = append(convs, m.conv)
		}
		add[m.conv] = append(add[m.conv], strings.Fields(m.words)...)
	}
	if len(convs) == 0 {
		return nil
	}
	q := &query{d: d.dialect}
	ps := make([]string, len(convs))
	for i, id := range convs {
		ps[i] = q.arg(id)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, words FROM conversations WHERE id IN (`+strings.Join(ps, ", ")+`)`, q.args...)
	if err != nil {
		return err
	}
	have := map[string]string{}
	for rows.Next() {
		var id, ws string
		if err := rows.Scan(&id, &ws); err != nil {
			rows.Close()
			return err
		}
		have[id] = ws
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range convs {
		cur, ok := have[id]
		if !ok {
			continue
		}
		if ws, changed := mergeWords(cur, add[id]); changed {
			if _, err := tx.ExecContext(ctx, rebind(d.dialect, `UPDATE conversations SET words = ? WHERE id = ?`), ws, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergeWords is words (space-separated) with the ones of add it lacks
// appended, and whether any was.
func mergeWords(words string, add []string) (string, bool) {
	seen := map[string]bool{}
	for _, w := range strings.Fields(words) {
		seen[w] = true
	}
	var sb strings.Builder
	sb.WriteString(words)
	changed := false
	for _, w := range add {
		if seen[w] {
			continue
		}
		seen[w] = true
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(w)
		changed = true
	}
	return sb.String(), changed
}

// testHookApply, when a test sets it, runs before each event of a batch is
// applied inside the transaction; an error it returns fails the batch there.
var testHookApply func(i int) error

func check(e *Event) error {
	if e.ID == "" || e.Conv == "" || e.Type == "" {
		return fmt.Errorf("%w: id %q, conversation %q, type %q: none may be empty", ErrBadEvent, e.ID, e.Conv, e.Type)
	}
	if e.Type == conv.LabelsChanged {
		if n, err := strconv.ParseInt(e.Fields[conv.EvSeq], 10, 64); err != nil || n < 1 {
			return fmt.Errorf("%w: %s: labels seq %q", ErrBadEvent, e.ID, e.Fields[conv.EvSeq])
		}
	}
	if e.Type == conv.Rated {
		if _, err := strconv.Atoi(e.Fields[conv.EvScore]); err != nil {
			return fmt.Errorf("%w: %s: score %q", ErrBadEvent, e.ID, e.Fields[conv.EvScore])
		}
	}
	return nil
}

// values writes a multi-row VALUES list of rows rows of n placeholders.
func (q *query) values(rows [][]any) {
	for i, r := range rows {
		if i > 0 {
			q.add(", ")
		}
		q.add("(")
		for j, v := range r {
			if j > 0 {
				q.add(", ")
			}
			q.add(q.arg(v))
		}
		q.add(")")
	}
}

// insertEvents inserts the events not stored yet and returns their ids.
func (d *DB) insertEvents(ctx context.Context, tx *sql.Tx, batch []Event) (map[string]bool, error) {
	q := &query{d: d.dialect}
	q.add(`INSERT INTO events (id, conv, at, type, fields) VALUES `)
	rows := make([][]any, 0, len(batch))
	seen := make(map[string]bool, len(batch))
	for i := range batch {
		e := &batch[i]
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		fields := e.Fields
		if fields == nil {
			fields = map[string]string{}
		}
		js, err := json.Marshal(fields)
		if err != nil {
			return nil, err
		}
		rows = append(rows, []any{e.ID, e.Conv, millis(e.At), e.Type, string(js)})
	}
	q.values(rows)
	q.add(` ON CONFLICT (id) DO NOTHING RETURNING id`)
	res, err := tx.QueryContext(ctx, q.sb.String(), q.args...)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	fresh := make(map[string]bool, len(rows))
	for res.Next() {
		var id string
		if err := res.Scan(&id); err != nil {
			return nil, err
		}
		fresh[id] = true
	}
	return fresh, res.Err()
}

// upsertConversations makes sure every new event has a conversation row to
// hang on, even one that arrives before its conversation_started (several
// archivers, any order): until that comes, the conversation started with
// its earliest event. Its customer is the thread and its channel the
// thread's first part (conv.ThreadID), whichever event comes first.
func (d *DB) upsertConversations(ctx context.Context, tx *sql.Tx, batch []Event, fresh map[string]bool) error {
	first := map[string]int64{}
	var order []string
	for i := range batch {
		e := &batch[i]
		if !fresh[e.ID] {
			continue
		}
		at := millis(e.At)
		if cur, ok := first[e.Conv]; !ok {
			first[e.Conv] = at
			order = append(order, e.Conv)
		} else if at < cur {
			first[e.Conv] = at
		}
	}
	rows := make([][]any, 0, len(order))
	for _, id := range order {
		customer, channel := threadOf(id)
		rows = append(rows, []any{id, customer, channel, first[id]})
	}
	q := &query{d: d.dialect}
	q.add(`INSERT INTO conversations (id, customer, channel, started) VALUES `)
	q.values(rows)
	q.add(` ON CONFLICT (id) DO UPDATE
		SET started = CASE WHEN excluded.started < conversations.started THEN excluded.started ELSE conversations.started END`)
	_, err := tx.ExecContext(ctx, q.sb.String(), q.args...)
	return err
}

// messageRow is a message to insert with its entities.
type messageRow struct {
	eventID, conv   string
	at              int64
	dir, kind, text string
	agent, intent   string
	words           string
	ents            []string
	media           string // the key of a stored image (package media)
}

// insertMessages inserts the messages and their entities (a message
// replayed from an earlier batch is stored already: its event was, and it
// is not fresh).
func (d *DB) insertMessages(ctx context.Context, tx *sql.Tx, msgs []messageRow) error {
	if len(msgs) == 0 {
		return nil
	}
	q := &query{d: d.dialect}
	q.add(`INSERT INTO messages (event_id, conv, at, dir, kind, text, agent, intent, words, entities, media) VALUES `)
	rows := make([][]any, 0, len(msgs))
	var ents [][]any
	for _, m := range msgs {
		rows = append(rows, []any{m.eventID, m.conv, m.at, m.dir, m.kind, m.text, m.agent, m.intent, m.words, strings.Join(m.ents, " "), m.media})
		for _, v := range m.ents {
			ents = append(ents, []any{v, m.conv, m.eventID})
		}
	}
	q.values(rows)
	q.add(` ON CONFLICT (event_id) DO NOTHING`)
	if _, err := tx.ExecContext(ctx, q.sb.String(), q.args...); err != nil {
		return err
	}
	if len(ents) == 0 {
		return nil
	}
	q = &query{d: d.dialect}
	q.add(`INSERT INTO entities (value, conv, event_id) VALUES `)
	q.values(ents)
	q.add(` ON CONFLICT DO NOTHING`)
	_, err := tx.ExecContext(ctx, q.sb.String(), q.args...)
	return err
}

// apply makes a new event's change to its conversation, and returns the
// message it carries (nil if none).
func (d *DB) apply(ctx context.Context, tx *sql.Tx, e *Event) (*messageRow, error) {
	fields := e.Fields
	if fields == nil {
		fields = map[string]string{}
	}
	at := millis(e.At)
	exec := func(stmt string, args ...any) (*messageRow, error) {
		_, err := tx.ExecContext(ctx, rebind(d.dialect, stmt), args...)
		return nil, err
	}
	f := func(k string) string { return fields[k] }
	switch e.Type {
	case conv.Started:
		// A customer or channel the event names wins over the thread's.
		customer, channel := threadOf(e.Conv)
		if c := f(conv.EvCustomer); c != "" {
			customer = c
		}
		if c := f(conv.EvChannel); c != "" {
			channel = c
		}
		return exec(`UPDATE conversations SET customer = ?, channel = ?, started = ? WHERE id = ?`,
			customer, channel, at, e.Conv)
	case conv.CustomerMessage:
		return d.message(e, DirIn), nil
	case conv.BotReply:
		return d.message(e, DirOut), nil
	case conv.AgentMessage:
		if _, err := exec(`UPDATE conversations SET agent = ? WHERE id = ? AND agent = ''`, f(conv.EvAgent), e.Conv); err != nil {
			return nil, err
		}
		return d.message(e, DirOut), nil
	case conv.Note:
		return d.message(e, DirNote), nil
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
		if label := f(conv.EvLabel); label != "" {
			// The agent's wrap-up: the last close's wins.
			resolved := 0
			if f(conv.EvResolved) == conv.Resolved {
				resolved = 1
			}
			return exec(`UPDATE conversations SET label = CASE WHEN ended IS NULL OR ended <= ? THEN ? ELSE label END,
				resolved = CASE WHEN ended IS NULL OR ended <= ? THEN ? ELSE resolved END,
				ended = CASE WHEN ended IS NULL OR ended < ? THEN ? ELSE ended END WHERE id = ?`,
				at, label, at, resolved, at, at, e.Conv)
		}
		return exec(`UPDATE conversations SET ended = CASE WHEN ended IS NULL OR ended < ? THEN ? ELSE ended END WHERE id = ?`,
			at, at, e.Conv)
	case conv.Abandoned:
		return exec(`UPDATE conversations SET ended = CASE WHEN ended IS NULL OR ended < ? THEN ? ELSE ended END,
			outcome = ? WHERE id = ?`, at, at, OutcomeAbandoned, e.Conv)
	case conv.LabelsChanged:
		// The set of the highest seq wins, whatever the order of arrival.
		seq, _ := strconv.ParseInt(f(conv.EvSeq), 10, 64) // checked before the transaction
		res, err := tx.ExecContext(ctx, rebind(d.dialect, `UPDATE conversations SET labels_seq = ? WHERE id = ? AND labels_seq < ?`), seq, e.Conv, seq)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, nil // a later change is already kept
		}
		if _, err := exec(`DELETE FROM conversation_labels WHERE conv = ?`, e.Conv); err != nil {
			return nil, err
		}
		for _, l := range strings.Fields(f(conv.EvLabels)) {
			if _, err := exec(`INSERT INTO conversation_labels (conv, label) VALUES (?, ?) ON CONFLICT DO NOTHING`, e.Conv, l); err != nil {
				return nil, err
			}
		}
		return nil, nil
	case conv.Rated:
		score, _ := strconv.Atoi(f(conv.EvScore)) // checked before the transaction
		return exec(`UPDATE conversations SET rating = ? WHERE id = ?`, score, e.Conv)
	}
	return nil, nil
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

// message is the message e carries, its words and its entities: those the
// event names and those the extractor finds in the text.
func (d *DB) message(e *Event, dir string) *messageRow {
	f := e.Fields
	text := f[conv.EvText]
	kind := f[conv.EvKind]
	if kind == "" {
		kind = "text"
	}
	return &messageRow{eventID: e.ID, conv: e.Conv, at: millis(e.At), dir: dir, kind: kind, text: text,
		agent: f[conv.EvAgent], intent: f[conv.EvIntent], words: strings.Join(d.indexWords(text), " "),
		ents: d.entities(f[conv.EvEntities], text), media: f[conv.EvMedia]}
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
