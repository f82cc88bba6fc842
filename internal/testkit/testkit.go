// Package testkit is what the tests of several packages share: the test
// redis-server (KEFU_TEST_REDIS_URL, started by scripts/test.sh), key
// prefixes of a test's own, a log buffer safe for concurrent writers, and a
// clock moved by hand.
// Only tests import it.
package testkit

import (
	"bytes"
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

// RedisURL is the test redis-server's URL; the test is skipped when there is
// none.
func RedisURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("KEFU_TEST_REDIS_URL")
	if url == "" {
		tb.Skip("KEFU_TEST_REDIS_URL not set: run scripts/test.sh, which starts a redis-server")
	}
	return url
}

// Redis connects to the test redis-server (poolSize 0: go-redis's default)
// and closes the client when the test ends; the test is skipped when there
// is no server.
func Redis(tb testing.TB, poolSize int) *redis.Client {
	tb.Helper()
	opt, err := redis.ParseURL(RedisURL(tb))
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

var prefixSeq atomic.Int64

// Prefix is a key prefix no other test uses, with a hash tag so that every
// key under it lands in one cluster slot.
func Prefix(tb testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(tb.Name())
	return fmt.Sprintf("{kefutest:%s:%d:%d}:", name, time.Now().UnixNano(), prefixSeq.Add(1))
}

// PrefixOn is Prefix, with the keys under it deleted from rdb when the test
// ends.
func PrefixOn(tb testing.TB, rdb redis.UniversalClient) string {
	p := Prefix(tb)
	tb.Cleanup(func() { Drop(rdb, p) })
	return p
}

// Drop deletes the keys under prefix.
func Drop(rdb redis.UniversalClient, prefix string) {
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

// LogBuffer collects log output from several goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ErrInjected is the error FailHook makes a command fail with.
var ErrInjected = errors.New("injected redis failure")

// FailHook is a redis.Hook that counts round trips (commands and pipelines)
// and fails the next commands that Match, as many as FailNext says: a Redis
// hiccup at exactly that write.
type FailHook struct {
	Match func(cmd redis.Cmder) bool

	mu    sync.Mutex
	fail  int
	trips int
}

// FailNext makes the next n matching commands fail.
func (h *FailHook) FailNext(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = n
}

// RoundTrips is the number of commands and pipelines sent so far.
func (h *FailHook) RoundTrips() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.trips
}

func (h *FailHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *FailHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		h.trips++
		hit := h.fail > 0 && h.Match(cmd)
		if hit {
			h.fail--
		}
		h.mu.Unlock()
		if hit {
			cmd.SetErr(ErrInjected)
			return ErrInjected
		}
		return next(ctx, cmd)
	}
}

func (h *FailHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mu.Lock()
		h.trips++
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// Clock is a clock the test moves by hand, for code that takes a
// now func() time.Time. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a Clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the time the clock shows.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
