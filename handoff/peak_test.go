package handoff

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/internal/testkit"
)

// scriptCounter is a redis.Hook counting the runs of each of our scripts
// (EVALSHA or EVAL), by operation name.
type scriptCounter struct {
	mu   sync.Mutex
	runs map[string]int
}

func (h *scriptCounter) note(cmd redis.Cmder) {
	args := cmd.Args()
	if len(args) < 2 || (cmd.Name() != "evalsha" && cmd.Name() != "eval") {
		return
	}
	for name, s := range scripts {
		if args[1] == s.Hash() {
			h.mu.Lock()
			h.runs[name]++
			h.mu.Unlock()
		}
	}
}

func (h *scriptCounter) count(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.runs[name]
}

func (h *scriptCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *scriptCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.note(cmd)
		return next(ctx, cmd)
	}
}
func (h *scriptCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.note(c)
		}
		return next(ctx, cmds)
	}
}

// TestNoticesOneScriptPerGroup: a tick of position notices runs one script
// per group whatever the queues' lengths (counted with a hook), and reports
// exactly the waiting conversations whose bucket changed, each with the
// position Position gives, storing what Notice would store.
func TestNoticesOneScriptPerGroup(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.DefaultHandle = 7 * time.Minute
	cfg.Presence = time.Hour
	q, clk, rdb := MustQueue(t, cfg)
	hook := &scriptCounter{runs: map[string]int{}}
	rdb.AddHook(hook)
	enqueue := func(from, to int) {
		for i := from; i < to; i++ {
			g := cfg.Groups[i%2] // pre_sales and after_sales; payments stays empty
			mustEnqueue(t, q, Ticket{Conv: fmt.Sprintf("c%03d", i), Group: g, Urgent: i%7 == 3})
		}
	}
	// tick runs Notices and checks it against Position, conversation by
	// conversation.
	tick := func(what string) []Position {
		t.Helper()
		told := map[string]string{}
		var waiting []string
		for _, g := range cfg.Groups {
			for _, cid := range ranks(t, q, g) {
				waiting = append(waiting, cid)
				told[cid], _ = rdb.HGet(ctx, q.convKey(cid), fieldNotice).Result()
			}
		}
		before := hook.count("notices")
		got, err := q.Notices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := hook.count("notices") - before; n != len(cfg.Groups) {
			t.Fatalf("%s: %d notices scripts for %d waiting, want one per group (%d)", what, n, len(waiting), len(cfg.Groups))
		}
		var want []Position
		for _, cid := range waiting {
			p, err := q.Position(ctx, cid)
			if err != nil {
				t.Fatal(err)
			}
			if b := bucket(p); b != told[cid] {
				want = append(want, p)
			}
			if now, _ := rdb.HGet(ctx, q.convKey(cid), fieldNotice).Result(); now != bucket(p) {
				t.Fatalf("%s: %s told %q, want %q", what, cid, now, bucket(p))
			}
		}
		byConv := func(a, b Position) int { return strings.Compare(a.Conv, b.Conv) }
		slices.SortFunc(got, byConv)
		slices.SortFunc(want, byConv)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s: notices (-want +got):\n%s", what, diff)
		}
		return got
	}

	enqueue(0, 6)
	tick("warm-up") // loads the script; nobody online, nothing moved
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales", "after_sales"}, Max: 2})
	mustOnline(t, q, Agent{ID: "b", Groups: []string{"pre_sales"}, Max: 3})
	if got := tick("agents came, 6 waiting"); len(got) != 6 {
		t.Fatalf("agents came: %d notices, want every waiting customer (6)", len(got))
	}
	if got := tick("nothing moved"); len(got) != 0 {
		t.Fatalf("nothing moved: %+v", got)
	}
	enqueue(6, 150)
	c := mustClaim(t, q, "a", "")
	clk.Advance(20 * time.Second)
	if err := q.Release(ctx, c, Closed); err != nil { // a handling time: the ETA moves
		t.Fatal(err)
	}
	for range 3 {
		mustClaim(t, q, "b", "")
	}
	if got := tick("150 queued, claims, a handling time"); len(got) == 0 {
		t.Fatal("the queue moved: want notices")
	}
	if got := tick("nothing moved again"); len(got) != 0 {
		t.Fatalf("nothing moved: %d notices", len(got))
	}
	clk.Advance(2 * time.Hour) // presence lapsed: nobody online is a change for everyone
	if got := tick("presence lapsed"); len(got) != 149-3 {
		t.Fatalf("presence lapsed: %d notices, want every waiting customer (%d)", len(got), 149-3)
	}
}

// TestOffersFairAndBounded: offers go to the least-busy agent first (then
// the one longest without a claim, then by id), each agent up to their free
// slots, and stop when the slots are taken; a second run offers nothing
// twice. With every agent full, a run reads no conversation at all.
func TestOffersFairAndBounded(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.Presence = time.Hour
	q, _, rdb := MustQueue(t, cfg)
	for i := range 20 {
		mustEnqueue(t, q, Ticket{Conv: fmt.Sprintf("c%02d", i)})
	}
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 3})
	mustOnline(t, q, Agent{ID: "b", Groups: []string{"pre_sales"}, Max: 3})
	mustOnline(t, q, Agent{ID: "c", Groups: []string{"pre_sales"}, Max: 2})
	mustClaim(t, q, "a", "c00")
	mustClaim(t, q, "a", "c01")
	offered, _, err := q.Offers(ctx)
	if err != nil || offered != 6 {
		t.Fatalf("offers %d %v, want 6 (the free slots: a 1, b 3, c 2)", offered, err)
	}
	ws, err := q.Waiting(ctx, "pre_sales")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.Conv+">"+w.OfferedTo)
	}
	// Loads a 2, b 0, c 0: b and c (never claimed; by id) take turns, then
	// b (load 2, never claimed) before a (load 2, claimed).
	want := []string{"c02>b", "c03>c", "c04>b", "c05>c", "c06>b", "c07>a"}
	for i := 8; i < 20; i++ {
		want = append(want, fmt.Sprintf("c%02d>", i))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("offers (-want +got):\n%s", diff)
	}
	MustAudit(t, q)

	mon := testkit.NewMonitor(t, rdb, q.cfg.Prefix)
	var again int
	cmds := mon.Count(func() {
		if again, _, err = q.Offers(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if again != 0 {
		t.Fatalf("second run offered %d more, want none (every slot is taken by an offer)", again)
	}
	for _, c := range cmds {
		// A conversation read: a command on a conv: key (the script's own
		// line carries only its keys and arguments).
		if f := strings.SplitN(c, `" "`, 3); len(f) > 1 && strings.HasPrefix(f[1], q.cfg.Prefix+"conv:") {
			t.Fatalf("every agent full: the run read a conversation: %s", c)
		}
	}
	MustAudit(t, q)
}

// TestHandoffBurstReadsAgentsOnce: hand-offs into one group within a second
// read the group's online agents once, not once each (at a peak that was
// half of Redis's work), while an agent who has just signed in is seen by
// the very next hand-off (nobody is told no agent is online).
func TestHandoffBurstReadsAgentsOnce(t *testing.T) {
	cfg := testConfig()
	cfg.Presence = time.Hour
	q, clk, rdb := MustQueue(t, cfg)
	if p := mustEnqueue(t, q, Ticket{Conv: "c00"}); p.Online != 0 {
		t.Fatalf("nobody online yet: %+v", p)
	}
	for i := range 30 {
		mustOnline(t, q, Agent{ID: fmt.Sprintf("a%02d", i), Groups: []string{"pre_sales"}, Max: 2})
	}
	if p := mustEnqueue(t, q, Ticket{Conv: "c01"}); p.Online != 30 {
		t.Fatalf("after 30 sign-ins the next hand-off sees %d online, want 30", p.Online)
	}
	mon := testkit.NewMonitor(t, rdb, q.cfg.Prefix)
	agentReads := func(cmds []string) (n int) {
		for _, c := range cmds {
			if f := strings.SplitN(c, `" "`, 3); len(f) > 1 && strings.HasPrefix(f[1], q.cfg.Prefix+"agent:") {
				n++
			}
		}
		return n
	}
	cmds := mon.Count(func() {
		for i := 2; i < 12; i++ {
			if p := mustEnqueue(t, q, Ticket{Conv: fmt.Sprintf("c%02d", i)}); p.Online != 30 || p.Free != 60 {
				t.Fatalf("hand-off %d: %+v, want 30 online, 60 free", i, p)
			}
		}
	})
	if n := agentReads(cmds); n != 0 {
		t.Errorf("10 hand-offs within the second read agent keys %d times, want 0 (the figures of the hand-off before)", n)
	}
	// A second later they are read again.
	clk.Advance(1500 * time.Millisecond)
	if n := agentReads(mon.Count(func() { mustEnqueue(t, q, Ticket{Conv: "c12"}) })); n < 30 {
		t.Errorf("a hand-off 1.5 s later read agent keys %d times, want every online agent (30+)", n)
	}
	// Position, what the console and tests ask, reads them afresh.
	cmds = mon.Count(func() {
		if _, err := q.Position(context.Background(), "c05"); err != nil {
			t.Fatal(err)
		}
	})
	if n := agentReads(cmds); n < 30 {
		t.Errorf("Position read agent keys %d times, want every online agent (30+)", n)
	}
}
