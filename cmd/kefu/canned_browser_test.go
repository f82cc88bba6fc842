package main

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/kefu-dev/kefu/channels/web"
)

// TestBrowserCannedReplyReachesCustomer: through the whole gateway with the
// sample FAQ's canned replies. A signed-in shop user (张三) gives an order
// number and asks for a person; the agent, in the console, types /tkjd in
// the reply box, picks 退款进度 with Enter, and the box holds the reply with
// the customer's name and the order number filled; sent, the customer's
// chat has it as the agent's message.
func TestBrowserCannedReplyReachesCustomer(t *testing.T) {
	mustRedisEnv(t)
	const secret = "the-shop-and-kefu-share-this"
	t.Setenv("KEFU_WEB_IDENTITY_SECRET", secret)
	g := mustServe(t, "--config", agentConfig(t, ""))

	ts := time.Now().Unix()
	id := web.Identity{ID: "shop-7", Name: "张三", TS: ts, Hash: web.IdentityHash([]byte(secret), "shop-7", "张三", "", "", ts)}
	var s struct{ Token string }
	if code := doJSON(t, "POST", g.URL+"/api/session", "", map[string]any{"identity": id}, &s); code != 200 || s.Token == "" {
		t.Fatalf("session: %d", code)
	}
	c := &customer{t: t, base: g.URL, token: s.Token}
	if code, _ := c.say("c1", map[string]any{"text": "订单 2023112312345678 的退款还没到账"}); code != 200 {
		t.Fatalf("first message: %d", code)
	}
	if code, r := c.say("c2", map[string]any{"text": "转人工"}); code != 200 || len(r.Replies) == 0 || r.Replies[0].Kind != "handoff" {
		t.Fatalf("hand-off: %d %+v", code, r)
	}

	ctx := mustBrowser(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(g.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#signin-id")),
		chromedp.SendKeys(chromedp.CSS("#signin-id"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#signin-password"), "alice-pw"),
		chromedp.Click(chromedp.CSS("#signin-btn")),
		chromedp.WaitVisible(chromedp.CSS("#queue li.waiting")),
	); err != nil {
		t.Fatalf("agent: %v", err)
	}
	poll(t, ctx, "the claim button", `(() => { const b = document.querySelector('#queue li.waiting button.claim'); if (!b) return false; b.click(); return true; })()`)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#transcript .entry.in")),
		chromedp.Click(chromedp.CSS("#reply-text")), chromedp.SendKeys(chromedp.CSS("#reply-text"), "/tkjd")); err != nil {
		t.Fatalf("agent: %v", err)
	}
	poll(t, ctx, "the picker", `(() => { const li = document.querySelector('#canned-picker:not([hidden]) li.canned-item.selected');
		return !!li && li.querySelector('.canned-title').textContent === '退款进度' && li.dataset.kind === 'canned'; })()`)
	if err := chromedp.Do(ctx, pressEnter()); err != nil {
		t.Fatal(err)
	}
	const want = "张三，2023112312345678的退款已提交，会在 1–3 个工作日内原路退回，请留意账户到账通知。"
	poll(t, ctx, "the filled reply in the box", `document.getElementById('reply-text').value === `+jsString(want))
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#reply-send"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		for _, e := range c.history("") {
			if e.Dir == "out" && e.Kind == "agent" && e.Text == want {
				return true
			}
		}
		return false
	})
}

// pressEnter presses Enter as a keyboard does: one keyDown carrying its
// text, which a page that cancels the keydown keeps out of the box
// (chromedp.KeyEvent sends the text as a separate char event no page can
// cancel).
func pressEnter() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		k := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter",
			WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13, Text: "\r", UnmodifiedText: "\r"}
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, k); err != nil {
			return err
		}
		k.Type, k.Text, k.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, k)
		return err
	})
}
