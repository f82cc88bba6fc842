package console

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// MustBrowser starts a headless Chromium tab for the test.
func MustBrowser(tb testing.TB) context.Context {
	tb.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(testkit.Chromium(tb)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(tb.TempDir()),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	tb.Cleanup(func() { cancel(); cancelAlloc() })
	// No timeout on the first run's context: its end would end the browser.
	// A hang guard instead: a browser that does not start within
	// hangGuard is ended, which ends the run.
	guard := time.AfterFunc(hangGuard, cancel)
	err := chromedp.Do(ctx)
	if !guard.Stop() {
		tb.Fatalf("start chromium: not started within %s (hang guard): %v", hangGuard, err)
	}
	if err != nil {
		tb.Fatalf("start chromium: %v", err)
	}
	return ctx
}

const xssPayload = `<img src=x onerror="window.__xss=1">`

func TestBrowserClaimReplyXSS(t *testing.T) {
	e := MustEnv(t, nil)
	cid := e.customer(t, "visitor1", xssPayload, "pre_sales", false)
	bctx := MustBrowser(t)
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	step := func(name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}

	step("sign in",
		chromedp.Navigate(e.srv.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#signin-id")),
		chromedp.SendKeys(chromedp.CSS("#signin-id"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#signin-password"), testPassword),
		chromedp.Click(chromedp.CSS("#signin-btn")),
		chromedp.WaitVisible(chromedp.CSS("#queue li.waiting")),
	)
	if got := text("#queue li.waiting .conv-id"); got != cid {
		t.Fatalf("waiting conversation %q, want %q", got, cid)
	}
	if got := text("#queue li.waiting .preview"); got != xssPayload {
		t.Fatalf("preview %q, want the payload as text", got)
	}

	step("claim",
		chromedp.Click(chromedp.CSS("#queue li.waiting button.claim")),
		chromedp.WaitVisible(chromedp.CSS("#transcript .entry.in")),
	)
	if got := text("#transcript .entry.in .text"); got != xssPayload {
		t.Fatalf("transcript shows %q, want the payload as text", got)
	}
	if got := eval(`String(document.querySelectorAll('img').length) + ' ' + typeof window.__xss`); got != "0 undefined" {
		t.Fatalf("images and window.__xss: %q, want \"0 undefined\"", got)
	}

	step("reply",
		chromedp.SendKeys(chromedp.CSS("#reply-text"), "您好，请问有什么可以帮您？"),
		chromedp.Click(chromedp.CSS("#reply-send")),
		chromedp.WaitVisible(chromedp.CSS("#transcript .entry.out.agent")),
	)
	if got := text("#transcript .entry.out.agent .text"); got != "您好，请问有什么可以帮您？" {
		t.Fatalf("agent entry %q", got)
	}
	want := []bot.Outbound{{Channel: "web", User: "visitor1", Conv: cid, Kind: bot.OutAgent, Agent: "alice", Text: "您好，请问有什么可以帮您？"}}
	if diff := cmp.Diff(want, e.deliver.sent()); diff != "" {
		t.Fatalf("delivered (-want +got):\n%s", diff)
	}

	// A new customer message arrives live, without a reload, also as text.
	e.says(t, "visitor1", `<script>window.__xss=2</script>还在吗`)
	step("live message", chromedp.WaitVisible(chromedp.CSS("#transcript .entry.in:nth-of-type(3)")))
	if got := text("#transcript .entry.in:nth-of-type(3) .text"); got != `<script>window.__xss=2</script>还在吗` {
		t.Fatalf("live message %q", got)
	}
	if got := eval(`typeof window.__xss`); got != "undefined" {
		t.Fatalf("window.__xss is %s", got)
	}

	// The lease is lost (the reaper ran while the page was away): the page
	// says so and the next reply is refused.
	e.clk.Advance(31 * time.Second)
	if _, err := e.q.Reap(context.Background()); err != nil {
		t.Fatal(err)
	}
	step("lost claim", chromedp.WaitVisible(chromedp.CSS("#lost-banner")))
	if got := eval(`String(document.getElementById('reply-send').disabled)`); got != "true" {
		t.Fatalf("reply button enabled after the claim was lost")
	}
	if n := len(e.deliver.sent()); n != 1 {
		t.Fatalf("delivered %d messages", n)
	}
}

// TestBrowserSignInLockShowsWait: a locked sign-in tells the agent how long
// to wait (the answer's Retry-After), not just "later".
func TestBrowserSignInLockShowsWait(t *testing.T) {
	e := MustEnv(t, func(c *Config) { c.SignInFailures = 1 })
	bctx := MustBrowser(t)
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	try := func(pw string) string {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#signin-id"), "alice"),
			chromedp.SetValue(chromedp.CSS("#signin-password"), pw),
			chromedp.Click(chromedp.CSS("#signin-btn")),
		); err != nil {
			t.Fatal(err)
		}
		for {
			s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#signin-error")))
			if err != nil {
				t.Fatal(err)
			}
			if s != "" {
				_ = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById('signin-error').textContent = ''`))
				return s
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(e.srv.URL+"/console/"), chromedp.WaitVisible(chromedp.CSS("#signin-id"))); err != nil {
		t.Fatal(err)
	}
	if got := try("wrong"); !strings.Contains(got, "Wrong") {
		t.Fatalf("first wrong password: %q", got)
	}
	if got := try(testPassword); !strings.Contains(got, "Try again in 1:00") {
		t.Fatalf("locked: %q, want the wait (Retry-After 60 s) shown", got)
	}
}
