package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/kefu-dev/kefu/internal/testkit"
)

// recordingDeliver is the server's deliver, recorded.
type recordingDeliver struct {
	mu   sync.Mutex
	outs []Outbound
}

func (d *recordingDeliver) deliver(_ context.Context, out Outbound) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.outs = append(d.outs, out)
	return nil
}

func (d *recordingDeliver) got() []Outbound {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Outbound(nil), d.outs...)
}

// instance is another gateway instance on the same Redis keys and clock.
func instance(e *Engine, clk *testkit.Clock, lease time.Duration) *Engine {
	other := *e
	other.Store = NewStore(e.Store.rdb, e.Store.prefix, WithClock(clk.Now), WithLease(lease))
	return &other
}

// TestRecoverOrphan: an instance claims a message and dies before
// answering; nobody retries. Within the lease the surviving instances'
// recoverers leave it alone; after it, exactly one of two recoverers running
// at once takes it over, answers it once and delivers the answer once.
// Before the recoverer, the message stayed unanswered for good.
func TestRecoverOrphan(t *testing.T) {
	clk := testkit.NewClock(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	lease := 10 * time.Second
	dead, _ := mustEngine(t, WithClock(clk.Now), WithLease(lease))
	ctx := context.Background()
	m := Message{Channel: "wechat", User: "o1", ID: "m1", Text: "快递到哪了", Lang: "zh"}
	first, err := dead.Store.Claim(ctx, m) // the instance dies here
	if err != nil {
		t.Fatal(err)
	}
	var d recordingDeliver
	recs := []*Recoverer{
		NewRecoverer(instance(dead, clk, lease), RecovererConfig{Deliver: d.deliver}),
		NewRecoverer(instance(dead, clk, lease), RecovererConfig{Deliver: d.deliver}),
	}
	clk.Advance(lease - time.Millisecond)
	if n, err := recs[0].Tick(ctx); n != 0 || err != nil {
		t.Fatalf("tick within the lease: %d %v, want nothing taken over", n, err)
	}
	mustTranscript(t, dead, "o1", "in::m1")

	clk.Advance(time.Millisecond) // the lease has run out
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		done  = make([]int, len(recs))
		errs  = make([]error, len(recs))
	)
	for i, r := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			done[i], errs[i] = r.Tick(ctx)
		}()
	}
	close(start)
	wg.Wait()
	if done[0]+done[1] != 1 || errs[0] != nil || errs[1] != nil {
		t.Fatalf("recoverers finished %v (%v), want 1 in all", done, errs)
	}
	got := d.got()
	if len(got) != 1 || got[0].Kind != OutAnswer || got[0].Intent != "logistics_track" || got[0].User != "o1" || got[0].Channel != "wechat" {
		t.Fatalf("delivered %+v, want the answer once", got)
	}
	mustTranscript(t, dead, "o1", "in::m1", "out:answer:") // answered once
	// Nothing left in flight: later ticks do nothing.
	clk.Advance(time.Hour)
	for _, r := range recs {
		if n, err := r.Tick(ctx); n != 0 || err != nil {
			t.Errorf("tick after the recovery: %d %v", n, err)
		}
	}
	if n := dead.Store.rdb.ZCard(ctx, dead.Store.inflightKey()).Val(); n != 0 {
		t.Errorf("%d messages in flight, want 0", n)
	}
	// The dead instance's late write is fenced out; a retry is a duplicate
	// and is given the recorded answer.
	if err := dead.Store.Record(ctx, first, Outbound{Conv: first.ID, Kind: OutFallback, Text: "late"}); !errors.Is(err, ErrInFlight) {
		t.Errorf("late record: %v, want ErrInFlight", err)
	}
	if _, err := dead.Handle(ctx, m); !errors.Is(err, ErrDuplicate) || errors.Is(err, ErrInFlight) {
		t.Errorf("retry after the recovery: %v, want ErrDuplicate (done)", err)
	}
	rs, err := dead.Store.Replies(ctx, m.Channel, m.User, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, rs); diff != "" {
		t.Errorf("replies recorded for the message (-delivered +replies):\n%s", diff)
	}
	mustTranscript(t, dead, "o1", "in::m1", "out:answer:")
}

// TestRecoverManyOrphans: many orphans, two recoverers at once: each
// message is answered and delivered exactly once.
func TestRecoverManyOrphans(t *testing.T) {
	clk := testkit.NewClock(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	lease := 10 * time.Second
	dead, _ := mustEngine(t, WithClock(clk.Now), WithLease(lease))
	ctx := context.Background()
	const n = 30
	for i := range n {
		m := Message{Channel: "wechat", User: fmt.Sprintf("u%d", i), ID: fmt.Sprintf("m%d", i), Text: "快递到哪了"}
		if _, err := dead.Store.Claim(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(lease)
	var d recordingDeliver
	var wg sync.WaitGroup
	total := make([]int, 2)
	for i := range total {
		r := NewRecoverer(instance(dead, clk, lease), RecovererConfig{Deliver: d.deliver, Batch: 7})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 { // batches of 7: enough rounds for all
				k, err := r.Tick(ctx)
				if err != nil {
					t.Error(err)
				}
				total[i] += k
			}
		}()
	}
	wg.Wait()
	if total[0]+total[1] != n {
		t.Errorf("finished %v, want %d in all", total, n)
	}
	per := map[string]int{}
	for _, o := range d.got() {
		per[o.User]++
	}
	for i := range n {
		u := fmt.Sprintf("u%d", i)
		if per[u] != 1 {
			t.Errorf("%s: %d replies delivered, want 1", u, per[u])
		}
		mustTranscript(t, dead, u, fmt.Sprintf("in::m%d", i), "out:answer:")
	}
}

// TestRecoverGivesUp: a message no delivery can finish (the hand-off queue
// stays unreachable) is retried by the recoverer after each lease, and
// after MaxTries deliveries finished with the Busy notice: the customer is
// told instead of waiting for good.
func TestRecoverGivesUp(t *testing.T) {
	clk := testkit.NewClock(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	lease := 10 * time.Second
	e, h := mustEngine(t, WithClock(clk.Now), WithLease(lease))
	h.fail = 100
	ctx := context.Background()
	m := Message{Channel: "wechat", User: "o3", ID: "m1", Kind: KindHuman}
	if _, err := e.Handle(ctx, m); err == nil || errors.Is(err, ErrDuplicate) {
		t.Fatalf("queue down: %v, want an error", err)
	}
	var d recordingDeliver
	r := NewRecoverer(e, RecovererConfig{Deliver: d.deliver, MaxTries: 2})
	clk.Advance(lease)
	if n, _ := r.Tick(ctx); n != 0 || len(d.got()) != 0 {
		t.Fatalf("second delivery: %d finished, %+v delivered, want none (the queue is down)", n, d.got())
	}
	clk.Advance(lease)
	if n, err := r.Tick(ctx); n != 1 || err != nil {
		t.Fatalf("third delivery: %d %v, want it finished", n, err)
	}
	got := d.got()
	if len(got) != 1 || got[0].Kind != OutNotice || got[0].Text != DefaultTexts()["zh"].Busy {
		t.Errorf("delivered %+v, want the Busy notice", got)
	}
	mustTranscript(t, e, "o3", "in:human:m1", "out:handoff:", "out:notice:")
	if _, err := e.Handle(ctx, m); !errors.Is(err, ErrDuplicate) || errors.Is(err, ErrInFlight) {
		t.Errorf("retry after giving up: %v, want ErrDuplicate (done)", err)
	}
}

// TestRecovererStartClose: the loop starts and stops with its goroutine.
func TestRecovererStartClose(t *testing.T) {
	e, _ := mustEngine(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	r := NewRecoverer(e, RecovererConfig{Deliver: (&recordingDeliver{}).deliver, Every: time.Hour})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err == nil {
		t.Error("second Start: want an error")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

// failOneHGet lets a pipeline run, then marks its first HGET failed, as a
// read that did not come back would be.
type failOneHGet struct{}

func (failOneHGet) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (failOneHGet) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (failOneHGet) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			if c.Name() == "hget" && c.Err() == nil {
				c.SetErr(testkit.ErrInjected)
				break
			}
		}
		return err
	}
}

// TestOrphansKeepUnreadMessages: a pending message whose marker could not be
// read this tick stays in the in-flight set (before, any failed read took
// it out, and no recoverer would ever answer it); a message whose marker is
// gone leaves it. The client's address is not kept on the marker.
func TestOrphansKeepUnreadMessages(t *testing.T) {
	clk := testkit.NewClock(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	lease := 10 * time.Second
	e, _ := mustEngine(t, WithClock(clk.Now), WithLease(lease))
	ctx := context.Background()
	for _, id := range []string{"m1", "m2"} {
		if _, err := e.Store.Claim(ctx, Message{Channel: "web", User: "u1", ID: id, Text: "你好", Addr: "203.0.113.9"}); err != nil {
			t.Fatal(err)
		}
	}
	if raw, _ := e.Store.rdb.HGet(ctx, e.Store.markerKey(inflightMember("web", "m1")), "msg").Result(); raw == "" || strings.Contains(raw, "203.0.113.9") {
		t.Errorf("the marker keeps %q: the address must not be stored", raw)
	}
	e.Store.rdb.Del(ctx, e.Store.markerKey(inflightMember("web", "m2"))) // m2's marker expired
	clk.Advance(lease)
	hooked := redis.NewClient(e.Store.rdb.(*redis.Client).Options())
	t.Cleanup(func() { hooked.Close() })
	hooked.AddHook(failOneHGet{})
	s := NewStore(hooked, e.Store.prefix, WithClock(clk.Now), WithLease(lease))
	if _, err := s.orphans(ctx, 10); err != nil {
		t.Fatal(err)
	}
	left, err := e.Store.rdb.ZRange(ctx, e.Store.inflightKey(), 0, -1).Result()
	if err != nil || len(left) != 1 || left[0] != inflightMember("web", "m1") {
		t.Fatalf("in flight after a tick whose read of m1 failed: %v %v, want m1 only", left, err)
	}
}
