package archive

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/conv"
)

// handled is a conversation handed to group (none: the bot's alone) and,
// when score > 0, rated score. Its event ids start at base.
func handled(cid, customer, group string, score int, start time.Time, base int) []Event {
	at := func(i int) time.Time { return start.Add(time.Duration(i) * time.Second) }
	id := func(i int) string { return fmt.Sprintf("%d-%d", start.UnixMilli()+int64(i)*1000, base+i) }
	fields := map[string]string{conv.EvCustomer: customer, conv.EvChannel: "web"}
	if group != "" {
		fields[conv.EvGroup] = group
	}
	evs := []Event{
		{ID: id(0), Type: conv.Started, Conv: cid, At: at(0), Fields: fields},
		{ID: id(1), Type: conv.CustomerMessage, Conv: cid, At: at(1), Fields: map[string]string{conv.EvText: "我的快递到哪了"}},
	}
	if group != "" {
		evs = append(evs, Event{ID: id(2), Type: "handoff", Conv: cid, At: at(2), Fields: map[string]string{conv.EvGroup: group}})
	}
	evs = append(evs, Event{ID: id(3), Type: conv.Closed, Conv: cid, At: at(3)})
	if score > 0 {
		evs = append(evs, Event{ID: id(4), Type: conv.Rated, Conv: cid, At: at(4), Fields: map[string]string{conv.EvScore: fmt.Sprint(score)}})
	}
	return evs
}

func TestSearchGroupsAndRatings(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		var all []Event
		for i, c := range []struct {
			group string
			score int
		}{
			{"pre_sales", 5}, {"pre_sales", 2}, {"after_sales", 1}, {"after_sales", 4}, {"", 0}, {"vip", 3},
		} {
			all = append(all, handled(fmt.Sprintf("g%d", i+1), fmt.Sprintf("u%d", i%2), c.group, c.score, t0.Add(time.Duration(i)*time.Hour), i*10)...)
		}
		if err := db.Write(ctx, all); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			q    Query
			want []string
		}{
			{"group", Query{Group: "after_sales"}, []string{"g4", "g3"}},
			{"rating exactly", Query{RatingMin: 4, RatingMax: 4}, []string{"g4"}},
			{"low ratings", Query{RatingMax: 2}, []string{"g3", "g2"}},
			{"high ratings", Query{RatingMin: 4}, []string{"g4", "g1"}},
			{"allowed groups", Query{Groups: []string{"pre_sales", "vip"}}, []string{"g6", "g2", "g1"}},
			{"allowed groups and the bot's alone", Query{Groups: []string{"after_sales", ""}}, []string{"g5", "g4", "g3"}},
			{"no group allowed", Query{Groups: []string{}}, []string{}},
			{"a group not allowed", Query{Group: "vip", Groups: []string{"pre_sales"}}, []string{}},
			{"allowed groups and a customer", Query{Customer: "u0", Groups: []string{"pre_sales", "after_sales"}}, []string{"g3", "g1"}},
			{"allowed groups and low ratings", Query{RatingMax: 2, Groups: []string{"pre_sales"}}, []string{"g2"}},
			{"one conversation", Query{Conv: "g3"}, []string{"g3"}},
			{"one conversation, not allowed", Query{Conv: "g3", Groups: []string{"pre_sales"}}, []string{}},
		}
		for _, tt := range tests {
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

		r, err := db.Conversation(ctx, "g4")
		if err != nil {
			t.Fatal(err)
		}
		if r.Group != "after_sales" || r.Rating == nil || *r.Rating != 4 || r.Customer != "u1" || r.Snippet != "我的快递到哪了" {
			t.Errorf("Conversation(g4) = %+v", r)
		}
		if _, err := db.Conversation(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Conversation(nope) = %v, want ErrNotFound", err)
		}
	})
}

func TestSearchSnippetIsTheNewestMatch(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		evs := handled("s1", "u1", "pre_sales", 0, t0, 0)
		evs = append(evs,
			Event{ID: "9000-1", Type: conv.AgentMessage, Conv: "s1", At: t0.Add(time.Minute), Fields: map[string]string{conv.EvAgent: "alice", conv.EvText: "快递明天到"}},
			Event{ID: "9000-2", Type: conv.AgentMessage, Conv: "s1", At: t0.Add(2 * time.Minute), Fields: map[string]string{conv.EvAgent: "alice", conv.EvText: "好的，快递单号发您了"}},
			Event{ID: "9000-3", Type: conv.AgentMessage, Conv: "s1", At: t0.Add(3 * time.Minute), Fields: map[string]string{conv.EvAgent: "alice", conv.EvText: "再见"}},
		)
		if err := db.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
		for words, want := range map[string]string{"快递": "好的，快递单号发您了", "明天": "快递明天到", "": "我的快递到哪了"} {
			res, err := db.Search(ctx, Query{Words: words})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Results) != 1 || res.Results[0].Snippet != want {
				t.Errorf("Search(%q) = %+v, want the snippet %q", words, res.Results, want)
			}
		}
	})
}

func TestGenerate(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		err := db.Generate(ctx, GenerateConfig{Conversations: 300, Batch: 120, Seed: 3, End: t0,
			Texts: []string{"我的发票开错了", "查询订单号:[订单x]，商品号:[数字x]", "退款什么时候到账"}})
		if err != nil {
			t.Fatal(err)
		}
		got := counts(t, db)
		if got["conversations"] != 300 || got["messages"] < 600 || got["events"] < 1200 || got["entities"] == 0 {
			t.Fatalf("rows: %v", got)
		}
		all, err := db.Search(ctx, Query{Limit: MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		outcomes := map[string]int{}
		for _, r := range all.Results {
			outcomes[r.Outcome]++
			if r.Started.After(t0) || r.Started.Before(t0.Add(-2*365*24*time.Hour)) {
				t.Errorf("%s started %s, outside the two years before %s", r.Conv, r.Started, t0)
			}
		}
		if outcomes[OutcomeBot] == 0 || outcomes[OutcomeAgent] == 0 || outcomes[OutcomeAbandoned] == 0 {
			t.Errorf("outcomes %v: want each of bot, agent, abandoned", outcomes)
		}
		// What was generated is found as written ones are: a word, and an
		// order number from a transcript.
		res, err := db.Search(ctx, Query{Words: "发票"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total == 0 {
			t.Fatal("no conversation with 发票")
		}
		var order string
		for _, r := range all.Results {
			tr, err := db.Show(ctx, r.Conv)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range tr.Events {
				if e.Type == conv.CustomerMessage && e.Fields[conv.EvEntities] != "" {
					order = e.Fields[conv.EvEntities]
				}
			}
			if order != "" {
				res, err := db.Search(ctx, Query{Entity: order})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Results) == 0 || res.Results[0].Conv != r.Conv {
					t.Errorf("Search(entity %s) = %+v, want %s", order, res.Results, r.Conv)
				}
				break
			}
		}
		if order == "" {
			t.Error("no entity generated")
		}
	})
}

// TestSearchWordsScanPlan: on SQLite, the plan for common words (each
// conversation's messages checked) finds what the index's matches find.
func TestSearchWordsScanPlan(t *testing.T) {
	db := mustOpen(t, "sqlite://"+filepath.Join(t.TempDir(), "a.db"))
	fill(t, db)
	ctx := context.Background()
	queries := []Query{{Words: "发票"}, {Words: "开发票"}, {Words: "发票什么时候"}, {Words: "INVOICE"}, {Words: "invoice parcel"},
		{Words: "polite"}, {Words: "人工客服", Limit: 2, Offset: 1}, {Words: "发票", Channel: "web", Agent: "alice"}, {Words: "保修"}}
	for _, q := range queries {
		want, err := db.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		old := sqliteScanFactor
		sqliteScanFactor = 0
		got, err := db.Search(ctx, q)
		sqliteScanFactor = old
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%+v: the scan plan differs (-index +scan):\n%s", q, diff)
		}
	}
}

// TestSearchCountStopsAtCap: past CountCap the total is a lower bound,
// marked Capped; ExactTotal counts all; pages past the cap still come.
func TestSearchCountStopsAtCap(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		const n = CountCap + 50
		if err := db.Generate(ctx, GenerateConfig{Conversations: n, Seed: 1, End: t0, Texts: []string{"发票", "退款"}}); err != nil {
			t.Fatal(err)
		}
		res, err := db.Search(ctx, Query{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != CountCap || !res.Capped || len(res.Results) != DefaultLimit {
			t.Errorf("capped: total %d capped %v, %d results", res.Total, res.Capped, len(res.Results))
		}
		res, err = db.Search(ctx, Query{ExactTotal: true, Offset: n - 5})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != n || res.Capped || len(res.Results) != 5 {
			t.Errorf("exact: total %d capped %v, %d results", res.Total, res.Capped, len(res.Results))
		}
		res, err = db.Search(ctx, Query{Offset: n - 5})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != 5 {
			t.Errorf("the last page past the cap: %d results, want 5", len(res.Results))
		}
	})
}
