package archive

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Episode is one archived conversation with its events, as the editors'
// tools read it (kefu faq gaps, kefu replay): what the customer wrote, what
// the bot decided, and the agent's wrap-up.
type Episode struct {
	Conv    string
	Started time.Time
	// Label is the agent's wrap-up: an FAQ intent id or a configured label
	// id; "" when the conversation was closed without one.
	Label string
	// Resolved is the wrap-up's answer to "was it resolved?"; nil without a
	// wrap-up.
	Resolved *bool
	Events   []StoredEvent // in order
}

// Episodes calls fn with each conversation started in [from, to) (a zero
// bound is open), oldest first, with its events of the given types (all
// when types is empty) in order. It reads one conversation at a time, so an
// archive of any size is walked in bounded memory; an error from fn stops
// the walk and is returned.
func (d *DB) Episodes(ctx context.Context, from, to time.Time, types []string, fn func(Episode) error) error {
	q := &query{d: d.dialect}
	q.add(`SELECT c.id, c.started, c.label, c.resolved, e.id, e.at, e.type, e.fields
		FROM conversations c JOIN events e ON e.conv = c.id WHERE 1 = 1`)
	if !from.IsZero() {
		q.add(` AND c.started >= ` + q.arg(millis(from)))
	}
	if !to.IsZero() {
		q.add(` AND c.started < ` + q.arg(millis(to)))
	}
	if len(types) > 0 {
		ph := make([]string, len(types))
		for i, t := range types {
			ph[i] = q.arg(t)
		}
		q.add(` AND e.type IN (` + strings.Join(ph, ", ") + `)`)
	}
	// Within one millisecond, stream ids ("ms-seq") share their ms: the
	// shorter seq is the smaller.
	q.add(` ORDER BY c.started, c.id, e.at, LENGTH(e.id), e.id`)
	rows, err := d.read.QueryContext(ctx, q.sb.String(), q.args...)
	if err != nil {
		return fmt.Errorf("episodes: %w", err)
	}
	defer rows.Close()
	var cur *Episode
	for rows.Next() {
		var (
			id, label   string
			started, at int64
			resolved    sql.NullInt64
			ev          StoredEvent
			js          []byte
		)
		if err := rows.Scan(&id, &started, &label, &resolved, &ev.ID, &at, &ev.Type, &js); err != nil {
			return fmt.Errorf("episodes: %w", err)
		}
		if cur == nil || cur.Conv != id {
			if cur != nil {
				if err := fn(*cur); err != nil {
					return err
				}
			}
			cur = &Episode{Conv: id, Started: fromMillis(started), Label: label}
			if resolved.Valid {
				r := resolved.Int64 == 1
				cur.Resolved = &r
			}
		}
		ev.At = fromMillis(at)
		if err := json.Unmarshal(js, &ev.Fields); err != nil {
			return fmt.Errorf("episodes: event %s: %w", ev.ID, err)
		}
		cur.Events = append(cur.Events, ev)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("episodes: %w", err)
	}
	if cur != nil {
		return fn(*cur)
	}
	return nil
}

// WrapUp is a conversation's wrap-up as stored: Label "" and Resolved nil
// when it was closed without one (or is open).
func (d *DB) WrapUp(ctx context.Context, conv string) (label string, resolved *bool, err error) {
	var r sql.NullInt64
	err = d.read.QueryRowContext(ctx, rebind(d.dialect, `SELECT label, resolved FROM conversations WHERE id = ?`), conv).Scan(&label, &r)
	if err == sql.ErrNoRows {
		return "", nil, fmt.Errorf("wrap-up %s: %w", conv, ErrNotFound)
	}
	if err != nil {
		return "", nil, fmt.Errorf("wrap-up %s: %w", conv, err)
	}
	if r.Valid {
		b := r.Int64 == 1
		resolved = &b
	}
	return label, resolved, nil
}

// GapKey is the key a dismissed message is kept under: a hash of its
// folded text, so that the table holds no customer's words (a purge need
// not look there).
func GapKey(folded string) string {
	h := sha256.Sum256([]byte(folded))
	return hex.EncodeToString(h[:16])
}

// DismissGaps records that an editor (by) dismissed a cluster of unanswered
// questions, given the GapKey of each of its messages. Dismissing again is
// harmless.
func (d *DB) DismissGaps(ctx context.Context, by string, keys []string, at time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	q := &query{d: d.dialect}
	q.add(`INSERT INTO gap_dismissals (text_key, by_agent, at) VALUES `)
	rows := make([][]any, 0, len(keys))
	seen := map[string]bool{}
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			rows = append(rows, []any{k, by, millis(at)})
		}
	}
	q.values(rows)
	q.add(` ON CONFLICT (text_key) DO NOTHING`)
	if _, err := d.db.ExecContext(ctx, q.sb.String(), q.args...); err != nil {
		return fmt.Errorf("dismiss gaps: %w", err)
	}
	return nil
}

// GapDismissals is the GapKey of every message dismissed.
func (d *DB) GapDismissals(ctx context.Context) (map[string]bool, error) {
	rows, err := d.read.QueryContext(ctx, `SELECT text_key FROM gap_dismissals`)
	if err != nil {
		return nil, fmt.Errorf("gap dismissals: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("gap dismissals: %w", err)
		}
		out[k] = true
	}
	return out, rows.Err()
}
