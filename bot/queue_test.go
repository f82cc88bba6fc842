package bot

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/handoff"
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
