package archiver

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// thread writes a conversation hash as bot's scripts leave it, and its
// last activity in the active set.
func thread(t *testing.T, rdb redis.UniversalClient, p, id, mode, ep string, last time.Time) {
	t.Helper()
	ctx := context.Background()
	if err := rdb.HSet(ctx, conv.Key(p, id), conv.FieldMode, mode, conv.FieldEpisode, ep, conv.FieldChannel, "web").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: conv.TxKey(p, id), Values: []any{"dir", "in", "text", "hi"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ZAdd(ctx, conv.ActiveKey(p), redis.Z{Score: float64(last.UnixMilli()), Member: id}).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestSweepClosesIdleBotThreads(t *testing.T) {
	rdb := testkit.Redis(t, 0)
	p := testkit.PrefixOn(t, rdb)
	ctx := context.Background()
	now := t0.Add(48 * time.Hour)
	thread(t, rdb, p, "web:idle", conv.ModeBot, "2", now.Add(-25*time.Hour))
	thread(t, rdb, p, "web:recent", conv.ModeBot, "1", now.Add(-time.Hour))
	thread(t, rdb, p, "web:waiting", conv.ModeWaiting, "1", now.Add(-25*time.Hour))
	thread(t, rdb, p, "web:closed", conv.ModeClosed, "1", now.Add(-30*time.Hour))
	s := NewSweeper(rdb, SweeperConfig{Prefix: p, Idle: 24 * time.Hour, Now: func() time.Time { return now }})
	n, err := s.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	h := rdb.HGetAll(ctx, conv.Key(p, "web:idle")).Val()
	if h[conv.FieldMode] != conv.ModeClosed || h[conv.FieldClosedMs] != fmt.Sprint(now.UnixMilli()) {
		t.Errorf("the idle thread: %v", h)
	}
	for _, id := range []string{"web:recent", "web:waiting", "web:closed"} {
		if m := rdb.HGet(ctx, conv.Key(p, id), conv.FieldMode).Val(); m == conv.ModeClosed && id != "web:closed" {
			t.Errorf("%s closed", id)
		}
	}
	evs := rdb.XRange(ctx, conv.LifecycleKey(p), "-", "+").Val()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	want := map[string]any{conv.EvType: conv.Closed, conv.EvConv: "web:idle", conv.EvEpisode: "2",
		conv.EvAt: fmt.Sprint(now.UnixMilli()), conv.EvBy: conv.ByIdle}
	if diff := cmp.Diff(want, evs[0].Values); diff != "" {
		t.Errorf("the event (-want +got):\n%s", diff)
	}
	// Only the recent one is still watched: the others are not the bot's.
	if diff := cmp.Diff([]string{"web:recent"}, rdb.ZRange(ctx, conv.ActiveKey(p), 0, -1).Val()); diff != "" {
		t.Errorf("active (-want +got):\n%s", diff)
	}
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("a second sweep = %d, %v", n, err)
	}
}

// TestSweepersAtOnce: every instance sweeps; each idle thread is closed
// once (one event each), across batches.
func TestSweepersAtOnce(t *testing.T) {
	rdb := testkit.Redis(t, 0)
	p := testkit.PrefixOn(t, rdb)
	ctx := context.Background()
	now := t0.Add(48 * time.Hour)
	const threads = 300
	for i := range threads {
		thread(t, rdb, p, fmt.Sprintf("web:v%d", i), conv.ModeBot, "1", now.Add(-25*time.Hour))
	}
	var wg sync.WaitGroup
	got := make([]int, 3)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := NewSweeper(rdb, SweeperConfig{Prefix: p, Idle: 24 * time.Hour, Batch: 7, Now: func() time.Time { return now }})
			n, err := s.Sweep(ctx)
			if err != nil {
				t.Error(err)
			}
			got[i] = n
		}()
	}
	wg.Wait()
	if sum := got[0] + got[1] + got[2]; sum != threads {
		t.Errorf("closed %v = %d in all, want %d", got, sum, threads)
	}
	if n := rdb.XLen(ctx, conv.LifecycleKey(p)).Val(); n != threads {
		t.Errorf("%d closed events, want %d", n, threads)
	}
}

// TestRetentionAfterArchivedClose: once the close is archived, the
// thread's keys expire, unless the customer came back (a new episode) or
// the thread is no longer closed.
func TestRetentionAfterArchivedClose(t *testing.T) {
	rdb := testkit.Redis(t, 0)
	p := testkit.PrefixOn(t, rdb)
	ctx := context.Background()
	db, err := archive.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "a.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := t0
	// closed: closed in episode 2, the close emitted in episode 2.
	thread(t, rdb, p, "web:closed", conv.ModeClosed, "2", now)
	emit(t, rdb, p, "web:closed", "2", conv.Closed, now, conv.EvBy, "alice")
	// back: closed in episode 2, then the customer wrote again (episode 3).
	thread(t, rdb, p, "web:back", conv.ModeClosed, "2", now)
	emit(t, rdb, p, "web:back", "2", conv.Closed, now, conv.EvBy, conv.ByIdle)
	rdb.HSet(ctx, conv.Key(p, "web:back"), conv.FieldEpisode, "3", conv.FieldMode, conv.ModeBot)
	// abandoned: canceled while waiting, back with the bot: not closed yet.
	thread(t, rdb, p, "web:left", conv.ModeWaiting, "1", now)
	emit(t, rdb, p, "web:left", "1", conv.Abandoned, now, conv.EvBy, conv.ByCustomer)
	rdb.HSet(ctx, conv.Key(p, "web:left"), conv.FieldMode, conv.ModeBot)
	// abandoned and closed: the customer left (unsubscribed).
	thread(t, rdb, p, "web:gone", conv.ModeClosed, "1", now)
	emit(t, rdb, p, "web:gone", "1", conv.Abandoned, now, conv.EvBy, conv.ByLeft)

	a := newArchiver(rdb, db, p, "a")
	a.cfg.Retention = 168 * time.Hour
	if err := a.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	drain(t, a)
	ttl := func(key string) time.Duration { return rdb.PTTL(ctx, key).Val() }
	for id, expires := range map[string]bool{"web:closed": true, "web:back": false, "web:left": false, "web:gone": true} {
		for _, key := range []string{conv.Key(p, id), conv.TxKey(p, id)} {
			d := ttl(key)
			if expires && (d <= 167*time.Hour || d > 168*time.Hour) {
				t.Errorf("%s: ttl %v, want about 168h", key, d)
			}
			if !expires && d != -1 {
				t.Errorf("%s: ttl %v, want none", key, d)
			}
		}
	}
}
