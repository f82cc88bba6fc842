package bot

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/intents"
)

// mustQueueEngine is an engine whose hand-offs go to a real handoff.Queue on
// the same Redis and prefix.
func mustQueueEngine(t *testing.T) (*Engine, *handoff.Queue) {
	t.Helper()
	e, _ := mustEngine(t)
	q, err := handoff.New(e.Store.rdb, handoff.Config{Prefix: e.Store.prefix, Groups: []string{"after_sales", "payments"},
		Categories: map[string]string{"payment": "payments"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Handoff = &Queue{Q: q, Texts: DefaultTexts()}
	return e, q
}

func TestQueueHandoffFlow(t *testing.T) {
	e, q := mustQueueEngine(t)
	ctx := context.Background()
	// Nobody online: the customer is told so and stays queued.
	outs, err := e.Handle(ctx, Message{Channel: "web", User: "q1", ID: "q1-1", Kind: KindHuman})
	if err != nil || len(outs) != 2 || outs[0].Kind != OutHandoff || outs[1].Text != DefaultTexts()["zh"].NoAgent {
		t.Fatalf("hand-off with nobody online: %+v %v", outs, err)
	}
	if p, err := q.Position(ctx, "web:q1"); err != nil || p.State != handoff.StateWaiting || p.Rank != 1 {
		t.Fatalf("position %+v %v", p, err)
	}
	if err := q.AgentOnline(ctx, handoff.Agent{ID: "a1", Name: "小王", Groups: []string{"after_sales"}, Max: 2}); err != nil {
		t.Fatal(err)
	}
	// A second customer, with an agent online: place and wait in the notice.
	outs, err = e.Handle(ctx, Message{Channel: "web", User: "q2", ID: "q2-1", Text: "转人工"})
	if err != nil || len(outs) != 2 || outs[1].Kind != OutNotice || !strings.Contains(outs[1].Text, "分钟") {
		t.Fatalf("hand-off with an agent online: %+v %v", outs, err)
	}
	cl, err := q.Claim(ctx, "a1", "")
	if err != nil || cl.Conv != "web:q1" {
		t.Fatalf("claim: %+v %v (want the first in line)", cl, err)
	}
	// The customer writes while held: stored, the bot is silent, the
	// agent's stream hears of it.
	outs, err = e.Handle(ctx, Message{Channel: "web", User: "q1", ID: "q1-2", Text: "我的订单号是 2023112312345678"})
	if err != nil || len(outs) != 0 {
		t.Fatalf("message while held: %+v %v", outs, err)
	}
	evs, err := e.Store.rdb.XRange(ctx, q.AgentStream("a1"), "-", "+").Result()
	if err != nil || len(evs) == 0 {
		t.Fatalf("agent stream: %d events, %v", len(evs), err)
	}
	last := evs[len(evs)-1].Values
	if !strings.Contains(last["conv"].(string)+"", "web:q1") {
		t.Errorf("last agent event %v", last)
	}
	if _, _, err := q.Append(ctx, cl, "a-1", "您好，我来帮您查询"); err != nil {
		t.Fatal(err)
	}
	if err := q.Release(ctx, cl, handoff.Closed); err != nil {
		t.Fatal(err)
	}
	sv, err := e.Survey(ctx, "web:q1")
	if err != nil || sv.Kind != OutSurvey || len(sv.Choices) != 5 {
		t.Fatalf("survey %+v %v", sv, err)
	}
	// The customer answers by typing (WeChat has no buttons).
	outs, err = e.Handle(ctx, Message{Channel: "web", User: "q1", ID: "q1-3", Text: "5 很满意"})
	if err != nil || len(outs) != 1 || outs[0].Text != DefaultTexts()["zh"].RatingThanks {
		t.Fatalf("rating: %+v %v", outs, err)
	}
	h, _ := e.Store.rdb.HGetAll(ctx, e.Store.convKey("web:q1")).Result()
	if h["rating"] != "5" || h["rating_comment"] != "很满意" || h["survey"] != "0" {
		t.Errorf("conversation after rating: rating=%q comment=%q survey=%q", h["rating"], h["rating_comment"], h["survey"])
	}
	// The second customer cancels while waiting and is back with the bot.
	outs, err = e.Handle(ctx, Message{Channel: "web", User: "q2", ID: "q2-2", Text: "取消"})
	if err != nil || len(outs) != 1 || outs[0].Text != DefaultTexts()["zh"].Cancelled {
		t.Fatalf("cancel: %+v %v", outs, err)
	}
	if p, _ := q.Position(ctx, "web:q2"); p.State != handoff.StateNone {
		t.Errorf("after cancel: %+v", p)
	}
	if _, err := q.Claim(ctx, "a1", "web:q2"); !errors.Is(err, handoff.ErrTaken) && !errors.Is(err, handoff.ErrNotWaiting) {
		t.Errorf("claim after cancel: %v", err)
	}
	outs, err = e.Handle(ctx, Message{Channel: "web", User: "q2", ID: "q2-3", Text: "快递到哪了"})
	if err != nil || len(outs) != 1 || outs[0].Kind != OutAnswer {
		t.Errorf("bot after cancel: %+v %v", outs, err)
	}
	rep, err := q.Audit(ctx)
	if err != nil || len(rep.Problems) != 0 {
		t.Errorf("audit: %+v %v", rep, err)
	}
}

// TestQueueRatingWrittenOnce: with the real queue as Rater, a rating of an
// agent's close is written by the queue alone (credited to the agent; the
// bot emits no rated event of its own); a rating no agent's close takes
// (ErrNotRated) is written by the bot, with one rated event and no agent.
func TestQueueRatingWrittenOnce(t *testing.T) {
	e, q := mustQueueEngine(t)
	ctx := context.Background()
	if _, err := e.Handle(ctx, Message{Channel: "web", User: "r1", ID: "r1-1", Kind: KindHuman}); err != nil {
		t.Fatal(err)
	}
	if err := q.AgentOnline(ctx, handoff.Agent{ID: "a1", Groups: []string{"after_sales"}, Max: 2}); err != nil {
		t.Fatal(err)
	}
	cl, err := q.Claim(ctx, "a1", "web:r1")
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Release(ctx, cl, handoff.Closed); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Survey(ctx, "web:r1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Handle(ctx, Message{Channel: "web", User: "r1", ID: "r1-2", Kind: KindRating, Text: "4"}); err != nil {
		t.Fatal(err)
	}
	h := e.Store.rdb.HGetAll(ctx, e.Store.convKey("web:r1")).Val()
	if h["rating"] != "4" || h["rating_agent"] != "a1" {
		t.Errorf("rating %q credited to %q, want 4 by the queue to a1", h["rating"], h["rating_agent"])
	}
	rated := func(thread string) []map[string]any {
		t.Helper()
		xs, err := e.Store.rdb.XRange(ctx, conv.LifecycleKey(e.Store.prefix), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		var got []map[string]any
		for _, x := range xs {
			if x.Values[conv.EvType] == conv.Rated && x.Values[conv.EvConv] == thread {
				got = append(got, x.Values)
			}
		}
		return got
	}
	// The queue's rated (once its script emits it) is the only one.
	for _, r := range rated("web:r1") {
		if r[conv.EvAgent] != "a1" {
			t.Errorf("a rated event not the queue's: %v", r)
		}
	}
	if n := len(rated("web:r1")); n > 1 {
		t.Errorf("%d rated events, want at most the queue's one", n)
	}

	// A rating with no agent's close: the bot keeps it, once.
	if _, err := e.Handle(ctx, Message{Channel: "web", User: "r2", ID: "r2-1", Kind: KindRating, Text: "2 太慢"}); err != nil {
		t.Fatal(err)
	}
	h = e.Store.rdb.HGetAll(ctx, e.Store.convKey("web:r2")).Val()
	got := rated("web:r2")
	if h["rating"] != "2" || h["rating_comment"] != "太慢" || h["rating_agent"] != "" || len(got) != 1 ||
		got[0][conv.EvScore] != "2" || got[0][conv.EvComment] != "太慢" || got[0][conv.EvAgent] != nil {
		t.Errorf("bot's rating: hash %q %q %q, events %v", h["rating"], h["rating_comment"], h["rating_agent"], got)
	}
}

// TestQueuePeopleNotices: the agent sees the bot's guesses for the
// customer's question, not for the 转人工 that followed it; the customer's
// first message while waiting is acknowledged once; 转人工 again tells the
// place in line again; order, tracking and phone numbers keep being
// collected while waiting and while an agent has the conversation; Tell
// records and words the notices about agents.
func TestQueuePeopleNotices(t *testing.T) {
	e, q := mustQueueEngine(t)
	ctx := context.Background()
	zh := DefaultTexts()["zh"]
	if err := q.AgentOnline(ctx, handoff.Agent{ID: "a1", Name: "小王", Groups: []string{"after_sales"}, Max: 2}); err != nil {
		t.Fatal(err)
	}
	say := func(id, text string) []Outbound {
		t.Helper()
		outs, err := e.Handle(ctx, Message{Channel: "web", User: "p1", ID: id, Text: text})
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		return outs
	}
	load := func() Conversation {
		t.Helper()
		c, err := e.Store.Load(ctx, "web:p1")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	intentsOf := func(gs []Guess) string {
		var s []string
		for _, g := range gs {
			s = append(s, g.Intent)
		}
		return strings.Join(s, ",")
	}
	say("1", "我的退款怎么还没到账")
	asked := intentsOf(load().Guesses)
	if !strings.Contains(asked, "refund") {
		t.Fatalf("guesses for the refund question: %q", asked)
	}
	if outs := say("2", "转人工"); len(outs) != 2 || outs[0].Kind != OutHandoff {
		t.Fatalf("hand-off: %+v", outs)
	}
	if got := intentsOf(load().Guesses); got != asked {
		t.Errorf("guesses after 转人工: %q, want those of the question (%q)", got, asked)
	}
	if outs := say("3", "在吗"); len(outs) != 1 || outs[0].Text != zh.WaitingAck {
		t.Fatalf("first message while waiting: %+v", outs)
	}
	if outs := say("4", "在吗在吗"); len(outs) != 0 {
		t.Fatalf("second message while waiting: %+v, want silence (acknowledged once)", outs)
	}
	outs := say("5", "转人工")
	if len(outs) != 1 || outs[0].Kind != OutNotice || !strings.Contains(outs[0].Text, "您前面还有 0 位") {
		t.Fatalf("转人工 again: %+v, want the place in line", outs)
	}
	if p, _ := q.Position(ctx, "web:p1"); p.State != handoff.StateWaiting || p.Rank != 1 {
		t.Fatalf("still in line once: %+v", p)
	}
	say("6", "顺丰单号 SF1234567890 到哪了")
	c := load()
	if !slices.ContainsFunc(c.Entities, func(x intents.Entity) bool { return x.Value == "SF1234567890" }) {
		t.Errorf("entities while waiting: %+v", c.Entities)
	}
	if !strings.Contains(intentsOf(c.Guesses), "logistics") {
		t.Errorf("guesses for the question asked while waiting: %q", intentsOf(c.Guesses))
	}
	if _, err := q.Claim(ctx, "a1", "web:p1"); err != nil {
		t.Fatal(err)
	}
	if outs := say("7", "订单号 2023112312345678"); len(outs) != 0 {
		t.Fatalf("while held: %+v", outs)
	}
	if c := load(); !slices.ContainsFunc(c.Entities, func(x intents.Entity) bool { return x.Value == "2023112312345678" }) {
		t.Errorf("entities while held: %+v", c.Entities)
	}
	out, err := e.Tell(ctx, "web:p1", TellJoined, "小王")
	if err != nil || out.Text != "您好，我是客服小王，很高兴为您服务。" || out.User != "p1" || out.Kind != OutNotice {
		t.Fatalf("joined: %+v %v", out, err)
	}
	tx, _ := e.Store.Transcript(ctx, "web:p1", "")
	if last := tx[len(tx)-1]; last.Dir != "out" || last.Text != out.Text {
		t.Errorf("the notice is not the transcript's last entry: %+v", last)
	}
	if _, err := e.Tell(ctx, "web:p1", "bogus", ""); err == nil {
		t.Error("an unknown notice was told")
	}
}
