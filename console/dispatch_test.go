package console

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kefu-dev/kefu/handoff"
)

// dispatchEnv is a console over a queue with the dispatch options d, the
// supervisor sup working in pre_sales too (so that offers reach them).
func dispatchEnv(t *testing.T, d handoff.Dispatch) *env {
	t.Helper()
	var dq *handoff.Queue
	e := MustEnvDeps(t, func(cfg *Config) {
		for i := range cfg.Agents {
			if cfg.Agents[i].ID == "sup" {
				cfg.Agents[i].Groups = []string{"pre_sales"}
			}
		}
	}, func(deps *Deps) {
		cfg := deps.Queue.Config()
		cfg.Dispatch = d
		q, err := handoff.New(deps.Redis, cfg, deps.Now, nil)
		if err != nil {
			t.Fatal(err)
		}
		deps.Queue, dq = q, q
	})
	e.q = dq
	return e
}

// served has agent aid hold the customer's conversation and close it.
func (e *env) served(t *testing.T, aid, user string) string {
	t.Helper()
	ctx := context.Background()
	cid := e.customer(t, user, "在吗", "pre_sales", false)
	c, err := e.q.Claim(ctx, aid, cid)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.q.Release(ctx, c, handoff.Closed); err != nil {
		t.Fatal(err)
	}
	return cid
}

// offeredTo runs one auto-assignment round and returns who cid is offered to.
func (e *env) offeredTo(t *testing.T, cid string) string {
	t.Helper()
	if _, _, err := e.q.Offers(context.Background()); err != nil {
		t.Fatal(err)
	}
	ws, err := e.q.Waiting(context.Background(), "pre_sales")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.Conv == cid {
			return w.OfferedTo
		}
	}
	return ""
}

// Why an agent got a conversation is in the conversation's API answer for
// supervisors only: the holder (an agent) does not get it.
func TestAssignmentShownToSupervisors(t *testing.T) {
	ctx := context.Background()
	e := dispatchEnv(t, handoff.Dispatch{ReturningWindow: 24 * time.Hour})
	for _, a := range []string{"alice", "bob"} {
		if err := e.q.AgentOnline(ctx, handoff.Agent{ID: a, Groups: []string{"pre_sales"}, Max: 2}); err != nil {
			t.Fatal(err)
		}
	}
	e.served(t, "bob", "r1")
	cid := e.customer(t, "r1", "我又来了", "pre_sales", false)
	// alice is as free and longer without a claim: bob gets it as the
	// customer's last agent.
	if got := e.offeredTo(t, cid); got != "bob" {
		t.Fatalf("offered to %q, want bob (served them last)", got)
	}
	bob := e.signedIn(t, "bob")
	bob.must("POST", "claim", map[string]string{"conv": cid}, nil)
	var seen map[string]any
	bob.must("GET", "convs/"+url.PathEscape(cid), nil, &seen)
	if _, ok := seen["assignment"]; ok || seen["mine"] != true {
		t.Errorf("the agent's view: mine %v, assignment %v (want none)", seen["mine"], seen["assignment"])
	}
	var sup struct {
		Assignment *handoff.Assignment `json:"assignment"`
	}
	e.signedIn(t, "sup").must("GET", "convs/"+url.PathEscape(cid), nil, &sup)
	if a := sup.Assignment; a == nil || a.Reason != handoff.AssignReturning || a.Detail["since"] == "" {
		t.Errorf("the supervisor's view: %+v, want returning_customer with when", a)
	}
}

// In the browser: a supervisor accepts a returning customer offered to
// them and then a conversation performance won them; the conversation's
// header says why each came to them, in Chinese, with the figures. An
// agent's conversation shows in the supervisors' figures with its reason,
// and opens with it.
func TestBrowserAssignmentReason(t *testing.T) {
	ctx := context.Background()
	e := dispatchEnv(t, handoff.Dispatch{ReturningWindow: 24 * time.Hour, CSAT: 2})
	if err := e.q.AgentOnline(ctx, handoff.Agent{ID: "sup", Groups: []string{"pre_sales"}, Max: 2}); err != nil {
		t.Fatal(err)
	}
	if err := e.q.AgentOnline(ctx, handoff.Agent{ID: "alice", Groups: []string{"pre_sales"}, Max: 2}); err != nil {
		t.Fatal(err)
	}
	e.served(t, "sup", "r2")
	if err := e.q.SetPerformance(ctx, []handoff.Performance{
		{Agent: "sup", CSAT: ptrTo(4.8), FirstResponse: ptrTo(35 * time.Second), Resolution: ptrTo(0.9)},
		{Agent: "alice", CSAT: ptrTo(1.0)},
	}, time.Hour); err != nil {
		t.Fatal(err)
	}
	p := MustPage(t, 120*time.Second)
	p.signIn(e.srv.URL, "sup")
	claim := func(cid string) {
		t.Helper()
		sel := `#queue button.claim[data-conv=` + strconv.Quote(cid) + `]`
		p.act("claim "+cid, sel, "el.click()")
		p.waitFor("open "+cid, jsTitle, cid)
	}
	reason := `(() => { const n = document.getElementById('assign-reason'); return n ? n.dataset.reason : '' })()`
	text := `document.getElementById('assign-reason').textContent`

	back := e.customer(t, "r2", "我又来了", "pre_sales", false)
	if got := e.offeredTo(t, back); got != "sup" {
		t.Fatalf("returning customer offered to %q, want sup", got)
	}
	claim(back)
	p.waitFor("the returning customer's reason", reason, handoff.AssignReturning)
	if got := p.eval(text); !strings.HasPrefix(got, " · 分配原因：熟客，优先分给上次接待的客服（上次接待于 ") {
		t.Errorf("reason shown %q", got)
	}

	// sup holds one, alice none; sup's CSAT outweighs it (2 × 0.95 > 1).
	other := e.customer(t, "r3", "发票怎么开", "pre_sales", false)
	if got := e.offeredTo(t, other); got != "sup" {
		t.Fatalf("offered to %q, want sup (performance)", got)
	}
	claim(other)
	p.waitFor("the performance reason", reason, handoff.AssignPerformance)
	if got, want := p.eval(text), " · 分配原因：按服务表现（满意度 4.80，首次响应 35 秒，解决率 90%，分配时接待中 1 个）"; got != want {
		t.Errorf("reason shown %q, want %q", got, want)
	}
	// alice accepts a conversation offered to her as the least busy; the
	// supervisors' figures list it under her with the reason, and a click
	// opens it with the same reason in its header.
	third := e.customer(t, "r4", "退货地址是哪里", "pre_sales", false)
	if got := e.offeredTo(t, third); got != "alice" {
		t.Fatalf("offered to %q, want alice (sup is full)", got)
	}
	if _, err := e.q.Claim(ctx, "alice", third); err != nil {
		t.Fatal(err)
	}
	chip := `#overview-agents button.held-conv[data-conv=` + strconv.Quote(third) + `]`
	p.waitFor("alice's conversation in the figures", `(() => { document.getElementById('overview-refresh').click();
		const b = document.querySelector(`+strconv.Quote(chip)+`); return b ? b.dataset.reason + '|' + b.textContent : '' })()`,
		handoff.AssignLeastBusy+"|"+third+" · 当前最空闲")
	p.act("open alice's conversation", chip, "el.click()")
	p.waitFor("open "+third, jsTitle, third)
	p.waitFor("its reason", reason, handoff.AssignLeastBusy)
	if got, want := p.eval(text), " · 分配原因：当前最空闲（满意度 1.00，分配时接待中 0 个）"; got != want {
		t.Errorf("reason shown %q, want %q", got, want)
	}
	if errs := p.errors(); !strings.HasPrefix(errs, "[]") {
		t.Errorf("page errors: %s", errs)
	}
}

func ptrTo[T any](v T) *T { return &v }
