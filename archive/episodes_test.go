package archive

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/conv"
)

// The agent's wrap-up on a closed event is stored with its conversation
// (the last close's, whatever order the events come in); a close without
// one stores none; Episodes walks conversations in a date range with their
// events in order.
func TestWrapUpAndEpisodes(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		a := convEvents("web:a#1", "web:a", "web", "alice", t0, 0, "我的快递丢了", "")
		// convEvents' close has no wrap-up: give conversation a one.
		a[7].Fields[conv.EvLabel], a[7].Fields[conv.EvResolved] = "logistics_dispute", conv.Unresolved
		b := convEvents("web:b#1", "web:b", "web", "bob", t0.Add(time.Hour), 100, "发票怎么开", "")
		c := convEvents("web:c#1", "web:c", "web", "", t0.Add(48*time.Hour), 200, "你好", "")
		// A reopened conversation closed twice: the later wrap-up wins even
		// when it is archived first.
		late := Event{ID: fmt.Sprintf("%d-%d", t0.Add(time.Hour+time.Minute).UnixMilli(), 150), Type: conv.Closed, Conv: "web:b#1",
			At: t0.Add(time.Hour + time.Minute), Fields: map[string]string{conv.EvBy: "bob", conv.EvLabel: "invoice_request", conv.EvResolved: conv.Resolved}}
		b[7].Fields[conv.EvLabel], b[7].Fields[conv.EvResolved] = "other", conv.Unresolved
		if err := db.Write(ctx, append([]Event{late}, a...)); err != nil {
			t.Fatal(err)
		}
		if err := db.Write(ctx, append(b, c...)); err != nil {
			t.Fatal(err)
		}
		type wrap struct {
			Label    string
			Resolved *bool
		}
		yes, no := true, false
		for cid, want := range map[string]wrap{"web:a#1": {"logistics_dispute", &no}, "web:b#1": {"invoice_request", &yes}, "web:c#1": {}} {
			l, r, err := db.WrapUp(ctx, cid)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, wrap{l, r}); diff != "" {
				t.Errorf("%s wrap-up (-want +got):\n%s", cid, diff)
			}
		}
		if _, _, err := db.WrapUp(ctx, "web:none#1"); err == nil {
			t.Error("wrap-up of a conversation not archived: no error")
		}

		var got []string
		err := db.Episodes(ctx, t0, t0.Add(24*time.Hour), []string{conv.CustomerMessage, conv.Closed}, func(e Episode) error {
			s := e.Conv + " " + e.Label + ":"
			for _, ev := range e.Events {
				s += " " + ev.Type
			}
			got = append(got, s)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"web:a#1 logistics_dispute: customer_message closed", "web:b#1 invoice_request: customer_message closed closed"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("episodes (-want +got):\n%s", diff)
		}
		n := 0
		if err := db.Episodes(ctx, time.Time{}, time.Time{}, nil, func(e Episode) error { n += len(e.Events); return nil }); err != nil {
			t.Fatal(err)
		}
		if n != 9+10+5 {
			t.Errorf("all events of all episodes: %d, want 24", n)
		}
	})
}

func TestGapDismissals(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		k1, k2 := GapKey("运费险怎么买"), GapKey("能开专票吗")
		if k1 == k2 || len(k1) != 32 {
			t.Fatalf("keys %q %q", k1, k2)
		}
		if err := db.DismissGaps(ctx, "ed", []string{k1, k1, k2}, t0); err != nil {
			t.Fatal(err)
		}
		if err := db.DismissGaps(ctx, "ed2", []string{k2}, t0); err != nil {
			t.Fatal(err)
		}
		got, err := db.GapDismissals(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]bool{k1: true, k2: true}, got); diff != "" {
			t.Errorf("dismissals (-want +got):\n%s", diff)
		}
	})
}
