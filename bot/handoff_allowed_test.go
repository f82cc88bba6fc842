package bot

import (
	"context"
	"errors"
	"testing"
)

// TestHandoffAllowed: a hand-off the hook refuses reaches no queue, tells
// the customer HandoffLimited and leaves the conversation with the bot; a
// hook failure fails the message (retried) without enqueueing; the hook sees
// the client address.
func TestHandoffAllowed(t *testing.T) {
	e, h := mustEngine(t)
	ctx := context.Background()
	var seen []string
	allow, fail := false, false
	e.HandoffAllowed = func(_ context.Context, m Message) (bool, error) {
		seen = append(seen, m.Addr)
		if fail {
			return false, errors.New("redis down")
		}
		return allow, nil
	}
	outs, err := e.Handle(ctx, Message{Channel: "web", User: "u1", ID: "1", Kind: KindHuman, Addr: "203.0.113.9"})
	if err != nil || len(outs) != 1 || outs[0].Kind != OutNotice || outs[0].Text != DefaultTexts()["zh"].HandoffLimited {
		t.Fatalf("refused: %+v %v", outs, err)
	}
	conv, err := e.Store.Load(ctx, ConvID("web", "u1"))
	if err != nil || conv.Mode != ModeBot || len(h.convs) != 0 {
		t.Fatalf("refused: mode %q %v, %d enqueued", conv.Mode, err, len(h.convs))
	}
	fail = true
	if _, err := e.Handle(ctx, Message{Channel: "web", User: "u1", ID: "2", Kind: KindHuman}); err == nil || len(h.convs) != 0 {
		t.Fatalf("hook failure: %v, %d enqueued", err, len(h.convs))
	}
	fail, allow = false, true
	if outs, err := e.Handle(ctx, Message{Channel: "web", User: "u1", ID: "2", Kind: KindHuman}); err != nil || outs[0].Kind != OutHandoff || len(h.convs) != 1 {
		t.Fatalf("allowed (the retry): %+v %v, %d enqueued", outs, err, len(h.convs))
	}
	if len(seen) != 3 || seen[0] != "203.0.113.9" {
		t.Errorf("the hook saw addresses %q", seen)
	}
}
