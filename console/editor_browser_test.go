package console

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/gaps"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
)

// declined is an archived conversation in which the bot declined text.
func declined(n int, text string, at time.Time) []archive.Event {
	id := fmt.Sprintf("web:g%d#1", n)
	ev := func(i int, typ string, kv ...string) archive.Event {
		f := map[string]string{}
		for j := 0; j+1 < len(kv); j += 2 {
			f[kv[j]] = kv[j+1]
		}
		return archive.Event{ID: fmt.Sprintf("%d-%d", at.UnixMilli()+int64(i), n), Type: typ, Conv: id, At: at.Add(time.Duration(i) * time.Millisecond), Fields: f}
	}
	return []archive.Event{
		ev(0, conv.Started, conv.EvChannel, "web"),
		ev(1, conv.CustomerMessage, conv.EvText, text),
		ev(2, conv.BotReply, conv.EvAction, "fallback", conv.EvText, "抱歉，我没有理解"),
	}
}

// wrapUp answers the wrap-up form the close button opened.
func (p *page) wrapUp(label string, resolved bool) {
	p.t.Helper()
	p.waitFor("the wrap-up", `String(!document.getElementById('wrapup').hidden && document.getElementById('wrapup-label').options.length > 1)`, "true")
	radio := "#wrapup-resolved-no"
	if resolved {
		radio = "#wrapup-resolved-yes"
	}
	p.do("wrap up", chromedp.SetValue(chromedp.CSS("#wrapup-label"), label),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('wrapup-label').dispatchEvent(new Event('change'))`),
		chromedp.Click(chromedp.CSS(radio)))
	p.waitFor("confirm enabled", `String(document.getElementById('wrapup-confirm').disabled)`, "false")
	p.do("confirm", chromedp.Click(chromedp.CSS("#wrapup-confirm")))
}

// TestBrowserWrapUpAndEditorsPage: an agent closing a conversation picks
// what it was about and whether it was resolved (in Chinese, from the
// catalogue), and the closed event carries it; an editor sees the editors'
// page alone, the clusters largest first with their YAML, and dismisses
// one, which stays dismissed after a reload; an agent may not read it.
func TestBrowserWrapUpAndEditorsPage(t *testing.T) {
	ctx := context.Background()
	db := MustArchive(t)
	t0 := time.Now().Add(-time.Hour)
	var evs []archive.Event
	for i, text := range []string{"你们卖不卖猫粮", "有没有猫粮卖", "猫粮有卖吗", "可以寄到国外吗"} {
		evs = append(evs, declined(i, text, t0.Add(time.Duration(i)*time.Second))...)
	}
	if err := db.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	m := sampletest.Live(t).Matcher()
	e := MustEnvDeps(t, func(c *Config) {
		h, _ := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
		c.Agents = append(c.Agents, Agent{ID: "erin", Name: "Erin", PasswordHash: string(h), Role: RoleEditor})
	}, func(d *Deps) {
		d.Intents = func() []WrapUpOption {
			return []WrapUpOption{{ID: "logistics_track", Name: "我的快递到哪了"}, {ID: "return_policy", Name: "退货政策是什么"}}
		}
		d.Gaps = func(ctx context.Context) ([]gaps.Cluster, error) { return gaps.Find(ctx, db, m, gaps.Options{}) }
		d.DismissGaps = func(ctx context.Context, by string, keys []string) error {
			return db.DismissGaps(ctx, by, keys, time.Now())
		}
	})
	cid := e.customer(t, "visitor1", "我的包裹被别人签收了", "pre_sales", false)

	p := MustPage(t, 180*time.Second)
	p.signIn(e.srv.URL, "alice")
	if got := p.eval(`String(document.getElementById('gaps-open').hidden)`); got != "true" {
		t.Errorf("an agent sees the editors' page button")
	}
	p.waitFor("queue", `String(document.querySelectorAll('#queue li.waiting').length)`, "1")
	p.do("claim", chromedp.Click(chromedp.CSS("#claim-next")))
	p.waitFor("open", jsTitle, cid)
	p.do("close", chromedp.Click(chromedp.CSS("#close-btn")))
	p.waitFor("the wrap-up", `String(!document.getElementById('wrapup').hidden && document.getElementById('wrapup-label').options.length)`, "5")
	if got := p.eval(`document.getElementById('wrapup-title').textContent + '|' + document.getElementById('wrapup-confirm').textContent + '|' +
		Array.from(document.querySelectorAll('#wrapup-label optgroup')).map((g) => g.label + ':' + Array.from(g.children).map((o) => o.value + '=' + o.textContent).join(',')).join(';')`); got !=
		"结束会话：这次会话是关于什么的？|结束会话并发送满意度调查|标签:logistics_dispute=物流纠纷,other=其他;常见问题（FAQ）:logistics_track=我的快递到哪了（logistics_track）,return_policy=退货政策是什么（return_policy）" {
		t.Errorf("wrap-up form: %q", got)
	}
	if got := p.eval(`String(document.getElementById('wrapup-confirm').disabled)`); got != "true" {
		t.Errorf("confirm enabled before anything is chosen")
	}
	p.wrapUp("logistics_dispute", false)
	p.waitFor("closed", jsTitle, "")
	if got := e.survey.surveyed(); len(got) != 1 || got[0] != cid {
		t.Errorf("surveyed %v, want [%s]", got, cid)
	}
	xs, err := e.rdb.XRange(ctx, conv.LifecycleKey(e.prefix), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var closed []string
	for _, x := range xs {
		if x.Values[conv.EvType] == conv.Closed {
			closed = append(closed, fmt.Sprint(x.Values[conv.EvBy], " ", x.Values[conv.EvLabel], " ", x.Values[conv.EvResolved]))
		}
	}
	if len(closed) != 1 || closed[0] != "alice logistics_dispute 0" {
		t.Errorf("closed events %q, want alice's with the wrap-up", closed)
	}
	alice := e.signedIn(t, "alice")
	alice.refused("GET", "gaps", nil, http.StatusForbidden, "forbidden")

	// The editor: the page alone, no queue.
	p.do("sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#signin-id")))
	p.signIn(e.srv.URL, "erin")
	p.waitFor("clusters", `String(document.querySelectorAll('#gaps-list li.gap').length)`, "2")
	if got := p.eval(`String(document.querySelector('aside').hidden) + '|' + String(document.getElementById('gaps').hidden)`); got != "true|false" {
		t.Errorf("editor's page: aside hidden|gaps hidden = %q", got)
	}
	first := p.eval(`(() => { const li = document.querySelector('#gaps-list li.gap');
		return li.querySelector('.gap-size').textContent + '|' + Array.from(li.querySelectorAll('.example')).map((x) => x.textContent).join(',') + '|' +
			li.querySelector('.gap-suggestion').textContent + '|' + li.querySelector('.badge').textContent; })()`)
	if first != "3 条消息|你们卖不卖猫粮,有没有猫粮卖,猫粮有卖吗|建议：新建一个意图|拒答 3" {
		t.Errorf("first cluster %q", first)
	}
	if y := p.eval(`document.querySelector('#gaps-list li.gap .gap-yaml').textContent`); !strings.Contains(y, "  - id: new_intent\n") || !strings.Contains(y, "      - 猫粮有卖吗\n") {
		t.Errorf("first cluster's YAML %q", y)
	}
	p.do("dismiss", chromedp.Click(chromedp.CSS("#gaps-list li.gap button.dismiss")))
	p.waitFor("dismissed", `String(document.querySelectorAll('#gaps-list li.gap').length)`, "1")
	p.do("reload", chromedp.Reload())
	p.waitFor("still dismissed", `String(document.querySelectorAll('#gaps-list li.gap').length) + '|' + (document.querySelector('#gaps-list li.gap .example') || {}).textContent`, "1|可以寄到国外吗")
	if errs := p.errors(); !strings.HasPrefix(errs, "[]") {
		t.Errorf("page errors: %s", errs)
	}
}
