package handoff

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/conv"
)

// lifeTail reads the queue's lifecycle stream (conv.LifecycleKey) a step at
// a time: each want checks the entries written since the last one.
type lifeTail struct {
	tb   testing.TB
	rdb  *redis.Client
	q    *Queue
	clk  interface{ Now() time.Time }
	last string // the start of the next read: "-", then "(" and the last id read
}

func newLifeTail(tb testing.TB, rdb *redis.Client, q *Queue, clk interface{ Now() time.Time }) *lifeTail {
	return &lifeTail{tb: tb, rdb: rdb, q: q, clk: clk, last: "-"}
}

// next returns the entries written since the last call.
func (l *lifeTail) next() []map[string]string {
	l.tb.Helper()
	xs, err := l.rdb.XRange(context.Background(), conv.LifecycleKey(l.q.cfg.Prefix), l.last, "+").Result()
	if err != nil {
		l.tb.Fatal(err)
	}
	out := make([]map[string]string, len(xs))
	for i, x := range xs {
		out[i] = map[string]string{}
		for k, v := range x.Values {
			out[i][k], _ = v.(string)
		}
		l.last = "(" + x.ID
	}
	return out
}

// ev is an expected entry at the clock's now: type, conv, ep, at, then the
// field/value pairs.
func (l *lifeTail) ev(typ, cid, ep string, kv ...string) map[string]string {
	m := map[string]string{conv.EvType: typ, conv.EvConv: cid, conv.EvEpisode: ep,
		conv.EvAt: strconv.FormatInt(l.clk.Now().UnixMilli(), 10)}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// want fails unless the entries written since the last check are exactly
// these, in order (none when want is empty).
func (l *lifeTail) want(what string, want ...map[string]string) {
	l.tb.Helper()
	got := l.next()
	if want == nil {
		want = []map[string]string{}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		l.tb.Errorf("%s: lifecycle (-want +got):\n%s", what, diff)
	}
}

// One hand-off from queue to close and rating, then a second one back to
// the bot: each step writes its one event with its fields, on the episode
// the conversation hash names; repeats and refusals write none.
func TestLifecycleHandoffToClose(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.Lease = 10 * time.Minute
	q, clk, rdb := MustQueue(t, cfg)
	lt := newLifeTail(t, rdb, q, clk)
	rdb.HSet(ctx, q.convKey("web:v1"), conv.FieldEpisode, "3") // as bot's ingest keeps it
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 2})
	mustOnline(t, q, Agent{ID: "b", Groups: []string{"pre_sales"}, Max: 2})
	lt.want("agents online")

	mustEnqueue(t, q, Ticket{Conv: "web:v1", Channel: "web", User: "v1", Reason: "complaint", Urgent: true})
	lt.want("enqueue", lt.ev(conv.Handoff, "web:v1", "3", conv.EvReason, "complaint", conv.EvGroup, "pre_sales",
		conv.EvUrgent, "1", conv.EvPriority, "urgent", conv.EvWords, "",
		conv.EvDueMs, strconv.FormatInt(clk.Now().Add(time.Minute).UnixMilli(), 10)))
	if p := mustEnqueue(t, q, Ticket{Conv: "web:v1", Reason: "requested"}); p.New {
		t.Fatal("a second enqueue queued again")
	}
	lt.want("enqueue again")

	clk.Advance(90 * time.Second)
	c := mustClaim(t, q, "a", "web:v1")
	lt.want("claim", lt.ev(conv.Claimed, "web:v1", "3", conv.EvAgent, "a", conv.EvGroup, "pre_sales",
		conv.EvWaitedMs, "90000", conv.EvAssign, AssignManual))
	_, err := q.Claim(ctx, "b", "web:v1")
	wantErr(t, err, ErrTaken)
	_, err = q.Claim(ctx, "b", "")
	wantErr(t, err, ErrEmpty)
	lt.want("refused claims")

	clk.Advance(time.Second)
	if _, _, err := q.Append(ctx, c, "m1", "您好，我来帮您查一下"); err != nil {
		t.Fatal(err)
	}
	lt.want("first message", lt.ev(conv.AgentMessage, "web:v1", "3", conv.EvAgent, "a",
		conv.EvText, "您好，我来帮您查一下", conv.EvKind, "agent", conv.EvFirst, "1"))
	if _, dup, err := q.Append(ctx, c, "m1", "您好，我来帮您查一下"); err != nil || !dup {
		t.Fatalf("retry: dup %v %v", dup, err)
	}
	lt.want("a retried message")
	if _, _, err := q.Append(ctx, c, "m2", "查到了"); err != nil {
		t.Fatal(err)
	}
	lt.want("second message", lt.ev(conv.AgentMessage, "web:v1", "3", conv.EvAgent, "a",
		conv.EvText, "查到了", conv.EvKind, "agent", conv.EvFirst, "0"))
	if _, _, err := q.Note(ctx, c, "n1", "客户第三次来问"); err != nil {
		t.Fatal(err)
	}
	lt.want("note", lt.ev(conv.Note, "web:v1", "3", conv.EvAgent, "a", conv.EvText, "客户第三次来问"))
	if tx := transcript(t, rdb, q, "web:v1"); len(tx) != 3 || tx[2]["dir"] != "note" || tx[2]["kind"] != "note" {
		t.Errorf("transcript %v: want the note last, dir note", tx)
	}
	stale := Claim{Conv: c.Conv, Agent: "b", Group: c.Group, Epoch: c.Epoch}
	_, _, err = q.Append(ctx, stale, "m3", "not mine")
	wantErr(t, err, ErrNotHolder)
	_, _, err = q.Note(ctx, stale, "n2", "not mine")
	wantErr(t, err, ErrNotHolder)
	wantErr(t, q.Release(ctx, Claim{Conv: c.Conv, Agent: "a", Epoch: c.Epoch - 1}, Closed), ErrLeaseLost)
	lt.want("refused writes")

	if err := q.Release(ctx, c, Closed); err != nil {
		t.Fatal(err)
	}
	lt.want("close", lt.ev(conv.Closed, "web:v1", "3", conv.EvBy, "a"))
	wantErr(t, q.Release(ctx, c, Closed), ErrLeaseLost)
	lt.want("close again")

	clk.Advance(time.Minute)
	if _, err := q.Rate(ctx, "web:v1", 4, "很耐心"); err != nil {
		t.Fatal(err)
	}
	lt.want("rate", lt.ev(conv.Rated, "web:v1", "3", conv.EvScore, "4", conv.EvComment, "很耐心", conv.EvAgent, "a"))
	_, err = q.Rate(ctx, "web:v1", 1, "")
	wantErr(t, err, ErrAlreadyRated)
	_, err = q.Rate(ctx, "never", 5, "")
	wantErr(t, err, ErrNoSurvey)
	lt.want("refused ratings")

	// The next hand-off (a new episode, as bot would number it): its first
	// agent message is marked first again.
	rdb.HSet(ctx, q.convKey("web:v1"), conv.FieldEpisode, "4")
	mustEnqueue(t, q, Ticket{Conv: "web:v1", Reason: "requested"})
	lt.want("second hand-off", lt.ev(conv.Handoff, "web:v1", "4", conv.EvReason, "requested",
		conv.EvGroup, "pre_sales", conv.EvUrgent, "0", conv.EvPriority, "normal", conv.EvWords, "",
		conv.EvDueMs, strconv.FormatInt(clk.Now().Add(10*time.Minute).UnixMilli(), 10)))
	c = mustClaim(t, q, "b", "")
	lt.want("second claim", lt.ev(conv.Claimed, "web:v1", "4", conv.EvAgent, "b", conv.EvGroup, "pre_sales",
		conv.EvWaitedMs, "0", conv.EvAssign, AssignManual))
	if _, _, err := q.Append(ctx, c, "m4", "我是 b"); err != nil {
		t.Fatal(err)
	}
	lt.want("first message again", lt.ev(conv.AgentMessage, "web:v1", "4", conv.EvAgent, "b",
		conv.EvText, "我是 b", conv.EvKind, "agent", conv.EvFirst, "1"))
	if err := q.Release(ctx, c, ToBot); err != nil {
		t.Fatal(err)
	}
	lt.want("back to the bot", lt.ev(conv.BackToBot, "web:v1", "4", conv.EvAgent, "b"))

	// A close with the agent's wrap-up carries it on the closed event.
	rdb.HSet(ctx, q.convKey("web:v1"), conv.FieldEpisode, "5")
	mustEnqueue(t, q, Ticket{Conv: "web:v1", Reason: "requested"})
	c = mustClaim(t, q, "b", "")
	lt.next()
	wantErr(t, q.CloseWithWrapUp(ctx, Claim{Conv: c.Conv, Agent: "a", Epoch: c.Epoch}, WrapUp{Label: "other"}), ErrNotHolder)
	lt.want("refused wrap-up")
	if err := q.CloseWithWrapUp(ctx, c, WrapUp{Label: "logistics_dispute", Resolved: false}); err != nil {
		t.Fatal(err)
	}
	lt.want("close with wrap-up", lt.ev(conv.Closed, "web:v1", "5", conv.EvBy, "b",
		conv.EvLabel, "logistics_dispute", conv.EvResolved, conv.Unresolved))
	rdb.HSet(ctx, q.convKey("web:v1"), conv.FieldEpisode, "6")
	mustEnqueue(t, q, Ticket{Conv: "web:v1", Reason: "requested"})
	c = mustClaim(t, q, "b", "")
	lt.next()
	if err := q.CloseWithWrapUp(ctx, c, WrapUp{Label: "return_policy", Resolved: true}); err != nil {
		t.Fatal(err)
	}
	lt.want("resolved wrap-up", lt.ev(conv.Closed, "web:v1", "6", conv.EvBy, "b",
		conv.EvLabel, "return_policy", conv.EvResolved, conv.Resolved))
	MustAudit(t, q)
}

// Transfers to a group and to an agent, and a supervisor's reassignment:
// one transfer event each; refused ones write none; a transfer to a group
// makes the next agent message a first one again, a transfer to an agent
// does not.
func TestLifecycleTransfer(t *testing.T) {
	ctx := context.Background()
	q, clk, rdb := MustQueue(t, testConfig())
	lt := newLifeTail(t, rdb, q, clk)
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 2})
	mustOnline(t, q, Agent{ID: "p", Groups: []string{"payments"}, Max: 2})
	mustOnline(t, q, Agent{ID: "full", Groups: []string{"payments"}, Max: 1})
	mustEnqueue(t, q, Ticket{Conv: "busy", Group: "payments"})
	mustClaim(t, q, "full", "busy")
	mustEnqueue(t, q, Ticket{Conv: "c1"})
	mustEnqueue(t, q, Ticket{Conv: "w"})
	c := mustClaim(t, q, "a", "c1")
	if _, _, err := q.Append(ctx, c, "a1", "稍等"); err != nil {
		t.Fatal(err)
	}
	lt.next()

	_, err := q.Transfer(ctx, c, Target{Agent: "full"}, "")
	wantErr(t, err, ErrCapacity)
	_, err = q.Transfer(ctx, c, Target{Agent: "a"}, "")
	wantErr(t, err, ErrSameAgent)
	_, err = q.Transfer(ctx, Claim{Conv: "c1", Agent: "a", Epoch: c.Epoch - 1}, Target{Group: "payments"}, "")
	wantErr(t, err, ErrLeaseLost)
	_, err = q.Reassign(ctx, "never", "boss", Target{Group: "payments"}, "")
	wantErr(t, err, ErrNotOpen)
	lt.want("refused transfers")

	nc, err := q.Transfer(ctx, c, Target{Group: "payments"}, "付款失败")
	if err != nil {
		t.Fatal(err)
	}
	lt.want("to a group", lt.ev(conv.Transfer, "c1", "0", conv.EvFrom, "a", conv.EvTo, "",
		conv.EvGroup, "payments", conv.EvNote, "付款失败", conv.EvBy, "a"))
	_, err = q.Transfer(ctx, c, Target{Group: "pre_sales"}, "again")
	wantErr(t, err, ErrLeaseLost)
	lt.want("transfer from the old claim")
	if nc.Agent != "" {
		t.Fatalf("transfer to a group gave %+v", nc)
	}
	pc := mustClaim(t, q, "p", "c1")
	lt.next()
	if _, _, err := q.Append(ctx, pc, "p1", "我是付款组"); err != nil {
		t.Fatal(err)
	}
	lt.want("first message in the new group", lt.ev(conv.AgentMessage, "c1", "0", conv.EvAgent, "p",
		conv.EvText, "我是付款组", conv.EvKind, "agent", conv.EvFirst, "1"))

	ac, err := q.Transfer(ctx, pc, Target{Agent: "a"}, "还给你")
	if err != nil {
		t.Fatal(err)
	}
	lt.want("to an agent", lt.ev(conv.Transfer, "c1", "0", conv.EvFrom, "p", conv.EvTo, "a",
		conv.EvGroup, "payments", conv.EvNote, "还给你", conv.EvBy, "p"))
	if _, _, err := q.Append(ctx, ac, "a2", "我又回来了"); err != nil {
		t.Fatal(err)
	}
	lt.want("message after a transfer to an agent", lt.ev(conv.AgentMessage, "c1", "0", conv.EvAgent, "a",
		conv.EvText, "我又回来了", conv.EvKind, "agent", conv.EvFirst, "0"))

	if _, err := q.Reassign(ctx, "w", "boss", Target{Group: "after_sales"}, "belongs there"); err != nil {
		t.Fatal(err)
	}
	lt.want("reassign a waiting one", lt.ev(conv.Transfer, "w", "0", conv.EvFrom, "", conv.EvTo, "",
		conv.EvGroup, "after_sales", conv.EvNote, "belongs there", conv.EvBy, "boss"))
	if _, err := q.Reassign(ctx, "c1", "boss", Target{Agent: "p"}, ""); err != nil {
		t.Fatal(err)
	}
	lt.want("reassign a held one", lt.ev(conv.Transfer, "c1", "0", conv.EvFrom, "a", conv.EvTo, "p",
		conv.EvGroup, "payments", conv.EvNote, "", conv.EvBy, "boss"))
	MustAudit(t, q)
}

// Auto-assignment: an offer made is offered; one that lapses, one turned
// down and one withdrawn because the agent signed out are each declined.
func TestLifecycleOffers(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.OfferTimeout = 30 * time.Second
	cfg.Presence = time.Hour
	q, clk, rdb := MustQueue(t, cfg)
	lt := newLifeTail(t, rdb, q, clk)
	mustOnline(t, q, Agent{ID: "x", Groups: []string{"pre_sales"}, Max: 1})
	mustOnline(t, q, Agent{ID: "y", Groups: []string{"pre_sales"}, Max: 1})
	mustEnqueue(t, q, Ticket{Conv: "c1"})
	lt.next()

	if n, _, err := q.Offers(ctx); err != nil || n != 1 {
		t.Fatalf("offers %d %v", n, err)
	}
	lt.want("offer", lt.ev(conv.Offered, "c1", "0", conv.EvAgent, "x", conv.EvGroup, "pre_sales",
		conv.EvAssign, AssignLeastBusy, conv.EvAssignDetail, "load=0"))
	q.Offers(ctx)
	lt.want("offers again: nothing new")

	clk.Advance(31 * time.Second)
	if n, exp, err := q.Offers(ctx); err != nil || n != 1 || exp != 1 {
		t.Fatalf("after the timeout: offered %d expired %d %v", n, exp, err)
	}
	lt.want("lapsed, offered to the next", lt.ev(conv.Declined, "c1", "0", conv.EvAgent, "x", conv.EvGroup, "pre_sales"),
		lt.ev(conv.Offered, "c1", "0", conv.EvAgent, "y", conv.EvGroup, "pre_sales",
			conv.EvAssign, AssignLeastBusy, conv.EvAssignDetail, "load=0"))

	wantErr(t, q.Decline(ctx, "x", "c1"), ErrNoOffer)
	lt.want("decline without an offer")
	if err := q.Decline(ctx, "y", "c1"); err != nil {
		t.Fatal(err)
	}
	lt.want("decline", lt.ev(conv.Declined, "c1", "0", conv.EvAgent, "y", conv.EvGroup, "pre_sales"))

	q.Offers(ctx) // the round starts again: x
	lt.want("offer after the round", lt.ev(conv.Offered, "c1", "0", conv.EvAgent, "x", conv.EvGroup, "pre_sales",
		conv.EvAssign, AssignLeastBusy, conv.EvAssignDetail, "load=0"))
	if _, err := q.AgentOffline(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	lt.want("x signs out with the offer open", lt.ev(conv.Declined, "c1", "0", conv.EvAgent, "x", conv.EvGroup, "pre_sales"))
	MustAudit(t, q)
}

// A customer who stops waiting is abandoned by customer; one whose last
// transcript entry is their leaving, by left; one not waiting, nothing.
func TestLifecycleAbandoned(t *testing.T) {
	ctx := context.Background()
	q, clk, rdb := MustQueue(t, testConfig())
	lt := newLifeTail(t, rdb, q, clk)
	for _, c := range []string{"asked", "left", "held"} {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.txKey(c), Values: []any{"dir", "in", "kind", "text", "text", "转人工"}})
		mustEnqueue(t, q, Ticket{Conv: c})
	}
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 1})
	mustClaim(t, q, "a", "held")
	lt.next()

	rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.txKey("asked"), Values: []any{"dir", "in", "kind", "text", "text", "取消"}})
	if err := q.Cancel(ctx, "asked"); err != nil {
		t.Fatal(err)
	}
	lt.want("cancel", lt.ev(conv.Abandoned, "asked", "0", conv.EvBy, conv.ByCustomer))
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.txKey("left"), Values: []any{"dir", "in", "kind", KindLeave, "text", ""}})
	if err := q.Cancel(ctx, "left"); err != nil {
		t.Fatal(err)
	}
	lt.want("leave", lt.ev(conv.Abandoned, "left", "0", conv.EvBy, conv.ByLeft))
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.txKey("held"), Values: []any{"dir", "in", "kind", KindLeave, "text", ""}})
	wantErr(t, q.Cancel(ctx, "held"), ErrNotWaiting)
	wantErr(t, q.Cancel(ctx, "asked"), ErrNotWaiting)
	wantErr(t, q.Cancel(ctx, "never"), ErrNotWaiting)
	lt.want("refused cancels")
	MustAudit(t, q)
}

// A lease that runs out is lease_lost once, when the reaper requeues it,
// and so is one whose agent signs out.
func TestLifecycleLeaseLost(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.Lease = 30 * time.Second
	q, clk, rdb := MustQueue(t, cfg)
	lt := newLifeTail(t, rdb, q, clk)
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 2})
	mustOnline(t, q, Agent{ID: "b", Groups: []string{"after_sales"}, Max: 2})
	mustEnqueue(t, q, Ticket{Conv: "c1"})
	mustEnqueue(t, q, Ticket{Conv: "c2", Group: "after_sales"})
	c1 := mustClaim(t, q, "a", "c1")
	mustClaim(t, q, "b", "c2")
	lt.next()

	clk.Advance(29 * time.Second)
	if _, err := q.Heartbeat(ctx, "b", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := q.Reap(ctx); len(got) != 0 {
		t.Fatalf("reaped %v before the lease ended", got)
	}
	lt.want("heartbeat and an early reap")
	clk.Advance(2 * time.Second)
	if got, err := q.Reap(ctx); err != nil || !cmp.Equal(got, []string{"c1", "c2"}) {
		t.Fatalf("reap %v %v", got, err)
	}
	lt.want("reap", lt.ev(conv.LeaseLost, "c1", "0", conv.EvAgent, "a", conv.EvGroup, "pre_sales"),
		lt.ev(conv.LeaseLost, "c2", "0", conv.EvAgent, "b", conv.EvGroup, "after_sales"))
	if got, _ := q.Reap(ctx); len(got) != 0 {
		t.Fatalf("reaped again: %v", got)
	}
	_, _, err := q.Append(ctx, c1, "late", "我回来了")
	wantErr(t, err, ErrLeaseLost)
	lt.want("reap again, and the fenced agent's write")

	mustClaim(t, q, "b", "c2")
	lt.next()
	if got, err := q.AgentOffline(ctx, "b"); err != nil || !cmp.Equal(got, []string{"c2"}) {
		t.Fatalf("offline: requeued %v %v", got, err)
	}
	lt.want("sign out", lt.ev(conv.LeaseLost, "c2", "0", conv.EvAgent, "b", conv.EvGroup, "after_sales"))
	MustAudit(t, q)
}
