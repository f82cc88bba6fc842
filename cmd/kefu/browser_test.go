package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kefu-dev/kefu/internal/testkit"
)

// mustBrowser starts headless Chromium (Debian's, installed by
// scripts/test.sh) and returns a chromedp context for one tab.
func mustBrowser(t *testing.T) context.Context {
	t.Helper()
	path := testkit.Chromium(t)
	// The whole browser session lives at most 2 minutes; no timeout on the
	// first Run's own context (it would end the browser).
	base, cancelBase := context.WithTimeout(context.Background(), 2*time.Minute)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc(); cancelBase() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	return ctx
}

// poll waits until a JavaScript condition holds in the page.
func poll(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.outerHTML`))
		t.Fatalf("waiting for %s (%s): %v\npage: %s", what, expr, err, html)
	}
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// TestBrowserWebChat: a customer opens the chat page, is welcomed, asks
// 快递到哪了 and sees the answer; a reload shows the history; markup a
// customer types stays text.
func TestBrowserWebChat(t *testing.T) {
	mustRedisEnv(t)
	g := mustServe(t)
	ctx := mustBrowser(t)

	if err := chromedp.Do(ctx, chromedp.Navigate(g.URL+"/")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the welcome", `document.querySelectorAll('.msg.out[data-kind="welcome"]').length === 1`)
	if err := chromedp.Do(ctx, chromedp.SendKeys("#input", "快递到哪了"), chromedp.Click("#send")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the answer", `document.querySelectorAll('.msg.out[data-kind="answer"]').length === 1`)
	answer := evalJS[string](t, ctx, `document.querySelector('.msg.out[data-kind="answer"]').textContent`)
	if !strings.Contains(answer, "查看物流") {
		t.Errorf("answer shown: %q", answer)
	}
	if got := evalJS[int](t, ctx, `document.querySelectorAll('.msg.out[data-kind="answer"] .choices button').length`); got == 0 {
		t.Error("the answer's follow-up choices are not shown")
	}
	// At a desktop's and a phone's width nothing sticks out sideways
	// (KEFU_SCREENSHOTS: the README's screenshots).
	testkit.LookAt(t, ctx, "webchat", nil)

	// Markup from a customer is shown as text and never runs.
	payload := `<img src=x onerror="window.__xss=1">`
	if err := chromedp.Do(ctx, chromedp.SendKeys("#input", payload), chromedp.Click("#send")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the payload echoed", `Array.from(document.querySelectorAll('.msg.in')).some(e => e.textContent === `+jsString(payload)+` && !e.classList.contains('pending'))`)
	if n := evalJS[int](t, ctx, `document.querySelectorAll('#log img').length`); n != 0 {
		t.Errorf("%d img elements in the log: customer markup was rendered", n)
	}

	// Reload: the whole conversation comes back from the server.
	count := evalJS[int](t, ctx, `document.querySelectorAll('#log .msg').length`)
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the history after a reload", `document.querySelectorAll('#log .msg').length >= `+itoa(count))
	if got := evalJS[int](t, ctx, `document.querySelectorAll('.msg.out[data-kind="welcome"]').length`); got != 1 {
		t.Errorf("%d welcomes after a reload, want 1", got)
	}
	if got := evalJS[string](t, ctx, `document.querySelector('.msg.out[data-kind="answer"]').textContent`); got != answer {
		t.Errorf("answer after reload %q, want %q", got, answer)
	}
	if x := evalJS[bool](t, ctx, `window.__xss === 1`); x {
		t.Error("the XSS payload ran")
	}
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "`", "\\`", "$", `\$`)
	return "`" + r.Replace(s) + "`"
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestBrowserHandoffFlow: in headless Chromium, a customer in the web chat
// asks for a person; an agent signs in to the console in another window,
// claims, replies; the customer sees the reply; the agent closes; the
// customer gets the survey and rates it.
func TestBrowserHandoffFlow(t *testing.T) {
	mustRedisEnv(t)
	g := mustServe(t, "--config", agentConfig(t, ""))
	cust := mustBrowser(t)
	agentTab, cancel := chromedp.NewContext(cust) // a second window of the same browser
	defer cancel()

	if err := chromedp.Do(cust, chromedp.Navigate(g.URL+"/")); err != nil {
		t.Fatal(err)
	}
	poll(t, cust, "the welcome", `document.querySelectorAll('.msg.out[data-kind="welcome"]').length === 1`)
	if err := chromedp.Do(cust, chromedp.Click("#human")); err != nil {
		t.Fatal(err)
	}
	poll(t, cust, "the hand-off notice", `document.querySelectorAll('.msg.out[data-kind="handoff"]').length === 1`)

	reply := "您好，我是小王，请问有什么可以帮您？"
	if err := chromedp.Do(agentTab,
		chromedp.Navigate(g.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#signin-id")),
		chromedp.SendKeys(chromedp.CSS("#signin-id"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#signin-password"), "alice-pw"),
		chromedp.Click(chromedp.CSS("#signin-btn")),
		chromedp.WaitVisible(chromedp.CSS("#queue li.waiting")),
	); err != nil {
		t.Fatalf("agent: %v", err)
	}
	// Claimed by the page's own script, once the button is there: the queue
	// re-renders every second, so a node found by one protocol call may be
	// gone by the next.
	poll(t, agentTab, "the claim", `(() => { const b = document.querySelector('#queue li.waiting button.claim');
		if (b && !window.__claimed) { window.__claimed = true; b.click(); }
		return !!document.querySelector('#transcript .entry.in'); })()`)
	if err := chromedp.Do(agentTab,
		chromedp.SendKeys(chromedp.CSS("#reply-text"), reply),
		chromedp.Click(chromedp.CSS("#reply-send")),
		chromedp.WaitVisible(chromedp.CSS("#transcript .entry.out.agent")),
	); err != nil {
		t.Fatalf("agent: %v", err)
	}
	poll(t, cust, "the agent's reply", `Array.from(document.querySelectorAll('.msg.out.agent')).some(e => e.textContent.includes(`+jsString(reply)+`))`)

	// Closing asks for the wrap-up: what it was about, and resolved.
	if err := chromedp.Do(agentTab, chromedp.Click(chromedp.CSS("#close-btn"))); err != nil {
		t.Fatalf("close: %v", err)
	}
	poll(t, agentTab, "the wrap-up", `!document.getElementById('wrapup').hidden && !!document.querySelector('#wrapup-label option[value="other"]')`)
	if err := chromedp.Do(agentTab,
		chromedp.SetValue(chromedp.CSS("#wrapup-label"), "other"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('wrapup-label').dispatchEvent(new Event('change'))`),
		chromedp.Click(chromedp.CSS("#wrapup-resolved-yes")),
		chromedp.Click(chromedp.CSS("#wrapup-confirm"))); err != nil {
		t.Fatalf("close: %v", err)
	}
	poll(t, cust, "the survey", `document.querySelectorAll('.msg.out[data-kind="survey"] .choices button').length === 5`)
	notices := evalJS[int](t, cust, `document.querySelectorAll('.msg.out[data-kind="notice"]').length`)
	if err := chromedp.Do(cust, chromedp.Click(`.msg.out[data-kind="survey"] .choices button:last-child`)); err != nil {
		t.Fatal(err)
	}
	poll(t, cust, "the thanks for the rating", `document.querySelectorAll('.msg.out[data-kind="notice"]').length === `+strconv.Itoa(notices+1))
	thanks := evalJS[string](t, cust, `Array.from(document.querySelectorAll('.msg.out[data-kind="notice"]')).pop().textContent`)
	if !strings.Contains(thanks, "评价") && !strings.Contains(thanks, "rating") {
		t.Errorf("after rating the customer reads %q", thanks)
	}
}
