package main

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kefu-dev/kefu/tickets"
)

// TestBrowserLeaveMessage: in headless Chromium, a customer writes at 23:30
// (closed) and asks for a person; the chat asks for the order and phone
// numbers; they type them and read when they will hear back (tomorrow after
// 9:00). Next morning the ticket is solved: the notice appears in the open
// page, then the survey, and is still there after a reload.
func TestBrowserLeaveMessage(t *testing.T) {
	g, srv, clk := leaveGateway(t, "", "")
	ctx := mustBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(g.URL+"/")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the welcome", `document.querySelectorAll('.msg.out[data-kind="welcome"]').length === 1`)
	send := func(text string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.SendKeys("#input", text), chromedp.Click("#send")); err != nil {
			t.Fatal(err)
		}
	}
	// The chat speaks the browser's language (Chinese, or English for a
	// headless Chromium without a Chinese locale): either sentence counts.
	notice := func(zh, en string) string {
		return `Array.from(document.querySelectorAll('.msg.out[data-kind="notice"]')).some(e => e.textContent.includes(` + jsString(zh) +
			`) || e.textContent.includes(` + jsString(en) + `))`
	}
	send("快递三天了还没到")
	poll(t, ctx, "the bot's reply", `document.querySelectorAll('.msg.out:not([data-kind="welcome"])').length >= 1`)
	if err := chromedp.Do(ctx, chromedp.Click("#human")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "closed, and the question for the order and phone numbers", notice("现在是非工作时间", "outside our service hours")+" && "+notice("请留下您的订单号和手机号", "please leave your order number and phone number"))
	send("订单号 2026120312345678，电话 13800138000")
	poll(t, ctx, "when they will hear back", notice("客服会在明天 9:00 后联系您", "get back to you after 9:00 tomorrow"))

	bg := context.Background()
	ts, err := srv.tickets.List(bg, tickets.Filter{})
	if err != nil || len(ts) != 1 || ts[0].Reason != tickets.ReasonLeaveMessage || ts[0].Contact != "13800138000" {
		t.Fatalf("tickets %+v %v", ts, err)
	}
	clk.Advance(10 * time.Hour)
	if _, err := srv.tickets.Solve(bg, ts[0].ID, "alice", ""); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the solve notice pushed to the open page", notice("已处理完毕", "has been resolved"))
	poll(t, ctx, "the survey after it", `document.querySelectorAll('.msg.out[data-kind="survey"] .choices button').length === 5`)
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the solve notice on the next visit", notice("已处理完毕", "has been resolved"))
	if n := evalJS[int](t, ctx, `Array.from(document.querySelectorAll('.msg.out[data-kind="notice"]')).filter(e => /已处理完毕|has been resolved/.test(e.textContent)).length`); n != 1 {
		t.Fatalf("%d solve notices, want 1", n)
	}
}
