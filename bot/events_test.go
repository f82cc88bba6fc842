package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// The lifecycle events bot's scripts emit, read back from <prefix>lifecycle
// on the real Redis.

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// mustClockEngine is mustEngine on a clock of the test's own.
func mustClockEngine(t *testing.T, opts ...StoreOption) (*Engine, *recordingHandoff, *testkit.Clock) {
	t.Helper()
	clk := testkit.NewClock(t0)
	e, h := mustEngine(t, append([]StoreOption{WithClock(clk.Now)}, opts...)...)
	return e, h, clk
}

// lifecycle returns the events after the stream id after ("" for all), each
// as "type ep=N k=v …" with the fields sorted; conv (always the thread
// here) is checked and left out, and so are the bot_reply's confidence and
// guesses (checked by wellFormedReplies), at (checked equal to the clock's
// time when at is set).
func lifecycle(t *testing.T, e *Engine, thread string, after *string, at time.Time) []string {
	t.Helper()
	start := "-"
	if *after != "" {
		start = "(" + *after
	}
	xs, err := e.Store.rdb.XRange(context.Background(), conv.LifecycleKey(e.Store.prefix), start, "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range xs {
		*after = x.ID
		if x.Values[conv.EvConv] != thread {
			t.Errorf("event %v: conv %v, want %s", x.Values, x.Values[conv.EvConv], thread)
		}
		if want := fmt.Sprint(at.UnixMilli()); x.Values[conv.EvAt] != want {
			t.Errorf("event %v: at %v, want %s", x.Values, x.Values[conv.EvAt], want)
		}
		if x.Values[conv.EvType] == conv.BotReply {
			wellFormedReply(t, x.Values)
		}
		var kv []string
		for k, v := range x.Values {
			switch k {
			case conv.EvType, conv.EvConv, conv.EvEpisode, conv.EvAt, conv.EvConfidence, conv.EvGuesses:
				continue
			}
			kv = append(kv, fmt.Sprintf("%s=%v", k, v))
		}
		sort.Strings(kv)
		got = append(got, strings.Join(append([]string{fmt.Sprint(x.Values[conv.EvType]), "ep=" + fmt.Sprint(x.Values[conv.EvEpisode])}, kv...), " "))
	}
	return got
}

// wellFormedReply checks a bot_reply's confidence and guesses: both empty
// (no match ran), or a number and a JSON list of at most three guesses.
func wellFormedReply(t *testing.T, v map[string]any) {
	t.Helper()
	c, g := fmt.Sprint(v[conv.EvConfidence]), fmt.Sprint(v[conv.EvGuesses])
	if c == "" && g == "" {
		return
	}
	var conf float64
	var gs []struct {
		Intent string  `json:"intent"`
		Score  float64 `json:"score"`
	}
	if _, err := fmt.Sscan(c, &conf); err != nil || conf < 0 || conf > 1 {
		t.Errorf("bot_reply confidence %q", c)
	}
	if err := json.Unmarshal([]byte(g), &gs); err != nil || len(gs) == 0 || len(gs) > 3 || gs[0].Intent == "" {
		t.Errorf("bot_reply guesses %q (%v)", g, err)
	}
}

func mustEvents(t *testing.T, e *Engine, thread string, after *string, at time.Time, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, lifecycle(t, e, thread, after, at)); diff != "" {
		t.Errorf("lifecycle (-want +got):\n%s", diff)
	}
}

// TestEventsAnswer: the first message of a thread starts episode 1 and emits
// its customer_message and the bot's answer; a duplicate delivery emits
// nothing; the next message emits its own pair in the same episode.
func TestEventsAnswer(t *testing.T) {
	e, _, clk := mustClockEngine(t)
	ctx := context.Background()
	var after string
	m := Message{Channel: "web", User: "e1", ID: "m1", Text: "订单号2023112312345678 快递到哪了", Lang: "zh-CN"}
	outs, err := e.Handle(ctx, m)
	if err != nil || len(outs) != 1 {
		t.Fatalf("%+v %v", outs, err)
	}
	th := ConvID("web", "e1")
	mustEvents(t, e, th, &after, clk.Now(),
		"conversation_started ep=1 channel=web customer=web:e1 lang=zh-CN",
		"customer_message ep=1 kind= msg_id=m1 text="+m.Text,
		"bot_reply ep=1 action=answer intent=logistics_track kind=answer text="+outs[0].Text)
	xs, _ := e.Store.rdb.XRange(ctx, conv.LifecycleKey(e.Store.prefix), after, after).Result()
	if g := fmt.Sprint(xs[0].Values[conv.EvGuesses]); !strings.Contains(g, `"intent":"logistics_track"`) {
		t.Errorf("guesses %s: want the answered intent among them", g)
	}
	if _, err := e.Handle(ctx, m); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
	mustEvents(t, e, th, &after, clk.Now()) // nothing
	clk.Advance(time.Minute)
	if _, err := e.Handle(ctx, Message{Channel: "web", User: "e1", ID: "m2", Kind: KindStart}); err != nil {
		t.Fatal(err)
	}
	mustEvents(t, e, th, &after, clk.Now(),
		"customer_message ep=1 kind=start msg_id=m2 text=",
		"bot_reply ep=1 action=welcome intent= kind=welcome text="+DefaultTexts()["zh"].Welcome)
	if s, err := e.Store.rdb.ZScore(ctx, e.Store.activeKey(), th).Result(); err != nil || int64(s) != clk.Now().UnixMilli() {
		t.Errorf("active score %v %v, want the last message's time", s, err)
	}
}

// TestEventsTakeover: a delivery that claimed a message and vanished is
// taken over, by a retry and by the recoverer: the customer_message was
// emitted once by the first claim, the reply is emitted once by the
// delivery that finished, and the fenced-out delivery emits nothing.
func TestEventsTakeover(t *testing.T) {
	lease := 10 * time.Second
	e, _, clk := mustClockEngine(t, WithLease(lease))
	ctx := context.Background()
	var after string
	// A retry takes over after the lease.
	m := Message{Channel: "wechat", User: "e2", ID: "m1", Text: "快递到哪了"}
	first, err := e.Store.Claim(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	th := ConvID("wechat", "e2")
	mustEvents(t, e, th, &after, clk.Now(),
		"conversation_started ep=1 channel=wechat customer=wechat:e2 lang=",
		"customer_message ep=1 kind= msg_id=m1 text=快递到哪了")
	if _, err := e.Handle(ctx, m); !errors.Is(err, ErrInFlight) {
		t.Fatalf("retry within the lease: %v", err)
	}
	mustEvents(t, e, th, &after, clk.Now())
	clk.Advance(lease)
	outs, err := e.Handle(ctx, m)
	if err != nil || len(outs) != 1 {
		t.Fatalf("takeover: %+v %v", outs, err)
	}
	if err := e.Store.Record(ctx, first, Outbound{Conv: first.ID, Kind: OutFallback, Text: "late"}); !errors.Is(err, ErrInFlight) {
		t.Fatalf("late write: %v", err)
	}
	mustEvents(t, e, th, &after, clk.Now(),
		"bot_reply ep=1 action=answer intent=logistics_track kind=answer text="+outs[0].Text)

	// The recoverer takes over (two at once; one wins).
	m2 := Message{Channel: "wechat", User: "e2", ID: "m2", Text: "快递到哪了"}
	if _, err := e.Store.Claim(ctx, m2); err != nil {
		t.Fatal(err)
	}
	mustEvents(t, e, th, &after, clk.Now(), "customer_message ep=1 kind= msg_id=m2 text=快递到哪了")
	clk.Advance(lease)
	var d recordingDeliver
	var wg sync.WaitGroup
	for range 2 {
		r := NewRecoverer(instance(e, clk, lease), RecovererConfig{Deliver: d.deliver})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Tick(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := d.got(); len(got) != 1 {
		t.Fatalf("delivered %+v, want one reply", got)
	}
	mustEvents(t, e, th, &after, clk.Now(),
		"bot_reply ep=1 action=answer intent=logistics_track kind=answer text="+outs[0].Text)
}

// TestEventsHandoffStaged: the hand-off notice is recorded (with its
// bot_reply) before the queue is asked; the queue fails once; the retry
// enqueues and records the queue's notice: each reply emitted once. Without
// a queue the bot records the hand-off itself (handoff event).
func TestEventsHandoffStaged(t *testing.T) {
	e, h, clk := mustClockEngine(t)
	h.fail, h.notice = 1, "您前面还有 2 位"
	ctx := context.Background()
	var after string
	m := Message{Channel: "wechat", User: "e3", ID: "m1", Kind: KindHuman}
	if _, err := e.Handle(ctx, m); err == nil {
		t.Fatal("queue down: want an error")
	}
	zh := DefaultTexts()["zh"]
	th := ConvID("wechat", "e3")
	mustEvents(t, e, th, &after, clk.Now(),
		"conversation_started ep=1 channel=wechat customer=wechat:e3 lang=",
		"customer_message ep=1 kind=human msg_id=m1 text=",
		"bot_reply ep=1 action=handoff intent= kind=handoff text="+zh.HandoffNotice)
	if _, err := e.Handle(ctx, m); err != nil {
		t.Fatal(err)
	}
	mustEvents(t, e, th, &after, clk.Now(), "bot_reply ep=1 action=notice intent= kind=notice text=您前面还有 2 位")
	// While waiting the bot acknowledges the first message, once.
	if _, err := e.Handle(ctx, Message{Channel: "wechat", User: "e3", ID: "m2", Text: "还在吗"}); err != nil {
		t.Fatal(err)
	}
	mustEvents(t, e, th, &after, clk.Now(), "customer_message ep=1 kind= msg_id=m2 text=还在吗",
		"bot_reply ep=1 action=notice intent= kind=notice text="+zh.WaitingAck)
	// Canceled with no Leaver to say so: the bot emits abandoned.
	if _, err := e.Handle(ctx, Message{Channel: "wechat", User: "e3", ID: "m3", Text: "取消"}); err != nil {
		t.Fatal(err)
	}
	mustEvents(t, e, th, &after, clk.Now(),
		"customer_message ep=1 kind= msg_id=m3 text=取消",
		"abandoned ep=1 by=customer",
		"bot_reply ep=1 action=notice intent= kind=notice text="+zh.Cancelled)

	e.Handoff = nil
	if _, err := e.Handle(ctx, Message{Channel: "wechat", User: "e3", ID: "m4", Kind: KindHuman}); err != nil {
		t.Fatal(err)
	}
	mustEvents(t, e, th, &after, clk.Now(),
		"customer_message ep=1 kind=human msg_id=m4 text=",
		"handoff ep=1 reason=requested urgent=0",
		"bot_reply ep=1 action=handoff intent= kind=handoff text="+zh.HandoffNotice)
}

// TestEventsLeaveThenNewEpisode: a customer who leaves closes the episode
// (closed by left, the thread leaves the active set); their next message
// starts episode 2, with its keys' expiry removed.
func TestEventsLeaveThenNewEpisode(t *testing.T) {
	e, _, clk := mustClockEngine(t)
	ctx := context.Background()
	var after string
	th := ConvID("telegram", "e4")
	if _, err := e.Handle(ctx, Message{Channel: "telegram", User: "e4", ID: "1", Kind: KindStart, Lang: "en"}); err != nil {
		t.Fatal(err)
	}
	lifecycle(t, e, th, &after, clk.Now())
	clk.Advance(time.Minute)
	if _, err := e.Handle(ctx, Message{Channel: "telegram", User: "e4", ID: "2", Kind: KindLeave}); err != nil {
		t.Fatal(err)
	}
	mustEvents(t, e, th, &after, clk.Now(),
		"customer_message ep=1 kind=leave msg_id=2 text=",
		"closed ep=1 by=left")
	if err := e.Store.rdb.ZScore(ctx, e.Store.activeKey(), th).Err(); err == nil {
		t.Error("a closed thread is still active")
	}
	// Leaving again changes nothing: no second close, no new episode.
	if _, err := e.Handle(ctx, Message{Channel: "telegram", User: "e4", ID: "3", Kind: KindLeave}); err != nil {
		t.Fatal(err)
	}
	mustEvents(t, e, th, &after, clk.Now(), "customer_message ep=1 kind=leave msg_id=3 text=")
	// Retention set an expiry on the closed, archived episode's keys.
	for _, k := range []string{e.Store.convKey(th), e.Store.txKey(th)} {
		e.Store.rdb.Expire(ctx, k, time.Hour)
	}
	clk.Advance(time.Minute)
	outs, err := e.Handle(ctx, Message{Channel: "telegram", User: "e4", ID: "4", Text: "hello, where is my parcel"})
	if err != nil || len(outs) != 1 {
		t.Fatalf("%+v %v", outs, err)
	}
	got := lifecycle(t, e, th, &after, clk.Now())
	if len(got) != 3 || got[0] != "conversation_started ep=2 channel=telegram customer=telegram:e4 lang=en" ||
		got[1] != "customer_message ep=2 kind= msg_id=4 text=hello, where is my parcel" ||
		!strings.HasPrefix(got[2], "bot_reply ep=2 action="+outs[0].Kind+" ") {
		t.Errorf("episode 2: %q", got)
	}
	for _, k := range []string{e.Store.convKey(th), e.Store.txKey(th)} {
		if ttl := e.Store.rdb.TTL(ctx, k).Val(); ttl != -1 {
			t.Errorf("%s: TTL %v after a new episode, want none", k, ttl)
		}
	}
	c, _ := e.Store.Load(ctx, th)
	if c.Episode != 2 || c.Mode != ModeBot || !c.Created.Equal(clk.Now()) {
		t.Errorf("episode 2: %+v", c)
	}
}

// TestEventsIdle: a bot episode quiet for the idle time is closed (by idle,
// at the next message's time) when the customer writes again, and episode 2
// starts; quiet for less, or waiting for a person, it goes on.
func TestEventsIdle(t *testing.T) {
	e, _, clk := mustClockEngine(t, WithIdle(time.Hour))
	ctx := context.Background()
	var after string
	th := ConvID("web", "e5")
	say := func(id, text string) {
		t.Helper()
		if _, err := e.Handle(ctx, Message{Channel: "web", User: "e5", ID: id, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	say("1", "快递到哪了")
	lifecycle(t, e, th, &after, clk.Now())
	clk.Advance(time.Hour - time.Millisecond)
	say("2", "快递到哪了")
	if got := lifecycle(t, e, th, &after, clk.Now()); len(got) != 2 || got[0] != "customer_message ep=1 kind= msg_id=2 text=快递到哪了" {
		t.Fatalf("within the idle time: %q", got)
	}
	clk.Advance(time.Hour + time.Millisecond)
	say("3", "快递到哪了")
	got := lifecycle(t, e, th, &after, clk.Now())
	want := []string{"closed ep=1 by=idle", "conversation_started ep=2 channel=web customer=web:e5 lang=zh",
		"customer_message ep=2 kind= msg_id=3 text=快递到哪了"}
	if len(got) != 4 || !cmp.Equal(want, got[:3]) || !strings.HasPrefix(got[3], "bot_reply ep=2 action=answer") {
		t.Fatalf("after the idle time:\n%s", strings.Join(got, "\n"))
	}
	// Waiting for a person is not idle, however long.
	if _, err := e.Handle(ctx, Message{Channel: "web", User: "e5", ID: "4", Kind: KindHuman}); err != nil {
		t.Fatal(err)
	}
	lifecycle(t, e, th, &after, clk.Now())
	clk.Advance(48 * time.Hour)
	say("5", "还在吗")
	mustEvents(t, e, th, &after, clk.Now(), "customer_message ep=2 kind= msg_id=5 text=还在吗",
		"bot_reply ep=2 action=notice intent= kind=notice text="+DefaultTexts()["zh"].WaitingAck)
}

// raterFunc is a Handoff that is also a Rater.
type raterFunc struct {
	recordingHandoff
	rate func(score int, comment string) error
}

func (r *raterFunc) Rate(_ context.Context, _ Conversation, score int, comment string) error {
	return r.rate(score, comment)
}

// TestEventsSurveyAndRating: the survey of a closed episode emits
// survey_sent; the answer stays in that episode (it starts none) and the
// rating is written once: by the bot with its rated event when there is no
// Rater, or when the Rater did not take it; by the Rater alone (the bot
// writes no rating and emits no rated) when it did.
func TestEventsSurveyAndRating(t *testing.T) {
	for _, tc := range []struct {
		name     string
		handoff  Handoff
		bot      bool // the bot writes the rating
		raterErr error
	}{
		{name: "no rater", handoff: &recordingHandoff{}, bot: true},
		{name: "rater took it", handoff: &raterFunc{}},
		{name: "rater did not", handoff: &raterFunc{}, raterErr: fmt.Errorf("rate: %w", ErrNotRated), bot: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _, clk := mustClockEngine(t)
			e.Handoff = tc.handoff
			var rated []string
			if r, ok := tc.handoff.(*raterFunc); ok {
				r.rate = func(score int, comment string) error {
					rated = append(rated, fmt.Sprint(score, comment))
					return tc.raterErr
				}
			}
			ctx := context.Background()
			var after string
			th := ConvID("wechat", "e6")
			if _, err := e.Handle(ctx, Message{Channel: "wechat", User: "e6", ID: "1", Text: "快递到哪了"}); err != nil {
				t.Fatal(err)
			}
			// An agent closed it (the queue's script sets the mode).
			e.Store.rdb.HSet(ctx, e.Store.convKey(th), conv.FieldMode, ModeClosed)
			lifecycle(t, e, th, &after, clk.Now())
			clk.Advance(time.Minute)
			if _, err := e.Survey(ctx, th); err != nil {
				t.Fatal(err)
			}
			mustEvents(t, e, th, &after, clk.Now(), "survey_sent ep=1")
			clk.Advance(time.Minute)
			outs, err := e.Handle(ctx, Message{Channel: "wechat", User: "e6", ID: "2", Text: "4 很快"})
			if err != nil || len(outs) != 1 || outs[0].Text != DefaultTexts()["zh"].RatingThanks {
				t.Fatalf("rating: %+v %v", outs, err)
			}
			want := []string{"customer_message ep=1 kind= msg_id=2 text=4 很快"}
			if tc.bot {
				want = append(want, "rated ep=1 comment=很快 score=4")
			}
			want = append(want, "bot_reply ep=1 action=notice intent= kind=notice text="+DefaultTexts()["zh"].RatingThanks)
			mustEvents(t, e, th, &after, clk.Now(), want...)
			h := e.Store.rdb.HGetAll(ctx, e.Store.convKey(th)).Val()
			if tc.bot != (h[conv.FieldRating] == "4" && h[conv.FieldRatingComment] == "很快") || (!tc.bot && h[conv.FieldRating] != "") {
				t.Errorf("stored rating %q %q; the bot writes it: %v", h[conv.FieldRating], h[conv.FieldRatingComment], tc.bot)
			}
			if h[conv.FieldSurvey] != "0" || h[conv.FieldMode] != ModeClosed || h[conv.FieldEpisode] != "1" {
				t.Errorf("after the rating: survey %q mode %q ep %q, want 0 closed 1", h[conv.FieldSurvey], h[conv.FieldMode], h[conv.FieldEpisode])
			}
			if _, ok := tc.handoff.(*raterFunc); ok && (len(rated) != 1 || rated[0] != "4很快") {
				t.Errorf("Rater called with %q, want once with 4 很快", rated)
			}
			// The next message starts episode 2.
			clk.Advance(time.Minute)
			if _, err := e.Handle(ctx, Message{Channel: "wechat", User: "e6", ID: "3", Text: "快递到哪了"}); err != nil {
				t.Fatal(err)
			}
			if got := lifecycle(t, e, th, &after, clk.Now()); len(got) != 3 || got[0] != "conversation_started ep=2 channel=wechat customer=wechat:e6 lang=zh" {
				t.Errorf("after the rating: %q", got)
			}
		})
	}
}

// TestEventsQueueNotice: a notice the queue sends when it moves (AppendOut)
// is a bot_reply.
func TestEventsQueueNotice(t *testing.T) {
	e, _, clk := mustClockEngine(t)
	ctx := context.Background()
	var after string
	th := ConvID("web", "e7")
	if _, err := e.Handle(ctx, Message{Channel: "web", User: "e7", ID: "1", Kind: KindHuman}); err != nil {
		t.Fatal(err)
	}
	lifecycle(t, e, th, &after, clk.Now())
	if err := e.Store.AppendOut(ctx, Outbound{Channel: "web", User: "e7", Conv: th, Kind: OutNotice, Text: "您前面还有 1 位"}); err != nil {
		t.Fatal(err)
	}
	mustEvents(t, e, th, &after, clk.Now(), "bot_reply ep=1 action=notice intent= kind=notice text=您前面还有 1 位")
}
