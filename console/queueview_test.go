package console

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// TestQueueViewBoundedByHead: the queue view lists the head of the queue
// (Config.QueueView) with the queue's length, and each listed
// conversation's preview is the customer's last message, read from the
// conversation hash. Its Redis work, counted command by command through
// MONITOR (scripts' commands included), is one hash read per listed
// conversation over a fixed part: the same per listed conversation with 10
// or 200 waiting, and never a transcript read. Without a new event in the
// group the head is shared: another agent's view reads no conversation.
func TestQueueViewBoundedByHead(t *testing.T) {
	const head = 20
	e := MustEnv(t, func(c *Config) { c.QueueView = head })
	a := e.signedIn(t, "alice") // sees pre_sales only
	mon := testkit.NewMonitor(t, e.rdb, e.prefix)
	view := func() (queueBody, []string) {
		t.Helper()
		var q queueBody
		cmds := mon.Count(func() { a.must("GET", "queue", nil, &q) })
		for _, c := range cmds {
			if strings.Contains(c, e.prefix+"tx:") {
				t.Fatalf("the queue view read a transcript: %s", c)
			}
		}
		if len(q.Groups) != 1 || q.Groups[0].Group != "pre_sales" {
			t.Fatalf("groups %+v", q.Groups)
		}
		return q, cmds
	}
	_, base := view()
	add := func(from, to int) {
		for i := from; i < to; i++ {
			u := fmt.Sprintf("u%03d", i)
			e.customer(t, u, "你好", "pre_sales", false)
			e.says(t, u, "还要等多久 "+u)
		}
	}

	add(0, 10)
	e.clk.Advance(time.Minute)
	q, ten := view()
	g := q.Groups[0]
	if g.Total != 10 || len(g.Waiting) != 10 {
		t.Fatalf("10 waiting: total %d, listed %d", g.Total, len(g.Waiting))
	}
	for i, w := range g.Waiting {
		if want := fmt.Sprintf("还要等多久 u%03d", i); w.Conv != fmt.Sprintf("web:u%03d", i) || w.Rank != i+1 ||
			w.Preview != want || w.LastAt == nil {
			t.Fatalf("listed %d: %+v, want preview %q", i, w, want)
		}
	}

	add(10, 200)
	q, many := view()
	if g := q.Groups[0]; g.Total != 200 || len(g.Waiting) != head || g.Waiting[head-1].Rank != head {
		t.Fatalf("200 waiting: total %d, listed %d", g.Total, len(g.Waiting))
	}
	per10, per200 := len(ten)-len(base), len(many)-len(base)
	if per10 != 10 || per200 != head {
		t.Fatalf("Redis commands beyond an empty queue's %d: %d for 10 listed, %d for %d listed (of 200); want one per listed conversation\n10: %q\n200: %q",
			len(base), per10, per200, head, ten, many)
	}

	// Nothing happened since: bob's view shares alice's read.
	b := e.signedIn(t, "bob")
	var bq queueBody
	shared := mon.Count(func() { b.must("GET", "queue", nil, &bq) })
	for _, c := range shared {
		if name, key := cmdKey(c); strings.HasPrefix(name, "h") && strings.HasPrefix(key, e.prefix+"conv:") {
			t.Fatalf("no new event, yet the view read a conversation: %s", c)
		}
	}
	if len(bq.Groups) != 2 || bq.Groups[0].Total != 200 || len(bq.Groups[0].Waiting) != head {
		t.Fatalf("bob's view %+v", bq.Groups)
	}
	// A waiting customer writes (an event): the next view has it.
	e.says(t, "u003", "人呢")
	q, _ = view()
	if w := q.Groups[0].Waiting[3]; w.Conv != "web:u003" || w.Preview != "人呢" {
		t.Fatalf("after a new message: %+v", w)
	}
}

// TestCursorWriter: the live stream's cursor, written for every event, is
// the one encodeCursor writes (and parseCursor reads back).
func TestCursorWriter(t *testing.T) {
	cur := map[string]string{"a": "1700000000000-0", "c": "0-0", "g:pre_sales": "1700000000001-12", "g:after-sales": "5-1"}
	keys := []string{"a", "c", "g:after-sales", "g:pre_sales"}
	got := string(newCursorWriter(keys).appendTo(nil, cur))
	if want := encodeCursor(cur); got != want {
		t.Fatalf("cursor %q, want %q", got, want)
	}
	if back := parseCursor(got); len(back) != 4 || back["g:pre_sales"] != "1700000000001-12" {
		t.Fatalf("read back %v", back)
	}
}

// TestGroupStreamShared: agents of one group following their live streams
// at once (their reads of the group's stream are shared) each get every
// event of the group, in order.
func TestGroupStreamShared(t *testing.T) {
	e := MustEnv(t, nil)
	var chans []<-chan sseEvent
	for _, id := range []string{"alice", "bob", "sup"} {
		ch, _ := e.signedIn(t, id).stream("")
		next(t, ch, isType("ready"))
		chans = append(chans, ch)
	}
	for i := range 5 {
		e.customer(t, fmt.Sprintf("s%d", i), "你好", "pre_sales", false)
	}
	for _, ch := range chans {
		for i := range 5 {
			ev := next(t, ch, isType("enqueued"))
			if want := fmt.Sprintf("web:s%d", i); ev.data.Conv != want || ev.data.Stream != "group" {
				t.Fatalf("event %d: %+v, want %s enqueued on the group stream", i, ev.data, want)
			}
		}
	}
}

// cmdKey splits a MONITOR line's command into its name (lower case) and
// first argument.
func cmdKey(c string) (name, key string) {
	f := strings.SplitN(c, `" "`, 3)
	name = strings.ToLower(strings.Trim(f[0], `"`))
	if len(f) > 1 {
		key = strings.Trim(f[1], `"`)
	}
	return name, key
}

// blockFirstXRange holds the first XRANGE until release is closed, then
// fails it as a read cut off by its page going away would.
type blockFirstXRange struct {
	entered, release chan struct{}
	once             sync.Once
}

func (h *blockFirstXRange) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *blockFirstXRange) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *blockFirstXRange) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		first := false
		if strings.EqualFold(cmd.Name(), "xrange") {
			h.once.Do(func() { first = true })
		}
		if first {
			close(h.entered)
			<-h.release
			return context.Canceled
		}
		return next(ctx, cmd)
	}
}

// TestGroupReadFailureNotShared: when the stream that makes a shared read
// fails (its page went away mid-read), the streams waiting on that read
// read for themselves instead of ending with its error.
func TestGroupReadFailureNotShared(t *testing.T) {
	rdb := testkit.Redis(t, 0)
	prefix := testkit.PrefixOn(t, rdb)
	stream := prefix + "shared-test"
	if err := rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: map[string]any{"type": "enqueued", "conv": "c1"}}).Err(); err != nil {
		t.Fatal(err)
	}
	hook := &blockFirstXRange{entered: make(chan struct{}), release: make(chan struct{})}
	hooked := redis.NewClient(rdb.Options())
	t.Cleanup(func() { hooked.Close() })
	hooked.AddHook(hook)
	q, err := handoff.New(hooked, handoff.Config{Prefix: prefix, Groups: []string{"pre_sales"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var g groupReads
	firstErr := make(chan error, 1)
	go func() {
		_, err := g.read(context.Background(), q, stream, "0", time.Minute)
		firstErr <- err
	}()
	<-hook.entered // the first read holds the shared entry
	second := make(chan error, 1)
	var got []sharedEvent
	go func() {
		var err error
		got, err = g.read(context.Background(), q, stream, "0", time.Minute)
		second <- err
	}()
	time.Sleep(100 * time.Millisecond) // let the second stream wait on the entry
	close(hook.release)
	if err := <-firstErr; err == nil {
		t.Fatal("the first read did not fail")
	}
	if err := <-second; err != nil || len(got) != 1 {
		t.Fatalf("a waiting stream got %d events, %v: the first stream's failure was shared", len(got), err)
	}
}
