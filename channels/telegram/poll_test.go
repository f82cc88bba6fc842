package telegram

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/bot"
)

// crashingHandler passes messages to the engine and, once, fails after
// the engine stored the message: a process that died between storing an
// update and moving the offset.
type crashingHandler struct {
	inner   Handler
	crashID string

	mu      sync.Mutex
	crashed bool
	calls   map[string]int
}

func (c *crashingHandler) Handle(ctx context.Context, m bot.Message) ([]bot.Outbound, error) {
	outs, err := c.inner.Handle(ctx, m)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[m.ID]++
	if m.ID == c.crashID && !c.crashed {
		c.crashed = true
		return nil, errors.New("process died after storing")
	}
	return outs, err
}

func TestPollingRestartNoLossNoRepeat(t *testing.T) {
	h := newHarness(t, ModePolling, func(c *Config) { c.BotUsername = "kefu_test_bot" })
	ctx := context.Background()
	const base = 779000
	var ids []int64
	upd := func(n int) []byte {
		id := newUpdateID()
		ids = append(ids, id)
		return messageUpdate(id, user(base+int64(n), ""), privateChat(base+int64(n)), 1, "快递到哪了", nil)
	}
	answered := func(n int) int { return len(h.sentTo(base + int64(n))) }

	// The first instance handles three updates, then stops.
	h.f.push(upd(1), upd(2), upd(3))
	h.start()
	eventually(t, "three answers", func() bool { return answered(1)+answered(2)+answered(3) == 3 })
	h.a.Close()
	off, err := h.rdb.HGet(ctx, h.prefix+"tg:offset", "id").Result()
	if err != nil || off != strconv.FormatInt(ids[2], 10) {
		t.Fatalf("offset after the first run %q %v, want %d", off, err, ids[2])
	}

	// Two more arrive while kefu is down; the second instance dies once
	// right after storing the first of them.
	h.f.push(upd(4), upd(5))
	polls := len(h.f.callsOf("getUpdates"))
	ch := &crashingHandler{inner: h.e, crashID: strconv.FormatInt(ids[3], 10), calls: map[string]int{}}
	a2 := h.newAdapter(h.a.cfg, ch)
	if err := a2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "update 5 answered", func() bool { return answered(5) == 1 })
	a2.waitIdle()
	a2.Close()

	// The second instance asked for what came after the stored offset.
	if got := h.f.callsOf("getUpdates")[polls].Params["offset"]; got != strconv.FormatInt(ids[2]+1, 10) {
		t.Errorf("first offset after restart %s, want %d", got, ids[2]+1)
	}
	// No loss: every update is in its transcript exactly once. No repeat:
	// nothing answered twice; the update that was stored when the process
	// died came again, was recognised, and not answered a second time (its
	// reply is the one thing such a crash loses).
	for n := 1; n <= 5; n++ {
		in := 0
		for _, e := range h.transcript(fmt.Sprint(base + n)) {
			if e.Dir == "in" {
				in++
			}
		}
		if in != 1 {
			t.Errorf("update %d stored %d times", n, in)
		}
	}
	got := []int{answered(1), answered(2), answered(3), answered(4), answered(5)}
	if diff := cmp.Diff([]int{1, 1, 1, 0, 1}, got); diff != "" {
		t.Errorf("answers per update (-want +got):\n%s", diff)
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for _, id := range ids[:3] {
		if n := ch.calls[strconv.FormatInt(id, 10)]; n != 0 {
			t.Errorf("update %d redelivered to the second instance %d times", id, n)
		}
	}
	if n := ch.calls[strconv.FormatInt(ids[3], 10)]; n != 2 {
		t.Errorf("crashed update handled %d times, want 2 (stored, then recognised)", n)
	}
}

// Only the instance holding the lease polls.
func TestPollingLease(t *testing.T) {
	h := newHarness(t, ModePolling, func(c *Config) { c.BotUsername = "kefu_test_bot" })
	h.start()
	eventually(t, "the first instance polls", func() bool { return len(h.f.callsOf("getUpdates")) > 0 })

	other := newFakeAPI(t, testToken)
	cfg := h.a.cfg
	cfg.APIURL = other.srv.URL
	a2 := h.newAdapter(cfg, h.e)
	waiting := make(chan time.Duration, 1)
	a2.sleep = func(ctx context.Context, d time.Duration) error {
		select {
		case waiting <- d:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	}
	if err := a2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := <-waiting; d != 5*time.Second {
		t.Errorf("second instance waited %v, want the 5s lease pause", d)
	}
	a2.Close()
	if n := len(other.callsOf("getUpdates")); n != 0 {
		t.Errorf("second instance polled %d times while the first held the lease", n)
	}
}

func TestPollingStaleOffsetIgnored(t *testing.T) {
	h := newHarness(t, ModePolling)
	ctx := context.Background()
	h.rdb.HSet(ctx, h.prefix+"tg:offset", "id", 42, "at", time.Now().Add(-8*24*time.Hour).UnixMilli())
	if off, err := h.a.loadOffset(ctx); err != nil || off != 0 {
		t.Errorf("week-old offset: %d %v, want 0 (Telegram renumbers after a week)", off, err)
	}
	h.rdb.HSet(ctx, h.prefix+"tg:offset", "id", 42, "at", time.Now().UnixMilli())
	if off, err := h.a.loadOffset(ctx); err != nil || off != 42 {
		t.Errorf("fresh offset: %d %v, want 42", off, err)
	}
}
