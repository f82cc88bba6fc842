package console

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/priority"
)

// TestBrowserScreens looks at the console as an agent (the queue, a
// conversation open with its labels, an unread one) and as a supervisor
// (the figures) at a desktop's and a phone's width: nothing may stick out
// sideways (testkit.LookAt). With KEFU_SCREENSHOTS set it saves the
// screenshots README shows (docs/screenshots).
func TestBrowserScreens(t *testing.T) {
	e := MustEnv(t, func(c *Config) {
		c.Labels = testLabels
		c.Names.Groups = map[string]string{"pre_sales": "售前咨询", "after_sales": "售后服务"}
	})
	// The queue's clock at the browser's (the page counts waits from it).
	e.clk.Advance(time.Since(e.clk.Now()))
	ctx := context.Background()
	open := e.customer(t, "scr-visitor-1", "我的订单 2024051500021 还没发货，能帮我查一下吗？", "pre_sales", false)
	other := e.customer(t, "scr-visitor-2", "发票抬头写错了", "pre_sales", false)
	e.waitingWith(t, "scr-visitor-3", "太垃圾了，三天都没人理我！！！", "pre_sales", priority.Urgent, "垃圾")
	cv, _, err := e.store.Ingest(ctx, bot.Message{Channel: "telegram", User: "777009", ID: "scr-tg", Text: "包裹破了，怎么退货", Nick: "Lena Petrova"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.q.Enqueue(ctx, handoff.Ticket{Conv: cv.ID, Channel: "telegram", User: "777009", Group: "after_sales", Reason: "requested"}); err != nil {
		t.Fatal(err)
	}

	p := MustPage(t, 180*time.Second)
	p.do("the sign-in page", chromedp.Navigate(e.srv.URL+"/console/"), chromedp.WaitVisible(chromedp.CSS("#signin-id")))
	testkit.LookAt(t, p.ctx, "console-signin", nil)

	alice := e.signedIn(t, "alice")
	alice.must("POST", "claim", map[string]string{"conv": open}, nil)
	alice.must("POST", "claim", map[string]string{"conv": other}, nil)
	alice.must("POST", "convs/"+url.PathEscape(open)+"/labels", map[string]any{"add": []string{"vip", "logistics_dispute"}}, nil)
	alice.must("POST", "convs/"+url.PathEscape(open)+"/reply", map[string]any{"text": "您好，我马上为您查询物流。", "id": "scr-r1"}, nil)
	p.signIn(e.srv.URL, "alice")
	p.act("open the first", `#mine li[data-conv="`+open+`"]`, `el.click()`)
	p.waitFor("open", jsTitle, open)
	p.waitFor("its labels", `String(document.querySelectorAll('#labels .label-chip').length)`, "2")
	e.says(t, "scr-visitor-2", "在吗？")
	p.waitFor("unread", jsUnread(other), "1")
	p.waitFor("the queue", `String(document.querySelectorAll('#queue li.waiting').length)`, "1")
	testkit.LookAt(t, p.ctx, "console-agent", nil)

	sp := MustPage(t, 180*time.Second)
	sp.signIn(e.srv.URL, "sup")
	sp.waitFor("the figures", `String(document.querySelectorAll('#overview-agents tbody tr').length > 0 && document.querySelectorAll('#queue li.waiting').length)`, "2")
	sp.act("open a waiting one", `#queue li.waiting[data-conv="`+cv.ID+`"]`, `el.click()`)
	sp.waitFor("open", jsTitle, cv.ID)
	testkit.LookAt(t, sp.ctx, "console-supervisor", nil)
}
