package archive

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Query selects archived conversations. Every field set narrows the search;
// the zero Query finds every conversation.
type Query struct {
	// Conv: that one conversation (its archive id), when set.
	Conv string
	// Words: Chinese or English, segmented as the messages were. A
	// conversation matches when one of its messages has every word.
	Words    string
	Entity   string // an order, tracking or phone number, exactly
	Customer string
	Agent    string
	Channel  string
	Group    string // the agents' group it was handed to
	// RatingMin and RatingMax bound the customer's rating (1-5), both ends
	// included; 0 leaves that end open. Either set leaves out the
	// conversations never rated.
	RatingMin, RatingMax int
	// Groups, when not nil, is the groups whose conversations may be read:
	// a conversation of another group is never found. "" in it stands for
	// the conversations never handed to a group (the bot's alone). An
	// empty, non-nil Groups finds nothing. The console sets it to an
	// agent's groups; nil (supervisors, the command line) reads all.
	Groups []string
	// From and To bound the conversation's start: From <= started < To.
	From, To time.Time
	// Limit is the page size (DefaultLimit when 0, at most MaxLimit);
	// Offset skips that many results.
	Limit, Offset int
	// ExactTotal counts every match. Without it counting stops past
	// CountCap (Results.Capped): an exact count of a common word's 100,000
	// conversations costs seconds, its first pages milliseconds.
	ExactTotal bool
}

// CountCap is where Search stops counting unless Query.ExactTotal.
const CountCap = 500

// sqliteScanFactor: on SQLite, a search whose words are in more than
// sqrt(sqliteScanFactor × rows wanted) messages reads the conversations
// newest first and checks each one's messages (cheap when many match);
// below, it reads the index's matches and their conversations (cheap when
// few do). 800,000: the two cross near 20,000 messages for a first page
// and its count, measured at 1,000,000 conversations (BENCHMARKS.md).
var sqliteScanFactor = 800000.0

// Page sizes.
const (
	DefaultLimit = 20
	MaxLimit     = 200
)

// snippetRunes is the length of a result's snippet.
const snippetRunes = 80

// Results is a page of conversations, newest first, and how many match in
// all.
type Results struct {
	Total int `json:"total"`
	// Capped: more than Total match (counting stopped at CountCap).
	Capped  bool     `json:"capped,omitempty"`
	Results []Result `json:"results"`
}

// Result is one archived conversation.
type Result struct {
	Conv     string     `json:"conv"`
	Customer string     `json:"customer"`
	Channel  string     `json:"channel"`
	Group    string     `json:"group,omitempty"` // the agents' group it was handed to
	Started  time.Time  `json:"started"`
	Ended    *time.Time `json:"ended"` // nil while open
	Agent    string     `json:"agent"`
	Rating   *int       `json:"rating"` // nil when not rated
	Outcome  string     `json:"outcome"`
	// Snippet is the newest message that matched the words, else the
	// customer's first message.
	Snippet string `json:"snippet"`
}

// Search finds conversations, newest first.
func (d *DB) Search(ctx context.Context, q Query) (Results, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	offset := max(q.Offset, 0)
	var words []string
	if strings.TrimSpace(q.Words) != "" {
		words = d.words(q.Words)
		if len(words) == 0 { // only punctuation: nothing can match
			return Results{Results: []Result{}}, nil
		}
	}

	// The count and the page read one snapshot.
	tx, err := d.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: d.dialect == Postgres})
	if err != nil {
		return Results{}, fmt.Errorf("search: %w", err)
	}
	defer tx.Rollback()
	if d.dialect == Postgres {
		// Compiling these short queries costs more than it saves.
		if _, err := tx.ExecContext(ctx, `SET LOCAL jit = off`); err != nil {
			return Results{}, fmt.Errorf("search: %w", err)
		}
	}

	b := &query{d: d.dialect}
	where := &strings.Builder{}
	where.WriteString(` FROM conversations c WHERE 1 = 1`)
	// small: the words match few messages, whose conversations are read
	// once, counted with the page.
	small := false
	// The conversations with a message that has every word.
	if words != nil {
		var cond string
		cond, small, err = d.wordsCond(ctx, tx, b, words, max(offset+limit, CountCap+1))
		if err != nil {
			return Results{}, fmt.Errorf("search: %w", err)
		}
		where.WriteString(cond)
	}
	if q.Conv != "" {
		where.WriteString(` AND c.id = ` + b.arg(q.Conv))
	}
	if q.Entity != "" {
		where.WriteString(` AND c.id IN (SELECT conv FROM entities WHERE value = ` + b.arg(q.Entity) + `)`)
	}
	if q.Customer != "" {
		where.WriteString(` AND c.customer = ` + b.arg(q.Customer))
	}
	if q.Agent != "" {
		where.WriteString(` AND c.agent = ` + b.arg(q.Agent))
	}
	if q.Channel != "" {
		where.WriteString(` AND c.channel = ` + b.arg(q.Channel))
	}
	if q.Group != "" {
		where.WriteString(` AND c.group_name = ` + b.arg(q.Group))
	}
	if q.RatingMin > 0 {
		where.WriteString(` AND c.rating >= ` + b.arg(q.RatingMin))
	}
	if q.RatingMax > 0 {
		where.WriteString(` AND c.rating <= ` + b.arg(q.RatingMax))
	}
	if q.Groups != nil {
		if len(q.Groups) == 0 {
			where.WriteString(` AND 1 = 0`)
		} else {
			ps := make([]string, len(q.Groups))
			for i, g := range q.Groups {
				ps[i] = b.arg(g)
			}
			where.WriteString(` AND c.group_name IN (` + strings.Join(ps, ", ") + `)`)
		}
	}
	if !q.From.IsZero() {
		where.WriteString(` AND c.started >= ` + b.arg(millis(q.From)))
	}
	if !q.To.IsZero() {
		where.WriteString(` AND c.started < ` + b.arg(millis(q.To)))
	}
	var out Results
	out.Results = []Result{}
	count := func() error {
		stmt := `SELECT COUNT(*)` + where.String()
		if !q.ExactTotal && !small {
			stmt = `SELECT COUNT(*) FROM (SELECT 1` + where.String() + ` ORDER BY c.started DESC, c.id DESC LIMIT ` + strconv.Itoa(CountCap+1) + `) x`
		}
		if err := tx.QueryRowContext(ctx, stmt, b.args...).Scan(&out.Total); err != nil {
			return fmt.Errorf("search: count: %w", err)
		}
		if out.Total > CountCap && !q.ExactTotal && !small {
			out.Total, out.Capped = CountCap, true
		}
		return nil
	}
	// A small set is counted in the page's own query (one read of the
	// index's matches, not two), and exactly.
	total := `, 0`
	if small {
		total = `, COUNT(*) OVER ()`
	} else {
		if err := count(); err != nil {
			return Results{}, err
		}
		if offset >= out.Total && !out.Capped {
			return out, nil
		}
	}
	args := append([]any(nil), b.args...)
	page := `SELECT c.id, c.customer, c.channel, c.group_name, c.started, c.ended, c.agent, c.rating, ` + outcomeSQL + total +
		where.String() + ` ORDER BY c.started DESC, c.id DESC LIMIT ` + b.arg(limit) + ` OFFSET ` + b.arg(offset)
	args = append(args, limit, offset)
	rows, err := tx.QueryContext(ctx, page, args...)
	if err != nil {
		return Results{}, fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	n := 0 // COUNT(*) OVER (), when small
	for rows.Next() {
		var r Result
		var started int64
		var ended sql.NullInt64
		var rating sql.NullInt32
		if err := rows.Scan(&r.Conv, &r.Customer, &r.Channel, &r.Group, &started, &ended, &r.Agent, &rating, &r.Outcome, &n); err != nil {
			return Results{}, fmt.Errorf("search: %w", err)
		}
		r.Started = fromMillis(started)
		if ended.Valid {
			t := fromMillis(ended.Int64)
			r.Ended = &t
		}
		if rating.Valid {
			v := int(rating.Int32)
			r.Rating = &v
		}
		out.Results = append(out.Results, r)
	}
	if err := rows.Err(); err != nil {
		return Results{}, fmt.Errorf("search: %w", err)
	}
	rows.Close()
	if small {
		out.Total = n
		if len(out.Results) == 0 && offset > 0 { // past the end: no row to carry the count
			if err := count(); err != nil {
				return Results{}, err
			}
		}
	}
	if err := d.snippets(ctx, tx, out.Results, words); err != nil {
		return Results{}, fmt.Errorf("search: %w", err)
	}
	return out, nil
}

// snippets sets each result's snippet: its newest message with every word,
// else the customer's first message. It reads the page's messages only and
// matches the words as the index's tokenizer splits them.
func (d *DB) snippets(ctx context.Context, tx *sql.Tx, rs []Result, words []string) error {
	if len(rs) == 0 {
		return nil
	}
	q := &query{d: d.dialect}
	ps := make([]string, len(rs))
	at := map[string]int{}
	for i, r := range rs {
		ps[i] = q.arg(r.Conv)
		at[r.Conv] = i
	}
	rows, err := tx.QueryContext(ctx, `SELECT conv, dir, text, words FROM messages WHERE conv IN (`+strings.Join(ps, ", ")+
		`) ORDER BY conv, at, LENGTH(event_id), event_id`, q.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var want []string
	for _, w := range words {
		want = append(want, tokens(w)...)
	}
	matched := make([]bool, len(rs))
	for rows.Next() {
		var conv, dir, text, ws string
		if err := rows.Scan(&conv, &dir, &text, &ws); err != nil {
			return err
		}
		i := at[conv]
		if want != nil && hasAll(tokens(ws), want) {
			rs[i].Snippet, matched[i] = text, true // the newest so far
			continue
		}
		if !matched[i] && rs[i].Snippet == "" && dir == DirIn {
			rs[i].Snippet = text
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range rs {
		rs[i].Snippet = clip(rs[i].Snippet, snippetRunes)
	}
	return nil
}

// tokens splits text as FTS5's unicode61 and PostgreSQL's parser do, near
// enough for a snippet: runs of letters and digits, lower-cased.
func tokens(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// wordsCond is the condition that a conversation has a message with every
// word; small when it reads the index's matches whole (few of them).
// PostgreSQL's planner chooses between the GIN index's matches and reading
// conversations newest first. SQLite's cannot tell a common word from a
// rare one, so the size of the words' posting list chooses: reading the
// matches costs about their number, reading conversations newest first
// about need (the rows wanted) ÷ the share of conversations that match.
func (d *DB) wordsCond(ctx context.Context, tx *sql.Tx, b *query, words []string, need int) (cond string, small bool, err error) {
	if d.dialect == Postgres {
		return ` AND c.id IN (SELECT m.conv FROM messages m WHERE m.tsv @@ plainto_tsquery('simple', ` + b.arg(strings.Join(words, " ")) + `))`, false, nil
	}
	fts := ftsQuery(words)
	// Scan when matches² > sqliteScanFactor × need (the two costs cross
	// there, measured at 1,000,000 conversations).
	above := int(math.Sqrt(sqliteScanFactor * float64(need)))
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM messages_fts WHERE messages_fts MATCH ? LIMIT `+
		strconv.Itoa(above+1)+`) x`, fts).Scan(&n); err != nil {
		return "", false, err
	}
	if n <= above {
		return ` AND c.id IN (SELECT m.conv FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid WHERE messages_fts MATCH ` + b.arg(fts) + `)`, true, nil
	}
	// Many matches: each conversation's messages are checked for the words
	// as the index holds them (words: the segmented words, space-joined;
	// the index messages_conv_words covers it).
	var sb strings.Builder
	sb.WriteString(` AND EXISTS (SELECT 1 FROM messages m WHERE m.conv = c.id`)
	for _, w := range words {
		sb.WriteString(` AND instr(' ' || m.words || ' ', ` + b.arg(" "+w+" ") + `) > 0`)
	}
	sb.WriteString(`)`)
	return sb.String(), false, nil
}

// Conversation is one archived conversation as Search gives it (its
// snippet is the customer's first message), ErrNotFound when it is not
// archived.
func (d *DB) Conversation(ctx context.Context, conv string) (Result, error) {
	res, err := d.Search(ctx, Query{Conv: conv, Limit: 1})
	if err != nil {
		return Result{}, fmt.Errorf("conversation %s: %w", conv, err)
	}
	if len(res.Results) == 0 {
		return Result{}, fmt.Errorf("conversation %s: %w", conv, ErrNotFound)
	}
	return res.Results[0], nil
}

// ftsQuery is an FTS5 query with every word, each quoted as a phrase so that
// no word is read as an operator.
func ftsQuery(words []string) string {
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
	}
	return strings.Join(parts, " AND ")
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// Transcript is one archived conversation: its messages and its events, in
// order.
type Transcript struct {
	Conv     string        `json:"conv"`
	Customer string        `json:"customer"`
	Channel  string        `json:"channel"`
	Entries  []Entry       `json:"entries"`
	Events   []StoredEvent `json:"events"`
}

// Entry is one message of a transcript.
type Entry struct {
	At     time.Time `json:"at"`
	Dir    string    `json:"dir"` // DirIn, DirOut or DirNote
	Kind   string    `json:"kind"`
	Text   string    `json:"text"`
	Agent  string    `json:"agent"`
	Intent string    `json:"intent"`
}

// StoredEvent is an archived event. In JSON its fields sit beside id, at and
// type.
type StoredEvent struct {
	ID     string
	At     time.Time
	Type   string
	Fields map[string]string
}

// MarshalJSON flattens the fields beside id, at and type (which win over a
// field of the same name).
func (e StoredEvent) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(e.Fields)+3)
	for k, v := range e.Fields {
		m[k] = v
	}
	m["id"] = e.ID
	m["at"] = e.At
	m["type"] = e.Type
	return json.Marshal(m)
}

// Show is conv's transcript, ErrNotFound when it is not archived.
func (d *DB) Show(ctx context.Context, conv string) (Transcript, error) {
	tx, err := d.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: d.dialect == Postgres})
	if err != nil {
		return Transcript{}, fmt.Errorf("show %s: %w", conv, err)
	}
	defer tx.Rollback()
	t := Transcript{Conv: conv, Entries: []Entry{}, Events: []StoredEvent{}}
	err = tx.QueryRowContext(ctx, rebind(d.dialect, `SELECT customer, channel FROM conversations WHERE id = ?`), conv).
		Scan(&t.Customer, &t.Channel)
	if errors.Is(err, sql.ErrNoRows) {
		return Transcript{}, fmt.Errorf("show %s: %w", conv, ErrNotFound)
	}
	if err != nil {
		return Transcript{}, fmt.Errorf("show %s: %w", conv, err)
	}

	// Within one millisecond, stream ids ("ms-seq") share their ms: the
	// shorter seq is the smaller.
	rows, err := tx.QueryContext(ctx, rebind(d.dialect,
		`SELECT at, dir, kind, text, agent, intent FROM messages WHERE conv = ? ORDER BY at, LENGTH(event_id), event_id`), conv)
	if err != nil {
		return Transcript{}, fmt.Errorf("show %s: %w", conv, err)
	}
	for rows.Next() {
		var e Entry
		var at int64
		if err := rows.Scan(&at, &e.Dir, &e.Kind, &e.Text, &e.Agent, &e.Intent); err != nil {
			rows.Close()
			return Transcript{}, fmt.Errorf("show %s: %w", conv, err)
		}
		e.At = fromMillis(at)
		t.Entries = append(t.Entries, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Transcript{}, fmt.Errorf("show %s: %w", conv, err)
	}

	rows, err = tx.QueryContext(ctx, rebind(d.dialect,
		`SELECT id, at, type, fields FROM events WHERE conv = ? ORDER BY at, LENGTH(id), id`), conv)
	if err != nil {
		return Transcript{}, fmt.Errorf("show %s: %w", conv, err)
	}
	defer rows.Close()
	for rows.Next() {
		var e StoredEvent
		var at int64
		var js []byte
		if err := rows.Scan(&e.ID, &at, &e.Type, &js); err != nil {
			return Transcript{}, fmt.Errorf("show %s: %w", conv, err)
		}
		e.At = fromMillis(at)
		if err := json.Unmarshal(js, &e.Fields); err != nil {
			return Transcript{}, fmt.Errorf("show %s: event %s: %w", conv, e.ID, err)
		}
		t.Events = append(t.Events, e)
	}
	if err := rows.Err(); err != nil {
		return Transcript{}, fmt.Errorf("show %s: %w", conv, err)
	}
	return t, nil
}

// outcomeSQL is a conversation's outcome: the one its close or abandonment
// named, else, once ended, agent when an agent took part and bot otherwise.
// Derived when read, so that the events' archiving order does not matter.
var outcomeSQL = `CASE WHEN c.outcome <> '' THEN c.outcome WHEN c.ended IS NULL THEN '' ` +
	`WHEN c.agent <> '' THEN '` + OutcomeAgent + `' ELSE '` + OutcomeBot + `' END`
