package console

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// MustBrowser starts a headless Chromium tab for the test, as a Chinese
// agent's browser: it prefers zh-CN and its clock is in Asia/Shanghai.
func MustBrowser(tb testing.TB) context.Context {
	tb.Helper()
	return MustBrowserLang(tb, "zh-CN")
}

// MustBrowserLang is MustBrowser with the browser's preferred languages
// (Accept-Language, navigator.languages), e.g. "en-US" or "fr-FR,de".
func MustBrowserLang(tb testing.TB, langs string) context.Context {
	tb.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.Flag("accept-lang", langs),
		chromedp.Env("TZ=Asia/Shanghai"),
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
	if got := eval(`document.querySelector('#queue li.waiting').dataset.conv`); got != cid {
		t.Fatalf("waiting conversation %q, want %q", got, cid)
	}
	if got := text("#queue li.waiting .preview"); got != xssPayload {
		t.Fatalf("preview %q, want the payload as text", got)
	}

	claimFirstWaiting(t, ctx)
	step("claim",
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
	if got := try("wrong"); !strings.Contains(got, "账号或密码错误") {
		t.Fatalf("first wrong password: %q", got)
	}
	if got := try(testPassword); !strings.Contains(got, "请 1:00 后再试") {
		t.Fatalf("locked: %q, want the wait (Retry-After 60 s) shown", got)
	}
}

// TestBrowserHistoryAndSearch: an agent opens the customer's earlier
// conversation from the conversation panel, then finds conversations on
// the search page by a Chinese word and by an order number, only in her
// groups.
func TestBrowserHistoryAndSearch(t *testing.T) {
	e, db := MustArchiveEnv(t)
	// 21 conversations of her group about a warranty: two pages of 20.
	var more []archive.Event
	for i := range 21 {
		more = append(more, archived{user: fmt.Sprintf("w%02d", i), ep: "1", group: "pre_sales", agent: "bob",
			start: day0.AddDate(0, 6, i), said: "保修卡丢了还能保修吗", answer: "可以凭订单保修"}.events()...)
	}
	if err := db.Write(context.Background(), more); err != nil {
		t.Fatal(err)
	}
	cid := e.customer(t, "visitor1", "上次的发票还没收到", "pre_sales", false)
	bctx := MustBrowser(t)
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	step := func(name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	// listed is the conversations a list shows, in order.
	listed := func(sel string) string {
		return eval(`Array.from(document.querySelectorAll('` + sel + ` li.result')).map((li) => li.dataset.conv).join(' ')`)
	}
	// waitFor polls the page until js gives want (the context's deadline
	// is the hang guard).
	waitFor := func(what, js, want string) {
		t.Helper()
		for {
			got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
			if err == nil && got == want {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: %q, want %q (%v)", what, got, want, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	step("sign in and claim",
		chromedp.Navigate(e.srv.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#signin-id")),
		chromedp.SendKeys(chromedp.CSS("#signin-id"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#signin-password"), testPassword),
		chromedp.Click(chromedp.CSS("#signin-btn")),
		chromedp.WaitVisible(chromedp.CSS("#queue li.waiting button.claim")),
	)
	claimFirstWaiting(t, ctx)
	step("claim",
		chromedp.WaitVisible(chromedp.CSS("#transcript .entry.in")),
	)
	if got := eval(`document.getElementById('conv-title').dataset.conv`); got != cid {
		t.Fatalf("conversation %q open, want %q", got, cid)
	}

	// History: her group's and the bot's own, newest first; not after_sales'.
	step("open the history", chromedp.Click(chromedp.CSS("#history summary")), chromedp.WaitVisible(chromedp.CSS("#history-list li.result")))
	if got := listed("#history-list"); got != "web:visitor1#3 web:visitor1#1" {
		t.Fatalf("history lists %q", got)
	}
	row := eval(`document.querySelector('#history-list li.result[data-conv="web:visitor1#1"]').textContent`)
	for _, want := range []string{"网页", "人工", "alice", "★★★★★", "请问发票什么时候寄出"} {
		if !strings.Contains(row, want) {
			t.Errorf("history row %q lacks %q", row, want)
		}
	}
	step("open an earlier conversation",
		chromedp.Click(chromedp.CSS(`#history-list li.result[data-conv="web:visitor1#1"]`)),
		chromedp.WaitVisible(chromedp.CSS("#archive-view #archive-transcript .entry.out.agent")),
	)
	if got := eval(`Array.from(document.querySelectorAll('#archive-transcript .entry .text')).map((n) => n.textContent).join('|')`); got != "请问发票什么时候寄出|发票已经寄出" {
		t.Fatalf("archived transcript %q", got)
	}
	if got := eval(`String(document.getElementById('conv').hidden) + ' ' + String(!!document.querySelector('#archive-view textarea, #archive-view button.claim'))`); got != "true false" {
		t.Fatalf("the archived view is not read-only alone: %q", got)
	}
	step("back", chromedp.Click(chromedp.CSS("#archive-back")), chromedp.WaitVisible(chromedp.CSS("#conv #reply-text")))

	// Search by a Chinese word: her groups' only.
	step("search a word",
		chromedp.Click(chromedp.CSS("#search-open")),
		chromedp.WaitVisible(chromedp.CSS("#search-q")),
		chromedp.SendKeys(chromedp.CSS("#search-q"), "发票"),
		chromedp.Click(chromedp.CSS("#search-btn")),
	)
	waitFor("total for 发票", `document.getElementById('search-total').textContent`, "共 2 个会话")
	if got := listed("#search-results"); got != "web:visitor2#1 web:visitor1#1" {
		t.Fatalf("发票 finds %q", got)
	}
	if got := eval(`document.getElementById('search-page').textContent`); got != "第 1 / 1 页" {
		t.Errorf("pager %q", got)
	}
	// Two pages, by the cursor the first gives: the 20 newest, then the
	// oldest; back to the first.
	step("search a word with two pages",
		chromedp.Evaluate[chromedp.Void](`document.getElementById('search-q').value = ''`),
		chromedp.SendKeys(chromedp.CSS("#search-q"), "保修"),
		chromedp.Click(chromedp.CSS("#search-btn")),
	)
	waitFor("total for 保修", `document.getElementById('search-total').textContent`, "共 21 个会话")
	first := listed("#search-results")
	if n := len(strings.Fields(first)); n != 20 || !strings.HasPrefix(first, "web:w20#1 ") {
		t.Fatalf("page 1 of 保修: %d conversations, %q", n, first)
	}
	step("next page", chromedp.Click(chromedp.CSS("#search-next")))
	waitFor("page 2", `document.getElementById('search-page').textContent`, "第 2 / 2 页")
	if got := listed("#search-results"); got != "web:w00#1" {
		t.Fatalf("page 2 of 保修: %q", got)
	}
	if got := eval(`String(document.getElementById('search-next').disabled)`); got != "true" {
		t.Errorf("next enabled on the last page")
	}
	step("previous page", chromedp.Click(chromedp.CSS("#search-prev")))
	waitFor("page 1", `document.getElementById('search-page').textContent`, "第 1 / 2 页")
	if got := listed("#search-results"); got != first {
		t.Errorf("page 1 again: %q, want %q", got, first)
	}
	// By an order number.
	step("search an order number",
		chromedp.Evaluate[chromedp.Void](`document.getElementById('search-q').value = ''`),
		chromedp.SendKeys(chromedp.CSS("#search-entity"), "202405150002"),
		chromedp.Click(chromedp.CSS("#search-btn")),
	)
	waitFor("total for the order", `document.getElementById('search-total').textContent`, "共 1 个会话")
	if got := listed("#search-results"); got != "web:visitor2#1" {
		t.Fatalf("the order number finds %q", got)
	}
	step("open it",
		chromedp.Click(chromedp.CSS(`#search-results li.result[data-conv="web:visitor2#1"]`)),
		chromedp.WaitVisible(chromedp.CSS("#archive-transcript .entry.in")),
	)
	if got := eval(`document.querySelector('#archive-transcript .entry.in .text').textContent`); got != "我要开发票，订单 202405150002" {
		t.Fatalf("opened %q", got)
	}
	// Another group's order number finds nothing for her.
	step("back to the search", chromedp.Click(chromedp.CSS("#archive-back")), chromedp.WaitVisible(chromedp.CSS("#search-entity")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('search-entity').value = '202401150001'`), chromedp.Click(chromedp.CSS("#search-btn")))
	waitFor("total for another group's order", `document.getElementById('search-total').textContent`, "共 0 个会话")
}

// claimFirstWaiting clicks the first waiting conversation's claim button by
// the page's own script, retried until it is there: the queue list
// re-renders as it refreshes, so a node found by one protocol call may be
// gone by the next.
func claimFirstWaiting(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const b = document.querySelector('#queue li.waiting button.claim'); if (!b) return false; b.click(); return true })()`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("claim: %v", err)
	}
}
