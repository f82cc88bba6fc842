package handoff

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestReaperRequeuesOffersAndNotifies(t *testing.T) {
	rdb := MustRedis(t, 0)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := context.Background()
	cfg := testConfig()
	cfg.Presence = time.Hour
	q, clk := MustQueueOn(t, rdb, cfg)
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 1})
	mustOnline(t, q, Agent{ID: "b", Groups: []string{"after_sales"}, Max: 1})
	mustEnqueue(t, q, Ticket{Conv: "c1"})
	mustEnqueue(t, q, Ticket{Conv: "c2", Group: "after_sales"})
	mustClaim(t, q, "a", "c1")

	var mu sync.Mutex
	var requeued []string
	var notified []Position
	got := make(chan struct{}, 100)
	cfgR := ReaperConfig{Every: 5 * time.Millisecond, AutoAssign: true,
		Requeued: func(_ context.Context, cids []string) {
			mu.Lock()
			requeued = append(requeued, cids...)
			mu.Unlock()
			got <- struct{}{}
		},
		Notify: func(_ context.Context, ps []Position) {
			mu.Lock()
			notified = append(notified, ps...)
			mu.Unlock()
		},
	}
	// Several reapers at once, as in several instances.
	var rs []*Reaper
	for range 3 {
		r := NewReaper(q, cfgR)
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		rs = append(rs, r)
	}
	if err := rs[0].Start(ctx); err == nil {
		t.Error("second Start: want an error")
	}
	clk.Advance(q.Config().Lease + time.Second)
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no requeue reported")
	}
	// A tick reaps first and makes offers after, so the requeue can be
	// reported before any reaper has offered c2: wait for the offer (or
	// give up after 10 s and let the assertion below fail).
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		ws, err := q.Waiting(ctx, "after_sales")
		if err == nil && len(ws) == 1 && ws[0].OfferedTo == "b" {
			break
		}
	}
	for _, r := range rs {
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rs[0].Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(requeued) != 1 || requeued[0] != "c1" {
		t.Errorf("requeued %v, want [c1] once across all reapers", requeued)
	}
	ws, err := q.Waiting(ctx, "after_sales")
	if err != nil || len(ws) != 1 || ws[0].OfferedTo != "b" {
		t.Errorf("after_sales %+v %v: want c2 offered to b", ws, err)
	}
	// c1 was requeued (position changed from held to waiting: its agent a
	// now has a free slot), so at most one notice per change went out.
	counts := map[string]int{}
	for _, p := range notified {
		counts[p.Conv]++
	}
	for c, n := range counts {
		if n > 1 {
			t.Errorf("%s notified %d times for one change", c, n)
		}
	}
	MustAudit(t, q)
}
