package console

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/handoff"
)

// TestBrowserNickname: a Telegram customer who told their name (the
// channel's from.first_name, kept by the ingest as customer_nick) is shown
// by it in the queue, in "my conversations" and in the conversation's title,
// and the API carries it as customer_nick.
func TestBrowserNickname(t *testing.T) {
	e := MustEnv(t, nil)
	ctx := context.Background()
	cv, _, err := e.store.Ingest(ctx, bot.Message{Channel: "telegram", User: "777001", ID: "tg-1", Text: "包裹破了", Nick: "小明 王"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.q.Enqueue(ctx, handoff.Ticket{Conv: cv.ID, Channel: "telegram", User: "777001", Group: "pre_sales", Reason: "requested"}); err != nil {
		t.Fatal(err)
	}
	var q struct {
		Groups []struct {
			Waiting []struct {
				Conv         string `json:"conv"`
				CustomerNick string `json:"customer_nick"`
			} `json:"waiting"`
		} `json:"groups"`
	}
	e.signedIn(t, "bob").must("GET", "queue", nil, &q)
	if len(q.Groups) == 0 || len(q.Groups[0].Waiting) != 1 || q.Groups[0].Waiting[0].CustomerNick != "小明 王" {
		t.Errorf("queue view: %+v", q)
	}

	p := MustPage(t, 120*time.Second)
	p.signIn(e.srv.URL, "alice")
	p.waitFor("queue shows the nickname", `(() => { const n = document.querySelector('#queue li.waiting .conv-id'); return n ? n.textContent : ''; })()`, "小明 王")
	p.do("claim", chromedp.Click(chromedp.CSS("#claim-next")))
	p.waitFor("open", jsTitle, cv.ID)
	p.waitFor("title by nickname", `document.getElementById('conv-title').textContent`, "小明 王")
	p.waitFor("mine by nickname", `(() => { const n = document.querySelector('#mine li .conv-id'); return n ? n.textContent : ''; })()`, "小明 王")
}
