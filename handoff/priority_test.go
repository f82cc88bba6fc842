package handoff

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/priority"
)

func order(t *testing.T, q *Queue, group string) []string {
	t.Helper()
	ws, err := q.Waiting(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, w := range ws {
		out = append(out, w.Conv)
	}
	return out
}

func mustAudit(t *testing.T, q *Queue) {
	t.Helper()
	rep, err := q.Audit(context.Background())
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("audit: %v %v", rep.Problems, err)
	}
}

// The queue is ordered by first-response deadline: a low-priority
// conversation (target 30 min) handed off at t0 goes before an urgent one
// (target 1 min) handed off after t0+29 min, and after one handed off
// before: exactly when its deadline comes first. Nothing is starved.
func TestDeadlineOrderAgesLowPriority(t *testing.T) {
	q, clk, _ := MustQueue(t, testConfig())
	mustEnqueue(t, q, Ticket{Conv: "web:low", Reason: "requested", Priority: priority.Low})
	clk.Advance(28*time.Minute + 59*time.Second)
	mustEnqueue(t, q, Ticket{Conv: "web:u1", Reason: "requested", Priority: priority.Urgent}) // due t0+29:59
	clk.Advance(time.Second)
	mustEnqueue(t, q, Ticket{Conv: "web:u2", Reason: "requested", Priority: priority.Urgent}) // due t0+30:00, a tie: arrival
	clk.Advance(time.Second)
	mustEnqueue(t, q, Ticket{Conv: "web:u3", Reason: "requested", Priority: priority.Urgent}) // due t0+30:01
	mustEnqueue(t, q, Ticket{Conv: "web:n", Reason: "requested"})                             // normal, due t0+39:01
	want := []string{"web:u1", "web:low", "web:u2", "web:u3", "web:n"}
	if got := order(t, q, "pre_sales"); !equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	mustAudit(t, q)
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 10})
	for _, w := range want {
		if c := mustClaim(t, q, "a", ""); c.Conv != w {
			t.Fatalf("claimed %s, want %s", c.Conv, w)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Agents and supervisors set a priority; the bot's re-reading only raises,
// and never overrides an agent. Each change moves the conversation to its
// new deadline (hand-off + the new target) and emits priority_changed.
func TestSetAndRaisePriority(t *testing.T) {
	ctx := context.Background()
	q, clk, rdb := MustQueue(t, testConfig())
	lt := newLifeTail(t, rdb, q, clk)
	mustEnqueue(t, q, Ticket{Conv: "web:a", Reason: "requested"}) // normal: due t0+10m
	t0 := clk.Now()
	clk.Advance(time.Minute)
	mustEnqueue(t, q, Ticket{Conv: "web:b", Reason: "requested"}) // normal: due t0+11m
	lt.next()
	if got := order(t, q, "pre_sales"); !equal(got, []string{"web:a", "web:b"}) {
		t.Fatalf("order %v", got)
	}
	due := func(d time.Duration) string { return strconv.FormatInt(t0.Add(d).UnixMilli(), 10) }

	// The customer of b writes angrily: raised to high, due t0+1m+3m.
	ch, err := q.RaisePriority(ctx, "web:b", priority.High, []string{"垃圾", "投诉"})
	if err != nil || !ch.Changed || ch.From != priority.Normal || ch.To != priority.High {
		t.Fatalf("raise: %+v %v", ch, err)
	}
	lt.want("raise", lt.ev(conv.PriorityChanged, "web:b", "0", conv.EvFrom, "normal", conv.EvTo, "high",
		conv.EvBy, "auto", conv.EvWords, "垃圾 投诉", conv.EvDueMs, due(4*time.Minute)))
	if got := order(t, q, "pre_sales"); !equal(got, []string{"web:b", "web:a"}) {
		t.Fatalf("after raise: order %v", got)
	}
	ws, _ := q.Waiting(ctx, "pre_sales")
	if ws[0].Priority != priority.High || !equal(ws[0].Words, []string{"垃圾", "投诉"}) || !ws[0].Due.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("view of b: %+v", ws[0])
	}
	mustAudit(t, q)

	// A re-reading never lowers, nor repeats a level.
	for _, l := range []priority.Level{priority.Normal, priority.Low, priority.High} {
		if ch, err := q.RaisePriority(ctx, "web:b", l, nil); err != nil || ch.Changed {
			t.Errorf("raise to %s: %+v %v: want no change", l, ch, err)
		}
	}
	lt.want("no change")

	// A supervisor lowers b to low: due t0+1m+30m, behind a.
	if ch, err := q.SetPriority(ctx, "web:b", priority.Low, "sup"); err != nil || !ch.Changed {
		t.Fatalf("set: %+v %v", ch, err)
	}
	lt.want("set", lt.ev(conv.PriorityChanged, "web:b", "0", conv.EvFrom, "high", conv.EvTo, "low",
		conv.EvBy, "sup", conv.EvWords, "", conv.EvDueMs, due(31*time.Minute)))
	if got := order(t, q, "pre_sales"); !equal(got, []string{"web:a", "web:b"}) {
		t.Fatalf("after set: order %v", got)
	}
	// … and the bot's re-reading does not override the supervisor.
	if ch, err := q.RaisePriority(ctx, "web:b", priority.Urgent, []string{"报警"}); err != nil || ch.Changed {
		t.Errorf("raise after an agent set it: %+v %v: want no change", ch, err)
	}
	lt.want("agent's choice stands")
	mustAudit(t, q)

	// Held conversations take a level too (no queue to move in).
	mustOnline(t, q, Agent{ID: "x", Groups: []string{"pre_sales"}, Max: 2})
	mustClaim(t, q, "x", "web:a")
	lt.next()
	if ch, err := q.SetPriority(ctx, "web:a", priority.Urgent, "x"); err != nil || !ch.Changed {
		t.Errorf("set on held: %+v %v", ch, err)
	}
	lt.next()
	hs, _ := q.Held(ctx, "x")
	if len(hs) != 1 || hs[0].Priority != priority.Urgent || !hs[0].Urgent {
		t.Errorf("held: %+v", hs)
	}
	// Refusals.
	if _, err := q.SetPriority(ctx, "web:none", priority.High, "x"); !errors.Is(err, ErrNotOpen) {
		t.Errorf("set on a conversation not open: %v, want ErrNotOpen", err)
	}
	if _, err := q.SetPriority(ctx, "web:a", priority.High, ""); err == nil {
		t.Error("set without an agent: no error")
	}
	if _, err := q.SetPriority(ctx, "web:a", priority.Unset, "x"); err == nil {
		t.Error("set to Unset: no error")
	}
	lt.want("refusals emit nothing")
	mustAudit(t, q)
}
