package archive

import (
	"context"
	"fmt"
)

// MediaOf lists the stored files (package media's keys) the customer's
// archived messages carry, each once: what `kefu archive purge` deletes from
// the file store with the rows.
func (d *DB) MediaOf(ctx context.Context, customer string) ([]string, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("media of %s: %w", customer, err)
	}
	defer tx.Rollback()
	ids, err := customerConvs(ctx, tx, d.dialect, customer)
	if err != nil {
		return nil, fmt.Errorf("media of %s: %w", customer, err)
	}
	seen := map[string]bool{}
	var keys []string
	for _, id := range ids {
		rows, err := tx.QueryContext(ctx, rebind(d.dialect, `SELECT media FROM messages WHERE conv = ? AND media <> ''`), id)
		if err != nil {
			return nil, fmt.Errorf("media of %s: %w", customer, err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, fmt.Errorf("media of %s: %w", customer, err)
			}
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("media of %s: %w", customer, err)
		}
	}
	return keys, nil
}
