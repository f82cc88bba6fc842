package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/intents"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type convBody struct {
	Conv       convJSON    `json:"conv"`
	Mine       bool        `json:"mine"`
	Transcript []entryJSON `json:"transcript"`
}

type queueBody struct {
	Groups []struct {
		Group   string        `json:"group"`
		Total   int           `json:"total"`
		Waiting []waitingJSON `json:"waiting"`
	} `json:"groups"`
}

func convPath(cid, what string) string {
	p := "convs/" + url.PathEscape(cid)
	if what != "" {
		p += "/" + what
	}
	return p
}

func TestSignIn(t *testing.T) {
	e := MustEnv(t, nil)
	c := e.client(t)
	c.refused("GET", "me", nil, 401, "unauthenticated")
	c.refused("POST", "signin", map[string]string{"id": "alice", "password": "wrong"}, 401, "bad_credentials")
	c.refused("POST", "signin", map[string]string{"id": "nobody", "password": testPassword}, 401, "bad_credentials")

	r, _ := http.NewRequest("POST", e.srv.URL+"/console/api/signin",
		strings.NewReader(`{"id":"alice","password":"`+testPassword+`"}`))
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("sign in: %d", res.StatusCode)
	}
	var ck *http.Cookie
	for _, x := range res.Cookies() {
		if x.Name == cookieName {
			ck = x
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/console" || len(ck.Value) < 40 {
		t.Fatalf("session cookie %+v", ck)
	}

	a := e.signedIn(t, "alice")
	var me meBody
	a.must("GET", "me", nil, &me)
	if me.Agent.ID != "alice" || me.CSRF == "" || !cmp.Equal(me.Groups, []string{"pre_sales"}) || me.HeartbeatMS != 10000 {
		t.Fatalf("me %+v", me)
	}
	// Signing in put alice online in her group.
	ov, err := e.q.Overview(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ov.Agents) != 1 || ov.Agents[0].ID != "alice" || ov.Agents[0].Status != "online" {
		t.Fatalf("agents after sign-in: %+v", ov.Agents)
	}
	// Sign out: the session is gone and alice is offline.
	a.must("POST", "signout", nil, nil)
	a.refused("GET", "me", nil, 401, "unauthenticated")
	ov, _ = e.q.Overview(context.Background())
	if ov.Agents[0].Status != "offline" {
		t.Fatalf("status after sign-out %q", ov.Agents[0].Status)
	}
}

func TestCSRF(t *testing.T) {
	e := MustEnv(t, nil)
	e.customer(t, "u1", "在吗", "pre_sales", false)
	a := e.signedIn(t, "alice")
	// No token, a wrong token, a foreign origin: refused, nothing claimed.
	st, ae := a.req("POST", "claim", nil, nil, map[string]string{csrfHeader: ""})
	if st != 403 || ae.Error.Code != "csrf" {
		t.Fatalf("no token: %d %q", st, ae.Error.Code)
	}
	st, ae = a.req("POST", "claim", nil, nil, map[string]string{csrfHeader: "x" + a.csrf})
	if st != 403 || ae.Error.Code != "csrf" {
		t.Fatalf("wrong token: %d %q", st, ae.Error.Code)
	}
	st, ae = a.req("POST", "claim", nil, nil, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	if st != 403 || ae.Error.Code != "origin" {
		t.Fatalf("cross origin: %d %q", st, ae.Error.Code)
	}
	st, ae = a.req("POST", "signin", map[string]string{"id": "alice", "password": testPassword}, nil,
		map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	if st != 403 || ae.Error.Code != "origin" {
		t.Fatalf("cross-origin sign-in: %d %q", st, ae.Error.Code)
	}
	held, _ := e.q.Held(context.Background(), "alice")
	if len(held) != 0 {
		t.Fatalf("claimed without CSRF token: %+v", held)
	}
	// Same origin with the token: accepted.
	var cl map[string]any
	_, _ = a.req("POST", "claim", nil, &cl, map[string]string{"Origin": e.srv.URL, "Sec-Fetch-Site": "same-origin"})
	if cl["conv"] != "web:u1" {
		t.Fatalf("claim with token: %v", cl)
	}
}

func TestClaimReplyClose(t *testing.T) {
	e := MustEnv(t, nil)
	ctx := context.Background()
	cid := e.customer(t, "u1", "订单 2023112312345678 还没发货", "pre_sales", true)
	// The bot's answer and the entities it found are part of what the agent sees.
	cv, _ := e.store.Load(ctx, cid)
	cv.Entities = []intents.Entity{{Type: intents.EntityOrder, Value: "2023112312345678"}}
	cv.LastIntent = "order_urge_shipping"
	cv.Guesses = []bot.Guess{{Intent: "order_urge_shipping", Score: 0.41, Question: "还没发货吗"}, {Intent: "refund", Score: 0.22}}
	if err := e.store.Record(ctx, cv, bot.Outbound{Conv: cid, Kind: bot.OutHandoff, Text: "正在为您转接人工客服"}); err != nil {
		t.Fatal(err)
	}
	a := e.signedIn(t, "alice")

	var q queueBody
	a.must("GET", "queue", nil, &q)
	if len(q.Groups) != 1 || len(q.Groups[0].Waiting) != 1 {
		t.Fatalf("queue %+v", q)
	}
	w := q.Groups[0].Waiting[0]
	if w.Conv != cid || !w.Urgent || w.Reason != "requested" || w.Preview != "订单 2023112312345678 还没发货" {
		t.Fatalf("waiting %+v", w)
	}
	// Before claiming, the transcript is not alice's to read.
	a.refused("GET", convPath(cid, ""), nil, 403, "not_holder")

	var cl map[string]any
	a.must("POST", "claim", map[string]string{"conv": cid}, &cl)
	if cl["conv"] != cid || cl["group"] != "pre_sales" {
		t.Fatalf("claim %v", cl)
	}
	var cb convBody
	a.must("GET", convPath(cid, ""), nil, &cb)
	if !cb.Mine || cb.Conv.Mode != bot.ModeAgent || cb.Conv.Agent != "alice" || cb.Conv.LastIntent != "order_urge_shipping" {
		t.Fatalf("conv %+v", cb.Conv)
	}
	if diff := cmp.Diff([]intents.Entity{{Type: "order", Value: "2023112312345678"}}, cb.Conv.Entities); diff != "" {
		t.Fatalf("entities (-want +got):\n%s", diff)
	}
	wantGuesses := []guessJSON{{Intent: "order_urge_shipping", Score: 0.41, Question: "还没发货吗"}, {Intent: "refund", Score: 0.22}}
	if diff := cmp.Diff(wantGuesses, cb.Conv.Guesses); diff != "" {
		t.Fatalf("guesses (-want +got):\n%s", diff)
	}
	var dirs []string
	for _, x := range cb.Transcript {
		dirs = append(dirs, x.Dir+"/"+x.Kind+"/"+x.Text)
	}
	if diff := cmp.Diff([]string{"in//订单 2023112312345678 还没发货", "out/handoff/正在为您转接人工客服"}, dirs); diff != "" {
		t.Fatalf("transcript (-want +got):\n%s", diff)
	}

	var rep replyJSON
	a.must("POST", convPath(cid, "reply"), map[string]string{"text": "您好，我来查一下", "id": "r1"}, &rep)
	if !rep.Delivered || rep.Dup || rep.Entry == "" {
		t.Fatalf("reply %+v", rep)
	}
	want := []bot.Outbound{{Channel: "web", User: "u1", Conv: cid, Kind: bot.OutAgent, Agent: "alice", Text: "您好，我来查一下"}}
	if diff := cmp.Diff(want, e.deliver.sent()); diff != "" {
		t.Fatalf("delivered (-want +got):\n%s", diff)
	}
	// A retry with the same id is written and delivered once.
	a.must("POST", convPath(cid, "reply"), map[string]string{"text": "您好，我来查一下", "id": "r1"}, &rep)
	if !rep.Dup || len(e.deliver.sent()) != 1 {
		t.Fatalf("retry %+v, delivered %d", rep, len(e.deliver.sent()))
	}
	a.must("GET", convPath(cid, ""), nil, &cb)
	last := cb.Transcript[len(cb.Transcript)-1]
	if last.Dir != "out" || last.Kind != "agent" || last.Agent != "alice" || last.Text != "您好，我来查一下" || len(cb.Transcript) != 3 {
		t.Fatalf("transcript after reply: %+v", cb.Transcript)
	}
	// Incremental read after the last entry: nothing new.
	var inc convBody
	a.must("GET", convPath(cid, "")+"?after="+last.ID, nil, &inc)
	if len(inc.Transcript) != 0 {
		t.Fatalf("after last: %+v", inc.Transcript)
	}

	var closed map[string]any
	a.must("POST", convPath(cid, "close"), nil, &closed)
	if closed["survey"] != "sent" {
		t.Fatalf("close %v", closed)
	}
	if diff := cmp.Diff([]string{cid}, e.survey.surveyed()); diff != "" {
		t.Fatalf("surveyed (-want +got):\n%s", diff)
	}
	sent := e.deliver.sent()
	if len(sent) != 2 || sent[1].Kind != bot.OutSurvey || sent[1].User != "u1" || sent[1].Channel != "web" {
		t.Fatalf("survey not delivered: %+v", sent)
	}
	cv, _ = e.store.Load(ctx, cid)
	if cv.Mode != bot.ModeClosed {
		t.Fatalf("mode after close %q", cv.Mode)
	}
	// Closed: no longer alice's.
	a.refused("POST", convPath(cid, "reply"), map[string]string{"text": "还在吗"}, 403, "not_holder")
	a.refused("GET", convPath(cid, ""), nil, 403, "not_holder")
}

func TestNotHolder(t *testing.T) {
	e := MustEnv(t, nil)
	cid := e.customer(t, "u1", "hi", "pre_sales", false)
	a := e.signedIn(t, "alice")
	b := e.signedIn(t, "bob")
	a.must("POST", "claim", map[string]string{"conv": cid}, nil)
	b.refused("GET", convPath(cid, ""), nil, 403, "not_holder")
	b.refused("POST", convPath(cid, "reply"), map[string]string{"text": "我来"}, 403, "not_holder")
	b.refused("POST", convPath(cid, "transfer"), map[string]string{"group": "after_sales"}, 403, "not_holder")
	b.refused("POST", convPath(cid, "close"), nil, 403, "not_holder")
	b.refused("POST", convPath(cid, "bot"), nil, 403, "not_holder")
	b.refused("POST", convPath(cid, "reassign"), map[string]string{"agent": "bob"}, 403, "forbidden")
	b.refused("GET", "overview", nil, 403, "forbidden")
	b.refused("GET", convPath("web:nobody", ""), nil, 403, "not_holder")
	b.refused("POST", "claim", map[string]string{"conv": cid}, 409, "taken")
	if n := len(e.deliver.sent()); n != 0 {
		t.Fatalf("delivered %d messages", n)
	}
	// Carol is not in pre_sales: she cannot claim from it.
	cid2 := e.customer(t, "u2", "hi", "pre_sales", false)
	e.signedIn(t, "carol").refused("POST", "claim", map[string]string{"conv": cid2}, 403, "skill")
}

func TestDeliveryFailure(t *testing.T) {
	e := MustEnv(t, nil)
	cid := e.customer(t, "u1", "hi", "pre_sales", false)
	a := e.signedIn(t, "alice")
	events, _ := a.stream("")
	next(t, events, isType("ready"))
	a.must("POST", "claim", map[string]string{"conv": cid}, nil)
	e.deliver.fail(errRefused)
	var rep replyJSON
	a.must("POST", convPath(cid, "reply"), map[string]string{"text": "您好"}, &rep)
	if rep.Delivered || !strings.Contains(rep.DeliveryError, "45015") || rep.Entry == "" {
		t.Fatalf("reply %+v", rep)
	}
	ev := next(t, events, isType("delivery_failed"))
	if ev.data.Stream != "console" || ev.data.Fields["conv"] != cid || !strings.Contains(ev.data.Fields["error"], "45015") {
		t.Fatalf("event %+v", ev.data)
	}
	// The survey after close fails the same way and says so.
	var closed map[string]any
	a.must("POST", convPath(cid, "close"), nil, &closed)
	if closed["survey"] != "failed" || !strings.Contains(closed["survey_error"].(string), "45015") {
		t.Fatalf("close %v", closed)
	}
}

func TestTransfer(t *testing.T) {
	e := MustEnv(t, nil)
	ctx := context.Background()
	cid := e.customer(t, "u1", "退货怎么退", "pre_sales", false)
	a := e.signedIn(t, "alice")
	b := e.signedIn(t, "bob")
	c := e.signedIn(t, "carol")
	a.must("POST", "claim", map[string]string{"conv": cid}, nil)
	a.refused("POST", convPath(cid, "transfer"), map[string]string{}, 400, "bad_request")
	a.refused("POST", convPath(cid, "transfer"), map[string]string{"group": "nope"}, 400, "unknown_group")

	// To a group, with a private note: it waits there; alice is done with it.
	var tr map[string]any
	a.must("POST", convPath(cid, "transfer"), map[string]string{"group": "after_sales", "note": "售后问题，客户很急"}, &tr)
	if tr["group"] != "after_sales" {
		t.Fatalf("transfer %v", tr)
	}
	a.refused("POST", convPath(cid, "reply"), map[string]string{"text": "x"}, 403, "not_holder")
	var q queueBody
	c.must("GET", "queue", nil, &q)
	if len(q.Groups) != 1 || len(q.Groups[0].Waiting) != 1 || q.Groups[0].Waiting[0].Conv != cid {
		t.Fatalf("after_sales queue %+v", q)
	}
	c.must("POST", "claim", nil, nil) // the next in carol's groups
	var cb convBody
	c.must("GET", convPath(cid, ""), nil, &cb)
	note := cb.Transcript[len(cb.Transcript)-1]
	if note.Dir != "note" || note.Text != "售后问题，客户很急" || note.Agent != "alice" {
		t.Fatalf("note %+v", note)
	}

	// To an agent: bob holds it at once, finds it in his list and can reply.
	c.must("POST", convPath(cid, "transfer"), map[string]string{"agent": "bob", "note": "交给你"}, nil)
	var mine struct{ Convs []heldJSON }
	b.must("GET", "convs", nil, &mine)
	if len(mine.Convs) != 1 || mine.Convs[0].Conv != cid || mine.Convs[0].Lost {
		t.Fatalf("bob's convs %+v", mine.Convs)
	}
	b.must("POST", convPath(cid, "reply"), map[string]string{"text": "我是 Bob"}, nil)
	c.refused("POST", convPath(cid, "reply"), map[string]string{"text": "x"}, 403, "not_holder")
	if got := e.deliver.sent(); len(got) != 1 || got[0].Agent != "bob" {
		t.Fatalf("delivered %+v", got)
	}
	rep, err := e.q.Audit(ctx)
	if err != nil || rep.Err() != nil {
		t.Fatalf("audit %v %v", err, rep.Err())
	}
}

func TestBackToBot(t *testing.T) {
	e := MustEnv(t, nil)
	cid := e.customer(t, "u1", "hi", "pre_sales", false)
	a := e.signedIn(t, "alice")
	a.must("POST", "claim", nil, nil)
	a.must("POST", convPath(cid, "bot"), nil, nil)
	cv, _ := e.store.Load(context.Background(), cid)
	if cv.Mode != bot.ModeBot || cv.Agent != "" {
		t.Fatalf("after back to bot: mode %q agent %q", cv.Mode, cv.Agent)
	}
	if len(e.survey.surveyed()) != 0 || len(e.deliver.sent()) != 0 {
		t.Fatalf("back to bot sent something: %v %v", e.survey.surveyed(), e.deliver.sent())
	}
	a.refused("POST", convPath(cid, "close"), nil, 403, "not_holder")
}

func TestLostClaim(t *testing.T) {
	e := MustEnv(t, nil)
	ctx := context.Background()
	cid := e.customer(t, "u1", "hi", "pre_sales", false)
	a := e.signedIn(t, "alice")
	events, _ := a.stream("")
	next(t, events, isType("ready"))
	a.must("POST", "claim", map[string]string{"conv": cid}, nil)
	var hb struct{ Lost []string }
	a.must("POST", "heartbeat", nil, &hb)
	if len(hb.Lost) != 0 {
		t.Fatalf("lost right after claim: %v", hb.Lost)
	}
	// Alice's browser stops heartbeating; the lease runs out and the reaper
	// puts the conversation back in line.
	e.clk.Advance(31 * time.Second)
	if got, err := e.q.Reap(ctx); err != nil || len(got) != 1 {
		t.Fatalf("reap %v %v", got, err)
	}
	a.refused("POST", convPath(cid, "reply"), map[string]string{"text": "还在吗"}, 409, "lease_lost")
	a.refused("POST", convPath(cid, "close"), nil, 409, "lease_lost")
	if n := len(e.deliver.sent()); n != 0 {
		t.Fatalf("a stale claim delivered %d messages", n)
	}
	ev := next(t, events, func(e sseEvent) bool { return e.data.Type == "lost" })
	if ev.data.Stream != "agent" || ev.data.Conv != cid {
		t.Fatalf("lost event %+v", ev.data)
	}
	a.must("POST", "heartbeat", nil, &hb)
	if !cmp.Equal(hb.Lost, []string{cid}) {
		t.Fatalf("heartbeat lost %v", hb.Lost)
	}
	var mine struct{ Convs []heldJSON }
	a.must("GET", "convs", nil, &mine)
	if len(mine.Convs) != 1 || !mine.Convs[0].Lost {
		t.Fatalf("convs %+v", mine.Convs)
	}
	// Bob takes it over; alice dismisses the lost one.
	b := e.signedIn(t, "bob")
	b.must("POST", "claim", map[string]string{"conv": cid}, nil)
	b.must("POST", convPath(cid, "reply"), map[string]string{"text": "我来帮您"}, nil)
	a.refused("POST", convPath(cid, "reply"), map[string]string{"text": "x"}, 409, "lease_lost")
	a.must("POST", convPath(cid, "dismiss"), nil, nil)
	a.must("GET", "convs", nil, &mine)
	if len(mine.Convs) != 0 {
		t.Fatalf("after dismiss %+v", mine.Convs)
	}
	a.refused("POST", convPath(cid, "reply"), map[string]string{"text": "x"}, 403, "not_holder")
}

func TestHeartbeatKeepsClaim(t *testing.T) {
	e := MustEnv(t, nil)
	ctx := context.Background()
	cid := e.customer(t, "u1", "hi", "pre_sales", false)
	a := e.signedIn(t, "alice")
	a.must("POST", "claim", nil, nil)
	for i := 0; i < 4; i++ { // 80 s in all, more than twice the lease
		e.clk.Advance(20 * time.Second)
		a.must("POST", "heartbeat", nil, nil)
		if got, _ := e.q.Reap(ctx); len(got) != 0 {
			t.Fatalf("reaped while heartbeating: %v", got)
		}
	}
	a.must("POST", convPath(cid, "reply"), map[string]string{"text": "still here"}, nil)
}

func TestEventsResume(t *testing.T) {
	e := MustEnv(t, nil)
	a := e.signedIn(t, "alice")
	events, stop := a.stream("")
	next(t, events, isType("ready"))
	c1 := e.customer(t, "u1", "one", "pre_sales", false)
	ev := next(t, events, isType("enqueued"))
	if ev.data.Conv != c1 || ev.data.Stream != "group" || ev.data.Group != "pre_sales" {
		t.Fatalf("first event %+v", ev.data)
	}
	stop()
	// While disconnected: another customer arrives and the first writes again.
	c2 := e.customer(t, "u2", "two", "pre_sales", false)
	e.says(t, "u1", "还在吗")
	e.customer(t, "u3", "售后", "after_sales", false) // not alice's group: never shown

	events, _ = a.stream(ev.id)
	var got []string
	for len(got) < 3 {
		x := next(t, events, func(sseEvent) bool { return true })
		got = append(got, x.data.Type+" "+x.data.Conv)
	}
	if diff := cmp.Diff([]string{"ready ", "enqueued " + c2, "message " + c1}, got); diff != "" {
		t.Fatalf("resumed events (-want +got):\n%s", diff)
	}
	// A customer message on a held conversation goes to the holder's stream.
	a.must("POST", "claim", map[string]string{"conv": c2}, nil)
	e.says(t, "u2", "订单号 123")
	x := next(t, events, func(e sseEvent) bool { return e.data.Type == "message" })
	if x.data.Stream != "agent" || x.data.Conv != c2 || x.data.Fields["entry"] == "" {
		t.Fatalf("message event %+v", x.data)
	}
}

func TestEventsEndOnSignOutAndClose(t *testing.T) {
	e := MustEnv(t, nil)
	a := e.signedIn(t, "alice")
	events, _ := a.stream("")
	next(t, events, isType("ready"))
	a.must("POST", "signout", nil, nil)
	next(t, events, isType("signed_out"))

	b := e.signedIn(t, "bob")
	events, _ = b.stream("")
	next(t, events, isType("ready"))
	e.con.Close()
	drained(t, events) // Close ends the stream
}

func TestSupervisor(t *testing.T) {
	e := MustEnv(t, nil)
	ctx := context.Background()
	c1 := e.customer(t, "u1", "售前", "pre_sales", false)
	c2 := e.customer(t, "u2", "售后", "after_sales", true)
	s := e.signedIn(t, "sup")
	a := e.signedIn(t, "alice")
	e.signedIn(t, "bob")
	var q queueBody
	s.must("GET", "queue", nil, &q)
	if len(q.Groups) != 2 || len(q.Groups[0].Waiting)+len(q.Groups[1].Waiting) != 2 {
		t.Fatalf("supervisor queue %+v", q)
	}
	a.must("POST", "claim", map[string]string{"conv": c1}, nil)
	// A supervisor reads any conversation and reassigns it.
	var cb convBody
	s.must("GET", convPath(c1, ""), nil, &cb)
	if cb.Mine || cb.Conv.Agent != "alice" {
		t.Fatalf("supervisor read %+v", cb.Conv)
	}
	s.must("POST", convPath(c1, "reassign"), map[string]string{"agent": "bob", "note": "alice 下班了"}, nil)
	a.refused("POST", convPath(c1, "reply"), map[string]string{"text": "x"}, 409, "lease_lost")
	s.refused("POST", convPath(c2, "reassign"), map[string]string{"agent": "carol"}, 409, "unknown_agent")
	e.signedIn(t, "carol").must("POST", "signout", nil, nil)
	s.refused("POST", convPath(c2, "reassign"), map[string]string{"agent": "carol"}, 409, "offline")
	s.must("POST", convPath(c2, "reassign"), map[string]string{"agent": "sup", "note": "我来"}, nil)
	s.must("POST", convPath(c2, "reply"), map[string]string{"text": "主管为您服务"}, nil)

	var ov struct {
		Groups []struct {
			Group   string `json:"group"`
			Waiting int    `json:"waiting"`
		} `json:"groups"`
		Agents []struct {
			ID   string `json:"id"`
			Held int    `json:"held"`
		} `json:"agents"`
	}
	s.must("GET", "overview", nil, &ov)
	if len(ov.Groups) != 2 || len(ov.Agents) != 4 {
		t.Fatalf("overview %+v", ov)
	}
	held := map[string]int{}
	for _, x := range ov.Agents {
		held[x.ID] = x.Held
	}
	if held["alice"] != 0 || held["bob"] != 1 || held["sup"] != 1 {
		t.Fatalf("overview agents %+v", ov.Agents)
	}
	rep, err := e.q.Audit(ctx)
	if err != nil || rep.Err() != nil {
		t.Fatalf("audit %v %v", err, rep.Err())
	}
}

func TestPageAndAssets(t *testing.T) {
	e := MustEnv(t, nil)
	for _, p := range []string{"/console/", "/console/static/app.js", "/console/static/app.css"} {
		res, err := http.Get(e.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Fatalf("%s: %d csp %q", p, res.StatusCode, res.Header.Get("Content-Security-Policy"))
		}
	}
	// The page never builds HTML from strings.
	js, _ := staticFS.ReadFile("static/app.js")
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"} {
		if strings.Contains(string(js), bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}

func TestValidate(t *testing.T) {
	h := testAgents(t)[0].PasswordHash
	cfg := Config{Agents: []Agent{
		{ID: "a b", PasswordHash: h, Groups: []string{"g"}},
		{ID: "x", PasswordHash: "plain", Groups: []string{"g"}},
		{ID: "x", PasswordHash: h, Groups: []string{"g"}, Role: "boss"},
		{ID: "y", PasswordHash: h},
	}}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`id "a b"`, "not a bcrypt hash", `"x" repeated`, `role "boss"`, "y: no groups"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if err := (Config{Agents: testAgents(t)}).Validate(); err != nil {
		t.Fatal(err)
	}
	a, pw, err := DemoAgent([]string{"general"})
	if err != nil || len(pw) < 12 || (Config{Agents: []Agent{a}}).Validate() != nil {
		t.Fatalf("demo agent %+v %v", a, err)
	}
}

var _ = handoff.ErrEmpty

func TestParseAgents(t *testing.T) {
	h := testAgents(t)[0].PasswordHash
	in := "# agents\n\nalice:" + h + "\nbob:" + h + ":pre_sales, after_sales:supervisor:4:Bob 王\n"
	got, err := ParseAgents(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Agent{
		{ID: "alice", PasswordHash: h},
		{ID: "bob", PasswordHash: h, Groups: []string{"pre_sales", "after_sales"}, Role: RoleSupervisor, MaxChats: 4, Name: "Bob 王"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"alice\n", "bob:" + h + ":g:agent:many\n"} {
		if _, err := ParseAgents(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: error %v", bad, err)
		}
	}
}
