package handoff

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kefu-dev/kefu/conv"
)

// breaches reads the sla_breached events of the lifecycle stream as
// "conv target".
func breaches(t *testing.T, lt *lifeTail) []string {
	t.Helper()
	var out []string
	for _, e := range lt.next() {
		if e[conv.EvType] == conv.SLABreached {
			out = append(out, e[conv.EvConv]+" "+e[conv.EvTarget])
		}
	}
	return out
}

// Each target is breached once, when its deadline passes, however many
// instances sweep at once; meeting a target (the first agent message, a
// reply to the customer) stops its clock; a new unanswered customer message
// starts the next-response clock again; a close ends them all.
func TestSLABreaches(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.Lease = 24 * time.Hour // no heartbeats in this test
	q, clk, rdb := MustQueue(t, cfg)
	q2, _ := MustQueueOn(t, rdb, cfg) // a second instance on the same Redis
	q2.now = q.now
	lt := newLifeTail(t, rdb, q, clk)
	mustEnqueue(t, q, Ticket{Conv: "web:a", Reason: "requested"})               // normal: first response 10m, resolution 2h
	mustEnqueue(t, q, Ticket{Conv: "web:b", Reason: "requested", Urgent: true}) // urgent: 1m, next 1m, resolution 30m
	t0 := clk.Now()
	set := func(at time.Time) { clk.Advance(at.Sub(clk.Now())) }
	lt.next()
	sweep := func(want ...string) {
		t.Helper()
		// Both instances at once: each breach is recorded by one of them.
		var wg sync.WaitGroup
		var n1, n2 int
		wg.Add(2)
		go func() { defer wg.Done(); n1, _ = q.SLASweep(ctx) }()
		go func() { defer wg.Done(); n2, _ = q2.SLASweep(ctx) }()
		wg.Wait()
		got := breaches(t, lt)
		if n1+n2 != len(want) || !equalSet(got, want) {
			t.Fatalf("at +%v: breaches %v (recorded %d+%d), want %v", clk.Now().Sub(t0), got, n1, n2, want)
		}
	}
	sweep()
	clk.Advance(time.Minute)
	sweep() // exactly at the deadline: not yet
	clk.Advance(time.Millisecond)
	sweep("web:b first_response")
	sweep()

	// b is claimed and answered: its first response is late but met now;
	// the customer writes, the agent owes a reply within 1 min.
	mustOnline(t, q, Agent{ID: "x", Groups: []string{"pre_sales"}, Max: 5})
	cb := mustClaim(t, q, "x", "web:b")
	if _, _, err := q.Append(ctx, cb, "m1", "您好"); err != nil {
		t.Fatal(err)
	}
	if _, err := q.CustomerMessage(ctx, "web:b", "1-1"); err != nil {
		t.Fatal(err)
	}
	lt.next()
	clk.Advance(30 * time.Second)
	if _, err := q.CustomerMessage(ctx, "web:b", "1-2"); err != nil { // a second message does not restart the clock
		t.Fatal(err)
	}
	clk.Advance(30*time.Second + time.Millisecond)
	sweep("web:b next_response")
	if _, _, err := q.Append(ctx, cb, "m2", "马上处理"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	sweep() // answered: no clock
	if _, err := q.CustomerMessage(ctx, "web:b", "1-3"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute + time.Millisecond)
	sweep("web:b next_response") // a new unanswered message: a new breach
	if hs, _ := q.Held(ctx, "x"); len(hs) != 1 || len(hs[0].SLA) != 2 || hs[0].SLA[0].Target != TargetNextResponse ||
		!hs[0].SLA[0].Due.Equal(t0.Add(4*time.Minute+2*time.Millisecond)) { // 1 min after 1-3, at +3m2ms
		t.Errorf("held: %+v", hs)
	}
	ds, err := q.Deadlines(ctx, "web:b")
	if err != nil || len(ds) != 2 || ds[0].Target != TargetNextResponse || ds[1].Target != TargetResolution ||
		!ds[1].Due.Equal(t0.Add(30*time.Minute)) {
		t.Errorf("deadlines of b: %+v %v", ds, err)
	}

	// a: its first response passes 10 min after the hand-off.
	set(t0.Add(10*time.Minute + time.Millisecond))
	sweep("web:a first_response")
	// b's resolution at 30 min; then b is closed: nothing more for b.
	set(t0.Add(30*time.Minute + time.Millisecond))
	sweep("web:b resolution") // 1-3 is still unanswered, but its next-response breach is recorded already
	if err := q.Release(ctx, cb, Closed); err != nil {
		t.Fatal(err)
	}
	lt.next()
	set(t0.Add(3 * time.Hour))
	sweep("web:a resolution")
	if ds, _ := q.Deadlines(ctx, "web:b"); len(ds) != 0 {
		t.Errorf("a closed conversation has deadlines %+v", ds)
	}
	// A new hand-off of a clears its marks: its new first response is due
	// 10 min after it.
	ca := mustClaim(t, q, "x", "web:a")
	if err := q.Release(ctx, ca, ToBot); err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, q, Ticket{Conv: "web:a", Reason: "requested"})
	lt.next()
	clk.Advance(10*time.Minute + time.Millisecond)
	sweep("web:a first_response")
	mustAudit(t, q)
}

func equalSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

// Business hours: the clock stops at night, on closed days and on holidays.
func TestSLABusinessHours(t *testing.T) {
	h, err := Hours{Timezone: "Asia/Shanghai", Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
		Open: "09:00", Close: "18:00", Holidays: []string{"2026-10-01"}}.parse()
	if err != nil {
		t.Fatal(err)
	}
	sh, _ := time.LoadLocation("Asia/Shanghai")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, sh)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		start string
		d     time.Duration
		want  string
	}{
		{"2026-12-02 10:00", 10 * time.Minute, "2026-12-02 10:10"}, // Wednesday, open
		{"2026-12-02 17:55", 10 * time.Minute, "2026-12-03 09:05"}, // across the night
		{"2026-12-02 20:00", 10 * time.Minute, "2026-12-03 09:10"}, // handed off at night
		{"2026-12-04 17:00", 2 * time.Hour, "2026-12-07 10:00"},    // Friday to Monday
		{"2026-09-30 17:30", time.Hour, "2026-10-02 09:30"},        // over a holiday
		{"2026-12-02 09:00", 18 * time.Hour, "2026-12-03 18:00"},   // two full days
	}
	for _, c := range cases {
		if got := h.addOpen(at(c.start), c.d); !got.Equal(at(c.want)) {
			t.Errorf("%s + %v = %s, want %s", c.start, c.d, got.In(sh).Format("2006-01-02 15:04"), c.want)
		}
	}
	// An overnight window (20:00 to 02:00).
	n, err := Hours{Timezone: "Asia/Shanghai", Open: "20:00", Close: "02:00"}.parse()
	if err != nil {
		t.Fatal(err)
	}
	if got := n.addOpen(at("2026-12-02 01:30"), time.Hour); !got.Equal(at("2026-12-02 20:30")) {
		t.Errorf("overnight: %s", got.In(sh).Format("2006-01-02 15:04"))
	}
}
