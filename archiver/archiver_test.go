package archiver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/internal/testkit/pgtest"
)

// target is an archive under test and a raw connection to count its rows.
type target struct {
	db  *archive.DB
	raw *sql.DB
	dsn string
}

// dialects runs f on a fresh SQLite file and on a fresh PostgreSQL database.
func dialects(t *testing.T, f func(t *testing.T, tg target)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "archive.db")
		f(t, open(t, "sqlite://"+path, "sqlite", "file:"+path+"?_pragma=busy_timeout(5000)"))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.Database(t)
		f(t, open(t, dsn, "pgx", dsn))
	})
}

func open(t *testing.T, dsn, driver, rawDSN string) target {
	t.Helper()
	db, err := archive.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	raw, err := sql.Open(driver, rawDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return target{db: db, raw: raw, dsn: dsn}
}

// counts is the number of rows in each table.
func (tg target) counts(t testing.TB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"conversations", "events", "messages", "entities"} {
		var n int
		if err := tg.raw.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

// emitScript writes one lifecycle entry exactly as conv.Script's emit does
// (the same prelude), after setting the thread's episode.
var emitScript = conv.Script(`
redis.call('HSET', ARGV[1] .. 'conv:' .. ARGV[2], F.ep, ARGV[3])
return emit(ARGV[1], ARGV[2], ARGV[4], ARGV[5], unpack(ARGV, 6))`)

func emit(t testing.TB, rdb redis.UniversalClient, prefix, thread, ep, typ string, at time.Time, fields ...string) string {
	t.Helper()
	args := []any{prefix, thread, ep, typ, at.UnixMilli()}
	for _, f := range fields {
		args = append(args, f)
	}
	id, err := emitScript.Run(context.Background(), rdb, []string{conv.LifecycleKey(prefix)}, args...).Text()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

var t0 = time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)

// perConv: the events, messages and entities emitConv writes for one
// conversation.
var perConv = map[string]int{"conversations": 1, "events": 8, "messages": 3, "entities": 1}

// emitConv writes a whole conversation: started, a customer message with an
// order number, a bot reply, a hand-off, a claim, an agent message, a close
// and a rating.
func emitConv(t testing.TB, rdb redis.UniversalClient, prefix string, k int) {
	thread := conv.ThreadID("web", fmt.Sprintf("v%d", k))
	at := t0.Add(time.Duration(k) * time.Minute)
	e := func(typ string, fields ...string) {
		emit(t, rdb, prefix, thread, "1", typ, at, fields...)
		at = at.Add(time.Second)
	}
	e(conv.Started, conv.EvChannel, "web", conv.EvCustomer, thread)
	e(conv.CustomerMessage, conv.EvText, fmt.Sprintf("订单 %d 的发票", 2026111100000+k), conv.EvEntities, fmt.Sprint(2026111100000+k))
	e(conv.BotReply, conv.EvAction, "handoff", conv.EvText, "正在为您转接人工客服")
	e(conv.Handoff, conv.EvReason, "asked", conv.EvGroup, "payments")
	e(conv.Claimed, conv.EvAgent, "alice", conv.EvGroup, "payments", conv.EvWaitedMs, "1200")
	e(conv.AgentMessage, conv.EvAgent, "alice", conv.EvText, "您好", conv.EvFirst, "1")
	e(conv.Closed, conv.EvBy, "alice")
	e(conv.Rated, conv.EvScore, "5")
}

func times(m map[string]int, n int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = v * n
	}
	return out
}

// newArchiver makes an archiver with test-sized settings.
func newArchiver(rdb redis.UniversalClient, w Writer, prefix, name string) *Archiver {
	a := New(rdb, w, Config{Prefix: prefix, Consumer: name, Batch: 50, Block: 10 * time.Millisecond,
		ClaimIdle: time.Hour, Maintain: 20 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	return a
}

// drain runs rounds until the lag is 0.
func drain(t *testing.T, a *Archiver) {
	t.Helper()
	ctx := context.Background()
	for range 1000 {
		if _, err := a.Round(ctx); err != nil {
			t.Fatal(err)
		}
		lag, err := a.Lag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if lag == 0 {
			return
		}
	}
	t.Fatal("the archiver never caught up")
}

// waitFor polls cond until it holds; it fails after a minute (a hang, not
// a measure of speed).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestArchiveEverythingOnceAndTrim(t *testing.T) {
	dialects(t, func(t *testing.T, tg target) {
		rdb := testkit.Redis(t, 0)
		p := testkit.PrefixOn(t, rdb)
		ctx := context.Background()
		// Written before any archiver ran: archived too.
		for k := range 10 {
			emitConv(t, rdb, p, k)
		}
		a := newArchiver(rdb, tg.db, p, "a")
		if err := a.Setup(ctx); err != nil {
			t.Fatal(err)
		}
		if lag, err := a.Lag(ctx); err != nil || lag != 80 {
			t.Fatalf("lag before archiving %d, %v; want 80", lag, err)
		}
		drain(t, a)
		if diff := cmp.Diff(times(perConv, 10), tg.counts(t)); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
		n, err := a.Trim(ctx)
		if err != nil || n != 80 {
			t.Errorf("trim deleted %d, %v; want 80", n, err)
		}
		if l := rdb.XLen(ctx, conv.LifecycleKey(p)).Val(); l != 0 {
			t.Errorf("%d entries left after trimming", l)
		}
		res, err := tg.db.Search(ctx, archive.Query{Entity: "2026111100003"})
		if err != nil {
			t.Fatal(err)
		}
		want := conv.ArchiveID("web:v3", "1")
		if res.Total != 1 || res.Results[0].Conv != want || res.Results[0].Customer != "web:v3" || res.Results[0].Agent != "alice" ||
			res.Results[0].Rating == nil || *res.Results[0].Rating != 5 || res.Results[0].Outcome != archive.OutcomeAgent {
			t.Errorf("search by order number: %+v", res.Results)
		}
		tr, err := tg.db.Show(ctx, want)
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Entries) != 3 || tr.Entries[2].Text != "您好" || tr.Entries[2].Agent != "alice" || len(tr.Events) != 8 ||
			tr.Events[4].Fields[conv.EvWaitedMs] != "1200" {
			t.Errorf("transcript: %+v", tr)
		}
	})
}

// writerFunc adapts a function to Writer.
type writerFunc func(ctx context.Context, batch []archive.Event) error

func (f writerFunc) Write(ctx context.Context, batch []archive.Event) error { return f(ctx, batch) }

// TestKilledMidBatch: one archiver dies in the middle of writing a batch
// (half of it written), another between writing and acknowledging; a third
// claims what they left: every event archived once, none twice.
func TestKilledMidBatch(t *testing.T) {
	dialects(t, func(t *testing.T, tg target) {
		rdb := testkit.Redis(t, 0)
		p := testkit.PrefixOn(t, rdb)
		ctx := context.Background()
		const convs = 40
		for k := range convs {
			emitConv(t, rdb, p, k)
		}
		// A: its second batch is half written when it dies.
		actx, kill := context.WithCancel(ctx)
		calls := 0
		a := newArchiver(rdb, writerFunc(func(ctx context.Context, batch []archive.Event) error {
			calls++
			if calls == 2 {
				if err := tg.db.Write(ctx, batch[:len(batch)/2]); err != nil {
					return err
				}
				kill()
				return ctx.Err()
			}
			return tg.db.Write(ctx, batch)
		}), p, "a")
		if err := a.Setup(ctx); err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := a.Round(actx); err != nil {
				break // dead
			}
		}
		// B: writes its batch, dies before acknowledging it.
		b := newArchiver(rdb, tg.db, p, "b")
		b.testHookBeforeAck = func([]string) error { return errors.New("killed") }
		if _, err := b.Round(ctx); !errors.Is(err, errStopped) {
			t.Fatalf("B's round = %v, want it stopped", err)
		}
		pending, err := rdb.XPending(ctx, conv.LifecycleKey(p), Group).Result()
		if err != nil {
			t.Fatal(err)
		}
		if pending.Count != 100 || pending.Consumers["a"] != 50 || pending.Consumers["b"] != 50 {
			t.Fatalf("pending after the deaths: %+v, want 50 with a and 50 with b", pending)
		}
		// C claims theirs once idle, and archives the rest.
		c := newArchiver(rdb, tg.db, p, "c")
		c.cfg.ClaimIdle = time.Millisecond
		time.Sleep(5 * time.Millisecond) // their entries idle past ClaimIdle
		if n, err := c.Claim(ctx); err != nil || n != 100 {
			t.Fatalf("claimed %d, %v; want 100", n, err)
		}
		drain(t, c)
		if diff := cmp.Diff(times(perConv, convs), tg.counts(t)); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
		if pending, err := rdb.XPending(ctx, conv.LifecycleKey(p), Group).Result(); err != nil || pending.Count != 0 {
			t.Errorf("pending at the end: %+v, %v", pending, err)
		}
		if n, err := c.Trim(ctx); err != nil || n != 8*convs {
			t.Errorf("trim deleted %d, %v; want %d", n, err, 8*convs)
		}
	})
}

// TestTwoArchiversAtOnce: two running archivers that also steal each
// other's entries (ClaimIdle 1 ms) while conversations are written.
func TestTwoArchiversAtOnce(t *testing.T) {
	dialects(t, func(t *testing.T, tg target) {
		rdb := testkit.Redis(t, 0)
		p := testkit.PrefixOn(t, rdb)
		ctx := context.Background()
		var as []*Archiver
		for _, name := range []string{"one", "two"} {
			a := newArchiver(rdb, tg.db, p, name)
			a.cfg.ClaimIdle = time.Millisecond
			a.cfg.Batch = 16
			if err := a.Start(ctx); err != nil {
				t.Fatal(err)
			}
			as = append(as, a)
		}
		const convs = 60
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := w; k < convs; k += 3 {
					emitConv(t, rdb, p, k)
				}
			}()
		}
		wg.Wait()
		waitFor(t, "lag 0", func() bool {
			lag, err := as[0].Lag(ctx)
			return err == nil && lag == 0
		})
		for _, a := range as {
			a.Close()
		}
		if diff := cmp.Diff(times(perConv, convs), tg.counts(t)); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
	})
}

// TestDatabaseDownThenUp: while the archive refuses every write nothing is
// acknowledged (the lag shows it); once it is back the archiver catches up.
func TestDatabaseDownThenUp(t *testing.T) {
	dialects(t, func(t *testing.T, tg target) {
		rdb := testkit.Redis(t, 0)
		p := testkit.PrefixOn(t, rdb)
		ctx := context.Background()
		var down atomic.Bool
		var refused atomic.Int64
		down.Store(true)
		a := newArchiver(rdb, writerFunc(func(ctx context.Context, batch []archive.Event) error {
			if down.Load() {
				refused.Add(1)
				return errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
			}
			return tg.db.Write(ctx, batch)
		}), p, "a")
		if err := a.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		for k := range 20 {
			emitConv(t, rdb, p, k)
		}
		waitFor(t, "three refused writes", func() bool { return refused.Load() >= 3 })
		if lag, err := a.Lag(ctx); err != nil || lag != 160 {
			t.Errorf("lag while down %d, %v; want 160", lag, err)
		}
		if got := tg.counts(t)["events"]; got != 0 {
			t.Errorf("%d events archived while down", got)
		}
		if n, err := a.Trim(ctx); err != nil || n != 0 {
			t.Errorf("trim while down deleted %d, %v", n, err)
		}
		down.Store(false)
		waitFor(t, "lag 0 after the database came back", func() bool {
			lag, err := a.Lag(ctx)
			return err == nil && lag == 0
		})
		if diff := cmp.Diff(times(perConv, 20), tg.counts(t)); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
	})
}

// TestPostgresRestartedMidStream: the real database refuses connections (no
// connections allowed, sessions terminated), then allows them again.
func TestPostgresDownThenUp(t *testing.T) {
	dsn := pgtest.Database(t)
	tg := open(t, dsn, "pgx", dsn)
	admin, err := sql.Open("pgx", testkit.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := dsn[strings.LastIndexByte(dsn, '/')+1:]
	if i := strings.IndexByte(name, '?'); i >= 0 {
		name = name[:i]
	}
	setDown := func(down bool) {
		t.Helper()
		if _, err := admin.Exec(fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS %t`, name, !down)); err != nil {
			t.Fatal(err)
		}
		if down {
			if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
				t.Fatal(err)
			}
		}
	}
	rdb := testkit.Redis(t, 0)
	p := testkit.PrefixOn(t, rdb)
	ctx := context.Background()
	var buf testkit.LogBuffer
	a := newArchiver(rdb, tg.db, p, "a")
	a.log = slogTo(&buf)
	if err := a.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	setDown(true)
	t.Cleanup(func() { setDown(false) }) // or the database cannot be dropped
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for k := range 5 {
		emitConv(t, rdb, p, k)
	}
	waitFor(t, "a refused batch in the log", func() bool { return strings.Contains(buf.String(), "the archive refused a batch") })
	if strings.Contains(buf.String(), "password") {
		t.Error("the log names a password")
	}
	setDown(false)
	waitFor(t, "lag 0 after the database came back", func() bool {
		lag, err := a.Lag(ctx)
		return err == nil && lag == 0
	})
	if diff := cmp.Diff(times(perConv, 5), tg.counts(t)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// TestTrimKeepsUnarchived: entries a dead consumer left pending in the
// middle of the stream stay, with everything after them; those before go.
func TestTrimKeepsUnarchived(t *testing.T) {
	dialects(t, func(t *testing.T, tg target) {
		rdb := testkit.Redis(t, 0)
		p := testkit.PrefixOn(t, rdb)
		ctx := context.Background()
		key := conv.LifecycleKey(p)
		for k := range 3 {
			emitConv(t, rdb, p, k) // 24 entries
		}
		live := newArchiver(rdb, tg.db, p, "live")
		live.cfg.Batch = 8
		if err := live.Setup(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := live.Round(ctx); err != nil { // entries 1-8 archived
			t.Fatal(err)
		}
		dead := newArchiver(rdb, tg.db, p, "dead")
		dead.cfg.Batch = 8
		dead.testHookBeforeAck = func([]string) error { return errors.New("killed") }
		if _, err := dead.Round(ctx); !errors.Is(err, errStopped) { // 9-16 pending
			t.Fatal(err)
		}
		if _, err := live.Round(ctx); err != nil { // 17-24 archived
			t.Fatal(err)
		}
		all, err := rdb.XRange(ctx, key, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		n, err := live.Trim(ctx)
		if err != nil || n != 8 {
			t.Fatalf("trim deleted %d, %v; want 8", n, err)
		}
		left, err := rdb.XRange(ctx, key, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 16 || left[0].ID != all[8].ID {
			t.Fatalf("after trim: %d entries from %s, want 16 from %s", len(left), left[0].ID, all[8].ID)
		}
		if lag, err := live.Lag(ctx); err != nil || lag != 8 {
			t.Errorf("lag %d, %v; want 8 (the dead consumer's)", lag, err)
		}
		// New entries behind: the floor stays at the pending ones.
		emitConv(t, rdb, p, 3)
		drain0(t, live)
		if n, err := live.Trim(ctx); err != nil || n != 0 {
			t.Errorf("second trim deleted %d, %v; want 0", n, err)
		}
		live.cfg.ClaimIdle = time.Millisecond
		time.Sleep(5 * time.Millisecond)
		if _, err := live.Claim(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := live.Trim(ctx); err != nil || n != 24 {
			t.Errorf("trim after the claim deleted %d, %v; want 24", n, err)
		}
		if diff := cmp.Diff(times(perConv, 4), tg.counts(t)); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
	})
}

// drain0 reads until nothing new is delivered (pending entries of others
// stay).
func drain0(t *testing.T, a *Archiver) {
	t.Helper()
	for range 1000 {
		n, err := a.Round(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// TestBadEntriesParked: entries that cannot be archived are parked with
// their reason and acknowledged; the good ones of the same batch are
// archived.
func TestBadEntriesParked(t *testing.T) {
	dialects(t, func(t *testing.T, tg target) {
		rdb := testkit.Redis(t, 0)
		p := testkit.PrefixOn(t, rdb)
		ctx := context.Background()
		key := conv.LifecycleKey(p)
		emitConv(t, rdb, p, 0)
		noEp := rdb.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{conv.EvType, conv.Closed, conv.EvConv, "web:x", conv.EvAt, "1"}}).Val()
		badAt := rdb.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{conv.EvType, conv.Closed, conv.EvConv, "web:x", conv.EvEpisode, "1", conv.EvAt, "yesterday"}}).Val()
		badScore := emit(t, rdb, p, "web:y", "1", conv.Rated, t0, conv.EvScore, "five")
		emitConv(t, rdb, p, 1)
		a := newArchiver(rdb, tg.db, p, "a")
		if err := a.Setup(ctx); err != nil {
			t.Fatal(err)
		}
		drain(t, a)
		if diff := cmp.Diff(times(perConv, 2), tg.counts(t)); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
		parked, err := rdb.XRange(ctx, ParkedKey(p), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range parked {
			ids = append(ids, m.Values["id"].(string))
			if e, _ := m.Values["error"].(string); !strings.Contains(e, "bad event") {
				t.Errorf("parked %s with error %q", m.Values["id"], e)
			}
		}
		if diff := cmp.Diff([]string{noEp, badAt, badScore}, ids); diff != "" {
			t.Errorf("parked (-want +got):\n%s", diff)
		}
	})
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// TestForgetGoneConsumers: a consumer that holds nothing and has been idle
// past ForgetIdle leaves the group; one holding entries stays.
func TestForgetGoneConsumers(t *testing.T) {
	rdb := testkit.Redis(t, 0)
	p := testkit.PrefixOn(t, rdb)
	ctx := context.Background()
	db, err := archive.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "a.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	emitConv(t, rdb, p, 0)
	gone := newArchiver(rdb, db, p, "gone")
	gone.cfg.Batch = 4
	if err := gone.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := gone.Round(ctx); err != nil {
		t.Fatal(err)
	}
	holding := newArchiver(rdb, db, p, "holding")
	holding.cfg.Batch = 4
	holding.testHookBeforeAck = func([]string) error { return errors.New("killed") }
	if _, err := holding.Round(ctx); !errors.Is(err, errStopped) {
		t.Fatal(err)
	}
	me := newArchiver(rdb, db, p, "me")
	me.cfg.ForgetIdle = time.Millisecond
	time.Sleep(5 * time.Millisecond)
	if err := me.forget(ctx); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range rdb.XInfoConsumers(ctx, conv.LifecycleKey(p), Group).Val() {
		names = append(names, c.Name)
	}
	if diff := cmp.Diff([]string{"holding"}, names); diff != "" {
		t.Errorf("consumers (-want +got):\n%s", diff)
	}
}
