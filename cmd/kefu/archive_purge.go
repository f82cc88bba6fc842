package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/config"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/media"
)

// redisPurged counts what purgeRedis deleted.
type redisPurged struct {
	Keys    int64 `json:"keys"`    // the conversation hash and its transcript
	Members int64 `json:"members"` // memberships of sets, queues and claim lists
	Entries int64 `json:"entries"` // stream entries naming the thread
}

// purgeRedis deletes what the gateways' Redis keeps about one thread:
//   - conv:<thread> and tx:<thread> (the conversation and its transcript);
//   - its membership of active (the idle sweeper's set), open, leases and
//     each group's wait queue (handoff), and of each configured agent's
//     console claims;
//   - every entry whose conv field is the thread in every stream under the
//     prefix: the lifecycle stream (so that the archiver does not archive it
//     again), the parked entries, the queue's group and agent event streams
//     and the agents' ratings.
//
// Left to expire on their own: the dedupe markers of its messages
// (seen:<channel>:<msg id>, minutes), the channels' rate-limit buckets and
// socket counters (seconds), WeChat's 48-hour reply window; a web visitor's
// revocation stays (it refuses the visitor's old tokens).
func purgeRedis(ctx context.Context, rdb *redis.Client, cfg config.Config, thread string) (redisPurged, error) {
	var out redisPurged
	p := cfg.Redis.Prefix
	n, err := rdb.Del(ctx, conv.Key(p, thread), conv.TxKey(p, thread)).Result()
	if err != nil {
		return out, fmt.Errorf("purge: redis: %w", err)
	}
	out.Keys = n
	pipe := rdb.Pipeline()
	var cmds []*redis.IntCmd
	cmds = append(cmds, pipe.ZRem(ctx, conv.ActiveKey(p), thread), pipe.SRem(ctx, p+"open", thread),
		pipe.ZRem(ctx, p+"leases", thread))
	for _, g := range cfg.Handoff.Groups {
		cmds = append(cmds, pipe.ZRem(ctx, p+"wait:"+g, thread))
	}
	consolePrefix := cfg.Console.KeyPrefix
	if consolePrefix == "" {
		consolePrefix = p + "console:"
	}
	for _, a := range cfg.Console.Agents {
		cmds = append(cmds, pipe.HDel(ctx, consolePrefix+"claims:"+a.ID, thread))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return out, fmt.Errorf("purge: redis: %w", err)
	}
	for _, c := range cmds {
		out.Members += c.Val()
	}
	// Every stream under the prefix: entries naming the thread go.
	pat := strings.NewReplacer("*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(p) + "*"
	iter := rdb.ScanType(ctx, 0, pat, 1000, "stream").Iterator()
	for iter.Next(ctx) {
		n, err := purgeStream(ctx, rdb, iter.Val(), thread)
		if err != nil {
			return out, err
		}
		out.Entries += n
	}
	if err := iter.Err(); err != nil {
		return out, fmt.Errorf("purge: redis: %w", err)
	}
	return out, nil
}

// purgeStream deletes the entries of key whose conv field is thread.
func purgeStream(ctx context.Context, rdb *redis.Client, key, thread string) (int64, error) {
	var total int64
	start := "-"
	for {
		msgs, err := rdb.XRangeN(ctx, key, start, "+", 1000).Result()
		if err != nil {
			return total, fmt.Errorf("purge: redis: %s: %w", key, err)
		}
		var ids []string
		for _, m := range msgs {
			if c, _ := m.Values[conv.EvConv].(string); c == thread {
				ids = append(ids, m.ID)
			}
		}
		if len(ids) > 0 {
			n, err := rdb.XDel(ctx, key, ids...).Result()
			if err != nil {
				return total, fmt.Errorf("purge: redis: %s: %w", key, err)
			}
			total += n
		}
		if len(msgs) < 1000 {
			return total, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// mediaOf lists the stored files a customer's messages carry: in the
// thread's transcript in Redis (rdb nil: none) and in the archive.
func mediaOf(ctx context.Context, rdb *redis.Client, cfg config.Config, db *archive.DB, thread string) ([]string, error) {
	keys, err := db.MediaOf(ctx, thread)
	if err != nil {
		return nil, err
	}
	if rdb == nil {
		return keys, nil
	}
	xs, err := rdb.XRange(ctx, conv.TxKey(cfg.Redis.Prefix, thread), "-", "+").Result()
	if err != nil {
		return nil, fmt.Errorf("purge: redis: %w", err)
	}
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
	}
	for _, x := range xs {
		if k, _ := x.Values[conv.EvMedia].(string); k != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// purgeMedia deletes files from the configured store and says how many.
func purgeMedia(ctx context.Context, cfg config.Config, keys []string) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	dir := ""
	if cfg.Media.WithDefaults().Store == "dir" && cfg.Media.Dir == "" {
		d, err := dataDir(cfg)
		if err != nil {
			return 0, err
		}
		dir = d
	}
	st, err := media.Open(ctx, cfg.Media, dir)
	if err != nil {
		return 0, fmt.Errorf("purge: media: %w", err)
	}
	for _, k := range keys {
		if err := st.Delete(ctx, k); err != nil {
			return 0, fmt.Errorf("purge: media: %w", err)
		}
	}
	return len(keys), nil
}
