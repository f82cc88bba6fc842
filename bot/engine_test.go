package bot

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
)

func mustEngine(t *testing.T, opts ...StoreOption) (*Engine, *recordingHandoff) {
	t.Helper()
	rdb := testkit.Redis(t, 0)
	h := &recordingHandoff{}
	// A key prefix per test keeps tests apart on the shared server.
	return &Engine{Store: NewStore(rdb, testkit.Prefix(t), opts...), Matcher: sampletest.Live(t).Matcher, Texts: DefaultTexts(), Handoff: h}, h
}

type recordingHandoff struct {
	mu     sync.Mutex
	convs  []Conversation
	fail   int    // the next calls to fail
	notice string // a queue notice to answer with, if set
}

func (r *recordingHandoff) Enqueue(_ context.Context, c Conversation) ([]Outbound, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.convs = append(r.convs, c)
	if r.fail > 0 {
		r.fail--
		return nil, errors.New("queue unreachable")
	}
	if r.notice != "" {
		return []Outbound{{Channel: c.Channel, User: c.User, Conv: c.ID, Kind: OutNotice, Text: r.notice}}, nil
	}
	return nil, nil
}

func TestEngineAnswerAndDedupe(t *testing.T) {
	e, _ := mustEngine(t)
	ctx := context.Background()
	m := Message{Channel: "web", User: "u1", ID: "m1", Text: "订单号2023112312345678 快递到哪了"}
	outs, err := e.Handle(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs[0].Kind != "answer" || outs[0].Intent != "logistics_track" {
		t.Fatalf("outs %+v", outs)
	}
	// The channel retries the same message: no second answer, no second entry.
	if outs, err := e.Handle(ctx, m); !errors.Is(err, ErrDuplicate) || len(outs) != 0 {
		t.Fatalf("duplicate: %v %+v", err, outs)
	}
	tx, err := e.Store.Transcript(ctx, ConvID("web", "u1"), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(tx) != 2 || tx[0].Dir != "in" || tx[0].MsgID != "m1" || tx[1].Dir != "out" || tx[1].Intent != "logistics_track" {
		t.Fatalf("transcript %+v", tx)
	}
	conv, err := e.Store.Load(ctx, ConvID("web", "u1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(conv.Entities) != 1 || conv.Entities[0].Value != "2023112312345678" || conv.Mode != ModeBot {
		t.Errorf("conversation %+v", conv)
	}
	// Resume after an id: only what came later.
	later, _ := e.Store.Transcript(ctx, conv.ID, tx[0].ID)
	if len(later) != 1 || later[0].ID != tx[1].ID {
		t.Errorf("resume: %+v", later)
	}
}

func TestEngineLowConfidenceHandsOff(t *testing.T) {
	e, h := mustEngine(t)
	ctx := context.Background()
	outs, err := e.Handle(ctx, Message{Channel: "web", User: "u2", ID: "a", Text: "asdfgh"})
	if err != nil || outs[0].Kind != "fallback" {
		t.Fatalf("first: %v %+v", err, outs)
	}
	outs, err = e.Handle(ctx, Message{Channel: "web", User: "u2", ID: "b", Text: "qwerty"})
	if err != nil || outs[0].Kind != "handoff" {
		t.Fatalf("second: %v %+v", err, outs)
	}
	if len(h.convs) != 1 || h.convs[0].Reason != "low_confidence" {
		t.Fatalf("handoffs %+v", h.convs)
	}
	// Waiting for a person: the message is kept and acknowledged once;
	// then the bot stays silent.
	outs, err = e.Handle(ctx, Message{Channel: "web", User: "u2", ID: "c0", Text: "在吗"})
	if err != nil || len(outs) != 1 || outs[0].Text != DefaultTexts()["en"].WaitingAck { // qwerty set English
		t.Fatalf("first message while waiting: %v %+v", err, outs)
	}
	outs, err = e.Handle(ctx, Message{Channel: "web", User: "u2", ID: "c", Text: "快递到哪了"})
	if err != nil || len(outs) != 0 {
		t.Fatalf("while waiting: %v %+v", err, outs)
	}
	tx, _ := e.Store.Transcript(ctx, ConvID("web", "u2"), "")
	if last := tx[len(tx)-1]; last.Dir != "in" || last.Text != "快递到哪了" {
		t.Errorf("last entry %+v", last)
	}
}

func TestEngineClarifyThenChoose(t *testing.T) {
	e, h := mustEngine(t)
	ctx := context.Background()
	// Find a message the matcher clarifies, its first choice one the bot
	// answers (not an urgent intent, which hands off).
	var text string
	m := sampletest.Live(t).Matcher()
	for _, in := range m.FAQ().Intents {
		for _, q := range in.Questions {
			if r := []rune(q); len(r) >= 3 && answeredFirstChoice(m, string(r[:2])) {
				text = string(r[:2])
				break
			}
		}
		if text != "" {
			break
		}
	}
	if text == "" {
		t.Fatal("no clarify case found")
	}
	outs, err := e.Handle(ctx, Message{Channel: "web", User: "u3", ID: "1", Text: text})
	if err != nil || outs[0].Kind != "clarify" || len(outs[0].Choices) < 2 {
		t.Fatalf("clarify: %v %+v", err, outs)
	}
	last := outs[0].Choices[len(outs[0].Choices)-1]
	if last.ID != ChoiceHuman {
		t.Errorf("last choice %+v, want the human button", last)
	}
	pick := outs[0].Choices[0].ID
	outs, err = e.Handle(ctx, Message{Channel: "web", User: "u3", ID: "2", Choice: pick})
	if err != nil || len(outs) != 1 || outs[0].Intent != pick {
		t.Fatalf("choose %s: %v %+v", pick, err, outs)
	}
	// The human button hands off with reason requested.
	outs, err = e.Handle(ctx, Message{Channel: "web", User: "u3", ID: "3", Choice: ChoiceHuman})
	if err != nil || outs[0].Kind != "handoff" || len(h.convs) != 1 || h.convs[0].Reason != intents.ReasonRequested {
		t.Fatalf("human: %v %+v %+v", err, outs, h.convs)
	}
}

func TestEngineUrgentAndEnglish(t *testing.T) {
	e, h := mustEngine(t)
	ctx := context.Background()
	f := sampletest.Live(t).Matcher().FAQ()
	q := f.Intent("account_security").Questions[0]
	outs, err := e.Handle(ctx, Message{Channel: "telegram", User: "u4", ID: "1", Text: q})
	if err != nil || outs[0].Kind != "handoff" || len(h.convs) != 1 || !h.convs[0].Urgent {
		t.Fatalf("urgent: %v %+v %+v", err, outs, h.convs)
	}
	outs, err = e.Handle(ctx, Message{Channel: "web", User: "u5", ID: "1", Text: "asdfgh", Lang: "en"})
	if err != nil || outs[0].Text != DefaultTexts()["en"].Fallback {
		t.Fatalf("english fallback: %v %+v", err, outs)
	}
}

func TestEngineKinds(t *testing.T) {
	e, _ := mustEngine(t)
	ctx := context.Background()
	one := func(m Message) Outbound {
		t.Helper()
		outs, err := e.Handle(ctx, m)
		if err != nil || len(outs) != 1 {
			t.Fatalf("Handle(%+v) = %+v, %v; want one reply", m, outs, err)
		}
		return outs[0]
	}
	if o := one(Message{Channel: "telegram", User: "k1", ID: "1", Kind: KindStart, Lang: "en"}); o.Kind != OutWelcome || o.Text != DefaultTexts()["en"].Welcome {
		t.Errorf("start: %+v", o)
	}
	if o := one(Message{Channel: "telegram", User: "k1", ID: "2", Kind: KindMedia, Text: "[photo]"}); o.Kind != OutNotice || len(o.Choices) != 1 || o.Choices[0].ID != ChoiceHuman {
		t.Errorf("media: %+v", o)
	}
	if o := one(Message{Channel: "telegram", User: "k1", ID: "3", Kind: KindHuman}); o.Kind != OutHandoff {
		t.Errorf("human: %+v", o)
	}
	// Waiting: media is stored and acknowledged (the first message after
	// the hand-off), not answered.
	if outs, err := e.Handle(ctx, Message{Channel: "telegram", User: "k1", ID: "4", Kind: KindMedia, Text: "[sticker]"}); err != nil || len(outs) != 1 || outs[0].Text != DefaultTexts()["en"].WaitingAck && outs[0].Text != DefaultTexts()["zh"].WaitingAck {
		t.Errorf("media while waiting: %+v %v", outs, err)
	}
	if _, err := e.Handle(ctx, Message{Channel: "telegram", User: "k1", ID: "5", Kind: KindLeave}); err != nil {
		t.Fatal(err)
	}
	c, err := e.Store.Load(ctx, ConvID("telegram", "k1"))
	if err != nil || c.Mode != ModeClosed {
		t.Fatalf("after leave: %+v %v", c, err)
	}
	tr, err := e.Store.Transcript(ctx, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, x := range tr {
		kinds = append(kinds, x.Dir+":"+x.Kind)
	}
	want := []string{"in:start", "out:welcome", "in:media", "out:notice", "in:human", "out:handoff", "in:media", "out:notice", "in:leave"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("transcript kinds (-want +got):\n%s", diff)
	}
}

func TestEngineRating(t *testing.T) {
	e, _ := mustEngine(t)
	ctx := context.Background()
	if _, err := e.Handle(ctx, Message{Channel: "web", User: "r1", ID: "1", Kind: KindRating, Text: "9"}); !errors.Is(err, ErrBadRating) {
		t.Errorf("rating 9: err = %v, want ErrBadRating", err)
	}
	outs, err := e.Handle(ctx, Message{Channel: "web", User: "r1", ID: "2", Kind: KindRating, Choice: "4", Text: "很快"})
	if err != nil || len(outs) != 1 || outs[0].Kind != OutNotice {
		t.Fatalf("rating: %+v %v", outs, err)
	}
	h, _ := e.Store.rdb.HGetAll(ctx, e.Store.convKey(ConvID("web", "r1"))).Result()
	if h["rating"] != "4" || h["rating_comment"] != "很快" {
		t.Errorf("stored rating %q %q", h["rating"], h["rating_comment"])
	}
	// A survey answered by typing the number (no buttons on WeChat).
	e.Store.rdb.HSet(ctx, e.Store.convKey(ConvID("web", "r1")), "survey", "1")
	outs, err = e.Handle(ctx, Message{Channel: "web", User: "r1", ID: "3", Text: "5"})
	if err != nil || len(outs) != 1 || outs[0].Kind != OutNotice {
		t.Fatalf("typed rating: %+v %v", outs, err)
	}
	c, _ := e.Store.Load(ctx, ConvID("web", "r1"))
	if c.Survey {
		t.Error("survey still pending after a rating")
	}
	// Without a pending survey a bare number is an ordinary message.
	outs, err = e.Handle(ctx, Message{Channel: "web", User: "r1", ID: "4", Text: "5"})
	if err != nil || len(outs) == 0 || outs[0].Kind == OutNotice {
		t.Errorf("bare 5 without survey: %+v %v", outs, err)
	}
}

// TestSaveKeepsQueueMode: the bot writes the mode only when it changes it,
// so a reply computed from a stale read never undoes the queue's change.
func TestSaveKeepsQueueMode(t *testing.T) {
	e, _ := mustEngine(t)
	ctx := context.Background()
	conv, _, err := e.Store.Ingest(ctx, Message{Channel: "web", User: "m1", ID: "m1-1", Text: "你好"})
	if err != nil || conv.Mode != ModeBot {
		t.Fatalf("ingest: %+v %v", conv, err)
	}
	// Meanwhile the queue moves the conversation on (a claim).
	e.Store.rdb.HSet(ctx, e.Store.convKey(conv.ID), "mode", ModeAgent)
	conv.LowTurns = 1
	if err := e.Store.commit(ctx, decision{conv: conv, save: true}, finishDone, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := e.Store.Load(ctx, conv.ID)
	if got.Mode != ModeAgent || got.LowTurns != 1 {
		t.Errorf("after a save of the stale copy: mode %q low %d, want agent 1", got.Mode, got.LowTurns)
	}
	// A mode the bot itself changes is written.
	conv, _, err = e.Store.Ingest(ctx, Message{Channel: "web", User: "m1", ID: "m1-2", Text: "你好"})
	if err != nil || conv.Mode != ModeAgent {
		t.Fatalf("ingest: %+v %v", conv, err)
	}
	conv.Mode = ModeClosed
	if err := e.Store.commit(ctx, decision{conv: conv, save: true}, finishDone, nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.Store.Load(ctx, conv.ID); c.Mode != ModeClosed {
		t.Errorf("mode %q after the bot closed it", c.Mode)
	}
}

// answeredFirstChoice reports whether text gets a clarify whose first choice
// the bot answers when picked.
func answeredFirstChoice(m *intents.Matcher, text string) bool {
	r := m.Match(text)
	if r.Action != intents.ActionClarify || len(r.Choices) < 2 {
		return false
	}
	a, _ := m.PickChoice(r.Choices[0])
	return a == intents.ActionAnswer
}
