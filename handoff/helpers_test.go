package handoff

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock {
	return &testClock{t: time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var prefixSeq atomic.Int64

// MustRedis connects to the test redis-server (KEFU_TEST_REDIS_URL) or
// skips the test.
func MustRedis(tb testing.TB, poolSize int) *redis.Client {
	tb.Helper()
	url := os.Getenv("KEFU_TEST_REDIS_URL")
	if url == "" {
		tb.Skip("KEFU_TEST_REDIS_URL not set: run scripts/test.sh, which starts a redis-server")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatal(err)
	}
	if poolSize > 0 {
		opt.PoolSize = poolSize
	}
	rdb := redis.NewClient(opt)
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

// MustQueue returns a Queue on a key prefix of its own (deleted after the
// test), with a test clock.
func MustQueue(tb testing.TB, cfg Config) (*Queue, *testClock, *redis.Client) {
	tb.Helper()
	rdb := MustRedis(tb, 0)
	q, clk := MustQueueOn(tb, rdb, cfg)
	return q, clk, rdb
}

// MustQueueOn is MustQueue on a given client.
func MustQueueOn(tb testing.TB, rdb *redis.Client, cfg Config) (*Queue, *testClock) {
	tb.Helper()
	if cfg.Prefix == "" {
		name := strings.NewReplacer("/", "_", " ", "_").Replace(tb.Name())
		cfg.Prefix = fmt.Sprintf("{kefutest:%s:%d:%d}:", name, time.Now().UnixNano(), prefixSeq.Add(1))
		tb.Cleanup(func() { dropPrefix(rdb, cfg.Prefix) })
	}
	clk := newClock()
	q, err := New(rdb, cfg, clk.Now, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return q, clk
}

func dropPrefix(rdb *redis.Client, prefix string) {
	ctx := context.Background()
	pat := strings.NewReplacer("*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(prefix) + "*"
	iter := rdb.Scan(ctx, 0, pat, 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 500 {
			rdb.Del(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		rdb.Del(ctx, keys...)
	}
}

// MustAudit fails the test when an invariant is broken.
func MustAudit(tb testing.TB, q *Queue) Report {
	tb.Helper()
	rep, err := q.Audit(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		tb.Fatalf("audit:\n%v", err)
	}
	return rep
}

func mustEnqueue(tb testing.TB, q *Queue, t Ticket) Position {
	tb.Helper()
	p, err := q.Enqueue(context.Background(), t)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func mustOnline(tb testing.TB, q *Queue, a Agent) {
	tb.Helper()
	if err := q.AgentOnline(context.Background(), a); err != nil {
		tb.Fatal(err)
	}
}

func mustClaim(tb testing.TB, q *Queue, aid, cid string) Claim {
	tb.Helper()
	c, err := q.Claim(context.Background(), aid, cid)
	if err != nil {
		tb.Fatalf("claim %s by %s: %v", cid, aid, err)
	}
	return c
}

func wantErr(tb testing.TB, err, want error) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Fatalf("error %v, want %v", err, want)
	}
}

// ranks returns the queue of a group as conversation ids in order.
func ranks(tb testing.TB, q *Queue, g string) []string {
	tb.Helper()
	ws, err := q.Waiting(context.Background(), g)
	if err != nil {
		tb.Fatal(err)
	}
	out := []string{}
	for _, w := range ws {
		out = append(out, w.Conv)
	}
	return out
}

// transcript returns a conversation's transcript entries as field maps.
func transcript(tb testing.TB, rdb *redis.Client, q *Queue, cid string) []map[string]any {
	tb.Helper()
	xs, err := rdb.XRange(context.Background(), q.txKey(cid), "-", "+").Result()
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]map[string]any, len(xs))
	for i, x := range xs {
		out[i] = x.Values
	}
	return out
}

func redisZ(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }
