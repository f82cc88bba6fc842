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

// ticketsEnv is a console with tickets in an SQLite archive.
func ticketsEnv(tb testing.TB) (*env, *tickets.Store) {
	tb.Helper()
	db, err := archive.Open(context.Background(), "sqlite://"+filepath.Join(tb.TempDir(), "archive.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	var st *tickets.Store
	e := MustEnvDeps(tb, nil, func(d *Deps) {
		st = tickets.New(db, d.Now)
		d.Tickets, d.TicketLead, d.TicketDue = st, time.Hour, 24*time.Hour
	})
	return e, st
}

type ticketsPage struct {
	Tickets []ticketJSON `json:"tickets"`
	Overdue int          `json:"overdue"`
	Soon    int          `json:"soon"`
}

type oneTicket struct {
	Ticket  ticketJSON `json:"ticket"`
	Created bool       `json:"created"`
}

func ids(ts []ticketJSON) string {
	var s []string
	for _, t := range ts {
		s = append(s, strconv.FormatInt(t.ID, 10))
	}
	return strings.Join(s, ",")
}

// 转工单 from a held conversation, then the Tickets view's API: agents see
// their groups' departments only (supervisors all), filters by state,
// owner, department and due, and the actions — assign, pending on a
// department (the clock paused), back to open, note, solve, close — each in
// the ticket's history; bad input is refused with a clear error.
func TestTicketsAPI(t *testing.T) {
	e, st := ticketsEnv(t)
	ctx := context.Background()
	cid := e.customer(t, "u1", "快递三天没动了", "after_sales", false)
	carol, alice, sup := e.signedIn(t, "carol"), e.signedIn(t, "alice"), e.signedIn(t, "sup")
	carol.must("POST", "online", nil, nil)
	carol.must("POST", "claim", map[string]string{"conv": cid}, nil)

	// Only the holder (or a supervisor) makes a ticket of a conversation.
	alice.refused("POST", "tickets", map[string]string{"conv": cid, "department": "after_sales"}, 403, "not_holder")
	carol.refused("POST", "tickets", map[string]string{"conv": cid}, 400, "bad_request")
	carol.refused("POST", "tickets", map[string]string{"conv": cid, "department": "warehouse"}, 400, "bad_request")
	carol.refused("POST", "tickets", map[string]string{"conv": cid, "department": "after_sales", "due": "tomorrow"}, 400, "bad_request")
	var made oneTicket
	req := map[string]string{"id": "r1", "conv": cid, "department": "after_sales", "text": "查快递", "note": "客户很急，仓库确认一下"}
	carol.must("POST", "tickets", req, &made)
	tk := made.Ticket
	now := e.clk.Now()
	if !made.Created || tk.Reason != tickets.ReasonAgent || tk.State != "open" || tk.Department != "after_sales" ||
		tk.Owner != "after_sales" || tk.Customer != cid || len(tk.Convs) != 1 || !strings.HasPrefix(tk.Convs[0], cid+"#") ||
		tk.Due == nil || !tk.Due.Equal(now.Add(24*time.Hour)) || len(tk.Notes) != 1 || tk.Notes[0].Author != "carol" || tk.DueState != dueOK {
		t.Fatalf("made %+v", tk)
	}
	due := *tk.Due
	// The same request again (a retry) makes nothing more.
	var again oneTicket
	carol.must("POST", "tickets", req, &again)
	if again.Created || again.Ticket.ID != tk.ID {
		t.Fatalf("retry made %+v", again)
	}
	// A pre-sales ticket carol may not see, due in 30 minutes.
	other, _, err := st.Create(ctx, tickets.NewTicket{Reason: tickets.ReasonLeaveMessage, Department: "pre_sales", Owner: "pre_sales",
		Due: now.Add(30 * time.Minute), Text: "想问优惠"})
	if err != nil {
		t.Fatal(err)
	}

	var page ticketsPage
	carol.must("GET", "tickets", nil, &page)
	if ids(page.Tickets) != strconv.FormatInt(tk.ID, 10) {
		t.Fatalf("carol sees %s", ids(page.Tickets))
	}
	carol.refused("GET", "tickets/"+strconv.FormatInt(other.ID, 10), nil, 404, "not_found")
	carol.refused("POST", "tickets/"+strconv.FormatInt(other.ID, 10)+"/note", map[string]string{"text": "x"}, 404, "not_found")
	carol.refused("GET", "tickets?department=pre_sales", nil, 404, "not_found")
	sup.must("GET", "tickets", nil, &page)
	if len(page.Tickets) != 2 || page.Soon != 1 {
		t.Fatalf("sup sees %s, soon %d", ids(page.Tickets), page.Soon)
	}
	sup.must("GET", "tickets?due=soon", nil, &page)
	if ids(page.Tickets) != strconv.FormatInt(other.ID, 10) {
		t.Fatalf("due soon: %s", ids(page.Tickets))
	}
	sup.refused("GET", "tickets?due=later", nil, 400, "bad_request")
	sup.refused("GET", "tickets?state=lost", nil, 400, "bad_request")
	e.clk.Advance(31 * time.Minute)
	alice.must("GET", "tickets?due=overdue", nil, &page)
	if ids(page.Tickets) != strconv.FormatInt(other.ID, 10) || page.Tickets[0].DueState != dueOverdue {
		t.Fatalf("alice overdue: %+v", page.Tickets)
	}

	// Assign to an agent; then pending on the warehouse… which is no group.
	path := "tickets/" + strconv.FormatInt(tk.ID, 10)
	carol.refused("POST", path+"/assign", map[string]string{"owner": "nobody"}, 400, "bad_request")
	carol.must("POST", path+"/assign", map[string]string{"owner": "bob"}, &made)
	if made.Ticket.Owner != "bob" {
		t.Fatalf("assigned %+v", made.Ticket)
	}
	carol.must("GET", "tickets?owner=bob", nil, &page)
	if len(page.Tickets) != 1 {
		t.Fatalf("owner bob: %s", ids(page.Tickets))
	}
	carol.refused("POST", path+"/state", map[string]string{"state": "pending"}, 400, "bad_request")
	carol.refused("POST", path+"/state", map[string]string{"state": "pending", "waiting_on": "warehouse"}, 400, "bad_request")
	carol.must("POST", path+"/state", map[string]string{"state": "pending", "waiting_on": "pre_sales", "detail": "问库存"}, &made)
	if made.Ticket.State != "pending" || made.Ticket.WaitingOn != "pre_sales" || made.Ticket.DueState != duePaused {
		t.Fatalf("pending %+v", made.Ticket)
	}
	e.clk.Advance(2 * time.Hour)
	carol.must("POST", path+"/state", map[string]string{"state": "open"}, &made)
	if want := due.Add(2 * time.Hour); !made.Ticket.Due.Equal(want) {
		t.Fatalf("due %v after two hours pending, want %v", made.Ticket.Due, want)
	}
	carol.refused("POST", path+"/note", map[string]string{"text": "  "}, 400, "bad_request")
	carol.must("POST", path+"/note", map[string]string{"text": "仓库已发货"}, &made)
	carol.must("POST", path+"/state", map[string]string{"state": "solved"}, &made)
	carol.must("POST", path+"/state", map[string]string{"state": "closed"}, &made)
	carol.refused("POST", path+"/state", map[string]string{"state": "pending", "waiting_on": "customer"}, 409, "transition")
	carol.must("GET", path, nil, &made)
	var types []string
	for _, ev := range made.Ticket.Events {
		types = append(types, ev.Type)
	}
	if got := strings.Join(types, " "); got != "created noted assigned pending opened noted solved closed" {
		t.Fatalf("history: %s", got)
	}
	if len(made.Ticket.Notes) != 2 || made.Ticket.Notes[1].Text != "仓库已发货" {
		t.Fatalf("notes %+v", made.Ticket.Notes)
	}
	carol.must("GET", "tickets?state=closed", nil, &page)
	if len(page.Tickets) != 1 {
		t.Fatalf("closed: %s", ids(page.Tickets))
	}
}
