package handoff

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/internal/testkit"
)

// newClock is the queue tests' clock, moved by the test.
func newClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC))
}

// MustRedis connects to the test redis-server (KEFU_TEST_REDIS_URL) or
// skips the test.
func MustRedis(tb testing.TB, poolSize int) *redis.Client {
	tb.Helper()
	return testkit.Redis(tb, poolSize)
}

// MustQueue returns a Queue on a key prefix of its own (deleted after the
// test), with a test clock.
func MustQueue(tb testing.TB, cfg Config) (*Queue, *testkit.Clock, *redis.Client) {
	tb.Helper()
	rdb := MustRedis(tb, 0)
	q, clk := MustQueueOn(tb, rdb, cfg)
	return q, clk, rdb
}

// MustQueueOn is MustQueue on a given client.
func MustQueueOn(tb testing.TB, rdb *redis.Client, cfg Config) (*Queue, *testkit.Clock) {
	tb.Helper()
	if cfg.Prefix == "" {
		cfg.Prefix = testkit.PrefixOn(tb, rdb)
	}
	clk := newClock()
	q, err := New(rdb, cfg, clk.Now, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return q, clk
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
