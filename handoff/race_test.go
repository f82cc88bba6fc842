package handoff

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kefu-dev/kefu/conv"
)

// 64 agents claim one waiting conversation at once, 1,000 times: exactly
// one wins each time. Half claim "next", half claim it by name.
func TestClaimRaceOneWinner(t *testing.T) {
	const agents, rounds = 64, 1000
	ctx := context.Background()
	rdb := MustRedis(t, agents)
	cfg := testConfig()
	q, _ := MustQueueOn(t, rdb, cfg)
	for i := range agents {
		mustOnline(t, q, Agent{ID: fmt.Sprintf("a%02d", i), Groups: []string{"pre_sales"}, Max: rounds})
	}
	type result struct {
		winner string
		wins   int32
	}
	results := make([]result, rounds)
	starts := make([]chan struct{}, rounds)
	for i := range starts {
		starts[i] = make(chan struct{})
	}
	var done sync.WaitGroup
	var roundDone sync.WaitGroup
	var unexpected atomic.Value
	for i := range agents {
		aid := fmt.Sprintf("a%02d", i)
		done.Add(1)
		go func() {
			defer done.Done()
			for r := range rounds {
				<-starts[r]
				want := ""
				if i%2 == 1 {
					want = fmt.Sprintf("race:%d", r)
				}
				c, err := q.Claim(ctx, aid, want)
				switch {
				case err == nil:
					if atomic.AddInt32(&results[r].wins, 1) == 1 {
						results[r].winner = c.Conv + "@" + aid
					}
				case errors.Is(err, ErrEmpty), errors.Is(err, ErrTaken):
				default:
					unexpected.Store(err)
				}
				roundDone.Done()
			}
		}()
	}
	for r := range rounds {
		mustEnqueue(t, q, Ticket{Conv: fmt.Sprintf("race:%d", r)})
		roundDone.Add(agents)
		close(starts[r])
		roundDone.Wait()
	}
	done.Wait()
	if err := unexpected.Load(); err != nil {
		t.Fatalf("unexpected claim error: %v", err)
	}
	for r, res := range results {
		if res.wins != 1 {
			t.Fatalf("round %d: %d winners, want exactly 1", r, res.wins)
		}
	}
	rep := MustAudit(t, q)
	if rep.Held != rounds || rep.Waiting != 0 {
		t.Errorf("audit %+v: want %d held, none waiting", rep, rounds)
	}
	// The record agrees: one claimed event per successful claim, naming the
	// winner; never two agents, never two events.
	xs, err := rdb.XRange(ctx, conv.LifecycleKey(q.cfg.Prefix), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	claimed := map[string]string{}
	n := 0
	for _, x := range xs {
		if x.Values[conv.EvType] != conv.Claimed {
			continue
		}
		n++
		cid, _ := x.Values[conv.EvConv].(string)
		agent, _ := x.Values[conv.EvAgent].(string)
		if prev, ok := claimed[cid]; ok {
			t.Errorf("%s claimed twice: by %s and %s", cid, prev, agent)
		}
		claimed[cid] = cid + "@" + agent
	}
	if n != rounds {
		t.Errorf("%d claimed events, want %d (one per successful claim)", n, rounds)
	}
	for r, res := range results {
		if got := claimed[fmt.Sprintf("race:%d", r)]; got != res.winner {
			t.Errorf("round %d: claimed event %q, winner %q", r, got, res.winner)
		}
	}
}
