package console

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/priority"
)

// waitingWith hands a web customer's conversation off with a priority and
// the words that raised it, as the bot does.
func (e *env) waitingWith(tb testing.TB, user, text, group string, l priority.Level, words ...string) string {
	tb.Helper()
	ctx := context.Background()
	cv, _, err := e.store.Ingest(ctx, bot.Message{Channel: "web", User: user, ID: "m-" + user, Text: text})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := e.q.Enqueue(ctx, handoff.Ticket{Conv: cv.ID, Channel: "web", User: user, Group: group,
		Reason: "requested", Priority: l, Words: words}); err != nil {
		tb.Fatal(err)
	}
	return cv.ID
}

// Who may change a priority: the holder, an agent of the group it waits in,
// a supervisor; not an agent of another group. The API answers the change.
func TestSetPriorityAPI(t *testing.T) {
	e := MustEnv(t, nil)
	cid := e.waitingWith(t, "p1", "太垃圾了", "pre_sales", priority.High, "垃圾")
	path := "convs/" + url.PathEscape(cid) + "/priority"
	carol := e.signedIn(t, "carol") // after_sales only
	carol.refused("POST", path, map[string]string{"priority": "low"}, 403, "not_holder")
	alice := e.signedIn(t, "alice") // pre_sales: it waits in her group
	alice.refused("POST", path, map[string]string{"priority": "highest"}, 400, "bad_request")
	var out struct {
		Priority, From string
		Changed        bool
	}
	alice.must("POST", path, map[string]string{"priority": "urgent"}, &out)
	if out.Priority != "urgent" || out.From != "high" || !out.Changed {
		t.Errorf("set: %+v", out)
	}
	ws, _ := e.q.Waiting(context.Background(), "pre_sales")
	if len(ws) != 1 || ws[0].Priority != priority.Urgent || ws[0].PrioBy != "alice" {
		t.Errorf("queue after set: %+v", ws)
	}
	sup := e.signedIn(t, "sup")
	sup.must("POST", path, map[string]string{"priority": "low"}, &out)
	if out.Priority != "low" || !out.Changed {
		t.Errorf("supervisor's set: %+v", out)
	}
	// The queue view carries the level, the words and the deadline.
	var q struct {
		Groups []struct {
			Waiting []struct {
				Conv     string    `json:"conv"`
				Priority string    `json:"priority"`
				Words    []string  `json:"priority_words"`
				Due      time.Time `json:"due"`
			} `json:"waiting"`
		} `json:"groups"`
	}
	alice.must("GET", "queue", nil, &q)
	if len(q.Groups) == 0 || len(q.Groups[0].Waiting) != 1 || q.Groups[0].Waiting[0].Priority != "low" || q.Groups[0].Waiting[0].Due.IsZero() {
		t.Errorf("queue view: %+v", q)
	}
}

// In the browser: the queue shows the level and the words that raised it
// with the time left; the agent who claims it changes the level from the
// conversation's header.
func TestBrowserPriority(t *testing.T) {
	e := MustEnv(t, nil)
	cid := e.waitingWith(t, "p2", "你们太垃圾了，我要投诉", "pre_sales", priority.High, "垃圾", "投诉")
	bctx := MustBrowser(t)
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.srv.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#signin-id")),
		chromedp.SendKeys(chromedp.CSS("#signin-id"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#signin-password"), testPassword),
		chromedp.Click(chromedp.CSS("#signin-btn")),
		chromedp.WaitVisible(chromedp.CSS("#queue li.waiting .badge.prio")),
	); err != nil {
		t.Fatal(err)
	}
	if got := eval(`(() => { const b = document.querySelector('#queue li.waiting .badge.prio'); return b.dataset.priority + '|' + b.textContent + '|' + b.title })()`); got != "high|高|因客户用语升级：垃圾、投诉" {
		t.Errorf("queue badge %q", got)
	}
	if got := eval(`document.querySelector('#queue li.waiting .prio-words').textContent`); got != "“垃圾 投诉”" {
		t.Errorf("queue words %q", got)
	}
	if got := eval(`document.querySelector('#queue li.waiting .due') ? 'yes' : 'no'`); got != "yes" {
		t.Error("no time left shown in the queue")
	}
	// Clicked by the page's own script: the queue list is re-rendered as it
	// refreshes, so a node found by one protocol call may be gone by the next.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const b = document.querySelector('#queue li.waiting button.claim'); if (!b) return false; b.click(); return true })()`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#prio-select"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!document.querySelector('#mine .due[data-target="first_response"]')`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Errorf("my conversation shows no time left to its first response: %v", err)
	}
	if got := eval(`document.querySelector('#prio-select').value`); got != "high" {
		t.Errorf("select shows %q, want high", got)
	}
	eval(`(() => { const s = document.querySelector('#prio-select'); s.value = 'urgent'; s.dispatchEvent(new Event('change')); return 'ok' })()`)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!document.querySelector('#conv-meta .badge.prio[data-priority="urgent"]')`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the urgent badge after the change: %v", err)
	}
	h := e.rdb.HGetAll(context.Background(), e.prefix+"conv:"+cid).Val()
	if h["prio"] != "urgent" || h["prio_by"] != "alice" {
		t.Errorf("stored priority %q by %q, want urgent by alice", h["prio"], h["prio_by"])
	}
}
