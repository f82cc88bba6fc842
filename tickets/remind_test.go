package tickets

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kefu-dev/kefu/internal/testkit"
)

// pushes counts the pushes of every instance, by reminder.
type pushes struct {
	mu sync.Mutex
	n  map[string]int
	by map[string]string
}

func (p *pushes) push(instance string) func(context.Context, Reminder) {
	return func(_ context.Context, r Reminder) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.n[r.Key()]++
		p.by[r.Key()] = instance
	}
}

func (p *pushes) keys() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for k, n := range p.n {
		if n != 1 {
			out = append(out, k+" ×"+string(rune('0'+n)))
			continue
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Two instances sweep at once, one of them is restarted (its database
// handle closed and opened again, a new sweeper), and every reminder —
// new, due soon, overdue — is pushed once; a pending ticket gets none.
func TestReminderFiresOnceAcrossInstancesAndRestart(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clock := testkit.NewClock(t0)
		p := &pushes{n: map[string]int{}, by: map[string]string{}}
		instance := func(name string) (*Reminders, func()) {
			db, err := openNoCleanup(dsn)
			if err != nil {
				t.Fatal(err)
			}
			return NewReminders(New(db, clock.Now), RemindConfig{Lead: time.Hour, Instance: name, Push: p.push(name)}), func() { db.Close() }
		}
		one, closeOne := instance("one")
		defer closeOne()
		two, closeTwo := instance("two")
		s := one.s
		a, _, _ := s.Create(ctx, NewTicket{Reason: ReasonAgent, Department: "after_sales", Due: t0.Add(30 * time.Minute), Text: "查物流"})
		b, _, _ := s.Create(ctx, NewTicket{Reason: ReasonAgent, Department: "payments", Due: t0.Add(3 * time.Hour)})
		c, _, _ := s.Create(ctx, NewTicket{Reason: ReasonAgent, Department: "payments", Due: t0.Add(10 * time.Minute)})
		if _, err := s.Move(ctx, c.ID, Pending, WaitingOnCustomer, "bob", ""); err != nil {
			t.Fatal(err)
		}
		sweepBoth := func(a, b *Reminders) {
			t.Helper()
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, m := range []*Reminders{a, b} {
				wg.Add(1)
				go func() { defer wg.Done(); _, errs[i] = m.Sweep(ctx) }()
			}
			wg.Wait()
			if errs[0] != nil || errs[1] != nil {
				t.Fatal(errs)
			}
		}
		key := func(id int64, kind string, due time.Time) string {
			return Reminder{Kind: kind, Ticket: Ticket{ID: id}, Due: due}.Key()
		}
		var zero time.Time
		sweepBoth(one, two)
		sweepBoth(one, two)
		want := []string{key(a.ID, KindNew, zero), key(b.ID, KindNew, zero), key(c.ID, KindNew, zero), key(a.ID, KindDueSoon, a.Due)}
		slices.Sort(want)
		if got := p.keys(); !slices.Equal(got, want) {
			t.Fatalf("after the first sweeps: %v, want %v", got, want)
		}

		// Instance two restarts; the clock passes a's due time and comes
		// within b's lead; c, pending, stays silent though past its due.
		closeTwo()
		clock.Advance(2*time.Hour + time.Minute)
		two, closeTwo = instance("two again")
		defer closeTwo()
		sweepBoth(one, two)
		sweepBoth(two, one)
		want = append(want, key(a.ID, KindOverdue, a.Due), key(b.ID, KindDueSoon, b.Due))
		slices.Sort(want)
		if got := p.keys(); !slices.Equal(got, want) {
			t.Fatalf("after the restart: %v, want %v", got, want)
		}
		// An instance that claims a reminder and dies before pushing it:
		// the others leave it for the lease, then one pushes it, once.
		d, _, _ := s.Create(ctx, NewTicket{Reason: ReasonAgent, Department: "payments", Due: clock.Now().Add(5 * time.Hour)})
		dead, closeDead := instance("dead")
		if won, err := dead.claim(ctx, Reminder{Kind: KindNew, Ticket: d}, clock.Now().UnixMilli(), 0); err != nil || !won {
			t.Fatalf("claim: %v %v", won, err)
		}
		closeDead()
		sweepBoth(one, two)
		if got := p.keys(); !slices.Equal(got, want) {
			t.Fatalf("within the lease: %v, want %v", got, want)
		}
		clock.Advance(11 * time.Minute)
		sweepBoth(two, one)
		sweepBoth(one, two)
		want = append(want, key(d.ID, KindNew, zero))
		slices.Sort(want)
		if got := p.keys(); !slices.Equal(got, want) {
			t.Fatalf("after the lease: %v, want %v", got, want)
		}
		got, err := s.Get(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, e := range got.Events {
			types = append(types, e.Type)
		}
		if !slices.Equal(types, []string{EvCreated, EvDueSoon, EvOverdue}) {
			t.Fatalf("a's events %v", types)
		}
	})
}

// The clock is paused while pending: back to open, the due time moves by
// the time spent pending, and the event says so.
func TestPendingPausesTheClock(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clock := testkit.NewClock(t0)
		s := New(open(t, dsn), clock.Now)
		due := t0.Add(4 * time.Hour)
		tk, _, err := s.Create(ctx, NewTicket{Reason: ReasonAgent, Department: "after_sales", Due: due})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour)
		if _, err := s.Move(ctx, tk.ID, Pending, "warehouse", "alice", ""); err != nil {
			t.Fatal(err)
		}
		clock.Advance(90 * time.Minute) // waiting on the warehouse
		if tk, err = s.Move(ctx, tk.ID, Open, "", "alice", "仓库回复了"); err != nil {
			t.Fatal(err)
		}
		if !tk.Due.Equal(due.Add(90 * time.Minute)) {
			t.Fatalf("due %v, want %v (moved by the 90 minutes pending)", tk.Due, due.Add(90*time.Minute))
		}
		if last := tk.Events[len(tk.Events)-1]; last.Detail != "仓库回复了 "+PausedDetail(90*time.Minute) {
			t.Fatalf("event detail %q", last.Detail)
		}
		// Open time counts: an hour open, then pending on the customer for
		// a day, then solved: the due moves by the day only.
		clock.Advance(time.Hour)
		if _, err := s.Move(ctx, tk.ID, Pending, WaitingOnCustomer, "alice", ""); err != nil {
			t.Fatal(err)
		}
		clock.Advance(24 * time.Hour)
		if tk, err = s.Move(ctx, tk.ID, Solved, "", "alice", ""); err != nil {
			t.Fatal(err)
		}
		if want := due.Add(90*time.Minute + 24*time.Hour); !tk.Due.Equal(want) {
			t.Fatalf("due %v, want %v", tk.Due, want)
		}
		// A ticket without a due time keeps none.
		nd, _, _ := s.Create(ctx, NewTicket{Reason: ReasonAgent})
		s.Move(ctx, nd.ID, Pending, WaitingOnCustomer, "alice", "")
		clock.Advance(time.Hour)
		if nd, err = s.Move(ctx, nd.ID, Open, "", "alice", ""); err != nil || !nd.Due.IsZero() {
			t.Fatalf("no due: %v %v", nd.Due, err)
		}
	})
}
