package tickets

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/archiver"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/internal/testkit/pgtest"
	"github.com/kefu-dev/kefu/priority"
)

// both runs f on a fresh SQLite file and a fresh PostgreSQL database.
func both(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, "sqlite://"+filepath.Join(t.TempDir(), "archive.db")) })
	t.Run("postgres", func(t *testing.T) { f(t, pgtest.Database(t)) })
}

func open(t testing.TB, dsn string) *archive.DB {
	t.Helper()
	db, err := archive.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var t0 = time.Date(2026, 12, 3, 22, 30, 0, 0, time.UTC)

func TestLifecycle(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clock := testkit.NewClock(t0)
		s := New(open(t, dsn), clock.Now)
		tk, created, err := s.Create(ctx, NewTicket{Reason: ReasonAgent, Owner: "alice", Department: "after_sales",
			Due: t0.Add(48 * time.Hour), Text: "退货还没退款", Customer: "web:v1", Convs: []string{"web:v1#2"}, By: "alice"})
		if err != nil || !created {
			t.Fatalf("create: %v %v", created, err)
		}
		if tk.State != Open || tk.Priority != priority.Normal || tk.Owner != "alice" || !tk.Due.Equal(t0.Add(48*time.Hour)) ||
			len(tk.Convs) != 1 || tk.Convs[0] != "web:v1#2" || tk.Text != "退货还没退款" {
			t.Fatalf("created %+v", tk)
		}
		clock.Advance(time.Minute)
		if _, err := s.Move(ctx, tk.ID, Pending, "", "alice", ""); !errors.Is(err, ErrBad) {
			t.Fatalf("pending without a department: %v", err)
		}
		if tk, err = s.Move(ctx, tk.ID, Pending, "warehouse", "alice", "查包裹"); err != nil || tk.State != Pending || tk.WaitingOn != "warehouse" {
			t.Fatalf("pending: %+v %v", tk, err)
		}
		if tk, err = s.AddNote(ctx, tk.ID, "bob", "仓库说明天发"); err != nil || len(tk.Notes) != 1 || tk.Notes[0].Author != "bob" {
			t.Fatalf("note: %+v %v", tk.Notes, err)
		}
		if tk, err = s.Move(ctx, tk.ID, Solved, "", "alice", ""); err != nil || tk.State != Solved || !tk.Solved.Equal(clock.Now()) || tk.WaitingOn != "" {
			t.Fatalf("solved: %+v %v", tk, err)
		}
		if tk, err = s.Move(ctx, tk.ID, Closed, "", "alice", ""); err != nil || tk.State != Closed {
			t.Fatalf("closed: %+v %v", tk, err)
		}
		if _, err := s.Move(ctx, tk.ID, Open, "", "alice", ""); !errors.Is(err, ErrTransition) {
			t.Fatalf("closed → open: %v, want ErrTransition", err)
		}
		if _, err := s.Move(ctx, 9999, Open, "", "alice", ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing: %v", err)
		}
		var got []string
		for _, e := range tk.Events {
			got = append(got, e.Type+":"+string(e.From)+">"+string(e.To))
		}
		want := []string{"created:>open", "pending:open>pending", "noted:>", "solved:pending>solved", "closed:solved>closed"}
		if len(got) != len(want) {
			t.Fatalf("events %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("events %v, want %v", got, want)
			}
		}
		if _, _, err := s.Create(ctx, NewTicket{Reason: "whim"}); !errors.Is(err, ErrBad) {
			t.Fatalf("bad reason: %v", err)
		}
	})
}

func TestListAndReopen(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clock := testkit.NewClock(t0)
		s := New(open(t, dsn), clock.Now)
		a, _, _ := s.Create(ctx, NewTicket{Reason: ReasonLeaveMessage, Department: "after_sales", Customer: "telegram:42", Due: t0.Add(time.Hour)})
		clock.Advance(time.Second)
		b, _, _ := s.Create(ctx, NewTicket{Reason: ReasonAgent, Owner: "bob", Department: "payments", Customer: "web:v9", Due: t0.Add(5 * time.Hour)})
		if _, err := s.Move(ctx, a.ID, Solved, "", "bob", ""); err != nil {
			t.Fatal(err)
		}
		l, err := s.List(ctx, Filter{State: Open})
		if err != nil || len(l) != 1 || l[0].ID != b.ID {
			t.Fatalf("open: %+v %v", l, err)
		}
		if l, _ = s.List(ctx, Filter{Department: "after_sales"}); len(l) != 1 || l[0].ID != a.ID {
			t.Fatalf("department: %+v", l)
		}
		if l, _ = s.List(ctx, Filter{Owner: "bob"}); len(l) != 1 || l[0].ID != b.ID {
			t.Fatalf("owner: %+v", l)
		}
		if l, _ = s.List(ctx, Filter{DueBefore: t0.Add(2 * time.Hour)}); len(l) != 1 || l[0].ID != a.ID {
			t.Fatalf("due: %+v", l)
		}
		if l, _ = s.List(ctx, Filter{}); len(l) != 2 || l[0].ID != b.ID {
			t.Fatalf("all, newest first: %+v", l)
		}
		// Within the window: reopened and linked to the new conversation.
		clock.Advance(2 * time.Hour)
		re, err := s.CustomerWrote(ctx, "telegram:42", 24*time.Hour, "telegram:42#2")
		if err != nil || len(re) != 1 || re[0].State != Open || re[0].Convs[0] != "telegram:42#2" {
			t.Fatalf("reopen: %+v %v", re, err)
		}
		if last := re[0].Events[len(re[0].Events)-2]; last.Type != EvReopened || last.From != Solved {
			t.Fatalf("reopen event %+v", re[0].Events)
		}
		// Past the window: nothing.
		if _, err := s.Move(ctx, a.ID, Solved, "", "bob", ""); err != nil {
			t.Fatal(err)
		}
		clock.Advance(25 * time.Hour)
		if re, err := s.CustomerWrote(ctx, "telegram:42", 24*time.Hour, ""); err != nil || len(re) != 0 {
			t.Fatalf("past the window: %+v %v", re, err)
		}
	})
}

// emitScript writes one lifecycle entry as conv.Script's emit does.
var emitScript = conv.Script(`
redis.call('HSET', ARGV[1] .. 'conv:' .. ARGV[2], F.ep, ARGV[3])
return emit(ARGV[1], ARGV[2], ARGV[4], ARGV[5], unpack(ARGV, 6))`)

func emit(t testing.TB, rdb redis.UniversalClient, prefix, thread, ep, typ string, at time.Time, fields ...string) {
	t.Helper()
	args := []any{prefix, thread, ep, typ, at.UnixMilli()}
	for _, f := range fields {
		args = append(args, f)
	}
	if err := emitScript.Run(context.Background(), rdb, []string{conv.LifecycleKey(prefix)}, args...).Err(); err != nil {
		t.Fatal(err)
	}
}

// A conversation rated 1 opens one second-contact ticket for the
// supervisors, a rating of 4 none, with two archivers (two instances) on the
// stream and the batch written twice (at-least-once: replayed after a
// failure before the acknowledgement).
func TestLowRatingOpensSecondContact(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		rdb := testkit.Redis(t, 4)
		prefix := testkit.Prefix(t)
		db := open(t, dsn)
		s := New(db, nil)
		w := RatingWriter{Next: db, Store: s, Rule: LowRating{Owner: "supervisors"}}
		for _, th := range []string{"web:angry", "web:happy"} {
			emit(t, rdb, prefix, th, "1", conv.Started, t0, conv.EvChannel, "web", conv.EvCustomer, th)
			emit(t, rdb, prefix, th, "1", conv.Closed, t0.Add(time.Minute), conv.EvBy, "alice")
		}
		emit(t, rdb, prefix, "web:angry", "1", conv.Rated, t0.Add(2*time.Minute), conv.EvScore, "1", conv.EvComment, "根本没解决", conv.EvAgent, "alice")
		emit(t, rdb, prefix, "web:happy", "1", conv.Rated, t0.Add(2*time.Minute), conv.EvScore, "4", conv.EvAgent, "alice")

		// The same events written twice, by two writers at once.
		msgs, err := rdb.XRange(ctx, conv.LifecycleKey(prefix), "-", "+").Result()
		if err != nil || len(msgs) != 6 {
			t.Fatalf("stream: %d %v", len(msgs), err)
		}
		var batch []archive.Event
		for _, m := range msgs {
			get := func(k string) string { v, _ := m.Values[k].(string); return v }
			fields := map[string]string{}
			for k, v := range m.Values {
				fields[k], _ = v.(string)
			}
			ats := get(conv.EvAt)
			var atms int64
			for _, c := range ats {
				atms = atms*10 + int64(c-'0')
			}
			batch = append(batch, archive.Event{ID: m.ID, Type: get(conv.EvType), Conv: conv.ArchiveID(get(conv.EvConv), get(conv.EvEpisode)),
				At: time.UnixMilli(atms).UTC(), Fields: fields})
		}
		w2 := RatingWriter{Next: db, Store: New(db, nil), Rule: LowRating{Owner: "supervisors"}}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, wr := range []RatingWriter{w, w2} {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = wr.Write(ctx, batch) }()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
		// And through the archivers of two instances.
		for _, name := range []string{"one", "two"} {
			a := archiver.New(rdb, w, archiver.Config{Prefix: prefix, Consumer: name})
			if err := a.Setup(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Round(ctx); err != nil {
				t.Fatal(err)
			}
		}
		l, err := s.List(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != 1 {
			t.Fatalf("%d tickets, want 1: %+v", len(l), l)
		}
		tk := l[0]
		if tk.Reason != ReasonLowRating || tk.Owner != "supervisors" || tk.Customer != "web:angry" || tk.State != Open ||
			tk.Text != "根本没解决" || len(tk.Convs) != 1 || tk.Convs[0] != "web:angry#1" || tk.Priority != priority.High ||
			!tk.Due.Equal(t0.Add(2*time.Minute+24*time.Hour)) {
			t.Fatalf("ticket %+v", tk)
		}
	})
}

// openNoCleanup opens the archive without closing it at the test's end (an
// instance the test restarts closes its own).
func openNoCleanup(dsn string) (*archive.DB, error) {
	return archive.Open(context.Background(), dsn, nil)
}
