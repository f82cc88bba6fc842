package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/kefu-dev/kefu/console"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// agentConfig writes a config with one agent (alice, after_sales) and
// returns its path.
func agentConfig(t *testing.T, extra string) string {
	t.Helper()
	hash, err := console.HashPassword("alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "kefu.yaml")
	body := fmt.Sprintf("web:\n  rate_per_second: 100\n  burst: 100\nconsole:\n  agents:\n    - {id: alice, name: 小王, password_hash: %q, groups: [after_sales, pre_sales, payments], max_chats: 3}\n%s", hash, extra)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// agent talks to a gateway's console API.
type agent struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func mustAgent(t *testing.T, g *gateway, id, pw string) *agent {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	a := &agent{t: t, base: g.URL + "/console/api/", c: &http.Client{Jar: jar}}
	var me struct{ CSRF string }
	if code := a.call("POST", "signin", map[string]string{"id": id, "password": pw}, &me); code != 200 || me.CSRF == "" {
		t.Fatalf("sign-in: %d", code)
	}
	a.csrf = me.CSRF
	return a
}

func (a *agent) call(method, path string, body, out any) int {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", strings.TrimSuffix(a.base, "/console/api/"))
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if a.csrf != "" {
		req.Header.Set("X-CSRF-Token", a.csrf)
	}
	resp, err := a.c.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

// TestTwoGatewaysCustomerAndAgent: two gateway instances on one Redis; the
// customer chats on A (JSON API and WebSocket), the agent works on B's
// console. Messages flow both ways, the close brings the survey to the
// customer on A, and the rating is stored with the agent.
func TestTwoGatewaysCustomerAndAgent(t *testing.T) {
	mustRedisEnv(t)
	cfg := agentConfig(t, "")
	a := mustServe(t, "--config", cfg)
	b := mustServe(t, "--config", cfg)
	cust := mustCustomer(t, a)
	alice := mustAgent(t, b, "alice", "alice-pw")

	code, r := cust.say("c1", map[string]any{"text": "我的订单 2023112312345678 一直没发货"})
	if code != 200 || len(r.Replies) == 0 {
		t.Fatalf("first message: %d %+v", code, r)
	}
	code, r = cust.say("c2", map[string]any{"text": "转人工"})
	if code != 200 || len(r.Replies) < 2 || r.Replies[0].Kind != "handoff" || r.Replies[1].Kind != "notice" {
		t.Fatalf("hand-off: %d %+v", code, r)
	}
	// The customer's page on A is open while the agent works on B.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	last := cust.history("")
	ws, _, err := websocket.Dial(ctx, strings.Replace(a.URL, "http", "ws", 1)+"/ws?token="+cust.token+"&after="+last[len(last)-1].ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close(websocket.StatusNormalClosure, "")
	pushed := make(chan entryJSON, 16)
	go func() {
		for {
			var f struct {
				Type    string
				Entries []entryJSON
			}
			if wsjson.Read(ctx, ws, &f) != nil {
				close(pushed)
				return
			}
			for _, e := range f.Entries {
				pushed <- e
			}
		}
	}()
	next := func(what string, ok func(entryJSON) bool) entryJSON {
		t.Helper()
		for {
			select {
			case e, open := <-pushed:
				if !open {
					t.Fatalf("socket closed waiting for %s", what)
				}
				if ok(e) {
					return e
				}
			case <-ctx.Done():
				t.Fatalf("no %s pushed to the customer's page", what)
			}
		}
	}

	var claim struct{ Conv string }
	if code := alice.call("POST", "claim", map[string]string{}, &claim); code != 200 || !strings.HasPrefix(claim.Conv, "web:") {
		t.Fatalf("claim: %d %+v", code, claim)
	}
	var view struct {
		Conv struct {
			Reason   string
			Entities []struct{ Type, Value string }
		}
		Transcript []struct{ Dir, Text, Kind string }
	}
	if code := alice.call("GET", "convs/"+claim.Conv, nil, &view); code != 200 {
		t.Fatalf("conversation: %d", code)
	}
	if view.Conv.Reason != "requested" || len(view.Conv.Entities) == 0 || view.Conv.Entities[0].Value != "2023112312345678" {
		t.Errorf("the agent sees reason %q entities %+v", view.Conv.Reason, view.Conv.Entities)
	}
	if len(view.Transcript) < 4 || view.Transcript[0].Text != "我的订单 2023112312345678 一直没发货" {
		t.Errorf("transcript for the agent: %+v", view.Transcript)
	}
	// Agent (B) → customer (A): pushed to the open page.
	var sent struct {
		Delivered bool
	}
	if code := alice.call("POST", "convs/"+claim.Conv+"/reply", map[string]string{"text": "您好，我是小王，马上帮您查", "id": "r1"}, &sent); code != 200 || !sent.Delivered {
		t.Fatalf("reply: %d %+v", code, sent)
	}
	next("the agent's reply", func(e entryJSON) bool { return e.Dir == "out" && e.Text == "您好，我是小王，马上帮您查" })
	// Customer (A) → agent (B): the bot is silent, the agent sees it.
	if code, r := cust.say("c3", map[string]any{"text": "好的谢谢"}); code != 200 || len(r.Replies) != 0 {
		t.Fatalf("while with the agent: %d %+v", code, r)
	}
	alice.call("GET", "convs/"+claim.Conv, nil, &view)
	if tr := view.Transcript; tr[len(tr)-1].Text != "好的谢谢" || tr[len(tr)-1].Dir != "in" {
		t.Errorf("agent's transcript ends with %+v", tr[len(tr)-1])
	}
	// Close on B: the survey reaches the page on A; the customer rates.
	var closed struct{ Survey string }
	if code := alice.call("POST", "convs/"+claim.Conv+"/close", map[string]string{}, &closed); code != 200 || closed.Survey != "sent" {
		t.Fatalf("close: %d %+v", code, closed)
	}
	next("the survey", func(e entryJSON) bool { return e.Kind == "survey" })
	if code, r := cust.say("c4", map[string]any{"kind": "rating", "choice": "5"}); code != 200 || len(r.Replies) != 1 || r.Replies[0].Kind != "notice" {
		t.Fatalf("rating: %d %+v", code, r)
	}
	var ov struct {
		Agents []struct {
			ID        string
			Ratings   int
			RatingAvg float64 `json:"rating_avg"`
		}
	}
	sup := mustAgent(t, a, "alice", "alice-pw")
	_ = sup
	// alice is not a supervisor: the figures are refused to her.
	if code := alice.call("GET", "overview", nil, &ov); code != 403 {
		t.Errorf("overview for an agent: %d, want 403", code)
	}
	// The customer writes again: the bot is back.
	if code, r := cust.say("c5", map[string]any{"text": "快递到哪了"}); code != 200 || len(r.Replies) != 1 || r.Replies[0].Kind != "answer" {
		t.Errorf("after close: %d %+v", code, r)
	}
}

// TestServeTelegramWebhook: with a token in the environment and webhook
// mode, the gateway registers the webhook with the (fake) Bot API at start,
// refuses an update without the secret, and answers one with it.
func TestServeTelegramWebhook(t *testing.T) {
	mustRedisEnv(t)
	var mu sync.Mutex
	var calls []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			r.ParseMultipartForm(1 << 20)
		} else {
			io.Copy(io.Discard, r.Body)
		}
		mu.Lock()
		calls = append(calls, method)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch method {
		case "getMe":
			io.WriteString(w, `{"ok":true,"result":{"id":1,"is_bot":true,"first_name":"kefu","username":"kefu_bot"}}`)
		case "sendMessage":
			io.WriteString(w, `{"ok":true,"result":{"message_id":7,"date":1700000000,"chat":{"id":42,"type":"private"}}}`)
		default:
			io.WriteString(w, `{"ok":true,"result":true}`)
		}
	}))
	defer api.Close()
	t.Setenv("KEFU_TELEGRAM_TOKEN", "123456:secret-token-value")
	t.Setenv("KEFU_TELEGRAM_WEBHOOK_SECRET", "hook-secret")
	cfg := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(cfg, []byte("telegram:\n  mode: webhook\n  webhook_url: https://shop.example/tg/hook\n  api_url: "+api.URL+"\n"), 0o644)
	g := mustServe(t, "--config", cfg)
	has := func(m string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range calls {
			if c == m {
				return true
			}
		}
		return false
	}
	if !has("setWebhook") {
		t.Fatalf("setWebhook not called at start: %v", calls)
	}
	update := `{"update_id":1001,"message":{"message_id":5,"date":1700000000,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"顾客","language_code":"zh-hans"},"text":"快递到哪了"}}`
	post := func(secret string) int {
		req, _ := http.NewRequest("POST", g.URL+"/tg/hook", strings.NewReader(update))
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("wrong"); code != 401 {
		t.Errorf("wrong secret: %d, want 401", code)
	}
	if has("sendMessage") {
		t.Error("an update with a wrong secret was answered")
	}
	if code := post("hook-secret"); code != 200 {
		t.Fatalf("update: %d", code)
	}
	waitFor(t, func() bool { return has("sendMessage") })
	if strings.Contains(g.logs.String(), "secret-token-value") {
		t.Error("the bot token is in the log")
	}
}

var _ = bufio.NewScanner

// TestQueuePositionNotices: a waiting customer is told when their place in
// line changes (the queue loop of the gateway), not on every round. The
// queue's clock is the test's and the test runs the loop's rounds itself
// (the lease is an hour: the gateway's own loop does not come round again),
// so neither a slow machine nor a late heartbeat can change what happens.
func TestQueuePositionNotices(t *testing.T) {
	mustRedisEnv(t)
	const lease = time.Hour
	clk := testkit.NewClock(time.Now())
	var srv *server
	g := mustServeWith(t, func(s *server) { s.now, srv = clk.Now, s },
		"--config", agentConfig(t, "handoff:\n  lease: 1h\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	round := func() {
		t.Helper()
		srv.reaper.Tick(ctx)
		if ctx.Err() != nil {
			t.Fatal("a round of the queue loop did not finish in 30 s")
		}
	}
	alice := mustAgent(t, g, "alice", "alice-pw")
	first, second := mustCustomer(t, g), mustCustomer(t, g)
	if code, r := first.say("p1", map[string]any{"text": "转人工"}); code != 200 || len(r.Replies) != 2 {
		t.Fatalf("first hand-off: %d %+v", code, r)
	}
	code, r := second.say("p1", map[string]any{"text": "转人工"})
	if code != 200 || len(r.Replies) != 2 || !strings.Contains(r.Replies[1].Text, "前面还有 1 位") {
		t.Fatalf("second hand-off: %d %+v", code, r)
	}
	if code := alice.call("POST", "claim", map[string]string{}, nil); code != 200 {
		t.Fatalf("claim: %d", code)
	}
	notices := func() []string {
		var out []string
		for _, e := range second.history("") {
			if e.Kind == "notice" {
				out = append(out, e.Text)
			}
		}
		return out
	}
	round()
	if n := notices(); len(n) != 2 || !strings.Contains(n[1], "前面还有 0 位") {
		t.Fatalf("after the claim: notices %q, want the new place", n)
	}
	// Nothing changes while the agent's console heartbeats: no further
	// notice over several rounds, each a third of the lease later.
	for range 4 {
		if code := alice.call("POST", "heartbeat", map[string]string{}, nil); code != 200 {
			t.Fatalf("heartbeat: %d", code)
		}
		clk.Advance(lease / 3)
		round()
	}
	if n := notices(); len(n) != 2 {
		t.Errorf("notices %q: want exactly 2", n)
	}
	// The agent's console goes away: past the lease and the presence, the
	// waiting customer hears nobody is there any more.
	clk.Advance(lease + time.Minute)
	round()
	if n := notices(); len(n) != 3 || !strings.Contains(n[2], "暂无客服在线") {
		t.Errorf("after the agent left: notices %q, want a third saying nobody is online", n)
	}
}
