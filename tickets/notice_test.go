package tickets

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// Two notifiers (two instances, each its own Store on one archive) racing
// over the same solves tell each customer once per solve; a solve reopened
// before it was told is not told; a second solve after a reopening is told
// again; a claim whose instance died is taken over after the lease.
func TestNotifierOncePerSolve(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clock := testkit.NewClock(t0)
		db := open(t, dsn)
		a, b := New(db, clock.Now), New(db, clock.Now)
		var mu sync.Mutex
		told := map[int64]int{}
		tell := func(ctx context.Context, tk Ticket) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			told[tk.ID]++
			return "web", nil
		}
		na := &Notifier{Store: a, Tell: tell, Claimer: "a"}
		nb := &Notifier{Store: b, Tell: tell, Claimer: "b"}
		var ids []int64
		for i := range 8 {
			tk, _, err := a.Create(ctx, NewTicket{Reason: ReasonLeaveMessage, Customer: fmt.Sprintf("web:v%d", i)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, tk.ID)
		}
		kicks := 0
		a.OnSolve(func(int64) { kicks++ })
		for _, id := range ids[:6] {
			if _, err := a.Solve(ctx, id, "alice", ""); err != nil {
				t.Fatal(err)
			}
		}
		if kicks != 6 {
			t.Fatalf("OnSolve heard %d solves, want 6", kicks)
		}
		// Solved then reopened before anyone polled: nothing to tell.
		if _, err := a.Move(ctx, ids[5], Open, "", "customer", ""); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var total atomic.Int64
		for _, n := range []*Notifier{na, nb, na, nb} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := n.Tick(ctx)
				if err != nil {
					t.Error(err)
				}
				total.Add(int64(k))
			}()
		}
		wg.Wait()
		for _, id := range ids[:5] {
			if told[id] != 1 {
				t.Errorf("ticket %d told %d times, want 1", id, told[id])
			}
		}
		if told[ids[5]] != 0 || told[ids[6]] != 0 || total.Load() != 5 {
			t.Fatalf("told %v (total %d)", told, total.Load())
		}
		tk, _ := a.Get(ctx, ids[0])
		if last := tk.Events[len(tk.Events)-1]; last.Type != EvNotified || last.Detail != "web" {
			t.Fatalf("the notified event: %+v", tk.Events)
		}
		// Reopened and solved again: told again, once.
		clock.Advance(time.Minute)
		a.Move(ctx, ids[0], Open, "", "customer", "")
		clock.Advance(time.Minute)
		a.Solve(ctx, ids[0], "alice", "")
		for _, n := range []*Notifier{nb, na} {
			if _, err := n.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if told[ids[0]] != 2 {
			t.Fatalf("second solve told %d times in all, want 2", told[ids[0]])
		}
		// An instance claims and dies before telling: after the lease
		// another one tells, once.
		a.Solve(ctx, ids[6], "alice", "")
		dead := &Notifier{Store: a, Tell: func(context.Context, Ticket) (string, error) {
			return "", fmt.Errorf("the instance died")
		}, Claimer: "dead"}
		dead.Tick(ctx)
		if _, err := nb.Tick(ctx); err != nil || told[ids[6]] != 0 {
			t.Fatalf("told within the lease: %d %v", told[ids[6]], err)
		}
		clock.Advance(11 * time.Minute)
		nb.Tick(ctx)
		na.Tick(ctx)
		if told[ids[6]] != 1 {
			t.Fatalf("after the lease told %d times, want 1", told[ids[6]])
		}
		ns, err := a.Notices(ctx, ids[6])
		if err != nil || len(ns) != 1 || !ns[0].Done || ns[0].Claimer != "b" {
			t.Fatalf("notices %+v %v", ns, err)
		}
	})
}

// AddCustomerText adds a message once however often it is retried.
func TestAddCustomerText(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := New(open(t, dsn), nil)
		tk, _, _ := s.Create(ctx, NewTicket{Reason: ReasonLeaveMessage, Text: "快递三天没动了", Customer: "web:v1"})
		for range 2 {
			if _, _, err := s.AddCustomerText(ctx, tk.ID, "1-0", "订单 2026120312345，电话 13800138000", "13800138000"); err != nil {
				t.Fatal(err)
			}
		}
		_, added, _ := s.AddCustomerText(ctx, tk.ID, "2-0", "谢谢", "13900000000")
		got, _ := s.Get(ctx, tk.ID)
		if !added || got.Text != "快递三天没动了\n订单 2026120312345，电话 13800138000\n谢谢" || got.Contact != "13800138000" {
			t.Fatalf("%q %q", got.Text, got.Contact)
		}
		if _, _, err := s.AddCustomerText(ctx, 999, "k", "x", ""); err == nil {
			t.Fatal("no such ticket accepted")
		}
	})
}

// ReopenWriter reopens a solved ticket when its customer writes within the
// window after the solve, not for a survey answer, an earlier message or
// one after the window.
func TestReopenWriter(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clock := testkit.NewClock(t0)
		db := open(t, dsn)
		s := New(db, clock.Now)
		w := ReopenWriter{Next: db, Store: s, Window: 24 * time.Hour}
		mk := func(customer string) int64 {
			tk, _, _ := s.Create(ctx, NewTicket{Reason: ReasonLeaveMessage, Customer: customer})
			s.Solve(ctx, tk.ID, "alice", "")
			return tk.ID
		}
		rated, later, early, back := mk("web:r"), mk("web:l"), mk("web:e"), mk("telegram:9")
		n := 0
		ev := func(thread, text, kind string, at time.Time) archive.Event {
			n++
			return archive.Event{ID: fmt.Sprintf("%d-0", at.UnixMilli()+int64(n)), Type: conv.CustomerMessage, Conv: conv.ArchiveID(thread, "2"), At: at,
				Fields: map[string]string{conv.EvText: text, conv.EvKind: kind, conv.EvChannel: "web"}}
		}
		batch := []archive.Event{
			ev("web:r", "5", "", t0.Add(time.Hour)),
			ev("web:r", "", "rating", t0.Add(time.Hour)),
			ev("web:l", "还是没收到", "", t0.Add(25*time.Hour)),
			ev("web:e", "之前的消息", "", t0.Add(-time.Hour)),
			ev("telegram:9", "还是不行", "", t0.Add(2*time.Hour)),
		}
		for range 2 { // a replayed batch reopens nothing twice
			if err := w.Write(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		for id, want := range map[int64]State{rated: Solved, later: Solved, early: Solved, back: Open} {
			if tk, _ := s.Get(ctx, id); tk.State != want {
				t.Errorf("ticket %d (%s): %s, want %s", id, tk.Customer, tk.State, want)
			}
		}
		tk, _ := s.Get(ctx, back)
		if len(tk.Convs) != 1 || tk.Convs[0] != "telegram:9#2" {
			t.Fatalf("linked %v", tk.Convs)
		}
		reopened := 0
		for _, e := range tk.Events {
			if e.Type == EvReopened {
				reopened++
			}
		}
		if reopened != 1 {
			t.Fatalf("%d reopened events", reopened)
		}
	})
}
