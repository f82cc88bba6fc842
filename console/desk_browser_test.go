package console

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// page drives one console tab in a test.
type page struct {
	t   *testing.T
	ctx context.Context
}

// MustPage opens a browser tab with a hang guard of d on everything it does.
func MustPage(t *testing.T, d time.Duration) *page {
	t.Helper()
	bctx := MustBrowser(t)
	ctx, cancel := context.WithTimeout(bctx, d)
	t.Cleanup(cancel)
	return &page{t: t, ctx: ctx}
}

func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

func (p *page) eval(js string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		p.t.Fatalf("%s: %v", js, err)
	}
	return s
}

// waitFor polls the page until js gives want (the context's deadline is
// the hang guard, never a verdict on speed).
func (p *page) waitFor(what, js, want string) {
	p.t.Helper()
	var got string
	var err error
	for {
		got, err = chromedp.Run(p.ctx, chromedp.Evaluate[string](js))
		if err == nil && got == want {
			return
		}
		if p.ctx.Err() != nil {
			p.t.Fatalf("%s: %q, want %q (%v)", what, got, want, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// signIn opens the console at url and signs in as agent id.
func (p *page) signIn(url, id string) {
	p.t.Helper()
	p.do("sign in as "+id,
		chromedp.Navigate(url+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#signin-id")),
		chromedp.SendKeys(chromedp.CSS("#signin-id"), id),
		chromedp.SendKeys(chromedp.CSS("#signin-password"), testPassword),
		chromedp.Click(chromedp.CSS("#signin-btn")),
		chromedp.WaitVisible(chromedp.CSS("#app header")),
	)
}

const jsTitle = `document.getElementById('conv').hidden ? '' : document.getElementById('conv-title').dataset.conv || ''`
const jsBox = `document.getElementById('reply-text').value`

// TestBrowserDraftsStayWithTheirConversation: a draft typed for one
// customer never appears in another conversation's box, comes back when
// its conversation is opened again and after a reload, and Close with an
// unsent draft asks first (cancel keeps everything; confirm closes and
// drops the draft). Nothing meant for one customer reaches another.
func TestBrowserDraftsStayWithTheirConversation(t *testing.T) {
	e := MustEnv(t, nil)
	cid1 := e.customer(t, "visitor1", "第一个问题", "pre_sales", false)
	cid2 := e.customer(t, "visitor2", "第二个问题", "pre_sales", false)
	p := MustPage(t, 120*time.Second)
	p.signIn(e.srv.URL, "alice")
	p.waitFor("queue", `String(document.querySelectorAll('#queue li.waiting').length)`, "2")

	p.do("claim the first", chromedp.Click(chromedp.CSS("#claim-next")))
	p.waitFor("first open", jsTitle, cid1)
	p.do("type a draft for the first", chromedp.SendKeys(chromedp.CSS("#reply-text"), "一号的订单已经退款"))

	p.do("claim the second", chromedp.Click(chromedp.CSS("#claim-next")))
	p.waitFor("second open", jsTitle, cid2)
	if got := p.eval(jsBox); got != "" {
		t.Fatalf("the second conversation's box holds %q: the first's draft followed the agent", got)
	}
	p.do("type a draft for the second", chromedp.SendKeys(chromedp.CSS("#reply-text"), "二号请稍等"))

	p.do("back to the first", chromedp.Click(chromedp.CSS(`#mine li[data-conv="`+cid1+`"]`)))
	p.waitFor("first open again", jsTitle, cid1)
	if got := p.eval(jsBox); got != "一号的订单已经退款" {
		t.Fatalf("the first conversation's box holds %q, want its draft", got)
	}

	// A reload keeps the open conversation and its draft.
	p.do("reload", chromedp.Reload())
	p.waitFor("first open after the reload", jsTitle, cid1)
	p.waitFor("its draft after the reload", jsBox, "一号的订单已经退款")

	// Close with the unsent draft asks first; keeping it closes nothing.
	p.do("close", chromedp.Click(chromedp.CSS("#close-btn")))
	p.waitFor("the question", `String(!document.getElementById('draft-confirm').hidden)`, "true")
	p.do("keep writing", chromedp.Click(chromedp.CSS("#draft-confirm-no")))
	p.waitFor("the question gone", `String(document.getElementById('draft-confirm').hidden)`, "true")
	if got := e.survey.surveyed(); len(got) != 0 {
		t.Fatalf("closed %v although the agent chose to keep writing", got)
	}
	if got := p.eval(`(` + jsTitle + `) + '|' + ` + jsBox); got != cid1+"|一号的订单已经退款" {
		t.Fatalf("after keep writing: %q", got)
	}
	p.do("close and discard", chromedp.Click(chromedp.CSS("#close-btn")), chromedp.Click(chromedp.CSS("#draft-confirm-yes")))
	p.waitFor("closed", jsTitle, "")
	if got := e.survey.surveyed(); len(got) != 1 || got[0] != cid1 {
		t.Fatalf("surveyed %v, want [%s]", got, cid1)
	}
	if got := p.eval(`String(Object.keys(localStorage).filter((k) => k.startsWith('kefu.draft.alice.')).length)`); got != "1" {
		t.Fatalf("%s drafts kept, want only the second conversation's", got)
	}

	// The second's draft is still its own, and sending it goes to its customer.
	p.do("open the second", chromedp.Click(chromedp.CSS(`#mine li[data-conv="`+cid2+`"]`)))
	p.waitFor("second open again", jsTitle, cid2)
	p.waitFor("its draft", jsBox, "二号请稍等")
	p.do("send", chromedp.Click(chromedp.CSS("#reply-send")))
	p.waitFor("sent", `String(document.querySelectorAll('#transcript .entry.out.agent').length)`, "1")
	p.waitFor("box emptied", jsBox, "")
	sent := e.deliver.sent()
	var agentMsgs []string
	for _, o := range sent {
		if o.Kind == "agent" {
			agentMsgs = append(agentMsgs, o.User+":"+o.Text)
		}
	}
	if len(agentMsgs) != 1 || agentMsgs[0] != "visitor2:二号请稍等" {
		t.Fatalf("agent messages delivered %q, want only visitor2:二号请稍等", agentMsgs)
	}
	if got := p.eval(`String(localStorage.length)`); got != strconv.Itoa(0) {
		t.Fatalf("%s keys left in storage after the last draft was sent", got)
	}
}
