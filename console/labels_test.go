package console

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/conv"
)

var testLabels = []WrapUpLabel{{ID: "vip", Name: "大客户"}, {ID: "refund", Name: "退款"}, {ID: "logistics_dispute", Name: "物流纠纷"}}

// labelEvents are the labels_changed events of the lifecycle stream, as
// "labels|added|removed|agent|seq".
func (e *env) labelEvents(tb testing.TB) []string {
	tb.Helper()
	xs, err := e.rdb.XRange(context.Background(), conv.LifecycleKey(e.prefix), "-", "+").Result()
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, x := range xs {
		if x.Values[conv.EvType] != conv.LabelsChanged {
			continue
		}
		s := []string{}
		for _, k := range []string{conv.EvLabels, conv.EvAdded, conv.EvRemoved, conv.EvAgent, conv.EvSeq} {
			v, _ := x.Values[k].(string)
			s = append(s, v)
		}
		out = append(out, strings.Join(s, "|"))
	}
	return out
}

// TestLabelsAPI: the holder (or a supervisor) adds and removes configured
// labels at any time; each change is one labels_changed event with the
// whole set, what changed, who and a rising seq; no change, no event; a
// label not configured, an empty change and an agent of another group are
// refused; the conversation view carries the labels, and the customer's
// next episode starts without them.
func TestLabelsAPI(t *testing.T) {
	e := MustEnv(t, func(c *Config) { c.Labels = testLabels })
	cid := e.customer(t, "l1", "我要退款", "pre_sales", false)
	path := "convs/" + url.PathEscape(cid) + "/labels"
	alice := e.signedIn(t, "alice")
	var me struct{ Labels []WrapUpOption }
	alice.must("GET", "me", nil, &me)
	if len(me.Labels) != 3 || me.Labels[0] != (WrapUpOption{ID: "vip", Name: "大客户"}) {
		t.Errorf("me labels: %+v", me.Labels)
	}
	alice.must("POST", "claim", map[string]string{"conv": cid}, nil)

	carol := e.signedIn(t, "carol") // after_sales: neither holds it nor its group
	carol.refused("POST", path, map[string]any{"add": []string{"vip"}}, 403, "not_holder")
	alice.refused("POST", path, map[string]any{"add": []string{"gold"}}, 400, "bad_request")
	alice.refused("POST", path, map[string]any{}, 400, "bad_request")

	var out struct {
		Labels  []string
		Changed bool
	}
	alice.must("POST", path, map[string]any{"add": []string{"vip", "refund"}}, &out)
	if !cmp.Equal(out.Labels, []string{"refund", "vip"}) || !out.Changed {
		t.Errorf("add: %+v", out)
	}
	alice.must("POST", path, map[string]any{"add": []string{"vip"}}, &out)
	if out.Changed {
		t.Errorf("adding a label it has: changed")
	}
	sup := e.signedIn(t, "sup")
	sup.must("POST", path, map[string]any{"remove": []string{"vip"}, "add": []string{"logistics_dispute"}}, &out)
	if !cmp.Equal(out.Labels, []string{"logistics_dispute", "refund"}) || !out.Changed {
		t.Errorf("supervisor's change: %+v", out)
	}
	want := []string{"refund vip|refund vip||alice|1", "logistics_dispute refund|logistics_dispute|vip|sup|2"}
	if diff := cmp.Diff(want, e.labelEvents(t)); diff != "" {
		t.Errorf("labels_changed events (-want +got):\n%s", diff)
	}
	var view struct{ Labels []string }
	alice.must("GET", "convs/"+url.PathEscape(cid), nil, &view)
	if !cmp.Equal(view.Labels, []string{"logistics_dispute", "refund"}) {
		t.Errorf("conversation view labels: %v", view.Labels)
	}

	// Closed, the customer writes again: a new episode, without labels.
	alice.must("POST", "convs/"+url.PathEscape(cid)+"/close", map[string]any{}, nil)
	if _, _, err := e.store.Ingest(context.Background(), bot.Message{Channel: "web", User: "l1", ID: "m-l1-again", Text: "又是我"}); err != nil {
		t.Fatal(err)
	}
	sup.must("GET", "convs/"+url.PathEscape(cid), nil, &view)
	if len(view.Labels) != 0 {
		t.Errorf("the next episode has the last one's labels: %v", view.Labels)
	}
	sup.must("POST", path, map[string]any{"add": []string{"vip"}}, &out)
	if !cmp.Equal(out.Labels, []string{"vip"}) || !out.Changed {
		t.Errorf("the next episode's first label: %+v", out)
	}
	if evs := e.labelEvents(t); len(evs) != 3 || evs[2] != "vip|vip||sup|3" {
		t.Errorf("labels_changed events: %v", evs)
	}
}

// TestBrowserLabels: in the conversation panel the agent picks a label from
// the configured ones (shown by name) and removes it again; the page shows
// what the server keeps.
func TestBrowserLabels(t *testing.T) {
	e := MustEnv(t, func(c *Config) { c.Labels = testLabels })
	cid := e.customer(t, "lb1", "快递丢了", "pre_sales", false)
	p := MustPage(t, 120*time.Second)
	p.signIn(e.srv.URL, "alice")
	p.waitFor("queue", `String(document.querySelectorAll('#queue li.waiting').length)`, "1")
	p.do("claim", chromedp.Click(chromedp.CSS("#claim-next")))
	p.waitFor("open", jsTitle, cid)
	const jsChips = `[...document.querySelectorAll('#labels .label-chip')].map((n) => n.dataset.label + ':' + n.querySelector('.label-name').textContent).join(',')`
	p.waitFor("the labels' box", `String(!document.getElementById('labels-box').hidden) + ' ' + document.getElementById('labels-box').dataset.conv`, "true "+cid)
	p.waitFor("no labels yet", jsChips, "")
	for _, id := range []string{"logistics_dispute", "vip"} {
		// Picked once it is offered (the list is rebuilt after each change).
		p.waitFor("pick "+id, `(() => { const el = document.getElementById('label-add');
			if (![...el.options].some((o) => o.value === '`+id+`')) return 'not offered';
			el.value = '`+id+`'; el.dispatchEvent(new Event('change')); return 'done'; })()`, "done")
		p.waitFor(id+" shown", `String(!!document.querySelector('#labels .label-chip[data-label="`+id+`"]'))`, "true")
	}
	p.waitFor("two labels shown by name", jsChips, "logistics_dispute:物流纠纷,vip:大客户")
	p.act("remove vip", `#labels .label-chip[data-label="vip"] button`, `el.click()`)
	p.waitFor("one label left", jsChips, "logistics_dispute:物流纠纷")
	if evs := e.labelEvents(t); len(evs) != 3 || !strings.HasPrefix(evs[2], "logistics_dispute||vip|alice|") {
		t.Errorf("labels_changed events: %v", evs)
	}
	p.do("reload", chromedp.Reload())
	p.waitFor("kept across a reload", jsChips, "logistics_dispute:物流纠纷")
}
