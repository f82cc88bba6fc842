package console

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/canned"
	"github.com/kefu-dev/kefu/intents"
)

const jsPicker = `(() => { const p = document.getElementById('canned-picker'); if (p.hidden) return 'closed';
	return Array.from(p.querySelectorAll('li.canned-item')).map((li) => li.dataset.kind + ':' + li.querySelector('.canned-title').textContent + (li.classList.contains('selected') ? '*' : '')).join('|') })()`

// TestBrowserCannedPicker: in the reply box the agent types / and pinyin
// initials; the picker lists the canned replies of their group (the
// after_sales reply for carol) marked 快捷回复, arrows move the choice and
// Enter inserts it in place of the /word with the conversation's customer
// name and order number filled; the box is theirs to edit, and sending it
// reaches the customer. In a conversation where neither is known the
// fallbacks are inserted. An FAQ answer is found by a Chinese word and
// marked 客服知识库 (、, the / key of a Chinese input method, opens the
// picker too); Esc closes the picker and leaves the box as typed.
func TestBrowserCannedPicker(t *testing.T) {
	var e *env
	e = MustEnvDeps(t, nil, func(d *Deps) {
		x := cannedIndex(t)
		d.Canned = func() *canned.Index { return x }
		d.Customer = func(ctx context.Context, cid string) (Customer, error) {
			name, _ := e.rdb.HGet(ctx, e.prefix+"conv:"+cid, "customer_name").Result()
			return Customer{Name: name}, nil
		}
	})
	ctx := context.Background()
	known := e.customer(t, "u:wangfang", "订单 2023112312345678 的退款到了吗", "after_sales", false)
	cv, _ := e.store.Load(ctx, known)
	cv.Entities = []intents.Entity{{Type: intents.EntityOrder, Value: "2023112312345678"}}
	if err := e.store.Record(ctx, cv, bot.Outbound{Conv: known, Kind: bot.OutHandoff, Text: "正在转接"}); err != nil {
		t.Fatal(err)
	}
	e.rdb.HSet(ctx, e.prefix+"conv:"+known, "customer_name", "王芳")
	unknown := e.customer(t, "visitor9", "退款什么时候到", "after_sales", false)

	p := MustPage(t, 150*time.Second)
	p.signIn(e.srv.URL, "carol")
	p.waitFor("queue", `String(document.querySelectorAll('#queue li.waiting').length)`, "2")
	p.act("claim 王芳", `#queue li.waiting[data-conv="`+known+`"] button.claim`, "el.click()")
	p.waitFor("open", jsTitle, known)

	p.do("type a greeting and /tkjd", chromedp.Click(chromedp.CSS("#reply-text")), chromedp.SendKeys(chromedp.CSS("#reply-text"), "好的 /tkjd"))
	p.waitFor("the picker", jsPicker, "canned:退款进度*")
	if got := p.eval(`document.querySelector('#canned-picker li.canned-item .canned-kind').textContent`); got != "快捷回复" {
		t.Errorf("the reply is marked %q, want 快捷回复", got)
	}
	// Fewer letters find more: the greeting too, and the arrows move.
	p.do("erase to /", chromedp.SendKeys(chromedp.CSS("#reply-text"), "\b\b\b\b"))
	p.waitFor("every reply", jsPicker, "canned:问候*|canned:退款进度")
	p.do("down", chromedp.KeyEvent(kb.ArrowDown))
	p.waitFor("second chosen", jsPicker, "canned:问候|canned:退款进度*")
	p.do("enter", enterKey())
	want := "好的 王芳，2023112312345678的退款已提交。"
	p.waitFor("the reply in the box, filled", jsBox, want)
	p.waitFor("the picker closed", jsPicker, "closed")
	if got := e.deliver.sent(); len(got) != 0 {
		t.Fatalf("Enter on the picker sent %+v", got)
	}
	p.do("edit and send", chromedp.SendKeys(chromedp.CSS("#reply-text"), "请留意"), chromedp.Click(chromedp.CSS("#reply-send")))
	p.waitFor("sent", `String(document.querySelectorAll('#transcript .entry.out.agent').length)`, "1")
	var agentMsgs []string
	for _, o := range e.deliver.sent() {
		if o.Kind == "agent" {
			agentMsgs = append(agentMsgs, o.User+":"+o.Text)
		}
	}
	if len(agentMsgs) != 1 || agentMsgs[0] != "u:wangfang:"+want+"请留意" {
		t.Fatalf("the customer received %q", agentMsgs)
	}

	// Nothing known of the other customer: the fallbacks.
	p.act("claim the visitor", `#queue li.waiting[data-conv="`+unknown+`"] button.claim`, "el.click()")
	p.waitFor("open", jsTitle, unknown)
	p.do("/tk", chromedp.Click(chromedp.CSS("#reply-text")), chromedp.SendKeys(chromedp.CSS("#reply-text"), "/tk"))
	p.waitFor("the picker", `(`+jsPicker+`).split('|')[0]`, "canned:退款进度*")
	p.do("enter", enterKey())
	p.waitFor("fallbacks in the box", jsBox, "亲，您的订单的退款已提交。")

	// The FAQ's answers by a Chinese word, marked as the knowledge base;
	// Esc closes and keeps what was typed.
	p.do("clear", chromedp.Evaluate[chromedp.Void](`(() => { const b = document.getElementById('reply-text'); b.value = ''; b.dispatchEvent(new Event('input')); })()`))
	p.do("/到账", chromedp.SendKeys(chromedp.CSS("#reply-text"), "/到账"))
	p.waitFor("the FAQ answer", jsPicker, "faq:退款多久到账*")
	if got := p.eval(`document.querySelector('#canned-picker li.canned-item .canned-kind').textContent`); got != "客服知识库" {
		t.Errorf("the FAQ answer is marked %q, want 客服知识库", got)
	}
	p.do("esc", chromedp.KeyEvent(kb.Escape))
	p.waitFor("closed by Esc", jsPicker, "closed")
	if got := p.eval(jsBox); got != "/到账" {
		t.Errorf("after Esc the box holds %q", got)
	}
	// What the / key types in a Chinese input method's mode, 、, opens it too.
	p.do("、到账", chromedp.Evaluate[chromedp.Void](`(() => { const b = document.getElementById('reply-text'); b.value = ''; b.dispatchEvent(new Event('input')); })()`),
		chromedp.SendKeys(chromedp.CSS("#reply-text"), "、到账"))
	p.waitFor("the FAQ answer by 、", jsPicker, "faq:退款多久到账*")
	p.do("enter", enterKey())
	p.waitFor("the answer in the box", jsBox, "退款会在 1–3 个工作日内原路退回。")
	if n := len(e.deliver.sent()); n != 1 {
		t.Errorf("%d messages delivered, want only the one sent", n)
	}
	if errs := p.eval(`JSON.stringify(window.__errors || [])`); errs != "[]" && !strings.Contains(errs, "ResizeObserver") {
		t.Errorf("page errors: %s", errs)
	}
}

// enterKey presses Enter as a keyboard does: one keyDown that carries its
// text, so that a page cancelling the keydown keeps the line break out
// (chromedp.KeyEvent sends the text as a separate char event, which no
// page can cancel).
func enterKey() chromedp.Action[chromedp.Void] {
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
