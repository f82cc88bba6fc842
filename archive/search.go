package archive

import (
	"context"
	"database/sql"
	"encoding/base64"
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
	// conversation matches when its messages have every word (not
	// necessarily one message all of them).
	Words    string
	Entity   string // an order, tracking or phone number, exactly
	Customer string
	Agent    string
	Channel  string
	Group    string // the agents' group it was handed to
	// Label: a label agents put on it (console labels) or its wrap-up
	// label at close.
	Label string
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
	// Limit is the page size (DefaultLimit when 0, at most MaxLimit).
	Limit int
	// After is the cursor of the page before (Results.Next): the page is
	// the results that follow it, newest first, found without reading the
	// ones before it. Offset, when set, skips that many results more (the
	// old way of paging: reading page 50 so reads the 49 pages before it).
	After  string
	Offset int
	// ExactTotal counts every match. Without it counting stops past
	// CountCap (Results.Capped): an exact count of a common word's 100,000
	// conversations costs seconds, its first pages milliseconds.
	ExactTotal bool
}

// CountCap is where Search stops counting unless Query.ExactTotal.
const CountCap = 500

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
	// Next is the cursor of the page after this one (Query.After); empty
	// on the last page.
	Next string `json:"next,omitempty"`
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
	// Snippet is the newest message with the most of the words (all of
	// them when one has), else the customer's first message.
	Snippet string `json:"snippet"`
}

// cursor is a place in the newest-first order: a result's start and id
// (PostgreSQL orders by both) and its seq (SQLite orders by it). In a
// Query and Results it is opaque text.
type cursor struct {
	started, seq int64
	id           string
}

func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.started, 10) + "." + strconv.FormatInt(c.seq, 10) + "." + c.id))
}

func parseCursor(s string) (cursor, error) {
	bad := fmt.Errorf("%w: %q is not a cursor Search gave", ErrBadCursor, s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, bad
	}
	parts := strings.SplitN(string(b), ".", 3)
	if len(parts) != 3 {
		return cursor{}, bad
	}
	var c cursor
	if c.started, err = strconv.ParseInt(parts[0], 10, 64); err != nil {
		return cursor{}, bad
	}
	if c.seq, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
		return cursor{}, bad
	}
	c.id = parts[2]
	return c, nil
}

// seqBound is the seq of the first conversation started at t or after
// (SQLite), within int64.
func seqBound(t time.Time) int64 {
	ms := millis(t)
	const lim = math.MaxInt64 >> seqShift
	ms = max(min(ms, lim), -lim-1)
	return ms << seqShift
}

// Search finds conversations, newest first.
//
// Words are found through a full-text index of one document per
// conversation (SQLite FTS5, PostgreSQL a GIN-indexed tsvector). On SQLite
// the document's rowid is the conversation's place in the order (seq), so
// a search reads the words' matches newest first from the index and stops
// after the page: a common word costs no more than a rare one. With a
// customer, an agent, an order number or a conversation given, those few
// conversations are read and each one's document is checked instead.
// PostgreSQL's planner chooses between the GIN index's matches and walking
// conversations newest first, checking each one's tsvector.
func (d *DB) Search(ctx context.Context, q Query) (Results, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	offset := max(q.Offset, 0)
	var after *cursor
	if q.After != "" {
		c, err := parseCursor(q.After)
		if err != nil {
			return Results{}, fmt.Errorf("search: %w", err)
		}
		after = &c
	}
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
		// Compiling these short queries costs more than it saves. And
		// each one is planned for its own values: the driver prepares
		// statements, and after five runs PostgreSQL may keep a generic
		// plan that does not know a word's frequency or a range's width
		// (one generic plan, a bitmap of all of a common word's matches
		// sorted, took 1.4 s where the custom one took 8 ms).
		if _, err := tx.ExecContext(ctx, `SET LOCAL jit = off; SET LOCAL plan_cache_mode = force_custom_plan`); err != nil {
			return Results{}, fmt.Errorf("search: %w", err)
		}
	}

	var out Results
	out.Results = []Result{}
	// The count: capped unless asked for all. SQLite counts in the page's
	// order (the index's order: no sort). PostgreSQL counts any CountCap+1
	// matches, so a bitmap of a word's matches stops there instead of
	// fetching and sorting all of them; but with a date range in the page's
	// order, or its planner scans the table from its start, not knowing
	// that the range's rows sit together.
	b := &query{d: d.dialect}
	from, where, order := d.searchSQL(b, q, words, nil, true)
	if d.dialect == Postgres && q.From.IsZero() && q.To.IsZero() {
		order = ""
	}
	stmt := `SELECT COUNT(*) FROM (SELECT 1` + from + where + order + ` LIMIT ` + strconv.Itoa(CountCap+1) + `) x`
	if q.ExactTotal {
		stmt = `SELECT COUNT(*)` + from + where
	}
	if err := tx.QueryRowContext(ctx, stmt, b.args...).Scan(&out.Total); err != nil {
		return Results{}, fmt.Errorf("search: count: %w", err)
	}
	if out.Total > CountCap && !q.ExactTotal {
		out.Total, out.Capped = CountCap, true
	}
	if out.Total == 0 {
		return out, nil
	}

	// The page, and whether one follows (one row more).
	b = &query{d: d.dialect}
	from, where, order = d.searchSQL(b, q, words, after, false)
	page := `SELECT c.id, c.customer, c.channel, c.group_name, c.started, c.ended, c.agent, c.rating, ` + outcomeSQL + `, ` +
		d.seqCol() + from + where + order + ` LIMIT ` + b.arg(limit+1) + ` OFFSET ` + b.arg(offset)
	rows, err := tx.QueryContext(ctx, page, b.args...)
	if err != nil {
		return Results{}, fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	var seqs []int64 // SQLite: each result's place in the order (migration 00003)
	for rows.Next() {
		var r Result
		var seq int64
		var started int64
		var ended sql.NullInt64
		var rating sql.NullInt32
		if err := rows.Scan(&r.Conv, &r.Customer, &r.Channel, &r.Group, &started, &ended, &r.Agent, &rating, &r.Outcome, &seq); err != nil {
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
		seqs = append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return Results{}, fmt.Errorf("search: %w", err)
	}
	rows.Close()
	if len(out.Results) > limit {
		out.Results = out.Results[:limit]
		last := out.Results[limit-1]
		out.Next = cursor{started: millis(last.Started), seq: seqs[limit-1], id: last.Conv}.String()
	}
	if err := d.snippets(ctx, tx, out.Results, words); err != nil {
		return Results{}, fmt.Errorf("search: %w", err)
	}
	return out, nil
}

// seqCol is the page's last column: seq on SQLite, 0 on PostgreSQL.
func (d *DB) seqCol() string {
	if d.dialect == SQLite {
		return `c.seq`
	}
	return `0`
}

// searchSQL is q's FROM, WHERE and ORDER BY, with their arguments added to
// b. after, when set, starts the page after that cursor. forCount leaves
// out what a count does not need: on SQLite, a words search with no other
// condition on the conversation counts the index's documents alone.
func (d *DB) searchSQL(b *query, q Query, words []string, after *cursor, forCount bool) (from, where, order string) {
	var conds []string
	add := func(c string) { conds = append(conds, c) }
	from = ` FROM conversations c`
	order = ` ORDER BY c.started DESC, c.id DESC`
	key := `c.seq` // SQLite: the column the order and the date range read
	if d.dialect == SQLite {
		order = ` ORDER BY c.seq DESC`
	}
	// filters: a condition on the conversation's row besides its words and
	// dates.
	filters := q.Conv != "" || q.Entity != "" || q.Customer != "" || q.Agent != "" || q.Channel != "" || q.Group != "" || q.Label != "" ||
		q.RatingMin > 0 || q.RatingMax > 0 || q.Groups != nil
	if words != nil {
		switch {
		case d.dialect == Postgres:
			add(`c.tsv @@ plainto_tsquery('simple', ` + b.arg(strings.Join(words, " ")) + `)`)
		case q.Conv != "" || q.Customer != "" || q.Agent != "" || q.Entity != "":
			// A few conversations: check each one's document.
			add(`EXISTS (SELECT 1 FROM conv_fts WHERE conv_fts MATCH ` + b.arg(ftsQuery(words)) + ` AND conv_fts.rowid = c.seq)`)
		case forCount && !filters:
			from, key, order = ` FROM conv_fts`, `conv_fts.rowid`, ` ORDER BY conv_fts.rowid DESC`
			add(`conv_fts MATCH ` + b.arg(ftsQuery(words)))
		default:
			// The index's matches newest first; CROSS JOIN keeps it the
			// outer loop, so the order needs no sort.
			from, key, order = ` FROM conv_fts CROSS JOIN conversations c`, `conv_fts.rowid`, ` ORDER BY conv_fts.rowid DESC`
			add(`conv_fts MATCH ` + b.arg(ftsQuery(words)))
			add(`c.seq = conv_fts.rowid`)
		}
	}
	if q.Conv != "" {
		add(`c.id = ` + b.arg(q.Conv))
	}
	if q.Entity != "" {
		add(`c.id IN (SELECT conv FROM entities WHERE value = ` + b.arg(q.Entity) + `)`)
	}
	if q.Customer != "" {
		add(`c.customer = ` + b.arg(q.Customer))
	}
	if q.Agent != "" {
		add(`c.agent = ` + b.arg(q.Agent))
	}
	if q.Channel != "" {
		add(`c.channel = ` + b.arg(q.Channel))
	}
	if q.Group != "" {
		add(`c.group_name = ` + b.arg(q.Group))
	}
	if q.Label != "" {
		add(`(c.label = ` + b.arg(q.Label) + ` OR c.id IN (SELECT conv FROM conversation_labels WHERE label = ` + b.arg(q.Label) + `))`)
	}
	if q.RatingMin > 0 {
		add(`c.rating >= ` + b.arg(q.RatingMin))
	}
	if q.RatingMax > 0 {
		add(`c.rating <= ` + b.arg(q.RatingMax))
	}
	if q.Groups != nil {
		if len(q.Groups) == 0 {
			add(`1 = 0`)
		} else {
			ps := make([]string, len(q.Groups))
			for i, g := range q.Groups {
				ps[i] = b.arg(g)
			}
			add(`c.group_name IN (` + strings.Join(ps, ", ") + `)`)
		}
	}
	if d.dialect == Postgres {
		if !q.From.IsZero() {
			add(`c.started >= ` + b.arg(millis(q.From)))
		}
		if !q.To.IsZero() {
			add(`c.started < ` + b.arg(millis(q.To)))
		}
		if after != nil {
			add(`(c.started, c.id) < (` + b.arg(after.started) + `, ` + b.arg(after.id) + `)`)
		}
	} else {
		// seq orders as the start does: a date is a range of seq, which
		// the index (or FTS5's rowid) reads directly.
		if !q.From.IsZero() {
			add(key + ` >= ` + b.arg(seqBound(q.From)))
		}
		if !q.To.IsZero() {
			add(key + ` < ` + b.arg(seqBound(q.To)))
		}
		if after != nil {
			add(key + ` < ` + b.arg(after.seq))
		}
	}
	if len(conds) > 0 {
		where = ` WHERE ` + strings.Join(conds, ` AND `)
	}
	return from, where, order
}

// snippets sets each result's snippet: its newest message with the most of
// the words (a conversation matches when its messages have them all, not
// always one message), else the customer's first message. It reads the
// page's messages only and matches the words as the index's tokenizer
// splits them.
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
	best := make([]int, len(rs)) // how many of the words the snippet has
	for rows.Next() {
		var conv, dir, text, ws string
		if err := rows.Scan(&conv, &dir, &text, &ws); err != nil {
			return err
		}
		i := at[conv]
		if n := countIn(tokens(ws), want); n > 0 && n >= best[i] {
			rs[i].Snippet, best[i] = text, n // the newest so far
			continue
		}
		if best[i] == 0 && rs[i].Snippet == "" && dir == DirIn {
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

// countIn is how many of want are in have.
func countIn(have, want []string) int {
	n := 0
	for _, w := range want {
		if slices.Contains(have, w) {
			n++
		}
	}
	return n
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
	// Media is the key of the stored image the message carried (package
	// media); absent without one.
	Media string `json:"media,omitempty"`
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
		`SELECT at, dir, kind, text, agent, intent, media FROM messages WHERE conv = ? ORDER BY at, LENGTH(event_id), event_id`), conv)
	if err != nil {
		return Transcript{}, fmt.Errorf("show %s: %w", conv, err)
	}
	for rows.Next() {
		var e Entry
		var at int64
		if err := rows.Scan(&at, &e.Dir, &e.Kind, &e.Text, &e.Agent, &e.Intent, &e.Media); err != nil {
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
