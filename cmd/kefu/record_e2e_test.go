package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kefu-dev/kefu/channels/web"
	"github.com/kefu-dev/kefu/conv"
)

// TestRecordDoneWhen is issue 14's "Done when" on the embedded default (the
// in-process Redis, the SQLite archive in --data): a web-chat conversation
// is handed off, answered by the demo agent through the console API, closed
// and rated; a signed-in customer of the shop chats too. The server is
// stopped and started again on the same data folder (its Redis starts
// empty): `kefu archive search WORDS` finds the conversation with the
// fields of issue 14 §6, `kefu archive show --json` returns its whole
// transcript (the agent's reply included) and its events (the rating
// included), and `--customer u:<shop id>`'s thread finds the signed-in
// customer's conversation, which says who they are.
func TestRecordDoneWhen(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	t.Setenv("KEFU_REDIS_URL", "")
	const secret = "the-shop-and-kefu-share-this-secret"
	t.Setenv("KEFU_WEB_IDENTITY_SECRET", secret)
	data := t.TempDir()
	g := mustServe(t, "--data", data)
	id, pw, ok := strings.Cut(g.Demo, " / ")
	if !ok || id != "demo" || pw == "" {
		t.Fatalf("the embedded default printed no demo agent: %q", g.Demo)
	}

	// An anonymous visitor asks about an invoice and for a person.
	var sess struct{ Token, User, Conv string }
	if code := doJSON(t, "POST", g.URL+"/api/session", "", nil, &sess); code != 200 || sess.Token == "" || sess.Conv == "" {
		t.Fatalf("session: %d %+v", code, sess)
	}
	cust := &customer{t: t, base: g.URL, token: sess.Token}
	const asked = "我要开发票，订单号 2026111112345 的发票抬头写错了"
	if code, r := cust.say("m1", map[string]any{"text": asked}); code != 200 || len(r.Replies) == 0 {
		t.Fatalf("first message: %d %+v", code, r)
	}
	if code, r := cust.say("m2", map[string]any{"text": "转人工"}); code != 200 || len(r.Replies) == 0 || r.Replies[0].Kind != "handoff" {
		t.Fatalf("hand-off: %d %+v", code, r)
	}
	demo := mustAgent(t, g, id, pw)
	var claim struct{ Conv string }
	if code := demo.call("POST", "claim", map[string]string{}, &claim); code != 200 || claim.Conv != sess.Conv {
		t.Fatalf("claim: %d %+v, want %s", code, claim, sess.Conv)
	}
	const reply = "您好，发票已经重新开具，请查收邮箱"
	var sent struct{ Delivered bool }
	if code := demo.call("POST", "convs/"+claim.Conv+"/reply", map[string]string{"text": reply, "id": "r1"}, &sent); code != 200 || !sent.Delivered {
		t.Fatalf("reply: %d %+v", code, sent)
	}
	var closed struct{ Survey string }
	if code := demo.call("POST", "convs/"+claim.Conv+"/close", map[string]string{}, &closed); code != 200 || closed.Survey != "sent" {
		t.Fatalf("close: %d %+v", code, closed)
	}
	if code, r := cust.say("m3", map[string]any{"kind": "rating", "choice": "4"}); code != 200 || len(r.Replies) != 1 {
		t.Fatalf("rating: %d %+v", code, r)
	}

	// A signed-in customer of the shop (README "Who the customer is").
	ts := time.Now().Unix()
	ident := web.Identity{ID: "shop-42", Name: "张三", Phone: "13800138000", Level: "gold", TS: ts,
		Hash: web.IdentityHash([]byte(secret), "shop-42", "张三", "13800138000", "gold", ts)}
	var signed struct {
		Token, User, Conv string
		Identified        bool
	}
	if code := doJSON(t, "POST", g.URL+"/api/session", "", map[string]any{"identity": ident}, &signed); code != 200 || !signed.Identified {
		t.Fatalf("signed-in session: %d %+v", code, signed)
	}
	shopThread := conv.ThreadID(web.Name, "u:shop-42")
	if signed.Conv != shopThread {
		t.Fatalf("signed-in conversation %q, want %q", signed.Conv, shopThread)
	}
	member := &customer{t: t, base: g.URL, token: signed.Token}
	if code, r := member.say("s1", map[string]any{"text": "快递到哪了"}); code != 200 || len(r.Replies) == 0 {
		t.Fatalf("signed-in customer: %d %+v", code, r)
	}

	// Everything archived: the rating is the anonymous conversation's last
	// event; the signed-in customer's message is archived with its profile.
	waitFor(t, func() bool {
		r := archiveSearch(t, "--data", data, "--customer", sess.Conv).Results
		return len(r) == 1 && r[0].Rating != nil
	})
	waitFor(t, func() bool { return len(archiveSearch(t, "--data", data, "--customer", shopThread).Results) == 1 })
	g.stop(t)

	g = mustServe(t, "--data", data) // a new process's Redis: empty; the archive stays
	defer g.stop(t)

	// kefu archive search --json 发票: the §6 shape, exactly these fields.
	code, out := runKefu(t, "archive", "search", "--data", data, "--json", "发票", "抬头")
	if code != 0 {
		t.Fatalf("archive search: exit %d\n%s", code, out)
	}
	var raw struct {
		Total   int              `json:"total"`
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if raw.Total != 1 || len(raw.Results) != 1 {
		t.Fatalf("search 发票 抬头 after the restart: %s", out)
	}
	r := raw.Results[0]
	for _, k := range []string{"conv", "customer", "channel", "started", "ended", "agent", "rating", "outcome", "snippet"} {
		if _, ok := r[k]; !ok {
			t.Errorf("result has no %q: %s", k, out)
		}
	}
	for _, k := range []string{"started", "ended"} {
		if s, _ := r[k].(string); s == "" {
			t.Errorf("%s %v: want an RFC 3339 time", k, r[k])
		} else if _, err := time.Parse(time.RFC3339, s); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	archived, _ := r["conv"].(string)
	if thread, _, ok := conv.SplitArchiveID(archived); !ok || thread != sess.Conv || r["customer"] != sess.Conv || r["channel"] != "web" ||
		r["agent"] != "demo" || r["rating"] != 4.0 || r["outcome"] != "agent" || !strings.Contains(r["snippet"].(string), "发票") {
		t.Errorf("search result: %v (customer %s)", r, sess.Conv)
	}

	// kefu archive show --json: the whole transcript and the events.
	code, out = runKefu(t, "archive", "show", "--data", data, "--json", archived)
	if code != 0 {
		t.Fatalf("archive show: exit %d\n%s", code, out)
	}
	var tr struct {
		Conv, Customer, Channel string
		Entries                 []struct{ At, Dir, Kind, Text, Agent, Intent string }
		Events                  []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if tr.Conv != archived || tr.Customer != sess.Conv || tr.Channel != "web" {
		t.Errorf("show: conv %q customer %q channel %q", tr.Conv, tr.Customer, tr.Channel)
	}
	var texts []string
	agentReplied := false
	for _, e := range tr.Entries {
		texts = append(texts, e.Dir+":"+e.Text)
		if _, err := time.Parse(time.RFC3339, e.At); err != nil {
			t.Errorf("entry at %q: %v", e.At, err)
		}
		if e.Dir == "out" && e.Agent == "demo" && e.Text == reply {
			agentReplied = true
		}
	}
	if len(tr.Entries) < 4 || tr.Entries[0].Dir != "in" || tr.Entries[0].Text != asked || !agentReplied ||
		!strings.Contains(strings.Join(texts, "\n"), "in:转人工") {
		t.Errorf("transcript lacks the customer's words or the agent's reply:\n%s", strings.Join(texts, "\n"))
	}
	types := map[string]map[string]any{}
	for _, e := range tr.Events {
		typ, _ := e["type"].(string)
		types[typ] = e
	}
	for _, want := range []string{conv.Started, conv.CustomerMessage, conv.BotReply, conv.Handoff, conv.Claimed, conv.AgentMessage,
		conv.Closed, conv.SurveySent, conv.Rated} {
		if types[want] == nil {
			t.Errorf("no %s event in %s", want, out)
		}
	}
	if ev := types[conv.Rated]; ev == nil || ev[conv.EvScore] != "4" {
		t.Errorf("rated event: %v", ev)
	}
	if ev := types[conv.Claimed]; ev == nil || ev[conv.EvAgent] != "demo" {
		t.Errorf("claimed event: %v", ev)
	}

	// The signed-in customer: found by --customer, and the transcript says
	// who they are.
	res := archiveSearch(t, "--data", data, "--customer", shopThread)
	if res.Total != 1 || res.Results[0].Customer != shopThread || res.Results[0].Channel != "web" || res.Results[0].Snippet != "快递到哪了" {
		t.Fatalf("--customer %s: %+v", shopThread, res)
	}
	code, out = runKefu(t, "archive", "show", "--data", data, "--json", res.Results[0].Conv)
	if code != 0 {
		t.Fatalf("archive show: exit %d\n%s", code, out)
	}
	tr.Events = nil
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatal(err)
	}
	var profile map[string]any
	for _, e := range tr.Events {
		if e["type"] == conv.CustomerProfile {
			profile = e
		}
	}
	if tr.Customer != shopThread || profile == nil || profile[conv.EvCustomerID] != "shop-42" || profile[conv.EvName] != "张三" ||
		profile[conv.EvPhone] != "13800138000" || profile[conv.EvLevel] != "gold" {
		t.Errorf("the signed-in customer's transcript: customer %q, profile %v\n%s", tr.Customer, profile, out)
	}
}
