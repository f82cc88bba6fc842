package archive

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3"

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

// TestSearchWordsAcrossMessages: words match a conversation whose messages
// have them all, each in its own message; on SQLite the plan that checks a
// customer's few conversations finds what the index's newest-first walk
// finds.
func TestSearchWordsAcrossMessages(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		fill(t, db)
		// c3: "退款还没到账" from the customer, "正在为您转接人工客服" from the bot.
		for _, q := range []Query{{Words: "退款 人工客服"}, {Words: "退款 人工客服", Customer: "u1"}} {
			res, err := db.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"c3"}, convs(res)); diff != "" || res.Total != 1 {
				t.Errorf("%+v: total %d (-want +got):\n%s", q, res.Total, diff)
			}
			if len(res.Results) == 1 && res.Results[0].Snippet != "正在为您转接人工客服" && res.Results[0].Snippet != "退款还没到账" {
				t.Errorf("snippet %q: want a message with one of the words", res.Results[0].Snippet)
			}
		}
		for _, words := range []string{"发票", "polite", "人工客服", "发票 polite"} {
			index, err := db.Search(ctx, Query{Words: words})
			if err != nil {
				t.Fatal(err)
			}
			var each []string
			for _, u := range []string{"u1", "u2", "u3", "u4", "u5"} {
				res, err := db.Search(ctx, Query{Words: words, Customer: u})
				if err != nil {
					t.Fatal(err)
				}
				each = append(each, convs(res)...)
			}
			slices.Sort(each)
			got := convs(index)
			slices.Sort(got)
			if diff := cmp.Diff(got, each); diff != "" {
				t.Errorf("%q: by customer differs from the whole search (-whole +by customer):\n%s", words, diff)
			}
		}
	})
}

// TestSearchCursorPages: following Results.Next reads the same pages as
// offsets do, for every kind of query, and ends on the last page; a cursor
// that Search did not give is refused.
func TestSearchCursorPages(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		// Two conversations in each second: ties of the start are ordered too.
		if err := db.Generate(ctx, GenerateConfig{Conversations: 160, Seed: 5, End: t0, Span: 80 * time.Second,
			Texts: []string{"我的发票开错了", "退款什么时候到账", "查询订单号:[订单x]"}}); err != nil {
			t.Fatal(err)
		}
		for _, q := range []Query{{}, {Words: "发票"}, {Words: "订单"}, {Channel: "web"}, {Words: "发票", Groups: []string{"pre_sales", ""}},
			{From: t0.Add(-60 * time.Second), To: t0.Add(-10 * time.Second)}, {Words: "退款", From: t0.Add(-40 * time.Second)}} {
			all := q
			all.Limit, all.ExactTotal = MaxLimit, true
			want, err := db.Search(ctx, all)
			if err != nil {
				t.Fatal(err)
			}
			if want.Total == 0 || want.Total > MaxLimit || want.Next != "" {
				t.Fatalf("%+v: total %d, next %q", q, want.Total, want.Next)
			}
			var byCursor, byOffset []string
			pages := 0
			for page := q; ; pages++ {
				page.Limit = 7
				res, err := db.Search(ctx, page)
				if err != nil {
					t.Fatal(err)
				}
				byCursor = append(byCursor, convs(res)...)
				if res.Next == "" {
					break
				}
				if len(res.Results) != 7 || pages > 50 {
					t.Fatalf("%+v: a page of %d with a next cursor", q, len(res.Results))
				}
				page.After = res.Next
			}
			for off := 0; off < want.Total; off += 7 {
				page := q
				page.Limit, page.Offset = 7, off
				res, err := db.Search(ctx, page)
				if err != nil {
					t.Fatal(err)
				}
				byOffset = append(byOffset, convs(res)...)
			}
			if diff := cmp.Diff(convs(want), byCursor); diff != "" {
				t.Errorf("%+v: by cursor (-one page +cursor pages):\n%s", q, diff)
			}
			if diff := cmp.Diff(convs(want), byOffset); diff != "" {
				t.Errorf("%+v: by offset (-one page +offset pages):\n%s", q, diff)
			}
			for i := 1; i < len(want.Results); i++ {
				if want.Results[i].Started.After(want.Results[i-1].Started) {
					t.Errorf("%+v: %s after %s: not newest first", q, want.Results[i].Conv, want.Results[i-1].Conv)
				}
			}
		}
		for _, bad := range []string{"nope", "bm9wZQ", "MS4yLg!"} {
			if _, err := db.Search(ctx, Query{After: bad}); !errors.Is(err, ErrBadCursor) {
				t.Errorf("After %q: %v, want ErrBadCursor", bad, err)
			}
		}
	})
}

// TestSearchStartMovedByALaterEvent: a conversation archived first from a
// later event (several archivers) takes its place in the order once its
// conversation_started comes, and its words are found there.
func TestSearchStartMovedByALaterEvent(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		fill(t, db) // c1 at t0 … c6 at t0 + 3 days
		late := convEvents("m1", "u9", "web", "alice", t0.Add(36*time.Hour), 900, "保修卡丢了", "")
		if err := db.Write(ctx, late[3:]); err != nil { // from the hand-off on
			t.Fatal(err)
		}
		if err := db.Write(ctx, late[:3]); err != nil { // then the start and the customer's words
			t.Fatal(err)
		}
		res, err := db.Search(ctx, Query{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"c6", "c5", "c4", "c3", "m1", "c2", "c1"}, convs(res)); diff != "" {
			t.Errorf("order (-want +got):\n%s", diff)
		}
		for _, q := range []Query{{Words: "保修 polite"}, {Words: "保修", From: t0.Add(30 * time.Hour), To: t0.Add(40 * time.Hour)}} {
			res, err := db.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"m1"}, convs(res)); diff != "" {
				t.Errorf("%+v (-want +got):\n%s", q, diff)
			}
		}
		ftsIntact(t, db)
		if _, err := db.Purge(ctx, "u9"); err != nil {
			t.Fatal(err)
		}
		if res, err := db.Search(ctx, Query{Words: "保修"}); err != nil || res.Total != 0 {
			t.Errorf("after the purge: %+v, %v", res, err)
		}
	})
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

// TestMigrateToConversationWords: an archive written before search went to
// conversation level (SQLite 00003, PostgreSQL 00002) is migrated at Open:
// each conversation's words are its messages', found across messages, and
// conversations that started in the same millisecond each get a place.
func TestMigrateToConversationWords(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		dialect, writeDSN, _, err := parseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		driver, before := "sqlite", int64(2)
		if dialect == Postgres {
			driver, before = "pgx", 1
		}
		raw, err := sql.Open(driver, writeDSN)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		sub, _ := fs.Sub(migrations, "migrations/"+string(dialect))
		gd := goose.DialectSQLite3
		if dialect == Postgres {
			gd = goose.DialectPostgres
		}
		p, err := goose.NewProvider(gd, raw, sub, goose.WithDisableGlobalRegistry(true))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(ctx, before); err != nil {
			t.Fatal(err)
		}
		ms := t0.UnixMilli()
		for _, stmt := range []string{
			`INSERT INTO conversations (id, customer, channel, started) VALUES ('o1', 'u1', 'web', ?), ('o2', 'u2', 'web', ?), ('o3', 'u3', 'web', ?)`,
			`INSERT INTO messages (event_id, conv, at, dir, text, words) VALUES ('1-1', 'o1', ?, 'in', '发票开错了', '发票 开错 了'),
				('1-2', 'o1', ?, 'out', '正在为您转接', '正在 为 您 转接'), ('1-3', 'o2', ?, 'in', '发票', '发票'), ('1-4', 'o3', ?, 'in', '退款', '退款')`,
		} {
			args := []any{ms, ms, ms + 1000}
			if strings.Contains(stmt, "messages") {
				args = []any{ms, ms + 1, ms, ms + 1000}
			}
			if _, err := raw.ExecContext(ctx, rebind(dialect, stmt), args...); err != nil {
				t.Fatal(err)
			}
		}
		db := mustOpen(t, dsn)
		for _, tt := range []struct {
			q    Query
			want []string
		}{
			{Query{}, []string{"o3", "o2", "o1"}},
			{Query{Words: "发票"}, []string{"o2", "o1"}},
			{Query{Words: "发票 转接"}, []string{"o1"}},
			{Query{Words: "退款"}, []string{"o3"}},
		} {
			res, err := db.Search(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, convs(res)); diff != "" {
				t.Errorf("%+v (-want +got):\n%s", tt.q, diff)
			}
		}
		ftsIntact(t, db)
		// Written after the migration: in its place, found by its words.
		if err := db.Write(ctx, convEvents("n1", "u4", "web", "", t0.Add(500*time.Millisecond), 50, "发票", "")); err != nil {
			t.Fatal(err)
		}
		res, err := db.Search(ctx, Query{Words: "发票"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"n1", "o2", "o1"}, convs(res)); diff != "" {
			t.Errorf("after a new write (-want +got):\n%s", diff)
		}
		ftsIntact(t, db)
	})
}
