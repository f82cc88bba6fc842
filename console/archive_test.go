package console

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/intents"
)

var (
	jiebaOnce sync.Once
	jieba     *intents.JiebaTokenizer
	jiebaErr  error
)

// MustArchive opens an SQLite archive in the test's folder with the bot's
// Chinese segmenter (loaded once per test binary).
func MustArchive(tb testing.TB) *archive.DB {
	tb.Helper()
	jiebaOnce.Do(func() { jieba, jiebaErr = intents.NewJiebaTokenizer("", nil) })
	if jiebaErr != nil {
		tb.Fatal(jiebaErr)
	}
	db, err := archive.Open(context.Background(), "sqlite://"+filepath.Join(tb.TempDir(), "archive.db"), jieba)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// archived is an archived conversation for the tests: episode ep of the
// web customer user, handed to group (none: the bot's alone) and answered
// by agent, rated score (0: not rated), started at start.
type archived struct {
	user, ep, group, agent string
	score                  int
	start                  time.Time
	said, answer, entities string
	labels                 string // put on it by the agent (labels_changed), space-separated
}

func (a archived) id() string { return "web:" + a.user + "#" + a.ep }

var archSeq int

// events are the lifecycle events the archiver would have stored for a.
// (The event and field names are the archive's until package conv owns
// them.)
func (a archived) events() []archive.Event {
	id := a.id()
	thread := "web:" + a.user
	var evs []archive.Event
	at := a.start
	add := func(typ string, f map[string]string) {
		archSeq++
		evs = append(evs, archive.Event{ID: fmt.Sprintf("%d-%d", at.UnixMilli(), archSeq), Type: typ, Conv: id, At: at, Fields: f})
		at = at.Add(time.Minute)
	}
	start := map[string]string{conv.EvCustomer: thread, conv.EvChannel: "web"}
	if a.group != "" {
		start[conv.EvGroup] = a.group
	}
	add(conv.Started, start)
	add(conv.CustomerMessage, map[string]string{conv.EvText: a.said, conv.EvEntities: a.entities})
	if a.group != "" {
		add("handoff", map[string]string{conv.EvGroup: a.group, "reason": "asked"})
	}
	if a.agent != "" {
		add(conv.Claimed, map[string]string{conv.EvAgent: a.agent})
		add(conv.AgentMessage, map[string]string{conv.EvAgent: a.agent, conv.EvText: a.answer})
	} else {
		add(conv.BotReply, map[string]string{conv.EvText: a.answer, conv.EvIntent: "faq"})
	}
	if a.labels != "" {
		add(conv.LabelsChanged, map[string]string{conv.EvLabels: a.labels, conv.EvAgent: a.agent, conv.EvSeq: "1"})
	}
	add(conv.Closed, map[string]string{"by": "test"})
	if a.score > 0 {
		add(conv.Rated, map[string]string{conv.EvScore: fmt.Sprint(a.score)})
	}
	return evs
}

// day0 is long before the console env's clock: retention has long expired
// these conversations from Redis.
var day0 = time.Date(2024, 1, 15, 9, 0, 0, 0, time.UTC)

// archiveFixture is five conversations: visitor1 three times (pre_sales,
// after_sales, the bot alone), visitor2 (pre_sales), visitor3 (after_sales).
var archiveFixture = []archived{
	{user: "visitor1", ep: "1", group: "pre_sales", agent: "alice", score: 5, start: day0,
		said: "请问发票什么时候寄出", answer: "发票已经寄出", entities: ""},
	{user: "visitor1", ep: "2", group: "after_sales", agent: "carol", score: 1, start: day0.AddDate(0, 2, 0),
		said: "订单 202401150001 的退款还没到账", answer: "退款已经处理", entities: "202401150001"},
	{user: "visitor1", ep: "3", start: day0.AddDate(0, 3, 0), said: "你们几点下班", answer: "我们全天在线"},
	{user: "visitor2", ep: "1", group: "pre_sales", agent: "bob", score: 4, start: day0.AddDate(0, 4, 0),
		said: "我要开发票，订单 202405150002", answer: "好的，发票稍后发您邮箱", entities: "202405150002", labels: "vip"},
	{user: "visitor3", ep: "1", group: "after_sales", agent: "carol", start: day0.AddDate(0, 5, 0),
		said: "发票抬头写错了", answer: "已经为您重开发票", labels: "refund vip"},
}

// MustArchiveEnv is a console env whose archive holds archiveFixture.
func MustArchiveEnv(tb testing.TB) (*env, *archive.DB) {
	tb.Helper()
	db := MustArchive(tb)
	var evs []archive.Event
	for _, a := range archiveFixture {
		evs = append(evs, a.events()...)
	}
	if err := db.Write(context.Background(), evs); err != nil {
		tb.Fatal(err)
	}
	e := MustEnvDeps(tb, nil, func(d *Deps) { d.Archive = db })
	return e, db
}

func convIDs(p pageJSON) []string {
	out := []string{}
	for _, r := range p.Results {
		out = append(out, r.Conv)
	}
	return out
}

func TestArchiveSearchByGroup(t *testing.T) {
	e, _ := MustArchiveEnv(t)
	search := func(c *client, q string) pageJSON {
		t.Helper()
		var p pageJSON
		c.must("GET", "archive/search?"+q, nil, &p)
		return p
	}
	alice, carol, sup := e.signedIn(t, "alice"), e.signedIn(t, "carol"), e.signedIn(t, "sup")
	w := "q=" + url.QueryEscape("发票")
	tests := []struct {
		name string
		c    *client
		q    string
		want []string
	}{
		{"an agent finds their group's only", alice, w, []string{"web:visitor2#1", "web:visitor1#1"}},
		{"another agent, another group", carol, w, []string{"web:visitor3#1"}},
		{"a supervisor finds every group's", sup, w, []string{"web:visitor3#1", "web:visitor2#1", "web:visitor1#1"}},
		{"an order number, own group", carol, "entity=202401150001", []string{"web:visitor1#2"}},
		{"an order number, another group's", alice, "entity=202401150001", []string{}},
		{"asking for another group", alice, "group=after_sales", []string{}},
		{"a customer, as a supervisor (the bot's too)", sup, "customer=web:visitor1", []string{"web:visitor1#3", "web:visitor1#2", "web:visitor1#1"}},
		{"a customer, as an agent", alice, "customer=web:visitor1", []string{"web:visitor1#1"}},
		{"agent", sup, "agent=carol", []string{"web:visitor3#1", "web:visitor1#2"}},
		{"rating range", sup, "rating_max=2", []string{"web:visitor1#2"}},
		{"date range, days included", sup, "from=2024-03-15&to=2024-05-15", []string{"web:visitor2#1", "web:visitor1#3", "web:visitor1#2"}},
		{"group and channel", sup, "group=pre_sales&channel=web", []string{"web:visitor2#1", "web:visitor1#1"}},
		{"a label", sup, "label=vip", []string{"web:visitor3#1", "web:visitor2#1"}},
		{"a label, own group only", alice, "label=vip", []string{"web:visitor2#1"}},
		{"a label and words", sup, "label=refund&q=" + url.QueryEscape("发票"), []string{"web:visitor3#1"}},
		{"English is found too", sup, "q=" + url.QueryEscape("NOTHING"), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := search(tt.c, tt.q)
			if diff := cmp.Diff(tt.want, convIDs(p)); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			if p.Total != len(tt.want) {
				t.Errorf("total %d, want %d", p.Total, len(tt.want))
			}
		})
	}

	// Pages: newest first, the total and the number of pages with each.
	p := search(sup, w+"&per_page=2&page=2")
	if diff := cmp.Diff([]string{"web:visitor1#1"}, convIDs(p)); diff != "" || p.Total != 3 || p.Pages != 2 || p.Page != 2 {
		t.Errorf("page 2: %+v (%s)", p, diff)
	}
	// The same pages by cursor: each page's next, to the last one, which
	// has none.
	var byCursor []string
	for q := w + "&per_page=1"; ; {
		p := search(sup, q)
		byCursor = append(byCursor, convIDs(p)...)
		if p.Next == "" {
			break
		}
		if len(byCursor) > 3 {
			t.Fatalf("a next cursor after every conversation: %v", byCursor)
		}
		q = w + "&per_page=1&page=" + strconv.Itoa(p.Page+1) + "&after=" + url.QueryEscape(p.Next)
	}
	if diff := cmp.Diff([]string{"web:visitor3#1", "web:visitor2#1", "web:visitor1#1"}, byCursor); diff != "" {
		t.Errorf("by cursor (-want +got):\n%s", diff)
	}
	r := search(sup, "customer=web:visitor1&per_page=1").Results[0]
	if r.Outcome != archive.OutcomeBot || r.Rating != nil || r.Snippet != "你们几点下班" || r.Thread != "web:visitor1" {
		t.Errorf("a bot-only result: %+v", r)
	}

	for _, q := range []string{"page=0", "per_page=101", "from=yesterday", "rating_min=6", "to=2024-13-01", "after=nope"} {
		sup.refused("GET", "archive/search?"+q, nil, 400, "bad_request")
	}
	e.client(t).refused("GET", "archive/search?q=x", nil, 401, "unauthenticated")
}

func TestArchivedConversationByID(t *testing.T) {
	e, _ := MustArchiveEnv(t)
	alice, carol, sup := e.signedIn(t, "alice"), e.signedIn(t, "carol"), e.signedIn(t, "sup")
	path := func(id string) string { return "archive/convs/" + url.PathEscape(id) }

	var got struct {
		Conv       resultJSON          `json:"conv"`
		Transcript []entryJSON         `json:"transcript"`
		Events     []archivedEventJSON `json:"events"`
	}
	alice.must("GET", path("web:visitor1#1"), nil, &got)
	if got.Conv.Agent != "alice" || got.Conv.Group != "pre_sales" || got.Conv.Rating == nil || *got.Conv.Rating != 5 {
		t.Errorf("summary %+v", got.Conv)
	}
	var texts []string
	for _, x := range got.Transcript {
		texts = append(texts, x.Dir+":"+x.Kind+":"+x.Text)
	}
	if diff := cmp.Diff([]string{"in:text:请问发票什么时候寄出", "out:agent:发票已经寄出"}, texts); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
	if len(got.Events) < 5 || got.Events[0].Type != conv.Started {
		t.Errorf("events %+v", got.Events)
	}

	// Another group's, one that does not exist, the bot's own: the same
	// answer to an agent, so that ids cannot be probed.
	alice.refused("GET", path("web:visitor1#2"), nil, 403, "skill")
	alice.refused("GET", path("web:nobody#1"), nil, 403, "skill")
	alice.refused("GET", path("web:visitor1#3"), nil, 403, "skill")
	carol.refused("GET", path("web:visitor2#1"), nil, 403, "skill")
	carol.must("GET", path("web:visitor1#2"), nil, nil)
	sup.must("GET", path("web:visitor1#2"), nil, nil)
	sup.must("GET", path("web:visitor1#3"), nil, nil)
	sup.refused("GET", path("web:nobody#1"), nil, 404, "not_found")
}

func TestHistoryOfTheCustomer(t *testing.T) {
	e, _ := MustArchiveEnv(t)
	// visitor1 is back, handed to pre_sales, and alice takes it.
	cid := e.customer(t, "visitor1", "上次的发票还没收到", "pre_sales", false)
	alice, carol, sup := e.signedIn(t, "alice"), e.signedIn(t, "carol"), e.signedIn(t, "sup")
	alice.must("POST", "online", nil, nil)
	alice.must("POST", "claim", map[string]string{"conv": cid}, nil)

	type historyJSON struct {
		Customer string   `json:"customer"`
		History  pageJSON `json:"history"`
	}
	var h historyJSON
	alice.must("GET", "convs/"+url.PathEscape(cid)+"/history", nil, &h)
	// Her group's and the bot's own, not after_sales' (visitor1#2).
	if diff := cmp.Diff([]string{"web:visitor1#3", "web:visitor1#1"}, convIDs(h.History)); diff != "" || h.Customer != cid {
		t.Errorf("alice's history of %s (-want +got):\n%s", h.Customer, diff)
	}
	sup.must("GET", "convs/"+url.PathEscape(cid)+"/history", nil, &h)
	if diff := cmp.Diff([]string{"web:visitor1#3", "web:visitor1#2", "web:visitor1#1"}, convIDs(h.History)); diff != "" {
		t.Errorf("a supervisor's history (-want +got):\n%s", diff)
	}
	sup.must("GET", "convs/"+url.PathEscape(cid)+"/history?per_page=1&page=3", nil, &h)
	if diff := cmp.Diff([]string{"web:visitor1#1"}, convIDs(h.History)); diff != "" || h.History.Total != 3 {
		t.Errorf("history page 3: %+v", h.History)
	}
	// Not hers: refused.
	carol.refused("GET", "convs/"+url.PathEscape(cid)+"/history", nil, 403, "not_holder")

	// The bot's own conversation with her customer opens while she holds
	// the customer, and no longer once she has closed.
	bot := "archive/convs/" + url.PathEscape("web:visitor1#3")
	alice.must("GET", bot, nil, nil)
	alice.must("POST", "convs/"+url.PathEscape(cid)+"/close", nil, nil)
	alice.refused("GET", bot, nil, 403, "skill")
	alice.refused("GET", "convs/"+url.PathEscape(cid)+"/history", nil, 403, "not_holder")
}

func TestConversationFromArchiveWhenExpired(t *testing.T) {
	e, _ := MustArchiveEnv(t)
	alice, carol, sup := e.signedIn(t, "alice"), e.signedIn(t, "carol"), e.signedIn(t, "sup")
	// visitor2 has no Redis keys (expired): the archive answers, read-only.
	var got struct {
		Conv       convJSON    `json:"conv"`
		Mine       bool        `json:"mine"`
		Archived   *resultJSON `json:"archived"`
		Transcript []entryJSON `json:"transcript"`
	}
	for _, c := range []*client{alice, sup} {
		got.Archived = nil
		c.must("GET", "convs/web:visitor2", nil, &got)
		if got.Archived == nil || got.Archived.Conv != "web:visitor2#1" || got.Mine || got.Conv.ID != "web:visitor2" ||
			got.Conv.User != "visitor2" || got.Conv.Agent != "bob" || len(got.Transcript) != 2 || got.Transcript[0].Text != "我要开发票，订单 202405150002" {
			t.Errorf("expired conversation from the archive: %+v", got)
		}
	}
	// Its newest episode: visitor1#3 for a supervisor; alice may read
	// visitor1#1 only.
	sup.must("GET", "convs/web:visitor1", nil, &got)
	if got.Archived == nil || got.Archived.Conv != "web:visitor1#3" {
		t.Errorf("supervisor, visitor1: %+v", got.Archived)
	}
	alice.must("GET", "convs/web:visitor1", nil, &got)
	if got.Archived == nil || got.Archived.Conv != "web:visitor1#1" {
		t.Errorf("alice, visitor1: %+v", got.Archived)
	}
	carol.refused("GET", "convs/web:visitor2", nil, 403, "not_holder")
	sup.refused("GET", "convs/web:nobody", nil, 404, "not_found")
}

func TestArchiveOff(t *testing.T) {
	e := MustEnv(t, nil)
	sup := e.signedIn(t, "sup")
	sup.refused("GET", "archive/search?q=x", nil, 404, "not_found")
	sup.refused("GET", "archive/convs/x%231", nil, 404, "not_found")
	sup.refused("GET", "convs/web:gone", nil, 404, "not_found")
}
