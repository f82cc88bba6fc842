package console

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// grantNotifications grants the console's origin the desktop-notification
// permission through the browser's permission API (as an agent who allowed
// them once would have).
func (p *page) grantNotifications(origin string) {
	p.t.Helper()
	p.do("grant notifications", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: "notifications"},
			Setting:    browser.PermissionSettingGranted,
			Origin:     origin,
		})
		return err
	}))
}

// jsHide and jsShow make the page believe its tab was hidden or shown
// again (what a switch to another tab does), and tell it so.
const (
	jsHide = `(() => { Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
		Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
		document.dispatchEvent(new Event('visibilitychange')); })()`
	jsShow = `(() => { Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'visible'});
		Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
		document.dispatchEvent(new Event('visibilitychange')); })()`
	// jsWrapNotification records every desktop notification the page
	// constructs (title|body) in window.__notes, still constructing it.
	jsWrapNotification = `(() => { window.__notes = []; const O = window.Notification;
		window.Notification = new Proxy(O, {construct(t, a) { window.__notes.push(a[0] + '|' + ((a[1] || {}).body || '')); return Reflect.construct(t, a); }}); })()`
	jsNotes = `(window.__notes || []).join('\n')`
)

func jsUnread(conv string) string {
	return `(() => { const u = document.querySelector('#mine li[data-conv="` + conv + `"] .unread-count'); return u ? u.textContent : '0'; })()`
}

// TestBrowserUnreadTitleAndNotification: a customer message in a
// conversation that is not the open one raises its unread count in "my
// conversations" and in the page's title, and (permission granted, 桌面通知
// on) constructs a desktop notification naming the customer; with the tab
// hidden the open conversation's messages count too, and coming back to the
// tab clears them; opening a conversation clears its count; a message in
// the open conversation of a visible tab counts nothing and notifies no one.
func TestBrowserUnreadTitleAndNotification(t *testing.T) {
	e := MustEnv(t, nil)
	cid1 := e.customer(t, "visitor1", "第一个问题", "pre_sales", false)
	cid2 := e.customer(t, "visitor2", "第二个问题", "pre_sales", false)
	p := MustPage(t, 120*time.Second)
	p.grantNotifications(e.srv.URL)
	p.signIn(e.srv.URL, "alice")
	const base = "kefu 客服工作台"
	p.waitFor("title", `document.title`, base)
	p.waitFor("queue", `String(document.querySelectorAll('#queue li.waiting').length)`, "2")
	p.do("claim the first", chromedp.Click(chromedp.CSS("#claim-next")))
	p.waitFor("first open", jsTitle, cid1)
	p.do("claim the second", chromedp.Click(chromedp.CSS("#claim-next")))
	p.waitFor("second open", jsTitle, cid2)

	p.do("wrap Notification", chromedp.Evaluate[chromedp.Void](jsWrapNotification))
	p.do("turn desktop notifications on", chromedp.Click(chromedp.CSS("#notify-on")))
	p.waitFor("notifications on", `String(document.getElementById('notify-on').checked) + ' ' + Notification.permission`, "true granted")

	// The first is not the open one: its count, the title, a notification.
	e.says(t, "visitor1", "还在吗？")
	p.waitFor("unread of the first", jsUnread(cid1), "1")
	p.waitFor("title with the count", `document.title`, "(1) "+base)
	p.waitFor("a notification", `String((window.__notes || []).length)`, "1")
	if got := p.eval(jsNotes); !strings.HasPrefix(got, "客户新消息|") || !strings.Contains(got, "发来新消息") {
		t.Fatalf("notification %q, want the customer-message one", got)
	}
	e.says(t, "visitor1", "在吗在吗")
	p.waitFor("unread of the first, twice", jsUnread(cid1), "2")
	p.waitFor("title with two", `document.title`, "(2) "+base)

	// Tab hidden: a message in the open conversation counts and notifies.
	p.do("hide the tab", chromedp.Evaluate[chromedp.Void](jsHide))
	e.says(t, "visitor2", "有人吗")
	p.waitFor("unread of the open one while hidden", jsUnread(cid2), "1")
	p.waitFor("title with three", `document.title`, "(3) "+base)
	p.waitFor("another notification", `String((window.__notes || []).length)`, "3")

	// Back to the tab: the open conversation has been seen.
	p.do("show the tab", chromedp.Evaluate[chromedp.Void](jsShow))
	p.waitFor("open one read", jsUnread(cid2), "0")
	p.waitFor("title back to the first's two", `document.title`, "(2) "+base)

	// Opening the first resets its count and the title.
	p.act("open the first", `#mine li[data-conv="`+cid1+`"]`, `el.click()`)
	p.waitFor("first open again", jsTitle, cid1)
	p.waitFor("first read", jsUnread(cid1), "0")
	p.waitFor("title without a count", `document.title`, base)

	// A message in the open conversation of a visible tab: shown, not counted.
	e.says(t, "visitor1", "好的谢谢")
	p.waitFor("message shown", `String([...document.querySelectorAll('#transcript .entry.in')].some((n) => n.textContent.includes('好的谢谢')))`, "true")
	if got := p.eval(`document.title + '|' + (window.__notes || []).length + '|' + ` + jsUnread(cid1)); got != base+"|3|0" {
		t.Fatalf("after a message in the open conversation: %q, want %q", got, base+"|3|0")
	}

	// A reload keeps the counts of the tab (none now) and the title.
	e.says(t, "visitor2", "还有一个问题")
	p.waitFor("unread of the second", jsUnread(cid2), "1")
	p.do("reload", chromedp.Reload())
	p.waitFor("count kept across a reload", jsUnread(cid2), "1")
	p.waitFor("title kept across a reload", `document.title`, "(1) "+base)
	if got := p.eval(`String(document.getElementById('notify-on').checked)`); got != strconv.FormatBool(true) {
		t.Fatalf("desktop notifications setting after a reload: %s, want it kept", got)
	}
}
