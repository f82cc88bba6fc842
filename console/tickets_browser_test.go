package console

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/tickets"
)

// The Tickets view in a browser, in Chinese: the tab counts what is due
// soon; 转工单 from a held conversation; the list, filtered by due time;
// a ticket opened with its warning, a note added, set pending on the
// customer, solved — each through the API into the store's history — and a
// linked conversation opened read-only from the archive.
func TestBrowserTickets(t *testing.T) {
	db, err := archive.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "archive.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	old := archived{user: "old", ep: "1", group: "after_sales", agent: "carol", start: day0, said: "上次的退货", answer: "已登记退货"}
	if err := db.Write(context.Background(), old.events()); err != nil {
		t.Fatal(err)
	}
	var st *tickets.Store
	e := MustEnvDeps(t, nil, func(d *Deps) {
		st = tickets.New(db, d.Now)
		d.Tickets, d.TicketLead, d.TicketDue, d.Archive = st, time.Hour, 24*time.Hour, db
	})
	ctx := context.Background()
	now := e.clk.Now()
	soon, _, err := st.Create(ctx, tickets.NewTicket{Reason: tickets.ReasonLeaveMessage, Department: "after_sales", Owner: "after_sales",
		Due: now.Add(30 * time.Minute), Text: "退货寄回三天了还没退款", Contact: "13800000000", Convs: []string{old.id()}})
	if err != nil {
		t.Fatal(err)
	}
	later, _, _ := st.Create(ctx, tickets.NewTicket{Reason: tickets.ReasonLowRating, Department: "after_sales", Due: now.Add(5 * time.Hour), Text: "差评"})
	st.Create(ctx, tickets.NewTicket{Reason: tickets.ReasonAgent, Department: "pre_sales", Due: now.Add(10 * time.Minute), Text: "售前的"})
	cid := e.customer(t, "u7", "我要投诉物流", "after_sales", false)

	p := MustPage(t, 150*time.Second)
	p.signIn(e.srv.URL, "carol")
	p.waitFor("the tab's count", `document.getElementById('tickets-alert').hidden ? '' : document.getElementById('tickets-alert').textContent`, "1")
	if got := p.eval(`document.getElementById('tickets-open').textContent.trim()`); !strings.HasPrefix(got, "工单") {
		t.Fatalf("tab %q, want Chinese", got)
	}

	// 转工单 from the conversation carol claims.
	p.act("claim", "#claim-next", "el.click()")
	p.waitFor("conversation open", jsTitle, cid)
	p.act("open 转工单", "#toticket", "el.open = true")
	p.act("department", `#toticket-dept option[value="after_sales"]`, "el.parentNode.value = 'after_sales'")
	p.act("text", "#toticket-text", "el.value = '物流三天没更新，需仓库核实'")
	p.act("note", "#toticket-note", "el.value = '客户情绪激动'")
	p.act("create", "#toticket-btn", "el.click()")
	p.waitFor("created", `document.getElementById('toticket-result').dataset.id || document.getElementById('toticket-result').textContent`,
		strconv.FormatInt(later.ID+2, 10))
	made, err := st.Get(ctx, later.ID+2)
	if err != nil || made.Reason != tickets.ReasonAgent || made.Department != "after_sales" || made.Text != "物流三天没更新，需仓库核实" ||
		len(made.Convs) != 1 || !strings.HasPrefix(made.Convs[0], cid+"#") || len(made.Notes) != 1 || made.Notes[0].Author != "carol" {
		t.Fatalf("转工单 stored %+v %v", made, err)
	}

	// The list: carol's departments only; then due soon only.
	p.act("open the view", "#tickets-open", "el.click()")
	const jsIDs = `[...document.querySelectorAll('#tickets-list li.ticket')].map((l) => l.dataset.id).join(',')`
	id := func(t tickets.Ticket) string { return strconv.FormatInt(t.ID, 10) }
	p.waitFor("the list", jsIDs, id(made)+","+id(later)+","+id(soon))
	p.act("due soon", `#tickets-due option[value="soon"]`, "el.parentNode.value = 'soon'; el.parentNode.dispatchEvent(new Event('change'))")
	p.waitFor("filtered", jsIDs, id(soon))

	// Open it: the warning, the contact, the linked conversation.
	p.act("open the ticket", `#tickets-list li[data-id="`+id(soon)+`"]`, "el.click()")
	p.waitFor("detail", `document.getElementById('ticket-detail').hidden ? '' : document.getElementById('ticket-detail').dataset.id`, id(soon))
	p.waitFor("warning", `document.querySelector('#ticket-due .warn') ? document.querySelector('#ticket-due .warn').textContent.trim() : ''`, "即将到期，请尽快处理！")

	// A note, then pending on the customer, then solved.
	p.act("note", "#ticket-note-text", "el.value = '已联系仓库加急'")
	p.act("add note", "#ticket-note-btn", "el.click()")
	p.waitFor("note shown", `[...document.querySelectorAll('#ticket-notes li.note .preview')].map((n) => n.textContent).join('|')`, "已联系仓库加急")
	p.act("waiting on the customer", `#ticket-waiting option[value="customer"]`, "el.parentNode.value = 'customer'")
	p.act("set pending", "#ticket-pending-btn", "el.click()")
	p.waitFor("pending", `document.getElementById('ticket-detail').dataset.state`, "pending")
	p.waitFor("paused", `(document.querySelector('#ticket-due .due') || {dataset: {}}).dataset.dueState || ''`, "paused")
	p.act("solve", "#ticket-solve-btn", "el.click()")
	p.waitFor("solved", `document.getElementById('ticket-detail').dataset.state`, "solved")
	p.waitFor("history", `[...document.querySelectorAll('#ticket-events li')].map((l) => l.dataset.type).join(' ')`, "created noted pending solved")
	got, err := st.Get(ctx, soon.ID)
	if err != nil || got.State != tickets.Solved || len(got.Notes) != 1 || got.Notes[0].Text != "已联系仓库加急" ||
		got.Events[2].Detail != tickets.WaitingOnCustomer || got.Events[3].By != "carol" {
		t.Fatalf("stored %+v %v", got, err)
	}

	// The linked conversation, read-only from the archive.
	p.act("linked conversation", `#ticket-convs li[data-conv="`+old.id()+`"]`, "el.click()")
	p.waitFor("archive view", `document.getElementById('archive-view').hidden ? '' : document.getElementById('archive-transcript').textContent.includes('上次的退货') ? 'shown' : 'empty'`, "shown")
	p.act("back", "#archive-back", "el.click()")
	p.waitFor("back to tickets", `document.getElementById('tickets').hidden ? 'hidden' : 'shown'`, "shown")
}
