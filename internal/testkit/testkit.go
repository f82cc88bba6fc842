// Package testkit is what the tests of several packages share: the test
// redis-server (KEFU_TEST_REDIS_URL, started by scripts/test.sh), the test
// PostgreSQL server (KEFU_TEST_POSTGRES_URL, likewise; testkit/pgtest makes
// a database per test on it) and Chromium, with the one rule for when either is missing (skip on a
// laptop, fail under CI: Missing), key prefixes of a test's own, a log buffer safe for concurrent writers, and a
// clock moved by hand.
// Only tests import it.
package testkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/internal/rediskeys"
)

// Required reports whether a missing real part (the redis-server, Chromium)
// fails the run instead of skipping the test: under CI (CI set, as CI
// services set CI=true) or with KEFU_REQUIRE_ALL=1. A skip is for a part a
// developer may lack on a laptop; in CI the same absence is a failure.
func Required() bool {
	ci := strings.ToLower(os.Getenv("CI"))
	return (ci != "" && ci != "false" && ci != "0") || os.Getenv("KEFU_REQUIRE_ALL") == "1"
}

// Missing is the one place that decides what a test does when a real part
// is missing: it fails the test under Required, and skips it otherwise.
// what names the part, how says how to get it.
func Missing(tb testing.TB, what, how string) {
	tb.Helper()
	if Required() {
		tb.Fatalf("%s is missing (%s); CI=true or KEFU_REQUIRE_ALL=1 makes that a failure", what, how)
		return
	}
	tb.Skipf("%s is missing (%s)", what, how)
}

// RedisURL is the test redis-server's URL. Without one the test is skipped,
// or fails under Required.
func RedisURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("KEFU_TEST_REDIS_URL")
	if url == "" {
		Missing(tb, "the test redis-server (KEFU_TEST_REDIS_URL)", "run scripts/test.sh, which installs and starts one")
	}
	return url
}

// PostgresURL is the test PostgreSQL server's URL (a superuser's, to make
// databases). Without one the test is skipped, or fails under Required.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("KEFU_TEST_POSTGRES_URL")
	if url == "" {
		Missing(tb, "the test PostgreSQL server (KEFU_TEST_POSTGRES_URL)", "run scripts/test.sh, which installs postgresql and starts a throw-away cluster")
	}
	return url
}

// Chromium is the path of a Chromium (or Chrome) binary for the browser
// tests: KEFU_CHROMIUM, else the first found on PATH. Without one the test
// is skipped, or fails under Required.
func Chromium(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("KEFU_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			tb.Fatalf("KEFU_CHROMIUM: %v", err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Missing(tb, "Chromium", "scripts/test.sh installs it with apt-get (apt-get install chromium fonts-wqy-microhei), or set KEFU_CHROMIUM")
	return ""
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
	_, _ = rediskeys.Drop(context.Background(), rdb, prefix)
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
