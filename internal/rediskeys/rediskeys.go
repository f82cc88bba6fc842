// Package rediskeys finds and deletes the keys under a prefix: what the
// tests and the benchmarks clean up after a run of their own.
package rediskeys

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Pattern is the SCAN pattern of every key under prefix: its glob
// characters escaped, then *.
func Pattern(prefix string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(prefix) + "*"
}

// Drop deletes every key under prefix (UNLINK, 500 at a time) and returns
// how many it deleted and the first error.
func Drop(ctx context.Context, rdb redis.UniversalClient, prefix string) (int64, error) {
	iter := rdb.Scan(ctx, 0, Pattern(prefix), 1000).Iterator()
	var keys []string
	var n int64
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		d, err := rdb.Unlink(ctx, keys...).Result()
		n += d
		keys = keys[:0]
		return err
	}
	for iter.Next(ctx) {
		if keys = append(keys, iter.Val()); len(keys) == 500 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return n, err
	}
	return n, flush()
}
