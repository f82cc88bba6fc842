package handoff

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/priority"
)

func testConfig() Config {
	return Config{
		Groups:       []string{"pre_sales", "after_sales", "payments"},
		Categories:   map[string]string{"logistics": "after_sales", "payment": "payments"},
		DefaultGroup: "pre_sales",
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"category to unknown group", Config{Groups: []string{"a"}, Categories: map[string]string{"x": "b"}}},
		{"bad group name", Config{Groups: []string{"a,b"}}},
		{"bad timezone", Config{Hours: Hours{Timezone: "Mars/Olympus"}}},
		{"open without close", Config{Hours: Hours{Open: "09:00"}}},
		{"bad holiday", Config{Hours: Hours{Holidays: []string{"10/01"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(nil, tt.cfg, nil, nil)
			wantErr(t, err, ErrConfig)
		})
	}
	q, err := New(nil, testConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{q.GroupFor("logistics"), q.GroupFor("payment"), q.GroupFor("other")}; !cmp.Equal(got, []string{"after_sales", "payments", "pre_sales"}) {
		t.Errorf("GroupFor: %v", got)
	}
}

func TestEnqueueIdempotent(t *testing.T) {
	ctx := context.Background()
	q, _, rdb := MustQueue(t, testConfig())
	tk := Ticket{Conv: "web:u1", Channel: "web", User: "u1", Category: "logistics", Reason: "requested"}
	p1 := mustEnqueue(t, q, tk)
	p2 := mustEnqueue(t, q, Ticket{Conv: "web:u1", Category: "payment", Urgent: true}) // a retry with other data
	if !p1.New || p2.New {
		t.Errorf("New: first %v, second %v; want true, false", p1.New, p2.New)
	}
	if p1.Group != "after_sales" || p2.Group != "after_sales" || p1.Rank != 1 || p2.Rank != 1 || p2.Urgent {
		t.Errorf("positions %+v %+v: want after_sales rank 1 both, not urgent", p1, p2)
	}
	if n := rdb.ZCard(ctx, q.waitKey("after_sales")).Val() + rdb.ZCard(ctx, q.waitKey("payments")).Val(); n != 1 {
		t.Errorf("%d queue entries, want 1", n)
	}
	if seq := rdb.Get(ctx, q.key("seq")).Val(); seq != "1" {
		t.Errorf("seq %s, want 1 (no second INCR)", seq)
	}
	evs, err := q.Events(ctx, q.GroupStream("after_sales"), "", 0, 0)
	if err != nil || len(evs) != 1 || evs[0].Type != "enqueued" || evs[0].Conv != "web:u1" {
		t.Errorf("events %+v %v: want one enqueued", evs, err)
	}
	h := rdb.HGetAll(ctx, q.convKey("web:u1")).Val()
	for k, want := range map[string]string{"mode": "waiting", "group": "after_sales", "reason": "requested", "channel": "web", "user": "u1", "prio": "normal", "prio_by": "auto", "seq": "1"} {
		if h[k] != want {
			t.Errorf("conv %s=%q, want %q", k, h[k], want)
		}
	}
	// Held: a new enqueue leaves it with the agent.
	mustOnline(t, q, Agent{ID: "a1", Groups: []string{"after_sales"}, Max: 2})
	mustClaim(t, q, "a1", "web:u1")
	p3 := mustEnqueue(t, q, tk)
	if p3.New || p3.State != StateHeld {
		t.Errorf("enqueue while held: %+v, want state held, not new", p3)
	}
	MustAudit(t, q)
	_, err = q.Enqueue(ctx, Ticket{Conv: "x", Group: "nope"})
	wantErr(t, err, ErrUnknownGroup)
}

func TestUrgentLaneAndFIFO(t *testing.T) {
	q, _, _ := MustQueue(t, testConfig())
	for _, c := range []string{"n1", "n2", "n3"} {
		mustEnqueue(t, q, Ticket{Conv: c})
	}
	pu := mustEnqueue(t, q, Ticket{Conv: "u1", Urgent: true})
	pu2 := mustEnqueue(t, q, Ticket{Conv: "u2", Urgent: true})
	if pu.Rank != 1 || pu2.Rank != 2 || !pu.Urgent {
		t.Errorf("urgent ranks %d %d, want 1 2", pu.Rank, pu2.Rank)
	}
	if diff := cmp.Diff([]string{"u1", "u2", "n1", "n2", "n3"}, ranks(t, q, "pre_sales")); diff != "" {
		t.Errorf("queue order (-want +got):\n%s", diff)
	}
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 10})
	var got []string
	for range 5 {
		got = append(got, mustClaim(t, q, "a", "").Conv)
	}
	if diff := cmp.Diff([]string{"u1", "u2", "n1", "n2", "n3"}, got); diff != "" {
		t.Errorf("claim order (-want +got):\n%s", diff)
	}
	_, err := q.Claim(context.Background(), "a", "")
	wantErr(t, err, ErrEmpty)
	MustAudit(t, q)
}

func TestClaimAcrossGroupsByArrival(t *testing.T) {
	q, _, _ := MustQueue(t, testConfig())
	mustEnqueue(t, q, Ticket{Conv: "p1", Group: "payments"})
	mustEnqueue(t, q, Ticket{Conv: "s1", Group: "pre_sales"})
	mustEnqueue(t, q, Ticket{Conv: "p2", Group: "payments"})
	mustEnqueue(t, q, Ticket{Conv: "x1", Group: "after_sales"}) // not the agent's group
	mustEnqueue(t, q, Ticket{Conv: "s2", Group: "pre_sales", Urgent: true})
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales", "payments"}, Max: 10})
	var got []string
	for range 4 {
		got = append(got, mustClaim(t, q, "a", "").Conv)
	}
	if diff := cmp.Diff([]string{"s2", "p1", "s1", "p2"}, got); diff != "" {
		t.Errorf("claim order (-want +got):\n%s", diff)
	}
	_, err := q.Claim(context.Background(), "a", "")
	wantErr(t, err, ErrEmpty)
}

func TestClaimErrorsAndCapacity(t *testing.T) {
	ctx := context.Background()
	q, _, _ := MustQueue(t, testConfig())
	for _, c := range []string{"c1", "c2", "c3"} {
		mustEnqueue(t, q, Ticket{Conv: c})
	}
	mustEnqueue(t, q, Ticket{Conv: "pay", Group: "payments"})
	_, err := q.Claim(ctx, "ghost", "")
	wantErr(t, err, ErrUnknownAgent)
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 2})
	mustOnline(t, q, Agent{ID: "b", Groups: []string{"pre_sales"}, Max: 2})
	_, err = q.Claim(ctx, "a", "pay")
	wantErr(t, err, ErrSkill)
	c1 := mustClaim(t, q, "a", "c1")
	if c1.Epoch != 1 || c1.Group != "pre_sales" {
		t.Errorf("claim %+v: want epoch 1 in pre_sales", c1)
	}
	_, err = q.Claim(ctx, "b", "c1")
	wantErr(t, err, ErrTaken)
	_, err = q.Claim(ctx, "b", "nobody")
	wantErr(t, err, ErrTaken)
	mustClaim(t, q, "a", "")
	_, err = q.Claim(ctx, "a", "")
	wantErr(t, err, ErrCapacity)
	_, err = q.Claim(ctx, "a", "c3")
	wantErr(t, err, ErrCapacity)
	if err := q.Release(ctx, c1, ToBot); err != nil {
		t.Fatal(err)
	}
	if c := mustClaim(t, q, "a", ""); c.Conv != "c3" {
		t.Errorf("after release claimed %s, want c3", c.Conv)
	}
	if _, err := q.AgentOffline(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	_, err = q.Claim(ctx, "b", "")
	wantErr(t, err, ErrOffline)
	MustAudit(t, q)
}

// An agent's console crashes: it stops heartbeating; after the lease the
// reaper puts the conversation back exactly where it was, and the vanished
// agent can no longer write to it.
func TestAgentCrashRequeuesInPlace(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.Lease = 30 * time.Second
	q, clk, rdb := MustQueue(t, cfg)
	for _, c := range []string{"c1", "c2", "c3", "c4"} {
		mustEnqueue(t, q, Ticket{Conv: c})
	}
	before, err := q.Position(ctx, "c2")
	if err != nil || before.Rank != 2 {
		t.Fatalf("c2 position %+v %v, want rank 2", before, err)
	}
	mustOnline(t, q, Agent{ID: "crashy", Groups: []string{"pre_sales"}, Max: 3})
	mustOnline(t, q, Agent{ID: "steady", Groups: []string{"pre_sales"}, Max: 3})
	old := mustClaim(t, q, "crashy", "c2")
	if _, _, err := q.Append(ctx, old, "m1", "您好，我来帮您查一下"); err != nil {
		t.Fatal(err)
	}
	// Heartbeats keep it alive past the lease…
	for range 3 {
		clk.Advance(20 * time.Second)
		lost, err := q.Heartbeat(ctx, "crashy", []Claim{old})
		if err != nil || len(lost) != 0 {
			t.Fatalf("heartbeat: lost %v, %v", lost, err)
		}
		if got, _ := q.Reap(ctx); len(got) != 0 {
			t.Fatalf("reaped %v while heartbeating", got)
		}
	}
	// …then the console dies.
	clk.Advance(29 * time.Second)
	if got, _ := q.Reap(ctx); len(got) != 0 {
		t.Fatalf("reaped %v before the lease ended", got)
	}
	clk.Advance(2 * time.Second)
	got, err := q.Reap(ctx)
	if err != nil || !cmp.Equal(got, []string{"c2"}) {
		t.Fatalf("reap: %v %v, want [c2]", got, err)
	}
	after, err := q.Position(ctx, "c2")
	if err != nil || after.Rank != before.Rank || after.State != StateWaiting {
		t.Errorf("after reap %+v %v, want waiting at rank %d", after, err, before.Rank)
	}
	if diff := cmp.Diff([]string{"c1", "c2", "c3", "c4"}, ranks(t, q, "pre_sales")); diff != "" {
		t.Errorf("queue after reap (-want +got):\n%s", diff)
	}
	// The old agent is fenced out.
	_, _, err = q.Append(ctx, old, "m2", "我回来了")
	wantErr(t, err, ErrLeaseLost)
	err = q.Release(ctx, old, Closed)
	wantErr(t, err, ErrLeaseLost)
	lost, err := q.Heartbeat(ctx, "crashy", []Claim{old})
	if err != nil || !cmp.Equal(lost, []string{"c2"}) {
		t.Errorf("heartbeat after reap: lost %v %v, want [c2]", lost, err)
	}
	evs, err := q.Events(ctx, q.AgentStream("crashy"), "", 0, 0)
	if err != nil || len(evs) != 1 || evs[0].Type != "lost" || evs[0].Conv != "c2" {
		t.Errorf("crashy's events %+v %v: want one lost", evs, err)
	}
	// Someone else takes it over; the old claim stays refused.
	nc := mustClaim(t, q, "steady", "c2")
	if nc.Epoch <= old.Epoch+1 {
		t.Errorf("new epoch %d, want > %d", nc.Epoch, old.Epoch+1)
	}
	_, _, err = q.Append(ctx, old, "m3", "还是我")
	wantErr(t, err, ErrLeaseLost)
	if _, _, err := q.Append(ctx, nc, "m4", "您好，我接着帮您处理"); err != nil {
		t.Fatal(err)
	}
	var texts []any
	for _, e := range transcript(t, rdb, q, "c2") {
		texts = append(texts, e["text"])
	}
	if diff := cmp.Diff([]any{"您好，我来帮您查一下", "您好，我接着帮您处理"}, texts); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
	MustAudit(t, q)
}

func TestAppendDedupeAndHolder(t *testing.T) {
	ctx := context.Background()
	q, _, rdb := MustQueue(t, testConfig())
	mustEnqueue(t, q, Ticket{Conv: "c1"})
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 1})
	mustOnline(t, q, Agent{ID: "b", Groups: []string{"pre_sales"}, Max: 1})
	c := mustClaim(t, q, "a", "")
	id1, dup1, err := q.Append(ctx, c, "cm-1", "<script>alert(1)</script>")
	if err != nil || dup1 {
		t.Fatalf("append: %v dup %v", err, dup1)
	}
	id2, dup2, err := q.Append(ctx, c, "cm-1", "<script>alert(1)</script>")
	if err != nil || !dup2 || id2 != id1 {
		t.Errorf("retry: id %s dup %v %v; want %s, dup", id2, dup2, err, id1)
	}
	_, _, err = q.Append(ctx, Claim{Conv: "c1", Agent: "b", Epoch: c.Epoch}, "cm-2", "not mine")
	wantErr(t, err, ErrNotHolder)
	_, _, err = q.Append(ctx, Claim{Conv: "c1", Agent: "a", Epoch: c.Epoch + 1}, "cm-3", "future epoch")
	wantErr(t, err, ErrLeaseLost)
	tx := transcript(t, rdb, q, "c1")
	want := []map[string]any{{"dir": "out", "kind": "agent", "agent": "a", "epoch": "1", "msg_id": "cm-1",
		"text": "<script>alert(1)</script>", "at": tx[0]["at"]}}
	if diff := cmp.Diff(want, tx); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}

func TestTransferToGroupWithNote(t *testing.T) {
	ctx := context.Background()
	q, _, rdb := MustQueue(t, testConfig())
	mustEnqueue(t, q, Ticket{Conv: "early", Group: "pre_sales"})
	mustEnqueue(t, q, Ticket{Conv: "pay1", Group: "payments"})
	mustEnqueue(t, q, Ticket{Conv: "pay2", Group: "payments"})
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 2})
	c := mustClaim(t, q, "a", "early")
	nc, err := q.Transfer(ctx, c, Target{Group: "payments"}, "客户付款失败，订单 2023112312345678")
	if err != nil {
		t.Fatal(err)
	}
	if nc.Group != "payments" || nc.Agent != "" || nc.Epoch != c.Epoch+1 {
		t.Errorf("transfer claim %+v", nc)
	}
	// It arrived before pay1 and pay2: it keeps its place in line.
	if diff := cmp.Diff([]string{"early", "pay1", "pay2"}, ranks(t, q, "payments")); diff != "" {
		t.Errorf("payments queue (-want +got):\n%s", diff)
	}
	tx := transcript(t, rdb, q, "early")
	if len(tx) != 1 || tx[0]["dir"] != "note" || tx[0]["text"] != "客户付款失败，订单 2023112312345678" || tx[0]["to"] != "group:payments" {
		t.Errorf("transcript %v: want one private note", tx)
	}
	_, _, err = q.Append(ctx, c, "m", "still here?")
	wantErr(t, err, ErrLeaseLost)
	_, err = q.Transfer(ctx, c, Target{Group: "payments"}, "again")
	wantErr(t, err, ErrLeaseLost)
	_, err = q.Transfer(ctx, c, Target{Group: "nowhere"}, "")
	wantErr(t, err, ErrUnknownGroup)
	evs, _ := q.Events(ctx, q.GroupStream("payments"), "", 0, 0)
	if n := len(evs); n == 0 || evs[n-1].Type != "enqueued" || evs[n-1].Fields["from"] != "pre_sales" {
		t.Errorf("payments events %+v: want the transfer's enqueued last", evs)
	}
	MustAudit(t, q)
}

func TestTransferToAgent(t *testing.T) {
	ctx := context.Background()
	q, _, rdb := MustQueue(t, testConfig())
	mustEnqueue(t, q, Ticket{Conv: "c1"})
	mustEnqueue(t, q, Ticket{Conv: "c2"})
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 2})
	mustOnline(t, q, Agent{ID: "full", Groups: []string{"payments"}, Max: 1})
	mustOnline(t, q, Agent{ID: "b", Groups: []string{"payments"}, Max: 2})
	mustEnqueue(t, q, Ticket{Conv: "p", Group: "payments"})
	mustClaim(t, q, "full", "p")
	c := mustClaim(t, q, "a", "c1")
	_, err := q.Transfer(ctx, c, Target{Agent: "full"}, "")
	wantErr(t, err, ErrCapacity)
	_, err = q.Transfer(ctx, c, Target{Agent: "a"}, "")
	wantErr(t, err, ErrSameAgent)
	_, err = q.Transfer(ctx, c, Target{Agent: "ghost"}, "")
	wantErr(t, err, ErrUnknownAgent)
	nc, err := q.Transfer(ctx, c, Target{Agent: "b"}, "VIP 客户")
	if err != nil {
		t.Fatal(err)
	}
	if nc.Agent != "b" || nc.Epoch <= c.Epoch || nc.Group != "pre_sales" {
		t.Errorf("new claim %+v", nc)
	}
	if _, _, err := q.Append(ctx, nc, "b-1", "我是新的客服"); err != nil {
		t.Errorf("new holder append: %v", err)
	}
	_, _, err = q.Append(ctx, c, "a-1", "old")
	wantErr(t, err, ErrLeaseLost)
	held, err := q.Held(ctx, "b")
	if err != nil || len(held) != 1 || held[0].Conv != "c1" || held[0].Epoch != nc.Epoch {
		t.Errorf("b holds %+v %v", held, err)
	}
	evs, _ := q.Events(ctx, q.AgentStream("b"), "", 0, 0)
	if len(evs) != 1 || evs[0].Type != "assigned" || evs[0].Fields["from"] != "a" {
		t.Errorf("b's events %+v", evs)
	}
	if tx := transcript(t, rdb, q, "c1"); tx[0]["dir"] != "note" || tx[0]["to"] != "agent:b" {
		t.Errorf("note %v", tx[0])
	}
	MustAudit(t, q)
}

func TestReassignBySupervisor(t *testing.T) {
	ctx := context.Background()
	q, _, _ := MustQueue(t, testConfig())
	mustEnqueue(t, q, Ticket{Conv: "w"})
	mustEnqueue(t, q, Ticket{Conv: "h"})
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 2})
	mustOnline(t, q, Agent{ID: "b", Groups: []string{"after_sales"}, Max: 2})
	c := mustClaim(t, q, "a", "h")
	if _, err := q.Reassign(ctx, "w", "boss", Target{Group: "after_sales"}, "belongs there"); err != nil {
		t.Fatal(err)
	}
	nc, err := q.Reassign(ctx, "h", "boss", Target{Agent: "b"}, "")
	if err != nil || nc.Agent != "b" {
		t.Fatalf("reassign held: %+v %v", nc, err)
	}
	_, _, err = q.Append(ctx, c, "x", "old")
	wantErr(t, err, ErrLeaseLost)
	if diff := cmp.Diff([]string{"w"}, ranks(t, q, "after_sales")); diff != "" {
		t.Errorf("after_sales (-want +got):\n%s", diff)
	}
	_, err = q.Reassign(ctx, "never", "boss", Target{Group: "pre_sales"}, "")
	wantErr(t, err, ErrNotOpen)
	MustAudit(t, q)
}

func TestReleaseCloseAndRate(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.Lease = 10 * time.Minute
	q, clk, rdb := MustQueue(t, cfg)
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 2})
	mustEnqueue(t, q, Ticket{Conv: "bot"})
	mustEnqueue(t, q, Ticket{Conv: "done"})
	cb := mustClaim(t, q, "a", "bot")
	cd := mustClaim(t, q, "a", "done")
	_, err := q.Rate(ctx, "done", 5, "")
	wantErr(t, err, ErrNoSurvey)
	clk.Advance(3 * time.Minute)
	if err := q.Release(ctx, cb, ToBot); err != nil {
		t.Fatal(err)
	}
	if err := q.Release(ctx, cd, Closed); err != nil {
		t.Fatal(err)
	}
	wantErr(t, q.Release(ctx, cd, Closed), ErrLeaseLost)
	if m := rdb.HGet(ctx, q.convKey("bot"), "mode").Val(); m != "bot" {
		t.Errorf("released to bot: mode %q", m)
	}
	if m := rdb.HGet(ctx, q.convKey("done"), "mode").Val(); m != "closed" {
		t.Errorf("closed: mode %q", m)
	}
	if got := rdb.LRange(ctx, q.groupKey("pre_sales", "handled"), 0, -1).Val(); !cmp.Equal(got, []string{"180000", "180000"}) {
		t.Errorf("handling window %v, want two of 3 min", got)
	}
	_, err = q.Rate(ctx, "done", 6, "")
	wantErr(t, err, ErrBadRating)
	_, err = q.Rate(ctx, "bot", 5, "")
	wantErr(t, err, ErrNoSurvey)
	agent, err := q.Rate(ctx, "done", 4, "很耐心")
	if err != nil || agent != "a" {
		t.Fatalf("rate: %q %v", agent, err)
	}
	_, err = q.Rate(ctx, "done", 1, "changed my mind")
	wantErr(t, err, ErrAlreadyRated)
	h := rdb.HGetAll(ctx, q.convKey("done")).Val()
	if h["rating"] != "4" || h["rating_comment"] != "很耐心" || h["rating_agent"] != "a" {
		t.Errorf("conv rating fields %v", h)
	}
	ov, err := q.Overview(ctx)
	if err != nil || len(ov.Agents) != 1 || ov.Agents[0].Ratings != 1 || ov.Agents[0].RatingAvg != 4 {
		t.Errorf("overview agents %+v %v", ov.Agents, err)
	}
	// A second hand-off and close can be rated again; an old survey expires.
	mustEnqueue(t, q, Ticket{Conv: "done"})
	c2 := mustClaim(t, q, "a", "done")
	clk.Advance(time.Minute)
	if err := q.Release(ctx, c2, Closed); err != nil {
		t.Fatal(err)
	}
	clk.Advance(25 * time.Hour)
	_, err = q.Rate(ctx, "done", 5, "")
	wantErr(t, err, ErrNoSurvey)
	rep := MustAudit(t, q)
	if rep.Open != 0 {
		t.Errorf("open %d after releases, want 0", rep.Open)
	}
}

func TestCancel(t *testing.T) {
	ctx := context.Background()
	q, _, rdb := MustQueue(t, testConfig())
	mustEnqueue(t, q, Ticket{Conv: "c1"})
	mustEnqueue(t, q, Ticket{Conv: "c2"})
	mustEnqueue(t, q, Ticket{Conv: "c3"})
	if err := q.Cancel(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if m := rdb.HGet(ctx, q.convKey("c1"), "mode").Val(); m != "bot" {
		t.Errorf("mode %q, want bot", m)
	}
	if p, _ := q.Position(ctx, "c2"); p.Rank != 1 {
		t.Errorf("c2 rank %d after cancel, want 1", p.Rank)
	}
	wantErr(t, q.Cancel(ctx, "c1"), ErrNotWaiting)
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 1})
	mustClaim(t, q, "a", "c2")
	wantErr(t, q.Cancel(ctx, "c2"), ErrNotWaiting)
	// Cancelled, it can be handed off again, at the back of the line.
	p := mustEnqueue(t, q, Ticket{Conv: "c1"})
	if !p.New || p.Rank != 2 {
		t.Errorf("re-enqueue %+v, want new at rank 2", p)
	}
	MustAudit(t, q)
}

func TestBusinessHours(t *testing.T) {
	q, err := New(nil, Config{Hours: Hours{Timezone: "Asia/Shanghai",
		Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
		Open: "09:00", Close: "18:00", Holidays: []string{"2025-10-01"}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sh, _ := time.LoadLocation("Asia/Shanghai")
	tests := []struct {
		name string
		at   time.Time
		open bool
		next time.Time
	}{
		{"monday 10:00 Shanghai", time.Date(2025, 9, 29, 10, 0, 0, 0, sh), true, time.Date(2025, 9, 29, 10, 0, 0, 0, sh)},
		{"monday 02:00 UTC is 10:00 Shanghai", time.Date(2025, 9, 29, 2, 0, 0, 0, time.UTC), true, time.Date(2025, 9, 29, 10, 0, 0, 0, sh)},
		{"monday 10:00 UTC is 18:00 Shanghai", time.Date(2025, 9, 29, 10, 0, 0, 0, time.UTC), false, time.Date(2025, 9, 30, 9, 0, 0, 0, sh)},
		{"before opening", time.Date(2025, 9, 29, 8, 59, 0, 0, sh), false, time.Date(2025, 9, 29, 9, 0, 0, 0, sh)},
		{"holiday", time.Date(2025, 10, 1, 11, 0, 0, 0, sh), false, time.Date(2025, 10, 2, 9, 0, 0, 0, sh)},
		{"saturday", time.Date(2025, 10, 4, 11, 0, 0, 0, sh), false, time.Date(2025, 10, 6, 9, 0, 0, 0, sh)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := q.Open(tt.at); got != tt.open {
				t.Errorf("Open = %v, want %v", got, tt.open)
			}
			next, ok := q.NextOpen(tt.at)
			if !ok || !next.Equal(tt.next) {
				t.Errorf("NextOpen = %v %v, want %v", next, ok, tt.next)
			}
		})
	}
	night, err := New(nil, Config{Hours: Hours{Open: "20:00", Close: "02:00", Days: []time.Weekday{time.Friday}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	fri := time.Date(2025, 10, 3, 0, 0, 0, 0, time.UTC) // a Friday
	for _, c := range []struct {
		h    int
		open bool
	}{{1, false}, {19, false}, {21, true}, {24 + 1, true}, {24 + 3, false}} {
		if got := night.Open(fri.Add(time.Duration(c.h) * time.Hour)); got != c.open {
			t.Errorf("overnight window at Friday+%dh: %v, want %v", c.h, got, c.open)
		}
	}
	always, _ := New(nil, Config{}, nil, nil)
	if !always.Open(fri) {
		t.Error("no hours configured: want always open")
	}
}

func TestPositionETAAndNotice(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.DefaultHandle = 6 * time.Minute
	q, clk, _ := MustQueue(t, cfg)
	p := mustEnqueue(t, q, Ticket{Conv: "c0"})
	if p.Online != 0 || p.ETA != -1 || p.Rank != 1 {
		t.Errorf("nobody online: %+v, want Online 0, ETA -1", p)
	}
	if _, changed, _ := q.Notice(ctx, "c0"); changed {
		t.Error("notice right after enqueue: want no change")
	}
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 1})
	mustOnline(t, q, Agent{ID: "b", Groups: []string{"pre_sales"}, Max: 1})
	p, changed, err := q.Notice(ctx, "c0")
	if err != nil || !changed || p.Online != 2 || p.Free != 2 || p.ETA != 0 {
		t.Errorf("agents came: %+v changed %v %v; want changed, 2 free, ETA 0", p, changed, err)
	}
	if _, changed, _ := q.Notice(ctx, "c0"); changed {
		t.Error("second notice without change: want false")
	}
	for i := 1; i <= 5; i++ {
		mustEnqueue(t, q, Ticket{Conv: "c" + string(rune('0'+i))})
	}
	// History: a claim handled in 4 minutes, so the average is 4 min.
	ca := mustClaim(t, q, "a", "")
	for range 12 {
		clk.Advance(20 * time.Second)
		q.Heartbeat(ctx, "a", []Claim{ca})
	}
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 1}) // fresh presence
	mustOnline(t, q, Agent{ID: "b", Groups: []string{"pre_sales"}, Max: 1})
	if err := q.Release(ctx, ca, Closed); err != nil {
		t.Fatal(err)
	}
	mustClaim(t, q, "a", "")
	mustClaim(t, q, "b", "")
	// Queue now c3..c5, both agents busy: 2 slots, 0 free, H = 4 min.
	wantETA := map[string]time.Duration{"c3": 2 * time.Minute, "c4": 4 * time.Minute, "c5": 6 * time.Minute}
	for cid, want := range wantETA {
		p, err := q.Position(ctx, cid)
		if err != nil || p.ETA != want || p.Free != 0 {
			t.Errorf("%s: %+v %v, want ETA %v", cid, p, err, want)
		}
	}
	// Notices: only what changed meaningfully, and only once.
	ch, err := q.Notices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 3 {
		t.Errorf("notices %d, want 3 (every waiting customer's ETA moved)", len(ch))
	}
	if ch, _ := q.Notices(ctx); len(ch) != 0 {
		t.Errorf("second notices %+v, want none", ch)
	}
	// Agents' presence lapses: no agent online is a change.
	clk.Advance(time.Minute)
	p, changed, _ = q.Notice(ctx, "c3")
	if p.Online != 0 || p.ETA != -1 || !changed {
		t.Errorf("after presence lapsed %+v changed %v", p, changed)
	}
}

func TestOffersGoToNextAgentAfterTimeout(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.OfferTimeout = 30 * time.Second
	cfg.Presence = time.Hour
	q, clk, _ := MustQueue(t, cfg)
	mustOnline(t, q, Agent{ID: "busy", Groups: []string{"pre_sales"}, Max: 3})
	mustOnline(t, q, Agent{ID: "idle", Groups: []string{"pre_sales"}, Max: 3})
	mustOnline(t, q, Agent{ID: "away", Groups: []string{"pre_sales"}, Max: 3})
	if err := q.SetAway(ctx, "away", true); err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, q, Ticket{Conv: "held"})
	mustClaim(t, q, "busy", "held")
	mustEnqueue(t, q, Ticket{Conv: "c1"})
	offered, _, err := q.Offers(ctx)
	if err != nil || offered != 1 {
		t.Fatalf("offers %d %v, want 1", offered, err)
	}
	ws, _ := q.Waiting(ctx, "pre_sales")
	if len(ws) != 1 || ws[0].OfferedTo != "idle" {
		t.Fatalf("waiting %+v: want c1 offered to idle (least busy)", ws)
	}
	// Running again (another instance) offers nothing new.
	if offered, _, _ := q.Offers(ctx); offered != 0 {
		t.Errorf("second run offered %d", offered)
	}
	// busy may not take it with a next-claim while the offer stands.
	_, err = q.Claim(ctx, "busy", "")
	wantErr(t, err, ErrEmpty)
	clk.Advance(31 * time.Second)
	offered, expired, err := q.Offers(ctx)
	if err != nil || offered != 1 || expired != 1 {
		t.Fatalf("after timeout: offered %d expired %d %v", offered, expired, err)
	}
	ws, _ = q.Waiting(ctx, "pre_sales")
	if ws[0].OfferedTo != "busy" {
		t.Errorf("after idle's timeout offered to %q, want busy", ws[0].OfferedTo)
	}
	evs, _ := q.Events(ctx, q.AgentStream("idle"), "", 0, 0)
	if types := eventTypes(evs); !cmp.Equal(types, []string{"offer", "offer_expired"}) {
		t.Errorf("idle's events %v", types)
	}
	// busy declines: back to idle (the round starts again).
	if err := q.Decline(ctx, "busy", "c1"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, q.Decline(ctx, "busy", "c1"), ErrNoOffer)
	q.Offers(ctx)
	ws, _ = q.Waiting(ctx, "pre_sales")
	if ws[0].OfferedTo != "idle" {
		t.Errorf("after decline offered to %q, want idle again", ws[0].OfferedTo)
	}
	MustAudit(t, q)
	c := mustClaim(t, q, "idle", "c1")
	if c.Conv != "c1" {
		t.Errorf("accept: %+v", c)
	}
	rep := MustAudit(t, q)
	if rep.Offered != 0 || rep.Held != 2 {
		t.Errorf("audit %+v", rep)
	}
}

func TestOffersRespectCapacity(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.Presence = time.Hour
	q, _, _ := MustQueue(t, cfg)
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 2})
	mustOnline(t, q, Agent{ID: "b", Groups: []string{"pre_sales"}, Max: 1})
	for i := range 6 {
		mustEnqueue(t, q, Ticket{Conv: string(rune('a'+i)) + "x"})
	}
	offered, _, err := q.Offers(ctx)
	if err != nil || offered != 3 {
		t.Fatalf("offered %d %v, want 3 (a 2 + b 1)", offered, err)
	}
	rep := MustAudit(t, q)
	if rep.Offered != 3 {
		t.Errorf("audit offered %d", rep.Offered)
	}
}

func TestEventsResume(t *testing.T) {
	ctx := context.Background()
	q, _, _ := MustQueue(t, testConfig())
	mustEnqueue(t, q, Ticket{Conv: "c1"})
	mustEnqueue(t, q, Ticket{Conv: "c2"})
	first, err := q.Events(ctx, q.GroupStream("pre_sales"), "", 1, 0)
	if err != nil || len(first) != 1 || first[0].Conv != "c1" {
		t.Fatalf("first page %+v %v", first, err)
	}
	rest, err := q.Events(ctx, q.GroupStream("pre_sales"), first[0].ID, 0, 0)
	if err != nil || len(rest) != 1 || rest[0].Conv != "c2" {
		t.Fatalf("resume %+v %v", rest, err)
	}
	// Blocking read wakes up on a new event.
	done := make(chan []Event)
	go func() {
		evs, _ := q.Events(ctx, q.GroupStream("pre_sales"), rest[0].ID, 0, 5*time.Second)
		done <- evs
	}()
	time.Sleep(50 * time.Millisecond)
	if err := q.Cancel(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	evs := <-done
	if len(evs) != 1 || evs[0].Type != "canceled" {
		t.Errorf("blocking read %+v", evs)
	}
	stream, err := q.CustomerMessage(ctx, "c2", "1-1")
	if err != nil || stream != q.GroupStream("pre_sales") {
		t.Errorf("customer message while waiting went to %q %v", stream, err)
	}
}

func TestListsAndOverview(t *testing.T) {
	ctx := context.Background()
	q, clk, _ := MustQueue(t, testConfig())
	mustEnqueue(t, q, Ticket{Conv: "web:1", Channel: "web", User: "1", Reason: "requested"})
	clk.Advance(time.Minute)
	mustEnqueue(t, q, Ticket{Conv: "tg:2", Channel: "telegram", User: "2", Reason: "urgent", Urgent: true})
	clk.Advance(time.Minute)
	ws, err := q.Waiting(ctx, "pre_sales")
	if err != nil {
		t.Fatal(err)
	}
	want := []Waiting{
		{Conv: "tg:2", Group: "pre_sales", Rank: 1, Channel: "telegram", User: "2", Reason: "urgent", Urgent: true,
			Priority: priority.Urgent, PrioBy: "auto", Due: clk.Now(), Since: clk.Now().Add(-time.Minute), Waited: time.Minute},
		{Conv: "web:1", Group: "pre_sales", Rank: 2, Channel: "web", User: "1", Reason: "requested",
			Priority: priority.Normal, PrioBy: "auto", Due: clk.Now().Add(8 * time.Minute), Since: clk.Now().Add(-2 * time.Minute), Waited: 2 * time.Minute},
	}
	if diff := cmp.Diff(want, ws); diff != "" {
		t.Errorf("waiting (-want +got):\n%s", diff)
	}
	mustOnline(t, q, Agent{ID: "a", Name: "小王", Groups: []string{"pre_sales"}, Max: 3})
	c := mustClaim(t, q, "a", "")
	stream, err := q.CustomerMessage(ctx, "tg:2", "5-0")
	if err != nil || stream != q.AgentStream("a") {
		t.Errorf("customer message while held went to %q %v", stream, err)
	}
	ov, err := q.Overview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g := ov.Groups[0]
	if g.Group != "pre_sales" || g.Waiting != 1 || g.Urgent != 0 || g.Oldest != 2*time.Minute || g.Online != 1 || g.Slots != 3 || g.Busy != 1 {
		t.Errorf("group stats %+v", g)
	}
	if a := ov.Agents[0]; a.Name != "小王" || a.Held != 1 || !a.Present || a.Status != "online" {
		t.Errorf("agent stats %+v", a)
	}
	held, err := q.Held(ctx, "a")
	if err != nil || len(held) != 1 || held[0].Claim != c || !held[0].Urgent || held[0].LeaseUntil.IsZero() {
		t.Errorf("held %+v %v", held, err)
	}
}

// The audit must be able to fail: break an invariant by hand.
func TestAuditFindsProblems(t *testing.T) {
	ctx := context.Background()
	q, _, rdb := MustQueue(t, testConfig())
	mustEnqueue(t, q, Ticket{Conv: "c1"})
	mustOnline(t, q, Agent{ID: "a", Groups: []string{"pre_sales"}, Max: 1})
	mustEnqueue(t, q, Ticket{Conv: "c2"})
	MustAudit(t, q)
	rdb.ZAdd(ctx, q.waitKey("payments"), redisZ(1e13+1, "c1")) // in two queues
	rdb.SAdd(ctx, q.key("agent", "a", "convs"), "c2", "ghost") // over capacity, no lease
	rdb.HSet(ctx, q.convKey("c2"), "epoch", -1)                // epoch goes down? (first audit saw 0)
	rep, err := q.Audit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) < 4 {
		t.Errorf("problems %q: want at least 4", rep.Problems)
	}
	if rep.Err() == nil {
		t.Error("Err() nil with problems")
	}
}

func eventTypes(evs []Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// A next-claim passes over conversations offered to someone else, also
// beyond the first page the script reads.
func TestClaimSkipsOthersOffersAcrossPages(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.Presence = time.Hour
	q, _, _ := MustQueue(t, cfg)
	mustOnline(t, q, Agent{ID: "x", Groups: []string{"pre_sales"}, Max: 11})
	for i := range 11 {
		mustEnqueue(t, q, Ticket{Conv: fmt.Sprintf("o%02d", i)})
	}
	if n, _, err := q.Offers(ctx); err != nil || n != 11 {
		t.Fatalf("offered %d %v, want 11 to x", n, err)
	}
	mustEnqueue(t, q, Ticket{Conv: "free"})
	mustOnline(t, q, Agent{ID: "y", Groups: []string{"pre_sales"}, Max: 1})
	if c := mustClaim(t, q, "y", ""); c.Conv != "free" {
		t.Errorf("y claimed %s, want free (the others are offered to x)", c.Conv)
	}
	if c := mustClaim(t, q, "x", ""); c.Conv != "o00" {
		t.Errorf("x claimed %s, want its first offer o00", c.Conv)
	}
	MustAudit(t, q)
}

// TestAgentStatus: an agent who set themself busy keeps their
// conversations and gets no offer (auto-assignment skips them, as it skips
// away); back online they get the next one. A reload of the console
// (AgentOnline again) keeps busy; an unknown status is refused.
func TestAgentStatus(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	cfg.OfferTimeout = 30 * time.Second
	cfg.Presence = time.Hour
	q, _, _ := MustQueue(t, cfg)
	a := Agent{ID: "a1", Groups: []string{"pre_sales"}, Max: 3}
	mustOnline(t, q, a)
	mustEnqueue(t, q, Ticket{Conv: "held"})
	mustClaim(t, q, "a1", "held")
	if err := q.SetStatus(ctx, "a1", StatusBusy); err != nil {
		t.Fatal(err)
	}
	mustOnline(t, q, a) // the console reloaded
	if st, err := q.AgentStatus(ctx, "a1"); err != nil || st != StatusBusy {
		t.Fatalf("status after a reload: %q %v, want busy", st, err)
	}
	mustEnqueue(t, q, Ticket{Conv: "c1"})
	if offered, _, err := q.Offers(ctx); err != nil || offered != 0 {
		t.Fatalf("offers to a busy agent: %d %v", offered, err)
	}
	held, err := q.Held(ctx, "a1")
	if err != nil || len(held) != 1 || held[0].Conv != "held" {
		t.Fatalf("busy agent's conversations %+v %v", held, err)
	}
	ov, _ := q.Overview(ctx)
	if len(ov.Agents) != 1 || ov.Agents[0].Status != StatusBusy {
		t.Fatalf("overview %+v, want the agent shown busy", ov.Agents)
	}
	wantErr(t, q.SetStatus(ctx, "a1", "napping"), ErrBadStatus)
	if err := q.SetStatus(ctx, "a1", StatusOnline); err != nil {
		t.Fatal(err)
	}
	if offered, _, err := q.Offers(ctx); err != nil || offered != 1 {
		t.Fatalf("offers back online: %d %v", offered, err)
	}
	if ws, _ := q.Waiting(ctx, "pre_sales"); len(ws) != 1 || ws[0].OfferedTo != "a1" {
		t.Fatalf("waiting %+v", ws)
	}
	if _, err := q.AgentOffline(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	mustOnline(t, q, a) // signed in again after signing out: online
	if st, _ := q.AgentStatus(ctx, "a1"); st != StatusOnline {
		t.Fatalf("after sign-out and sign-in: %q", st)
	}
}
