package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/internal/testkit/pgtest"
)

// The bot's segmenter indexes with its search mode.
var _ IndexSegmenter = (*intents.JiebaTokenizer)(nil)

var (
	jiebaOnce sync.Once
	jieba     *intents.JiebaTokenizer
	jiebaErr  error
)

// segmenter is the bot's own Chinese segmenter, loaded once per test binary.
func segmenter(tb testing.TB) Segmenter {
	tb.Helper()
	jiebaOnce.Do(func() { jieba, jiebaErr = intents.NewJiebaTokenizer("", nil) })
	if jiebaErr != nil {
		tb.Fatal(jiebaErr)
	}
	return jieba
}

// dialects runs f once on a fresh SQLite file and once on a fresh
// PostgreSQL database; dsn opens that same database again.
func dialects(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, "sqlite://"+filepath.Join(t.TempDir(), "data", "archive.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		f(t, pgtest.Database(t))
	})
}

// mustOpen opens dsn with the real segmenter and closes it when the test
// ends.
func mustOpen(tb testing.TB, dsn string) *DB {
	tb.Helper()
	db, err := Open(context.Background(), dsn, segmenter(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

var t0 = time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)

// convEvents is one whole conversation: started, a customer message, a bot
// reply, handed to agent, claimed, an agent message, a note, closed, rated.
// Its event ids start at base.
func convEvents(cid, customer, channel, agent string, start time.Time, base int, customerText string, ents string) []Event {
	at := func(i int) time.Time { return start.Add(time.Duration(i) * time.Second) }
	id := func(i int) string { return fmt.Sprintf("%d-%d", start.UnixMilli()+int64(i)*1000, base+i) }
	evs := []Event{
		{ID: id(0), Type: conv.Started, Conv: cid, At: at(0), Fields: map[string]string{conv.EvCustomer: customer, conv.EvChannel: channel, conv.EvGroup: "sales"}},
		{ID: id(1), Type: conv.CustomerMessage, Conv: cid, At: at(1), Fields: map[string]string{conv.EvText: customerText, conv.EvEntities: ents}},
		{ID: id(2), Type: conv.BotReply, Conv: cid, At: at(2), Fields: map[string]string{conv.EvText: "正在为您转接人工客服", conv.EvIntent: "handoff"}},
		{ID: id(3), Type: conv.Handoff, Conv: cid, At: at(3), Fields: map[string]string{conv.EvReason: "asked", conv.EvGroup: "sales"}},
	}
	if agent == "" {
		return append(evs, Event{ID: id(4), Type: conv.Closed, Conv: cid, At: at(4), Fields: map[string]string{conv.EvBy: conv.ByIdle}})
	}
	return append(evs,
		Event{ID: id(4), Type: conv.Claimed, Conv: cid, At: at(4), Fields: map[string]string{conv.EvAgent: agent}},
		Event{ID: id(5), Type: conv.AgentMessage, Conv: cid, At: at(5), Fields: map[string]string{conv.EvAgent: agent, conv.EvText: "您好，已经为您处理"}},
		Event{ID: id(6), Type: conv.Note, Conv: cid, At: at(6), Fields: map[string]string{conv.EvAgent: agent, conv.EvText: "customer was polite"}},
		Event{ID: id(7), Type: conv.Closed, Conv: cid, At: at(7), Fields: map[string]string{conv.EvBy: agent}},
		Event{ID: id(8), Type: conv.Rated, Conv: cid, At: at(8), Fields: map[string]string{conv.EvScore: "5"}},
	)
}

// counts is the number of rows in each table.
func counts(tb testing.TB, db *DB) map[string]int {
	tb.Helper()
	out := map[string]int{}
	for _, table := range []string{"conversations", "events", "messages", "entities"} {
		var n int
		if err := db.db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
			tb.Fatal(err)
		}
		out[table] = n
	}
	return out
}

func TestOpenMigratesOnceAndAgain(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		v, err := db.Version(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v < 1 {
			t.Fatalf("schema version %d after Open, want >= 1", v)
		}
		if err := db.Write(ctx, convEvents("c1", "u1", "web", "", t0, 0, "hello", "")); err != nil {
			t.Fatal(err)
		}
		// A second Open (another instance, the command line) applies nothing
		// and keeps the data.
		db2 := mustOpen(t, dsn)
		v2, err := db2.Version(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v2 != v {
			t.Errorf("version %d at the second Open, want %d", v2, v)
		}
		if got := counts(t, db2)["conversations"]; got != 1 {
			t.Errorf("%d conversations after the second Open, want 1", got)
		}
	})
}

func TestOpenRefusesOtherSchemes(t *testing.T) {
	_, err := Open(context.Background(), "mysql://root:secret@localhost/kefu", nil)
	if !errors.Is(err, ErrBadDSN) {
		t.Fatalf("Open(mysql://…) = %v, want ErrBadDSN", err)
	}
	if s := err.Error(); strings.Contains(s, "secret") {
		t.Errorf("the error shows the password: %s", s)
	}
}

func TestOpenErrorHidesPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Nothing listens on port 1.
	_, err := Open(ctx, "postgres://kefu:hunter2@127.0.0.1:1/kefu?sslmode=disable&connect_timeout=2", nil)
	if err == nil {
		t.Fatal("Open on a closed port succeeded")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the password: %v", err)
	}
	if got := Redacted("postgres://kefu:hunter2@db:5432/kefu"); strings.Contains(got, "hunter2") {
		t.Errorf("Redacted = %s", got)
	}
}

func TestWriteTwiceStoresOnce(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		batch := convEvents("c1", "u1", "web", "alice", t0, 0, "订单 1234567890 的发票", "1234567890")
		if err := db.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		want := counts(t, db)
		if diff := cmp.Diff(map[string]int{"conversations": 1, "events": 9, "messages": 4, "entities": 1}, want); diff != "" {
			t.Fatalf("after one write (-want +got):\n%s", diff)
		}
		// The same batch again, and an overlapping one with a duplicate inside.
		if err := db.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if err := db.Write(ctx, append(batch[3:6:6], batch[4])); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, counts(t, db)); diff != "" {
			t.Errorf("after replays (-want +got):\n%s", diff)
		}
		res, err := db.Search(ctx, Query{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != 1 || *res.Results[0].Rating != 5 || res.Results[0].Agent != "alice" || res.Results[0].Outcome != OutcomeAgent {
			t.Errorf("after replays: %+v", res)
		}
	})
}

func TestWriteBatchIsAllOrNothing(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		batch := convEvents("c1", "u1", "web", "alice", t0, 0, "发票", "1234567890")
		empty := map[string]int{"conversations": 0, "events": 0, "messages": 0, "entities": 0}

		// A bad row at the end: refused before anything is written.
		bad := append(append([]Event(nil), batch...), Event{ID: "9-9", Type: conv.Rated, Conv: "c1", At: t0, Fields: map[string]string{conv.EvScore: "five"}})
		if err := db.Write(ctx, bad); !errors.Is(err, ErrBadEvent) {
			t.Fatalf("Write(bad score) = %v, want ErrBadEvent", err)
		}
		if diff := cmp.Diff(empty, counts(t, db)); diff != "" {
			t.Fatalf("after a bad row (-want +got):\n%s", diff)
		}

		// A failure in the middle of the transaction, after rows were
		// written: the database error path.
		testHookApply = func(i int) error {
			if i == 5 {
				return errors.New("the database went away")
			}
			return nil
		}
		err := db.Write(ctx, batch)
		testHookApply = nil
		if err == nil {
			t.Fatal("Write with a failure mid-way succeeded")
		}
		if diff := cmp.Diff(empty, counts(t, db)); diff != "" {
			t.Fatalf("after a failure mid-way (-want +got):\n%s", diff)
		}

		// The context cancelled mid-way.
		cctx, cancel := context.WithCancel(ctx)
		testHookApply = func(i int) error {
			if i == 3 {
				cancel()
			}
			return nil
		}
		err = db.Write(cctx, batch)
		testHookApply = nil
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Write with the context cancelled mid-way = %v, want context.Canceled", err)
		}
		if diff := cmp.Diff(empty, counts(t, db)); diff != "" {
			t.Fatalf("after a cancel mid-way (-want +got):\n%s", diff)
		}

		// And the same batch whole afterwards is written whole.
		if err := db.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if got := counts(t, db)["events"]; got != len(batch) {
			t.Errorf("%d events after the retry, want %d", got, len(batch))
		}
	})
}

// fill writes a small archive: six conversations on four days.
func fill(tb testing.TB, db *DB) {
	tb.Helper()
	var all []Event
	day := 24 * time.Hour
	all = append(all, convEvents("c1", "u1", "web", "alice", t0, 0, "请问发票什么时候寄出", "")...)
	all = append(all, convEvents("c2", "u2", "telegram", "bob", t0.Add(day), 100, "Where is my invoice? Order 20261103001", "20261103001")...)
	all = append(all, convEvents("c3", "u1", "wechat", "", t0.Add(2*day), 200, "退款还没到账", "")...)
	all = append(all, convEvents("c4", "u3", "web", "alice", t0.Add(2*day+time.Hour), 300, "发票抬头写错了", "13800138000")...)
	all = append(all, convEvents("c5", "u4", "web", "bob", t0.Add(2*day+2*time.Hour), 400, "my parcel SF1234567890123 is late", "SF1234567890123")...)
	all = append(all, convEvents("c6", "u5", "web", "", t0.Add(3*day), 500, "我要开发票", "")...)
	if err := db.Write(context.Background(), all); err != nil {
		tb.Fatal(err)
	}
}

func convs(res Results) []string {
	out := []string{}
	for _, r := range res.Results {
		out = append(out, r.Conv)
	}
	return out
}

func TestSearch(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		fill(t, db)
		day := 24 * time.Hour
		tests := []struct {
			name  string
			q     Query
			want  []string
			total int
		}{
			{"everything, newest first", Query{}, []string{"c6", "c5", "c4", "c3", "c2", "c1"}, 6},
			// "发票" sits inside the run 请问发票什么时候寄出: unicode61 alone
			// keeps the run as one token and would miss it. In 我要开发票
			// gojieba's Cut keeps 开发票 whole: the index has its inner words.
			{"a Chinese word inside a run", Query{Words: "发票"}, []string{"c6", "c4", "c1"}, 3},
			{"the longer word", Query{Words: "开发票"}, []string{"c6"}, 1},
			{"two Chinese words", Query{Words: "发票什么时候"}, []string{"c1"}, 1},
			{"a Chinese word in the bot's reply", Query{Words: "人工客服"}, []string{"c6", "c5", "c4", "c3", "c2", "c1"}, 6},
			{"English, any case", Query{Words: "INVOICE"}, []string{"c2"}, 1},
			{"English words all needed", Query{Words: "invoice parcel"}, []string{}, 0},
			{"a word in a note", Query{Words: "polite"}, []string{"c5", "c4", "c2", "c1"}, 4},
			{"no such word", Query{Words: "保修"}, []string{}, 0},
			{"punctuation only", Query{Words: "？！"}, []string{}, 0},
			{"order number", Query{Entity: "20261103001"}, []string{"c2"}, 1},
			{"tracking number", Query{Entity: "SF1234567890123"}, []string{"c5"}, 1},
			{"phone number", Query{Entity: "13800138000"}, []string{"c4"}, 1},
			{"an entity is exact", Query{Entity: "1380013800"}, []string{}, 0},
			{"customer", Query{Customer: "u1"}, []string{"c3", "c1"}, 2},
			{"agent", Query{Agent: "alice"}, []string{"c4", "c1"}, 2},
			{"channel", Query{Channel: "web"}, []string{"c6", "c5", "c4", "c1"}, 4},
			{"date range", Query{From: t0.Add(day), To: t0.Add(2*day + time.Hour)}, []string{"c3", "c2"}, 2},
			{"words and filters", Query{Words: "发票", Channel: "web", Agent: "alice", From: t0.Add(day)}, []string{"c4"}, 1},
			{"page 1", Query{Limit: 4}, []string{"c6", "c5", "c4", "c3"}, 6},
			{"page 2", Query{Limit: 4, Offset: 4}, []string{"c2", "c1"}, 6},
			{"past the end", Query{Limit: 4, Offset: 10}, []string{}, 6},
			{"a page of words", Query{Words: "发票", Limit: 2, Offset: 1}, []string{"c4", "c1"}, 3},
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
				if res.Total != tt.total {
					t.Errorf("total %d, want %d", res.Total, tt.total)
				}
			})
		}

		res, err := db.Search(ctx, Query{Words: "发票", Customer: "u1"})
		if err != nil {
			t.Fatal(err)
		}
		ended := t0.Add(7 * time.Second)
		rating := 5
		want := []Result{{Conv: "c1", Customer: "u1", Channel: "web", Group: "sales", Started: t0, Ended: &ended, Agent: "alice",
			Rating: &rating, Outcome: OutcomeAgent, Snippet: "请问发票什么时候寄出"}}
		if diff := cmp.Diff(want, res.Results); diff != "" {
			t.Errorf("a result (-want +got):\n%s", diff)
		}
		res, err = db.Search(ctx, Query{Customer: "u1", Channel: "wechat"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != 1 || res.Results[0].Rating != nil || res.Results[0].Outcome != OutcomeBot || res.Results[0].Snippet != "退款还没到账" {
			t.Errorf("a bot-only conversation: %+v", res.Results)
		}
	})
}

// TestSearchPlainFTS5MissesWordsInARun pins the reason the words are
// segmented: FTS5's unicode61 on the raw text does not find 发票 inside a
// longer run of Chinese.
func TestSearchPlainFTS5MissesWordsInARun(t *testing.T) {
	db := mustOpen(t, "sqlite://"+filepath.Join(t.TempDir(), "a.db"))
	for _, s := range []string{`CREATE VIRTUAL TABLE raw USING fts5(text)`, `INSERT INTO raw (text) VALUES ('请问发票什么时候寄出')`} {
		if _, err := db.db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.db.QueryRow(`SELECT COUNT(*) FROM raw WHERE raw MATCH '"发票"'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("plain FTS5 found 发票 inside a run (%d): segmenting may be unneeded", n)
	}
}

func TestShowInOrder(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		evs := convEvents("c1", "u1", "web", "alice", t0, 0, "请问发票什么时候寄出", "")
		// Written out of order, in two batches, as several archivers may.
		if err := db.Write(ctx, evs[4:]); err != nil {
			t.Fatal(err)
		}
		if err := db.Write(ctx, evs[:4]); err != nil {
			t.Fatal(err)
		}
		tr, err := db.Show(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
		wantEntries := []Entry{
			{At: at(1), Dir: DirIn, Kind: "text", Text: "请问发票什么时候寄出"},
			{At: at(2), Dir: DirOut, Kind: "text", Text: "正在为您转接人工客服", Intent: "handoff"},
			{At: at(5), Dir: DirOut, Kind: "text", Text: "您好，已经为您处理", Agent: "alice"},
			{At: at(6), Dir: DirNote, Kind: "text", Text: "customer was polite", Agent: "alice"},
		}
		if diff := cmp.Diff(wantEntries, tr.Entries); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
		if tr.Customer != "u1" || tr.Channel != "web" {
			t.Errorf("customer %q channel %q", tr.Customer, tr.Channel)
		}
		var types []string
		for _, e := range tr.Events {
			types = append(types, e.Type)
		}
		wantTypes := []string{conv.Started, conv.CustomerMessage, conv.BotReply, conv.Handoff, conv.Claimed, conv.AgentMessage, conv.Note, conv.Closed, conv.Rated}
		if diff := cmp.Diff(wantTypes, types); diff != "" {
			t.Errorf("event types (-want +got):\n%s", diff)
		}
		if tr.Events[3].Fields[conv.EvReason] != "asked" {
			t.Errorf("an unknown event's fields: %v", tr.Events[3].Fields)
		}
		// The start came last but is the start.
		res, err := db.Search(ctx, Query{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != 1 || !res.Results[0].Started.Equal(t0) || res.Results[0].Channel != "web" {
			t.Errorf("conversation row: %+v", res.Results)
		}
		// Events of one millisecond come in stream order: 9 before 10.
		same := []Event{
			{ID: "5000-10", Type: conv.CustomerMessage, Conv: "c2", At: t0, Fields: map[string]string{conv.EvText: "second"}},
			{ID: "5000-9", Type: conv.CustomerMessage, Conv: "c2", At: t0, Fields: map[string]string{conv.EvText: "first"}},
		}
		if err := db.Write(ctx, same); err != nil {
			t.Fatal(err)
		}
		tr, err = db.Show(ctx, "c2")
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Entries) != 2 || tr.Entries[0].Text != "first" || tr.Events[0].ID != "5000-9" {
			t.Errorf("one millisecond: entries %+v events %+v", tr.Entries, tr.Events)
		}
		if _, err := db.Show(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Show(nope) = %v, want ErrNotFound", err)
		}
	})
}

// TestArchiveSQLiteWriterAndReader: the server writes while the command
// line reads the same file, each with its own connections: WAL and
// busy_timeout keep both from failing with SQLITE_BUSY.
func TestArchiveSQLiteWritersAndReader(t *testing.T) {
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "archive.db")
	w1, w2, r := mustOpen(t, dsn), mustOpen(t, dsn), mustOpen(t, dsn)
	ctx := context.Background()
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	for k, w := range []*DB{w1, w2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				cid := fmt.Sprintf("w%d-%d", k, i)
				if err := w.Write(ctx, convEvents(cid, "u", "web", "alice", t0.Add(time.Duration(i)*time.Minute), k*100000+i*10, "发票", "")); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range n {
			if _, err := r.Search(ctx, Query{Words: "发票"}); err != nil {
				errs <- err
			}
			if _, err := r.Show(ctx, "w0-0"); err != nil && !errors.Is(err, ErrNotFound) {
				errs <- err
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	res, err := r.Search(ctx, Query{Words: "发票"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 2*n {
		t.Errorf("%d conversations found, want %d", res.Total, 2*n)
	}
}

// TestOpenConcurrently: instances starting together on an empty database
// apply the migrations once between them.
func TestOpenConcurrently(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		const n = 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		dbs := make([]*DB, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dbs[i], errs[i] = Open(context.Background(), dsn, nil)
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Errorf("Open %d: %v", i, errs[i])
				continue
			}
			dbs[i].Close()
		}
	})
}

// TestSearchJSON pins the command line's contract: rating and ended null
// when there are none, times in RFC 3339, event fields beside type and at.
func TestSearchJSON(t *testing.T) {
	db := mustOpen(t, "sqlite://"+filepath.Join(t.TempDir(), "a.db"))
	ctx := context.Background()
	evs := []Event{
		{ID: "1-0", Type: conv.Started, Conv: "c1", At: t0, Fields: map[string]string{conv.EvCustomer: "u1", conv.EvChannel: "web"}},
		{ID: "2-0", Type: conv.CustomerMessage, Conv: "c1", At: t0.Add(time.Second), Fields: map[string]string{conv.EvText: "hello"}},
	}
	if err := db.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	res, err := db.Search(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"total":1,"results":[{"conv":"c1","customer":"u1","channel":"web","started":"2026-11-03T09:00:00Z","ended":null,"agent":"","rating":null,"outcome":"","snippet":"hello"}]}`
	if string(got) != want {
		t.Errorf("search JSON\n got %s\nwant %s", got, want)
	}
	tr, err := db.Show(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	got, err = json.Marshal(tr.Events[0])
	if err != nil {
		t.Fatal(err)
	}
	want = `{"at":"2026-11-03T09:00:00Z","channel":"web","customer":"u1","id":"1-0","type":"conversation_started"}`
	if string(got) != want {
		t.Errorf("event JSON\n got %s\nwant %s", got, want)
	}
}

func TestWriteOutcomes(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		ev := func(id, conv, typ string, fields map[string]string) Event {
			return Event{ID: id, Type: typ, Conv: conv, At: t0, Fields: fields}
		}
		batch := []Event{
			ev("1-1", "bot", conv.Started, nil),
			ev("1-2", "bot", conv.Closed, nil),
			ev("2-1", "agent", conv.Claimed, map[string]string{conv.EvAgent: "alice"}),
			ev("2-2", "agent", conv.Closed, nil),
			ev("3-1", "left", conv.Abandoned, nil),
			ev("3-2", "left", conv.Closed, map[string]string{conv.EvBy: conv.ByIdle}),
			ev("5-1", "open", conv.CustomerMessage, map[string]string{conv.EvText: "hi"}),
			// Archived out of order (several archivers): the close before
			// the claim it follows.
			ev("6-2", "late", conv.Closed, nil),
			ev("6-1", "late", conv.Claimed, map[string]string{conv.EvAgent: "bob"}),
		}
		if err := db.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		res, err := db.Search(ctx, Query{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, r := range res.Results {
			got[r.Conv] = r.Outcome
			if (r.Ended == nil) != (r.Conv == "open") {
				t.Errorf("%s: ended %v", r.Conv, r.Ended)
			}
		}
		want := map[string]string{"bot": OutcomeBot, "agent": OutcomeAgent, "left": OutcomeAbandoned, "open": "",
			"late": OutcomeAgent}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
	})
}

func TestWriteRefusesEventsWithoutKeys(t *testing.T) {
	db := mustOpen(t, "sqlite://"+filepath.Join(t.TempDir(), "a.db"))
	for _, e := range []Event{
		{Type: conv.CustomerMessage, Conv: "c1", At: t0},
		{ID: "1-0", Type: conv.CustomerMessage, At: t0},
		{ID: "1-0", Conv: "c1", At: t0},
	} {
		if err := db.Write(context.Background(), []Event{e}); !errors.Is(err, ErrBadEvent) {
			t.Errorf("Write(%+v) = %v, want ErrBadEvent", e, err)
		}
	}
}

// TestWriteThreadsAndEntities: an episode of a thread (conv.ArchiveID) has
// the thread as its customer and the thread's channel, whichever event comes
// first; the extractor's entities are indexed from every message's text; the
// hand-off names the group.
func TestWriteThreadsAndEntities(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		var calls sync.Map
		db, err := Open(ctx, dsn, segmenter(t), WithEntities(func(text string) []string {
			calls.Store(text, true)
			var out []string
			for _, w := range strings.Fields(text) {
				if len(w) >= 10 && strings.Trim(w, "0123456789") == "" {
					out = append(out, w)
				}
			}
			return out
		}))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		id := conv.ArchiveID(conv.ThreadID("web", "v1"), "3")
		evs := []Event{
			// The message before its start, as another archiver may write it.
			{ID: "2-0", Type: conv.CustomerMessage, Conv: id, At: t0.Add(time.Second), Fields: map[string]string{conv.EvText: "订单 2026110300123 没到"}},
			{ID: "3-0", Type: conv.Handoff, Conv: id, At: t0.Add(2 * time.Second), Fields: map[string]string{conv.EvGroup: "after_sales"}},
			{ID: "4-0", Type: conv.AgentMessage, Conv: id, At: t0.Add(3 * time.Second), Fields: map[string]string{conv.EvAgent: "alice", conv.EvText: "请拨打 13800138000", conv.EvEntities: "13800138000"}},
		}
		if err := db.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
		res, err := db.Search(ctx, Query{Customer: "web:v1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != 1 || res.Results[0].Conv != id || res.Results[0].Channel != "web" {
			t.Fatalf("before its start: %+v", res.Results)
		}
		if err := db.Write(ctx, []Event{{ID: "1-0", Type: conv.Started, Conv: id, At: t0, Fields: map[string]string{conv.EvChannel: "web"}}}); err != nil {
			t.Fatal(err)
		}
		for _, ent := range []string{"2026110300123", "13800138000"} {
			res, err := db.Search(ctx, Query{Entity: ent})
			if err != nil {
				t.Fatal(err)
			}
			if res.Total != 1 || res.Results[0].Customer != "web:v1" || !res.Results[0].Started.Equal(t0) {
				t.Errorf("entity %s: %+v", ent, res.Results)
			}
		}
		if got := counts(t, db)["entities"]; got != 2 {
			t.Errorf("%d entity rows, want 2 (the named one and the found one are the same)", got)
		}
		var group string
		if err := db.db.QueryRow(rebind(db.dialect, `SELECT group_name FROM conversations WHERE id = ?`), id).Scan(&group); err != nil || group != "after_sales" {
			t.Errorf("group %q, %v", group, err)
		}
		if _, ok := calls.Load("请拨打 13800138000"); !ok {
			t.Error("the extractor did not see the agent's message")
		}
	})
}

// TestPurge: a customer's conversations go, every row of them (the full-text
// index too); another customer's, even one whose id starts alike, stay.
func TestPurge(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := mustOpen(t, dsn)
		a1, a2 := conv.ArchiveID("web:a", "1"), conv.ArchiveID("web:a", "2")
		other := conv.ArchiveID("web:a#x", "1") // another thread whose id starts with web:a#
		var all []Event
		all = append(all, convEvents(a1, "web:a", "web", "alice", t0, 0, "我的发票 1234567890", "1234567890")...)
		all = append(all, convEvents(a2, "web:a", "web", "", t0.Add(time.Hour), 100, "发票又错了", "")...)
		all = append(all, convEvents(other, "web:a#x", "web", "", t0.Add(2*time.Hour), 200, "发票", "")...)
		if err := db.Write(ctx, all); err != nil {
			t.Fatal(err)
		}
		ids, err := db.Conversations(ctx, "web:a")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{a1, a2}, ids); diff != "" {
			t.Errorf("conversations (-want +got):\n%s", diff)
		}
		p, err := db.Purge(ctx, "web:a")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(Purged{Conversations: 2, Messages: 4 + 2, Events: 9 + 5, Entities: 1}, p); diff != "" {
			t.Errorf("purged (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]int{"conversations": 1, "events": 5, "messages": 2, "entities": 0}, counts(t, db)); diff != "" {
			t.Errorf("left (-want +got):\n%s", diff)
		}
		res, err := db.Search(ctx, Query{Words: "发票"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{other}, convs(res)); diff != "" {
			t.Errorf("search after the purge (-want +got):\n%s", diff)
		}
		if db.dialect == SQLite {
			var n int
			if err := db.db.QueryRow(`SELECT COUNT(*) FROM conv_fts WHERE conv_fts MATCH '"发票"'`).Scan(&n); err != nil || n != 1 {
				t.Errorf("the full-text index finds %d conversations with 发票, want 1 (the other thread's), %v", n, err)
			}
			ftsIntact(t, db)
		}
	})
}

// ftsIntact checks, on SQLite, that the conversations' full-text index
// holds exactly what their words say (FTS5's integrity-check compares the
// index with the external content).
func ftsIntact(tb testing.TB, db *DB) {
	tb.Helper()
	if db.dialect != SQLite {
		return
	}
	if _, err := db.db.Exec(`INSERT INTO conv_fts (conv_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		tb.Errorf("conv_fts: %v", err)
	}
}
