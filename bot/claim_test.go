package bot

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// hookFinish fails runs of the script that records a reply, when told to,
// and counts round trips.
func hookFinish(e *Engine) *testkit.FailHook {
	h := &testkit.FailHook{Match: func(cmd redis.Cmder) bool {
		args := cmd.Args()
		return len(args) > 1 && (cmd.Name() == "evalsha" && args[1] == finishScript.Hash() || cmd.Name() == "eval" && args[1] == conv.Compile(finishLua))
	}}
	e.Store.rdb.AddHook(h)
	return h
}

// mustTranscript checks the user's WeChat transcript, each entry as
// dir:kind:msg_id.
func mustTranscript(t *testing.T, e *Engine, user string, want ...string) {
	t.Helper()
	tx, err := e.Store.Transcript(context.Background(), ConvID("wechat", user), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range tx {
		got = append(got, x.Dir+":"+x.Kind+":"+x.MsgID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}

// TestReplyWriteFailsOnce: the message is stored but the reply's write
// fails. The channel answers non-2xx and the platform retries: the retry is
// handled (before, it was a duplicate and the customer never got an answer),
// once: one inbound entry, one answer; a further retry is a duplicate.
func TestReplyWriteFailsOnce(t *testing.T) {
	e, _ := mustEngine(t)
	hook := hookFinish(e)
	ctx := context.Background()
	m := Message{Channel: "wechat", User: "f1", ID: "m1", Text: "订单号2023112312345678 快递到哪了"}
	hook.FailNext(1)
	outs, err := e.Handle(ctx, m)
	if !errors.Is(err, testkit.ErrInjected) || errors.Is(err, ErrDuplicate) || len(outs) != 0 {
		t.Fatalf("failed write: %+v %v, want the Redis error and no replies", outs, err)
	}
	// The retry comes at once: the failed delivery released its claim.
	outs, err = e.Handle(ctx, m)
	if err != nil || len(outs) != 1 || outs[0].Intent != "logistics_track" {
		t.Fatalf("retry: %+v %v, want the answer", outs, err)
	}
	outs, err = e.Handle(ctx, m)
	if !errors.Is(err, ErrDuplicate) || errors.Is(err, ErrInFlight) || len(outs) != 0 {
		t.Fatalf("retry after the answer: %+v %v, want ErrDuplicate (done)", outs, err)
	}
	mustTranscript(t, e, "f1", "in::m1", "out:answer:") // answered once
	c, _ := e.Store.Load(ctx, ConvID("wechat", "f1"))
	if len(c.Entities) != 1 || c.LastIntent != "logistics_track" {
		t.Errorf("conversation after the retry: %+v", c)
	}
}

// TestRetryWhileInFlight: a delivery that claimed the message and has not
// finished (slow, or its instance died) holds it for its lease: a retry
// meanwhile is ErrInFlight (also ErrDuplicate) and writes nothing; after the
// lease a retry takes it over and answers, without a second inbound entry;
// the first delivery, should it finish late, is fenced out.
func TestRetryWhileInFlight(t *testing.T) {
	clk := testkit.NewClock(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	lease := 10 * time.Second
	e, _ := mustEngine(t, WithClock(clk.Now), WithLease(lease))
	ctx := context.Background()
	m := Message{Channel: "wechat", User: "f2", ID: "m1", Text: "快递到哪了"}
	first, err := e.Store.Claim(ctx, m) // the first delivery, still working
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{0, lease - time.Millisecond} {
		clk.Advance(d)
		outs, err := e.Handle(ctx, m)
		if !errors.Is(err, ErrInFlight) || !errors.Is(err, ErrDuplicate) || len(outs) != 0 {
			t.Fatalf("retry %v into the lease: %+v %v, want ErrInFlight", d, outs, err)
		}
	}
	// In flight: no answer yet.
	mustTranscript(t, e, "f2", "in::m1")
	clk.Advance(time.Millisecond) // the lease has run out
	outs, err := e.Handle(ctx, m)
	if err != nil || len(outs) != 1 || outs[0].Intent != "logistics_track" {
		t.Fatalf("takeover: %+v %v, want the answer", outs, err)
	}
	// The first delivery finishes late: refused, nothing written.
	late := Outbound{Channel: m.Channel, User: m.User, Conv: first.ID, Kind: OutFallback, Text: "late"}
	if err := e.Store.Record(ctx, first, late); !errors.Is(err, ErrInFlight) {
		t.Errorf("late record of a taken-over delivery: %v, want ErrInFlight", err)
	}
	clk.Advance(time.Hour)
	if _, err := e.Handle(ctx, m); !errors.Is(err, ErrDuplicate) || errors.Is(err, ErrInFlight) {
		t.Errorf("retry after the answer: %v, want ErrDuplicate (done)", err)
	}
	mustTranscript(t, e, "f2", "in::m1", "out:answer:") // answered once
}

// TestSameMomentDeliveries: deliveries of one message at the same moment on
// two gateway instances: exactly one answers.
func TestSameMomentDeliveries(t *testing.T) {
	e, _ := mustEngine(t)
	other := *e // another instance: its own Store over the same keys
	other.Store = NewStore(e.Store.rdb, e.Store.prefix)
	ctx := context.Background()
	m := Message{Channel: "wechat", User: "f3", ID: "m1", Text: "快递到哪了"}
	const n = 8
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		answers = make([][]Outbound, n)
		errs    = make([]error, n)
	)
	for i := range n {
		eng := e
		if i%2 == 1 {
			eng = &other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i], errs[i] = eng.Handle(ctx, m)
		}()
	}
	close(start)
	wg.Wait()
	answered := 0
	for i := range n {
		switch {
		case errs[i] == nil && len(answers[i]) == 1:
			answered++
		case errors.Is(errs[i], ErrDuplicate) && len(answers[i]) == 0:
		default:
			t.Errorf("delivery %d: %+v %v", i, answers[i], errs[i])
		}
	}
	if answered != 1 {
		t.Errorf("%d deliveries answered, want 1", answered)
	}
	mustTranscript(t, e, "f3", "in::m1", "out:answer:") // answered once
}

// TestHandoffQueueFailsOnce: the hand-off notice is recorded but the queue
// cannot be reached. The retry puts the conversation in the queue and gives
// the notice and the queue's position, each recorded once.
func TestHandoffQueueFailsOnce(t *testing.T) {
	e, h := mustEngine(t)
	h.fail, h.notice = 1, "您前面还有 2 位"
	ctx := context.Background()
	m := Message{Channel: "wechat", User: "f4", ID: "m1", Kind: KindHuman}
	if outs, err := e.Handle(ctx, m); err == nil || errors.Is(err, ErrDuplicate) || len(outs) != 0 {
		t.Fatalf("queue down: %+v %v, want an error and no replies", outs, err)
	}
	outs, err := e.Handle(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range outs {
		got = append(got, o.Kind+":"+o.Text)
	}
	want := []string{"handoff:" + DefaultTexts()["zh"].HandoffNotice, "notice:您前面还有 2 位"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("retry's replies (-want +got):\n%s", diff)
	}
	if _, err := e.Handle(ctx, m); !errors.Is(err, ErrDuplicate) {
		t.Errorf("retry after the hand-off: %v, want ErrDuplicate", err)
	}
	if len(h.convs) != 2 || h.convs[1].Mode != ModeWaiting || h.convs[1].Reason == "" {
		t.Errorf("enqueued %+v, want twice (the queue's enqueue is idempotent), waiting with a reason", h.convs)
	}
	mustTranscript(t, e, "f4", "in:human:m1", "out:handoff:", "out:notice:")
}

// TestLegacyMarker: a dedupe marker written before claims existed (a plain
// string) still makes a retry a duplicate (a rolling upgrade).
func TestLegacyMarker(t *testing.T) {
	e, _ := mustEngine(t)
	ctx := context.Background()
	e.Store.rdb.Set(ctx, e.Store.seenKey("wechat", "old"), "1700000000000-0", time.Hour)
	if _, err := e.Handle(ctx, Message{Channel: "wechat", User: "f5", ID: "old", Text: "hi"}); !errors.Is(err, ErrDuplicate) || errors.Is(err, ErrInFlight) {
		t.Errorf("legacy marker: %v, want ErrDuplicate", err)
	}
}

// TestRoundTrips: a message the bot answers costs two Redis round trips
// (claim, then reply + done), as before the claim; a message for an agent
// costs two as well when there is no Notifier (one before: no write after
// the claim).
func TestRoundTrips(t *testing.T) {
	e, _ := mustEngine(t)
	hook := hookFinish(e)
	ctx := context.Background()
	// Load the scripts (the first run of each sends EVALSHA then EVAL).
	if _, err := e.Handle(ctx, Message{Channel: "web", User: "rt", ID: "warm", Text: "快递到哪了"}); err != nil {
		t.Fatal(err)
	}
	trips := func(m Message) int {
		t.Helper()
		before := hook.RoundTrips()
		if _, err := e.Handle(ctx, m); err != nil {
			t.Fatal(err)
		}
		return hook.RoundTrips() - before
	}
	if n := trips(Message{Channel: "web", User: "rt", ID: "1", Text: "订单号2023112312345678 快递到哪了"}); n != 2 {
		t.Errorf("answered message: %d round trips, want 2", n)
	}
	e.Handoff = nil
	trips(Message{Channel: "web", User: "rt", ID: "2", Kind: KindHuman})
	if n := trips(Message{Channel: "web", User: "rt", ID: "3", Text: "还在吗"}); n != 2 {
		t.Errorf("message while waiting: %d round trips, want 2", n)
	}
}
