package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/internal/testkit/pgtest"
	"github.com/kefu-dev/kefu/tickets"
)

// leaveHours are business hours 9:00–22:00 in Shanghai.
const leaveHours = "handoff:\n  hours: {timezone: Asia/Shanghai, open: \"09:00\", close: \"22:00\"}\n"

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

// leaveGateway is a gateway with leaveHours on the test's clock, set at
// 23:30 in Shanghai, and its archive at dsn ("": SQLite in a temporary
// folder).
func leaveGateway(t *testing.T, dsn, extra string) (*gateway, *server, *testkit.Clock) {
	t.Helper()
	mustRedisEnv(t)
	clk := testkit.NewClock(time.Date(2026, 12, 3, 23, 30, 0, 0, shanghai))
	cfg := leaveHours + extra
	if dsn != "" {
		cfg += "archive:\n  dsn: " + dsn + "\n"
	}
	var srv *server
	g := mustServeWith(t, func(s *server) { s.now, srv = clk.Now, s }, "--config", agentConfig(t, cfg), "--data", t.TempDir())
	return g, srv, clk
}

// ticketsOf are a customer's tickets in the gateway's archive.
func ticketsOf(t *testing.T, srv *server, customer string) []tickets.Ticket {
	t.Helper()
	ts, err := srv.tickets.List(context.Background(), tickets.Filter{Customer: customer})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// The Done-when of issue 18 on the web chat, through the running gateway,
// on SQLite and PostgreSQL: a customer hands off at 23:30 (closed), is
// asked for the order and phone numbers, gives them, is told they will hear
// back tomorrow after 9:00; one leave_message ticket holds what they wrote.
// Next morning the ticket is solved: the customer's chat shows it once,
// then the survey; a survey answer reopens nothing, writing again does.
func TestLeaveMessageAnsweredNextMorning(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dsn := ""
			if db == "postgres" {
				dsn = pgtest.Database(t)
			}
			g, srv, clk := leaveGateway(t, dsn, "")
			ctx := context.Background()
			c := mustCustomer(t, g)
			c.say("m1", map[string]any{"text": "快递三天了还没到"})
			code, r := c.say("m2", map[string]any{"kind": "human"})
			if code != 200 || len(r.Replies) < 2 || r.Replies[len(r.Replies)-2].Text != bot.DefaultTexts()["zh"].OutOfHours ||
				r.Replies[len(r.Replies)-1].Text != "为了尽快为您处理，请留下您的订单号和手机号。" {
				t.Fatalf("hand-off out of hours: %d %+v", code, r)
			}
			code, r = c.say("m3", map[string]any{"text": "订单号 2026120312345678，电话 13800138000"})
			if code != 200 || len(r.Replies) != 1 || !strings.Contains(r.Replies[0].Text, "客服会在明天 9:00 后联系您") {
				t.Fatalf("answer: %d %+v", code, r)
			}
			// A retried delivery is answered from the record, no second ticket.
			if code, r = c.say("m3", map[string]any{"text": "订单号 2026120312345678，电话 13800138000"}); !r.Duplicate {
				t.Fatalf("retry: %d %+v", code, r)
			}
			var tk tickets.Ticket
			waitFor(t, func() bool {
				all, _ := srv.tickets.List(ctx, tickets.Filter{State: tickets.Open})
				if len(all) == 1 {
					tk = all[0]
				}
				return len(all) == 1
			})
			if tk.Reason != tickets.ReasonLeaveMessage || tk.Department != "after_sales" || tk.Contact != "13800138000" ||
				tk.Text != "快递三天了还没到\n订单号 2026120312345678，电话 13800138000" || len(tk.Convs) != 1 ||
				!tk.Due.Equal(clk.Now().Add(24*time.Hour).Truncate(time.Millisecond)) {
				t.Fatalf("ticket %+v", tk)
			}
			if !strings.Contains(r.Replies[0].Text, "工单号 ") {
				t.Fatalf("the ticket number is not in %q", r.Replies[0].Text)
			}
			// Next morning an agent solves it.
			clk.Advance(10 * time.Hour)
			if _, err := srv.tickets.Solve(ctx, tk.ID, "alice", "已补发"); err != nil {
				t.Fatal(err)
			}
			solved := "您好，您的工单（工单号 "
			count := func() (notices, surveys int) {
				for _, e := range c.history("") {
					if e.Kind == "notice" && strings.HasPrefix(e.Text, solved) {
						notices++
					}
					if notices > 0 && e.Kind == "survey" {
						surveys++
					}
				}
				return
			}
			waitFor(t, func() bool { _, s := count(); return s == 1 })
			// Other polls (this and another instance's) tell nothing more.
			for range 2 {
				if _, err := srv.ticketNotices.Tick(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if n, s := count(); n != 1 || s != 1 {
				t.Fatalf("%d solve notices and %d surveys, want 1 and 1", n, s)
			}
			got, _ := srv.tickets.Get(ctx, tk.ID)
			if last := got.Events[len(got.Events)-1]; last.Type != tickets.EvNotified || last.Detail != "web" {
				t.Fatalf("events %+v", got.Events)
			}
			// The survey answer reopens nothing; writing again does.
			clk.Advance(time.Minute)
			if code, _ := c.say("m4", map[string]any{"kind": "rating", "choice": "4"}); code != 200 {
				t.Fatalf("rating: %d", code)
			}
			c.say("m5", map[string]any{"text": "还是没收到货"})
			waitFor(t, func() bool { t, _ := srv.tickets.Get(ctx, tk.ID); return t.State == tickets.Open })
			got, _ = srv.tickets.Get(ctx, tk.ID)
			reopened := 0
			for _, e := range got.Events {
				if e.Type == tickets.EvReopened {
					reopened++
				}
			}
			if reopened != 1 {
				t.Fatalf("reopened %d times: %+v", reopened, got.Events)
			}
		})
	}
}

// Telegram through the gateway and the fake Bot API: asked, told when,
// then told of the solve and surveyed by messages.
func TestLeaveMessageTelegram(t *testing.T) {
	var mu sync.Mutex
	var sent []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		text := ""
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			var body map[string]any
			json.NewDecoder(r.Body).Decode(&body)
			text, _ = body["text"].(string)
		} else {
			r.ParseMultipartForm(1 << 20)
			text = r.FormValue("text")
			io.Copy(io.Discard, r.Body)
		}
		w.Header().Set("Content-Type", "application/json")
		switch method {
		case "getMe":
			io.WriteString(w, `{"ok":true,"result":{"id":1,"is_bot":true,"first_name":"kefu","username":"kefu_bot"}}`)
		case "sendMessage":
			mu.Lock()
			sent = append(sent, text)
			mu.Unlock()
			io.WriteString(w, `{"ok":true,"result":{"message_id":7,"date":1700000000,"chat":{"id":42,"type":"private"}}}`)
		default:
			io.WriteString(w, `{"ok":true,"result":true}`)
		}
	}))
	defer api.Close()
	t.Setenv("KEFU_TELEGRAM_TOKEN", "123456:secret-token-value")
	t.Setenv("KEFU_TELEGRAM_WEBHOOK_SECRET", "hook-secret")
	g, srv, clk := leaveGateway(t, "", "telegram:\n  mode: webhook\n  webhook_url: https://shop.example/tg/hook\n  api_url: "+api.URL+"\n")
	ctx := context.Background()
	post := func(id int, text string) {
		t.Helper()
		u := map[string]any{"update_id": 2000 + id, "message": map[string]any{"message_id": id, "date": 1700000000,
			"chat": map[string]any{"id": 42, "type": "private"}, "from": map[string]any{"id": 42, "is_bot": false, "first_name": "顾客", "language_code": "zh-hans"},
			"text": text}}
		b, _ := json.Marshal(u)
		req, _ := http.NewRequest("POST", g.URL+"/tg/hook", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "hook-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("update %d: %d", id, resp.StatusCode)
		}
	}
	has := func(sub string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, s := range sent {
				if strings.Contains(s, sub) {
					return true
				}
			}
			return false
		}
	}
	post(1, "订单 2026120312345678 还没发货，转人工")
	waitFor(t, has("请留下您的手机号。"))
	if has("订单号和")() {
		t.Fatal("asked for the order number the customer gave")
	}
	post(2, "13800138000")
	waitFor(t, has("明天 9:00 后"))
	var tk tickets.Ticket
	waitFor(t, func() bool {
		ts := ticketsOf(t, srv, "telegram:42")
		if len(ts) == 1 {
			tk = ts[0]
		}
		return len(ts) == 1
	})
	if tk.Contact != "13800138000" || !strings.Contains(tk.Text, "还没发货") {
		t.Fatalf("ticket %+v", tk)
	}
	clk.Advance(10 * time.Hour)
	srv.tickets.Solve(ctx, tk.ID, "alice", "")
	waitFor(t, has("已处理完毕"))
	waitFor(t, has(bot.DefaultTexts()["zh"].SurveyPrompt))
}

// WeChat outside its 48-hour window (the customer's window is closed: the
// adapter refuses without calling WeChat): the solve is not delivered and
// the ticket gets a plain note for the agents with the phone number left.
func TestLeaveMessageWeChatWindowClosed(t *testing.T) {
	t.Setenv("KEFU_WECHAT_APP_ID", "wx0123456789abcdef")
	t.Setenv("KEFU_WECHAT_APP_SECRET", "app-secret-value-0123456789")
	t.Setenv("KEFU_WECHAT_TOKEN", "wechat-token")
	_, srv, clk := leaveGateway(t, "", "wechat:\n  mode: plain\n")
	ctx := context.Background()
	for i, text := range []string{"订单 2026120312345678 退款没到", "转人工", "电话 13800138000"} {
		if _, err := srv.engine.Handle(ctx, bot.Message{Channel: "wechat", User: "o-cust", ID: "w" + string(rune('1'+i)), Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	ts := ticketsOf(t, srv, "wechat:o-cust")
	if len(ts) != 1 {
		t.Fatalf("%d tickets", len(ts))
	}
	clk.Advance(72 * time.Hour)
	srv.tickets.Solve(ctx, ts[0].ID, "alice", "")
	var got tickets.Ticket
	waitFor(t, func() bool {
		got, _ = srv.tickets.Get(ctx, ts[0].ID)
		return len(got.Notes) > 0
	})
	if n := got.Notes[0]; n.Author != "system" || !strings.Contains(n.Text, "48 小时") || !strings.Contains(n.Text, "13800138000") {
		t.Fatalf("note %+v", n)
	}
	waitFor(t, func() bool {
		got, _ = srv.tickets.Get(ctx, ts[0].ID)
		return got.Events[len(got.Events)-1].Type == tickets.EvNotified
	})
	if d := got.Events[len(got.Events)-1].Detail; d != "unreachable: wechat wechat_window" {
		t.Fatalf("outcome %q", d)
	}
}
