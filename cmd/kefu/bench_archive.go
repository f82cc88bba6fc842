package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/archiver"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/internal/rediskeys"
)

// peakEventsPerSecond is the lifecycle rate of the gateway's peak
// (BENCHMARKS.md, Peak: 200 customer messages/s): each message is a
// customer_message and a bot_reply (or an agent_message), about 2.5 events
// with the starts, hand-offs, claims and closes around them.
const peakEventsPerSecond = 500

// benchConvEvents is one conversation's lifecycle entries, in the shape
// conv.Script's emit writes (type, conv, ep, at, fields…): started, a
// customer message with an order number, a bot reply, a hand-off, a claim,
// an agent message, a close and a rating.
func benchConvEvents(thread string, k int, at int64) [][]any {
	order := strconv.Itoa(2026111100000 + k)
	ev := func(typ string, fields ...any) []any {
		return append([]any{conv.EvType, typ, conv.EvConv, thread, conv.EvEpisode, "1", conv.EvAt, at}, fields...)
	}
	return [][]any{
		ev(conv.Started, conv.EvChannel, "web", conv.EvCustomer, thread),
		ev(conv.CustomerMessage, conv.EvText, "你好，我的订单 "+order+" 什么时候发货？能开发票吗", conv.EvKind, "text", conv.EvMsgID, "m"+order, conv.EvEntities, order),
		ev(conv.BotReply, conv.EvAction, "handoff", conv.EvKind, "text", conv.EvText, "正在为您转接人工客服，请稍候", conv.EvIntent, "invoice", conv.EvConfidence, "0.41"),
		ev(conv.Handoff, conv.EvReason, "low_confidence", conv.EvGroup, "payments", conv.EvUrgent, "0", conv.EvPriority, "1"),
		ev(conv.Claimed, conv.EvAgent, "alice", conv.EvGroup, "payments", conv.EvWaitedMs, "12000"),
		ev(conv.AgentMessage, conv.EvAgent, "alice", conv.EvText, "您好，订单今天下午发货，发票会随包裹寄出", conv.EvKind, "text", conv.EvFirst, "1"),
		ev(conv.Closed, conv.EvBy, "alice"),
		ev(conv.Rated, conv.EvScore, "5", conv.EvAgent, "alice"),
	}
}

// fillLifecycle writes convs conversations' lifecycle entries (8 each),
// pipelined.
func fillLifecycle(ctx context.Context, rdb *redis.Client, prefix, run string, convs int) error {
	key := conv.LifecycleKey(prefix)
	at := time.Now().UnixMilli()
	pipe := rdb.Pipeline()
	for k := range convs {
		for _, vals := range benchConvEvents(fmt.Sprintf("web:%s-%d", run, k), k, at) {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: vals})
		}
		if pipe.Len() >= 2000 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	_, err := pipe.Exec(ctx)
	return err
}

// drainArchivers runs the archivers until the lag is 0 and returns how long
// it took.
func drainArchivers(ctx context.Context, as []*archiver.Archiver) (time.Duration, error) {
	t0 := time.Now()
	for _, a := range as {
		if err := a.Start(ctx); err != nil {
			return 0, err
		}
	}
	defer func() {
		for _, a := range as {
			a.Close()
		}
	}()
	for {
		lag, err := as[0].Lag(ctx)
		if err != nil {
			return 0, err
		}
		if lag == 0 {
			return time.Since(t0), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func benchRedis(url string) (*redis.Client, error) {
	if url == "" {
		url = os.Getenv("REDIS_URL")
	}
	if url == "" {
		return nil, errors.New("bench: --redis redis://… (a redis-server of the benchmark's own) is required")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New("bench: --redis: not a valid redis URL")
	}
	return redis.NewClient(opt), nil
}

// cmdBenchArchive measures the archiver: lifecycle events per second from a
// real redis-server into SQLite or PostgreSQL, the messages segmented with
// gojieba as in the server.
func cmdBenchArchive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench archive", flag.ContinueOnError)
	url := fs.String("redis", "", "redis-server URL (default REDIS_URL)")
	dsn := fs.String("dsn", "", "archive DSN: postgres://… (a throw-away database) or an SQLite path (default: a new file in a temporary folder)")
	events := fs.Int("events", 100000, "lifecycle events (8 per conversation)")
	workers := fs.Int("archivers", 1, "archivers at once (instances)")
	batch := fs.Int("batch", 256, "entries per read")
	jieba := fs.Bool("jieba", true, "segment messages with gojieba (as the server does); false: split on spaces")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	rdb, err := benchRedis(*url)
	if err != nil {
		return err
	}
	defer rdb.Close()
	if *dsn == "" {
		dir, err := os.MkdirTemp("", "kefu-bench-archive-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*dsn = filepath.Join(dir, "archive.db")
	}
	var seg archive.Segmenter
	if *jieba {
		tok, err := intents.NewJiebaTokenizer("", nil)
		if err != nil {
			return err
		}
		seg = tok
	}
	db, err := archive.Open(ctx, *dsn, seg, archive.WithEntities(entities))
	if err != nil {
		return err
	}
	defer db.Close()
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	prefix := "{kefubench:" + run + "}:"
	defer rediskeys.Drop(context.Background(), rdb, prefix)
	convs := max(*events/8, 1)
	if err := fillLifecycle(ctx, rdb, prefix, run, convs); err != nil {
		return err
	}
	var as []*archiver.Archiver
	for i := range *workers {
		as = append(as, archiver.New(rdb, db, archiver.Config{Prefix: prefix, Consumer: fmt.Sprintf("bench-%d", i), Batch: *batch}))
	}
	if err := as[0].Setup(ctx); err != nil {
		return err
	}
	d, err := drainArchivers(ctx, as)
	if err != nil {
		return err
	}
	n := convs * 8
	rate := float64(n) / d.Seconds()
	fmt.Fprintf(stdout, "archive %s (%d archiver(s), batch %d, jieba %t): %d events (%d conversations) in %s: %.0f events/s; "+
		"the gateway's peak (200 msg/s) makes about %d events/s: %.1fx\n",
		db.Dialect(), *workers, *batch, *jieba, n, convs, d.Round(time.Millisecond), rate, peakEventsPerSecond, rate/peakEventsPerSecond)
	return nil
}

// fillClosed writes convs closed conversations as bot's and handoff's
// scripts leave them after a hand-off, an agent's answer, a close and a
// rating: the conversation hash (the fields ingest, finish, enqueue, claim,
// rate and close write) and a transcript of msgs entries (the customer's as
// ingest.lua writes them, the bot's as finish.lua, the agent's as
// append.lua), plus their lifecycle entries.
func fillClosed(ctx context.Context, rdb *redis.Client, prefix, run string, convs, msgs int) error {
	now := time.Now().UnixMilli()
	pipe := rdb.Pipeline()
	for k := range convs {
		thread := fmt.Sprintf("web:%s-%d", run, k)
		ms := strconv.FormatInt(now, 10)
		pipe.HSet(ctx, conv.Key(prefix, thread),
			conv.FieldChannel, "web", conv.FieldUser, fmt.Sprintf("%s-%d", run, k), conv.FieldMode, conv.ModeClosed,
			"low", "0", conv.FieldCreated, ms, conv.FieldUpdated, ms, conv.FieldLang, "zh", conv.FieldEpisode, "1",
			conv.FieldReason, "", conv.FieldUrgent, "0", "last_in", "好的，谢谢", "last_in_ms", ms,
			conv.FieldGroup, "payments", "prio", "1", "seq", strconv.Itoa(k), "enq_ms", ms, conv.FieldEpoch, "1",
			conv.FieldAgent, "alice", "claimed_ms", ms, "waited_ms", "12000",
			conv.FieldRating, "5", "rating_comment", "", "rating_agent", "alice", conv.FieldClosedMs, ms)
		tx := conv.TxKey(prefix, thread)
		for i := range msgs {
			switch i % 3 {
			case 0:
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: tx, Values: []any{"dir", "in", "msg_id", fmt.Sprintf("m%d-%d", k, i), "kind", "text",
					"text", "你好，我的订单什么时候发货？能开发票吗", "choice", "", "at", ms}})
			case 1:
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: tx, Values: []any{"dir", "out", "kind", "answer", "intent", "invoice",
					"text", "您好，电子发票会在订单发货后24小时内发送到您的邮箱，请注意查收。", "agent", "", "choices", "", "at", ms, "re", "0-1"}})
			default:
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: tx, Values: []any{"dir", "out", "kind", "agent", "agent", "alice", "epoch", "1",
					"msg_id", fmt.Sprintf("a%d-%d", k, i), "text", "您好，订单今天下午发货，发票会随包裹寄出", "at", ms}})
			}
		}
		for _, vals := range benchConvEvents(thread, k, now) {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: conv.LifecycleKey(prefix), Values: vals})
		}
		if pipe.Len() >= 2000 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	_, err := pipe.Exec(ctx)
	return err
}

func usedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	s, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("no used_memory in INFO memory")
}

// discard is an archive that stores nothing: the retention benchmark
// measures Redis, not the database.
type discard struct{}

func (discard) Write(context.Context, []archive.Event) error { return nil }

// cmdBenchRetention measures Redis used_memory with convs closed
// conversations kept forever (no retention) and after retention let them
// expire (--ttl stands for retention.redis: the archiver sets it exactly as
// in the server, only shorter, so the run does not wait 7 days).
func cmdBenchRetention(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench retention", flag.ContinueOnError)
	url := fs.String("redis", "", "redis-server URL of the benchmark's own (default REDIS_URL); its used_memory is read")
	convs := fs.Int("convs", 100000, "closed conversations")
	msgs := fs.Int("messages", 6, "transcript entries per conversation")
	ttl := fs.Duration("ttl", 3*time.Second, "retention.redis for the run")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	rdb, err := benchRedis(*url)
	if err != nil {
		return err
	}
	defer rdb.Close()
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	measure := func() (int64, error) {
		time.Sleep(200 * time.Millisecond) // lazy frees (UNLINK) settle
		return usedMemory(ctx, rdb)
	}
	phase := func(retention time.Duration) (before, archived, after int64, err error) {
		run := strconv.FormatInt(time.Now().UnixNano(), 36)
		prefix := "{kefubench:" + run + "}:"
		defer rediskeys.Drop(context.Background(), rdb, prefix)
		if err = fillClosed(ctx, rdb, prefix, run, *convs, *msgs); err != nil {
			return
		}
		if before, err = measure(); err != nil {
			return
		}
		a := archiver.New(rdb, discard{}, archiver.Config{Prefix: prefix, Retention: retention})
		if err = a.Setup(ctx); err != nil {
			return
		}
		if _, err = drainArchivers(ctx, []*archiver.Archiver{a}); err != nil {
			return
		}
		if _, err = a.Trim(ctx); err != nil {
			return
		}
		if archived, err = measure(); err != nil {
			return
		}
		if retention > 0 {
			time.Sleep(retention)
			// Touch every key so the expired ones go now rather than over
			// Redis's active expiry cycles.
			iter := rdb.Scan(ctx, 0, rediskeys.Pattern(prefix), 1000).Iterator()
			for iter.Next(ctx) {
				rdb.Exists(ctx, iter.Val())
			}
		}
		after, err = measure()
		return
	}
	base, err := measure()
	if err != nil {
		return err
	}
	b1, a1, _, err := phase(0)
	if err != nil {
		return err
	}
	base2, err := measure()
	if err != nil {
		return err
	}
	_, _, c2, err := phase(*ttl)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d closed conversations (%d transcript entries each), used_memory above an empty prefix (%s):\n", *convs, *msgs, mib(base))
	fmt.Fprintf(stdout, "  written, lifecycle not yet archived:  %s (%.0f bytes per conversation)\n", mib(b1-base), float64(b1-base)/float64(*convs))
	fmt.Fprintf(stdout, "  without retention (archived, stream trimmed; kept forever): %s (%.0f bytes per conversation)\n", mib(a1-base), float64(a1-base)/float64(*convs))
	fmt.Fprintf(stdout, "  with retention, after retention.redis (%s here): %s\n", *ttl, mib(c2-base2))
	return nil
}
