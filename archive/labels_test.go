package archive

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/conv"
)

// labelsEv is a labels_changed event of cid: the set after the change,
// its seq, at start+sec.
func labelsEv(cid string, start time.Time, sec, base int, labels string, seq int) Event {
	at := start.Add(time.Duration(sec) * time.Second)
	return Event{ID: fmt.Sprintf("%d-%d", at.UnixMilli(), base), Type: conv.LabelsChanged, Conv: cid, At: at,
		Fields: map[string]string{conv.EvLabels: labels, conv.EvAgent: "alice", conv.EvSeq: fmt.Sprint(seq)}}
}

// TestConversationLabels: the labels agents put on a conversation are kept
// as the set of its last change (the highest seq, even when an earlier
// change arrives later or twice), found by Query.Label together with the
// conversations whose wrap-up label it is, combined with words and other
// filters, and purged with the customer.
func TestConversationLabels(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		a := convEvents("web:a#1", "web:a", "web", "alice", t0, 0, "我要退款", "")
		b := convEvents("web:b#1", "web:b", "web", "bob", t0.Add(time.Hour), 100, "我的快递到哪了", "")
		b[7].Fields[conv.EvLabel], b[7].Fields[conv.EvResolved] = "refund", conv.Resolved // the wrap-up only
		c := convEvents("web:c#1", "web:c", "wechat", "carol", t0.Add(2*time.Hour), 200, "快递丢了要退款", "")
		d := convEvents("web:d#1", "web:d", "web", "", t0.Add(3*time.Hour), 300, "你好", "")
		// a: refund+vip, then vip alone; the later change is archived first.
		later, earlier := labelsEv("web:a#1", t0, 6, 50, "vip", 2), labelsEv("web:a#1", t0, 5, 49, "refund vip", 1)
		if err := db.Write(ctx, append(append([]Event{later}, a...), b...)); err != nil {
			t.Fatal(err)
		}
		cl := labelsEv("web:c#1", t0.Add(2*time.Hour), 5, 250, "logistics_dispute refund", 1)
		// d: labelled, then every label removed.
		if err := db.Write(ctx, append(append(append(c, cl, earlier), d...), labelsEv("web:d#1", t0.Add(3*time.Hour), 2, 350, "vip", 1),
			labelsEv("web:d#1", t0.Add(3*time.Hour), 3, 351, "", 2))); err != nil {
			t.Fatal(err)
		}
		// Again, whole: stored once.
		if err := db.Write(ctx, []Event{earlier, later, cl}); err != nil {
			t.Fatal(err)
		}
		var rows int
		if err := db.db.QueryRow(`SELECT COUNT(*) FROM conversation_labels`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != 3 { // a: vip; c: logistics_dispute, refund
			t.Errorf("%d label rows, want 3", rows)
		}
		for _, tt := range []struct {
			name string
			q    Query
			want []string
		}{
			{"a label put on conversations, or their wrap-up", Query{Label: "refund"}, []string{"web:c#1", "web:b#1"}},
			{"the last change's set: removed earlier, put later", Query{Label: "vip"}, []string{"web:a#1"}},
			{"another label of the same conversation", Query{Label: "logistics_dispute"}, []string{"web:c#1"}},
			{"with words", Query{Label: "refund", Words: "快递"}, []string{"web:c#1", "web:b#1"}},
			{"with words one lacks", Query{Label: "refund", Words: "丢了"}, []string{"web:c#1"}},
			{"with a channel", Query{Label: "refund", Channel: "web"}, []string{"web:b#1"}},
			{"with an agent and words", Query{Label: "refund", Agent: "carol", Words: "退款"}, []string{"web:c#1"}},
			{"no such label", Query{Label: "nope"}, []string{}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				res, err := db.Search(ctx, tt.q)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, convs(res)); diff != "" {
					t.Errorf("conversations (-want +got):\n%s", diff)
				}
				if res.Total != len(tt.want) {
					t.Errorf("total %d, want %d", res.Total, len(tt.want))
				}
			})
		}

		if err := db.Write(ctx, []Event{labelsEv("web:a#1", t0, 7, 60, "vip", 0)}); !errors.Is(err, ErrBadEvent) {
			t.Errorf("a labels event without a seq: %v, want ErrBadEvent", err)
		}

		if _, err := db.Purge(ctx, "web:c"); err != nil {
			t.Fatal(err)
		}
		if err := db.db.QueryRow(`SELECT COUNT(*) FROM conversation_labels`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != 1 {
			t.Errorf("%d label rows after purging web:c, want 1 (web:a's)", rows)
		}
		if res, err := db.Search(ctx, Query{Label: "logistics_dispute"}); err != nil || res.Total != 0 {
			t.Errorf("a purged customer's label still found: %v %v", convs(res), err)
		}
	})
}
