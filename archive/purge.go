package archive

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/kefu-dev/kefu/conv"
)

// Purged counts what Purge deleted.
type Purged struct {
	Conversations int64 `json:"conversations"`
	Messages      int64 `json:"messages"` // and their full-text index entries
	Events        int64 `json:"events"`
	Entities      int64 `json:"entities"`
}

// Purge deletes everything the archive keeps about one customer (a thread,
// conv.ThreadID): their conversations, every message (with its full-text
// index entry: the SQLite trigger removes it from messages_fts, the
// PostgreSQL tsvector is a column of the row), every event and every
// entity, in one transaction (个人信息保护法 deletion), and, with
// WithRollups, their share of the rollups (Rollups.Forget). A conversation is
// theirs when its customer is the thread or its id is an episode of it.
func (d *DB) Purge(ctx context.Context, customer string) (Purged, error) {
	var p Purged
	if customer == "" {
		return p, fmt.Errorf("purge: %w: no customer", ErrBadEvent)
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return p, fmt.Errorf("purge %s: %w", customer, err)
	}
	defer tx.Rollback()
	ids, err := customerConvs(ctx, tx, d.dialect, customer)
	if err != nil {
		return p, fmt.Errorf("purge %s: %w", customer, err)
	}
	if d.rollups != nil && len(ids) > 0 {
		if err := d.rollups.Forget(ctx, tx, d.dialect, ids); err != nil {
			return p, fmt.Errorf("purge %s: %w", customer, err)
		}
	}
	for _, id := range ids {
		for _, t := range []struct {
			n     *int64
			table string
			col   string
		}{{&p.Entities, "entities", "conv"}, {new(int64), "conversation_labels", "conv"}, {&p.Messages, "messages", "conv"}, {&p.Events, "events", "conv"},
			{&p.Conversations, "conversations", "id"}} {
			res, err := tx.ExecContext(ctx, rebind(d.dialect, `DELETE FROM `+t.table+` WHERE `+t.col+` = ?`), id)
			if err != nil {
				return Purged{}, fmt.Errorf("purge %s: %w", customer, err)
			}
			n, _ := res.RowsAffected()
			*t.n += n
		}
	}
	if err := tx.Commit(); err != nil {
		return Purged{}, fmt.Errorf("purge %s: %w", customer, err)
	}
	return p, nil
}

// Conversations lists the ids of one customer's archived conversations
// (their customer is the thread, or their id an episode of it), oldest
// first.
func (d *DB) Conversations(ctx context.Context, customer string) ([]string, error) {
	tx, err := d.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("conversations of %s: %w", customer, err)
	}
	defer tx.Rollback()
	ids, err := customerConvs(ctx, tx, d.dialect, customer)
	if err != nil {
		return nil, fmt.Errorf("conversations of %s: %w", customer, err)
	}
	return ids, nil
}

// customerConvs are the conversation ids of customer, oldest first: by the
// customer column, and by id (an episode of the thread archived before its
// row had a customer; checked exactly in Go, since "web:a#x#1" is an
// episode of "web:a#x", not of "web:a"). Purges and exports are rare: the
// id test scans.
func customerConvs(ctx context.Context, tx *sql.Tx, d Dialect, customer string) ([]string, error) {
	prefix := customer + "#"
	rows, err := tx.QueryContext(ctx, rebind(d,
		`SELECT id, customer FROM conversations WHERE customer = ? OR substr(id, 1, ?) = ? ORDER BY started, id`),
		customer, len([]rune(prefix)), prefix)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id, cust string
		if err := rows.Scan(&id, &cust); err != nil {
			return nil, err
		}
		if thread, _, _ := conv.SplitArchiveID(id); cust == customer || thread == customer {
			ids = append(ids, id)
		}
	}
	return ids, rows.Err()
}
