package bot

import (
	"context"
	"slices"
	"testing"

	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/priority"
)

// A hand-off takes its priority from the customer's words (and the policy's
// other signals), the queue shows the words that raised it, and a message
// while waiting raises it further; a calm one never lowers it.
func TestHandoffPriorityFromWords(t *testing.T) {
	e, q := mustQueueEngine(t)
	e.Priority = &priority.Policy{Lexicon: priority.Default(), LowRating: 2}
	ctx := context.Background()
	handle := func(user, id, text string) {
		t.Helper()
		if _, err := e.Handle(ctx, Message{Channel: "web", User: user, ID: id, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	handle("calm", "c-1", "转人工")
	handle("angry", "a-1", "你们太垃圾了，转人工")
	ws, err := q.Waiting(ctx, "after_sales")
	if err != nil || len(ws) != 2 {
		t.Fatalf("waiting %+v %v", ws, err)
	}
	// The angry customer came second but goes first: high's deadline is earlier.
	if ws[0].Conv != "web:angry" || ws[0].Priority != priority.High || !slices.Equal(ws[0].Words, []string{"垃圾"}) {
		t.Errorf("first in line %+v; want web:angry, high, [垃圾]", ws[0])
	}
	if ws[1].Conv != "web:calm" || ws[1].Priority != priority.Normal || ws[1].Words != nil {
		t.Errorf("second in line %+v; want web:calm, normal", ws[1])
	}
	// While waiting: a threat raises the calm one to urgent; a calm message
	// after it changes nothing.
	handle("calm", "c-2", "再不处理我就报警了")
	handle("calm", "c-3", "好的谢谢")
	ws, _ = q.Waiting(ctx, "after_sales")
	if ws[0].Conv != "web:calm" || ws[0].Priority != priority.Urgent || !slices.Equal(ws[0].Words, []string{"报警"}) {
		t.Errorf("after the threat, first in line %+v; want web:calm, urgent, [报警]", ws[0])
	}
	// Once held, messages do not re-read the priority.
	if err := q.AgentOnline(ctx, handoff.Agent{ID: "a1", Groups: []string{"after_sales"}, Max: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Claim(ctx, "a1", "web:angry"); err != nil {
		t.Fatal(err)
	}
	handle("angry", "a-2", "我要起诉你们")
	hs, _ := q.Held(ctx, "a1")
	if len(hs) != 1 || hs[0].Priority != priority.High {
		t.Errorf("held after a threat: %+v; want high (not re-read once held)", hs)
	}
	if rep, err := q.Audit(ctx); err != nil || len(rep.Problems) > 0 {
		t.Errorf("audit %v %v", rep.Problems, err)
	}
}

// A customer whose last rating was low is raised to high at their next
// hand-off.
func TestHandoffPriorityFromLowRating(t *testing.T) {
	e, q := mustQueueEngine(t)
	e.Priority = &priority.Policy{Lexicon: priority.Default(), LowRating: 2}
	ctx := context.Background()
	e.Store.rdb.HSet(ctx, e.Store.convKey("web:r"), "rating", "1")
	if _, err := e.Handle(ctx, Message{Channel: "web", User: "r", ID: "r-1", Text: "转人工"}); err != nil {
		t.Fatal(err)
	}
	ws, _ := q.Waiting(ctx, "after_sales")
	if len(ws) != 1 || ws[0].Priority != priority.High {
		t.Errorf("waiting %+v; want one, high", ws)
	}
}
