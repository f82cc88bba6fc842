package handoff

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// offersLeastBusy is offers.lua as it was before the dispatch options (the
// plain least-busy rule), kept to prove that zero weights change nothing.
//
//go:embed testdata/offers_least_busy.lua
var offersLeastBusy string

func ptr[T any](v T) *T { return &v }

// offeredTo returns the agent each waiting conversation of the group is
// offered to ("" for none).
func offeredTo(tb testing.TB, q *Queue, g string) map[string]string {
	tb.Helper()
	ws, err := q.Waiting(context.Background(), g)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{}
	for _, w := range ws {
		out[w.Conv] = w.OfferedTo
	}
	return out
}

// lastClaimed returns the fields of the last claimed event of cid.
func lastClaimed(tb testing.TB, rdb *redis.Client, q *Queue, cid string) map[string]any {
	tb.Helper()
	xs, err := rdb.XRevRange(context.Background(), conv.LifecycleKey(q.cfg.Prefix), "+", "-").Result()
	if err != nil {
		tb.Fatal(err)
	}
	for _, x := range xs {
		if x.Values[conv.EvType] == conv.Claimed && x.Values[conv.EvConv] == cid {
			return x.Values
		}
	}
	tb.Fatalf("no claimed event for %s", cid)
	return nil
}

// serve has agent aid hold cid and close it: aid served the customer last.
func serve(tb testing.TB, q *Queue, aid, cid string) {
	tb.Helper()
	mustEnqueue(tb, q, Ticket{Conv: cid})
	c := mustClaim(tb, q, aid, cid)
	if err := q.Release(context.Background(), c, Closed); err != nil {
		tb.Fatal(err)
	}
}

// A returning customer is offered to the agent who served them last when
// that agent is online with a free slot and the window has not passed,
// even though another agent is less busy; the claim and the console say
// why. Away, busy, full, signed out or outside the window: the least-busy
// rule.
func TestReturningCustomerGoesToLastAgent(t *testing.T) {
	ctx := context.Background()
	const cust = "web:v1"
	setup := func(t *testing.T) (*Queue, *redis.Client, func(time.Duration)) {
		cfg := testConfig()
		cfg.Presence = 100 * time.Hour
		cfg.Dispatch.ReturningWindow = 24 * time.Hour
		q, clk, rdb := MustQueue(t, cfg)
		mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 3})
		mustOnline(t, q, Agent{ID: "b", Groups: []string{"pre_sales"}, Max: 2})
		serve(t, q, "b", cust)                   // b served the customer
		mustEnqueue(t, q, Ticket{Conv: "other"}) // and now holds another one: a is less busy
		mustClaim(t, q, "b", "other")
		return q, rdb, clk.Advance
	}
	t.Run("last agent free", func(t *testing.T) {
		q, rdb, advance := setup(t)
		advance(23 * time.Hour)
		mustEnqueue(t, q, Ticket{Conv: cust})
		if n, _, err := q.Offers(ctx); err != nil || n != 1 {
			t.Fatalf("offers %d %v", n, err)
		}
		if got := offeredTo(t, q, "pre_sales")[cust]; got != "b" {
			t.Fatalf("offered to %q, want b (served them 23 h ago; a is less busy)", got)
		}
		mustClaim(t, q, "b", cust)
		ev := lastClaimed(t, rdb, q, cust)
		if ev[conv.EvAssign] != AssignReturning || ev[conv.EvAssignDetail] == "" {
			t.Errorf("claimed event %v: want assign %s with when b served them", ev, AssignReturning)
		}
		a, err := q.Assignment(ctx, cust)
		if err != nil || a.Reason != AssignReturning || a.Detail["since"] == "" {
			t.Errorf("assignment %+v %v", a, err)
		}
		MustAudit(t, q)
	})
	fallbacks := map[string]func(t *testing.T, q *Queue, advance func(time.Duration)){
		"away": func(t *testing.T, q *Queue, _ func(time.Duration)) {
			if err := q.SetStatus(ctx, "b", StatusAway); err != nil {
				t.Fatal(err)
			}
		},
		"busy": func(t *testing.T, q *Queue, _ func(time.Duration)) {
			if err := q.SetStatus(ctx, "b", StatusBusy); err != nil {
				t.Fatal(err)
			}
		},
		"full": func(t *testing.T, q *Queue, _ func(time.Duration)) {
			mustEnqueue(t, q, Ticket{Conv: "third"})
			mustClaim(t, q, "b", "third") // b: 2 of 2
		},
		"signed out": func(t *testing.T, q *Queue, _ func(time.Duration)) {
			if _, err := q.AgentOffline(ctx, "b"); err != nil {
				t.Fatal(err)
			}
		},
		"outside the window": func(t *testing.T, q *Queue, advance func(time.Duration)) {
			advance(24*time.Hour + time.Second)
		},
		"another group": func(t *testing.T, q *Queue, _ func(time.Duration)) {
			mustOnline(t, q, Agent{ID: "b", Groups: []string{"payments"}, Max: 2})
		},
	}
	for name, change := range fallbacks {
		t.Run(name, func(t *testing.T) {
			q, rdb, advance := setup(t)
			change(t, q, advance)
			mustEnqueue(t, q, Ticket{Conv: cust})
			if _, _, err := q.Offers(ctx); err != nil {
				t.Fatal(err)
			}
			if got := offeredTo(t, q, "pre_sales")[cust]; got != "a" {
				t.Fatalf("offered to %q, want a (the least busy)", got)
			}
			mustClaim(t, q, "a", cust)
			if ev := lastClaimed(t, rdb, q, cust); ev[conv.EvAssign] != AssignLeastBusy {
				t.Errorf("claimed event %v: want assign %s", ev, AssignLeastBusy)
			}
			MustAudit(t, q)
		})
	}
	t.Run("declined", func(t *testing.T) {
		q, _, _ := setup(t)
		mustEnqueue(t, q, Ticket{Conv: cust})
		q.Offers(ctx)
		if err := q.Decline(ctx, "b", cust); err != nil {
			t.Fatal(err)
		}
		q.Offers(ctx)
		if got := offeredTo(t, q, "pre_sales")[cust]; got != "a" {
			t.Fatalf("after b declined offered to %q, want a", got)
		}
	})
	t.Run("off", func(t *testing.T) {
		cfg := testConfig()
		cfg.Presence = 100 * time.Hour
		q, _, rdb := MustQueue(t, cfg)
		mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 3})
		mustOnline(t, q, Agent{ID: "b", Groups: []string{"pre_sales"}, Max: 2})
		serve(t, q, "b", cust)
		if n, err := rdb.Exists(ctx, q.key("last_agent", cust)).Result(); err != nil || n != 0 {
			t.Fatalf("window 0: last agent kept (%d %v)", n, err)
		}
	})
	// The memory is bounded: one key per customer, expiring with the window.
	t.Run("bounded", func(t *testing.T) {
		q, rdb, _ := setup(t)
		ttl, err := rdb.PTTL(ctx, q.key("last_agent", cust)).Result()
		if err != nil || ttl <= 0 || ttl > 24*time.Hour {
			t.Fatalf("last agent's TTL %v %v, want at most the window", ttl, err)
		}
	})
}

// With every weight at zero, auto-assignment makes exactly the offers of
// the least-busy rule as it was before the dispatch options (the script of
// then, testdata/offers_least_busy.lua), even with performance figures in
// Redis that would change them: one random workload (offers, accepts,
// declines, lapses, closes, sign-ins) replayed on two key prefixes, the
// offers compared after every round.
func TestDispatchZeroWeightsIsLeastBusy(t *testing.T) {
	ctx := context.Background()
	rdb := MustRedis(t, 0)
	cfg := testConfig()
	cfg.Presence = 100 * time.Hour
	cfg.OfferTimeout = 30 * time.Second
	cfg.Lease = 100 * time.Hour
	cfg.Dispatch.ReturningWindow = 0 // performance only: returning customers are a rule of their own
	now, old := MustQueueOn(t, rdb, cfg)
	then, oldThen := MustQueueOn(t, rdb, cfg)
	before := conv.Script(offersLeastBusy)
	offersBefore := func() {
		ts := oldThen.Now()
		for _, g := range then.cfg.Groups {
			err := before.Run(ctx, rdb, []string{then.waitKey(g), then.groupKey(g, "offers"), then.groupKey(g, "online")},
				then.cfg.Prefix, g, then.ms(ts), then.cfg.OfferTimeout.Milliseconds(), then.ms(ts.Add(-then.cfg.Presence)),
				then.cfg.OfferScan, then.cfg.EventsMax, agentOnline).Err()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	agents := []Agent{}
	var perf []Performance
	for i := range 7 {
		a := Agent{ID: fmt.Sprintf("a%d", i), Groups: []string{"pre_sales"}, Max: 1 + i%3}
		if i%2 == 0 {
			a.Groups = append(a.Groups, "after_sales")
		}
		agents = append(agents, a)
		// The worst agents first by id: performance would reorder them.
		perf = append(perf, Performance{Agent: a.ID, CSAT: ptr(1 + float64(i)*0.6),
			FirstResponse: ptr(time.Duration(300-40*i) * time.Second), Resolution: ptr(float64(i) / 7)})
	}
	if err := now.SetPerformance(ctx, perf, time.Hour); err != nil {
		t.Fatal(err)
	}
	both := func(f func(q *Queue)) { f(now); f(then) }
	for _, a := range agents {
		both(func(q *Queue) { mustOnline(t, q, a) })
	}
	rnd := rand.New(rand.NewPCG(18, 2026))
	next := 0
	for round := range 60 {
		for range rnd.IntN(4) {
			g := []string{"pre_sales", "after_sales"}[rnd.IntN(2)]
			cid := fmt.Sprintf("c%03d", next)
			next++
			both(func(q *Queue) { mustEnqueue(t, q, Ticket{Conv: cid, Group: g}) })
		}
		if _, _, err := now.Offers(ctx); err != nil {
			t.Fatal(err)
		}
		offersBefore()
		for _, g := range []string{"pre_sales", "after_sales"} {
			if diff := cmp.Diff(offeredTo(t, then, g), offeredTo(t, now, g)); diff != "" {
				t.Fatalf("round %d, %s: offers differ from least-busy (-before +now):\n%s", round, g, diff)
			}
		}
		// Each agent's move, the same on both.
		for _, a := range agents {
			offers, err := rdb.SMembers(ctx, now.key("agent", a.ID, "offers")).Result()
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(offers)
			for _, cid := range offers {
				switch rnd.IntN(4) {
				case 0:
					both(func(q *Queue) { mustClaim(t, q, a.ID, cid) })
				case 1:
					both(func(q *Queue) {
						if err := q.Decline(ctx, a.ID, cid); err != nil {
							t.Fatal(err)
						}
					})
				} // else it lapses
			}
			held, err := rdb.SMembers(ctx, now.key("agent", a.ID, "convs")).Result()
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(held)
			for _, cid := range held {
				if rnd.IntN(3) == 0 {
					both(func(q *Queue) {
						hs, err := q.Held(ctx, a.ID)
						if err != nil {
							t.Fatal(err)
						}
						for _, h := range hs {
							if h.Conv == cid {
								if err := q.Release(ctx, h.Claim, Closed); err != nil {
									t.Fatal(err)
								}
							}
						}
					})
				}
			}
		}
		if rnd.IntN(10) == 0 {
			a := agents[rnd.IntN(len(agents))]
			both(func(q *Queue) {
				if _, err := q.AgentOffline(ctx, a.ID); err != nil {
					t.Fatal(err)
				}
				mustOnline(t, q, a)
			})
		}
		d := time.Duration(rnd.IntN(40)) * time.Second
		old.Advance(d)
		oldThen.Advance(d)
	}
	MustAudit(t, now)
	MustAudit(t, then)
}

// Weighted, the better agent gets the conversation over a less busy (or
// equally busy) one, and the reason says which figures; a load the bonus
// does not outweigh still decides (least_busy).
func TestDispatchWeightedPicksBetterAgent(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.Presence = 100 * time.Hour
	cfg.Dispatch.CSAT, cfg.Dispatch.FirstResponse, cfg.Dispatch.Resolution = 1, 0.5, 0.5
	q, _, rdb := MustQueue(t, cfg)
	mustOnline(t, q, Agent{ID: "a_poor", Groups: []string{"pre_sales"}, Max: 5})
	mustOnline(t, q, Agent{ID: "b_good", Groups: []string{"pre_sales"}, Max: 5})
	err := q.SetPerformance(ctx, []Performance{
		{Agent: "a_poor", CSAT: ptr(2.5), FirstResponse: ptr(300 * time.Second), Resolution: ptr(0.4)},
		{Agent: "b_good", CSAT: ptr(4.8), FirstResponse: ptr(35 * time.Second), Resolution: ptr(0.9)},
	}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Equal loads: by id a_poor would come first; performance says b_good.
	mustEnqueue(t, q, Ticket{Conv: "c1"})
	q.Offers(ctx)
	if got := offeredTo(t, q, "pre_sales")["c1"]; got != "b_good" {
		t.Fatalf("c1 offered to %q, want b_good", got)
	}
	mustClaim(t, q, "b_good", "c1")
	ev := lastClaimed(t, rdb, q, "c1")
	if ev[conv.EvAssign] != AssignPerformance || ev[conv.EvAssignDetail] != "csat=4.80 frt=35 res=0.90 load=0" {
		t.Errorf("claimed event %v: want performance with the figures", ev)
	}
	a, err := q.Assignment(ctx, "c1")
	if err != nil || a.Reason != AssignPerformance || a.Detail["csat"] != "4.80" || a.Detail["frt"] != "35" {
		t.Errorf("assignment %+v %v", a, err)
	}
	// b_good's bonus is 1×0.95 + 0.5×0.63 + 0.5×0.9 ≈ 1.72 over a_poor's
	// 1×0.375 + 0.5×0.17 + 0.5×0.4 ≈ 0.66: about one chat. With b_good at
	// 1 and a_poor at 0 the better agent still gets it; at 2 and 0 a_poor.
	mustEnqueue(t, q, Ticket{Conv: "c2"})
	q.Offers(ctx)
	if got := offeredTo(t, q, "pre_sales")["c2"]; got != "b_good" {
		t.Fatalf("c2 offered to %q, want b_good (load 1 - 1.72 < 0 - 0.66)", got)
	}
	mustClaim(t, q, "b_good", "c2")
	mustEnqueue(t, q, Ticket{Conv: "c3"})
	q.Offers(ctx)
	if got := offeredTo(t, q, "pre_sales")["c3"]; got != "a_poor" {
		t.Fatalf("c3 offered to %q, want a_poor (load 2 - 1.72 > 0 - 0.66)", got)
	}
	mustClaim(t, q, "a_poor", "c3")
	if ev := lastClaimed(t, rdb, q, "c3"); ev[conv.EvAssign] != AssignLeastBusy {
		t.Errorf("claimed event %v: want least_busy (the plain rule's pick)", ev)
	}
	// A claim from the queue, not an offer: manual.
	mustEnqueue(t, q, Ticket{Conv: "c4"})
	mustClaim(t, q, "a_poor", "c4")
	if ev := lastClaimed(t, rdb, q, "c4"); ev[conv.EvAssign] != AssignManual || ev[conv.EvAssignDetail] != nil {
		t.Errorf("claimed event %v: want manual", ev)
	}
	// Without figures every agent counts 0.5 on each: ids again.
	if err := q.SetPerformance(ctx, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, _ := q.PerformanceOf(ctx, "b_good"); v != "" {
		t.Errorf("figures left after an empty refresh: %q", v)
	}
	MustAudit(t, q)
}

// Dispatch under concurrency: three instances run Offers while eight agents
// accept offers, claim from the queue, decline and close, and customers
// come back (returning customers, weights on), under -race. Never two
// agents on one customer: the audit holds, and every conversation's
// claimed events alternate with its releases.
func TestDispatchRaceNeverTwoAgents(t *testing.T) {
	ctx := context.Background()
	rdb := MustRedis(t, 16)
	cfg := testConfig()
	cfg.Presence = 100 * time.Hour
	cfg.Dispatch = Dispatch{ReturningWindow: time.Hour, CSAT: 1, FirstResponse: 1, Resolution: 1}
	q, _ := MustQueueOn(t, rdb, cfg)
	var perf []Performance
	for i := range 8 {
		mustOnline(t, q, Agent{ID: fmt.Sprintf("a%d", i), Groups: []string{"pre_sales"}, Max: 2})
		perf = append(perf, Performance{Agent: fmt.Sprintf("a%d", i), CSAT: ptr(1 + float64(i)/2)})
	}
	if err := q.SetPerformance(ctx, perf, time.Hour); err != nil {
		t.Fatal(err)
	}
	const customers, rounds = 12, 25
	for i := range customers {
		mustEnqueue(t, q, Ticket{Conv: fmt.Sprintf("cust%02d", i)})
	}
	stop := make(chan struct{})
	var wg, instances sync.WaitGroup
	var mu sync.Mutex
	var problems []error
	fail := func(err error) {
		mu.Lock()
		problems = append(problems, err)
		mu.Unlock()
	}
	for range 3 {
		instances.Add(1)
		go func() {
			defer instances.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, err := q.Offers(ctx); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	for i := range 8 {
		aid := fmt.Sprintf("a%d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				offers, err := rdb.SMembers(ctx, q.key("agent", aid, "offers")).Result()
				if err != nil {
					fail(err)
					return
				}
				want := ""
				if len(offers) > 0 {
					want = offers[0]
					if r%5 == 4 {
						if err := q.Decline(ctx, aid, want); err != nil && !errors.Is(err, ErrNoOffer) {
							fail(err)
						}
						continue
					}
				}
				c, err := q.Claim(ctx, aid, want)
				switch {
				case err == nil:
					if err := q.Release(ctx, c, Closed); err != nil {
						fail(fmt.Errorf("close %s by %s: %w", c.Conv, aid, err))
					}
					if _, err := q.Enqueue(ctx, Ticket{Conv: c.Conv}); err != nil { // the customer comes back
						fail(err)
					}
				case errors.Is(err, ErrEmpty), errors.Is(err, ErrTaken), errors.Is(err, ErrCapacity):
				default:
					fail(err)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	instances.Wait()
	if err := errors.Join(problems...); err != nil {
		t.Fatal(err)
	}
	MustAudit(t, q)
	xs, err := rdb.XRange(ctx, conv.LifecycleKey(q.cfg.Prefix), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	holder := map[string]string{}
	claims, returning := 0, 0
	for _, x := range xs {
		cid, _ := x.Values[conv.EvConv].(string)
		switch x.Values[conv.EvType] {
		case conv.Claimed:
			claims++
			if x.Values[conv.EvAssign] == AssignReturning {
				returning++
			}
			if h := holder[cid]; h != "" {
				t.Fatalf("%s claimed by %v while %s held it", cid, x.Values[conv.EvAgent], h)
			}
			holder[cid], _ = x.Values[conv.EvAgent].(string)
		case conv.Closed:
			if holder[cid] == "" || holder[cid] != x.Values[conv.EvBy] {
				t.Fatalf("%s closed by %v, held by %q", cid, x.Values[conv.EvBy], holder[cid])
			}
			holder[cid] = ""
		}
	}
	if claims == 0 {
		t.Fatal("no claim at all: the test proved nothing")
	}
	t.Logf("%d claims, %d to the returning customer's last agent", claims, returning)
}

// The dispatch options' cost, counted through MONITOR: Redis commands for
// one hand-off's whole cycle (hand-off, one offers run, accept, close) in a
// group of 20 online agents, plain and with every option on. The options
// add at most three: the last agent's GET (offers) and SET (close), and one
// HMGET of the performance hash per offers run and group. Figures in
// BENCHMARKS.md.
func TestDispatchCommandsPerHandoff(t *testing.T) {
	ctx := context.Background()
	count := func(d Dispatch) int {
		cfg := testConfig()
		cfg.Groups, cfg.DefaultGroup, cfg.Categories = []string{"pre_sales"}, "pre_sales", nil
		cfg.Presence = 100 * time.Hour
		cfg.Dispatch = d
		q, _, rdb := MustQueue(t, cfg)
		var perf []Performance
		for i := range 20 {
			mustOnline(t, q, Agent{ID: fmt.Sprintf("a%02d", i), Groups: []string{"pre_sales"}, Max: 3})
			perf = append(perf, Performance{Agent: fmt.Sprintf("a%02d", i), CSAT: ptr(4.5)})
		}
		if err := q.SetPerformance(ctx, perf, time.Hour); err != nil {
			t.Fatal(err)
		}
		serve(t, q, "a07", "web:v1") // a returning customer when the window is on
		mon := testkit.NewMonitor(t, rdb, q.cfg.Prefix)
		cmds := mon.Count(func() {
			mustEnqueue(t, q, Ticket{Conv: "web:v1"})
			if n, _, err := q.Offers(ctx); err != nil || n != 1 {
				t.Fatalf("offers %d %v", n, err)
			}
			aid := offeredTo(t, q, "pre_sales")["web:v1"]
			c := mustClaim(t, q, aid, "web:v1")
			if err := q.Release(ctx, c, Closed); err != nil {
				t.Fatal(err)
			}
		})
		return len(cmds)
	}
	plain := count(Dispatch{})
	all := count(Dispatch{ReturningWindow: time.Hour, CSAT: 1, FirstResponse: 1, Resolution: 1})
	t.Logf("Redis commands per hand-off cycle, 20 agents: plain %d, every dispatch option on %d", plain, all)
	if all > plain+3 {
		t.Errorf("dispatch options cost %d more commands per hand-off, want at most 3", all-plain)
	}
}
