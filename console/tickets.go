package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/priority"
	"github.com/kefu-dev/kefu/tickets"
)

// Tickets is the console's side of the tickets (*tickets.Store satisfies
// it): every change goes through the store, which records it as an event.
type Tickets interface {
	Create(ctx context.Context, n tickets.NewTicket) (tickets.Ticket, bool, error)
	Get(ctx context.Context, id int64) (tickets.Ticket, error)
	List(ctx context.Context, f tickets.Filter) ([]tickets.Ticket, error)
	Move(ctx context.Context, id int64, to tickets.State, waitingOn, by, detail string) (tickets.Ticket, error)
	Assign(ctx context.Context, id int64, owner, department, by string) (tickets.Ticket, error)
	AddNote(ctx context.Context, id int64, author, text string) (tickets.Ticket, error)
}

var _ Tickets = (*tickets.Store)(nil)

// Who may see and work which tickets: a supervisor, all; an agent, those
// whose department is one of their groups, or owned by them or by one of
// their groups. Departments are the configuration's groups.

// errTicketsOff: the console has no tickets (Deps.Tickets is nil).
var errTicketsOff = fmt.Errorf("%w: tickets are not available (no archive)", ErrNotFound)

// errOtherTicket: an agent asked for a ticket outside their groups (or one
// that does not exist: agents are not told which).
var errOtherTicket = fmt.Errorf("%w: ticket not in your groups", ErrNotFound)

// ticketFields bound what an agent types.
const (
	ticketTextMax = 2000
	ticketNoteMax = 4000
)

func (c *Console) mayWork(s *session, t tickets.Ticket) bool {
	if s.supervisor() {
		return true
	}
	g := s.agent.Groups
	return slices.Contains(g, t.Department) || t.Owner == s.agent.ID || slices.Contains(g, t.Owner)
}

// Due-time states a ticket is shown with.
const (
	dueOverdue = "overdue" // open and past its due time
	dueSoon    = "soon"    // open and within the reminders' lead
	dueOK      = "ok"      // open, with time left
	duePaused  = "paused"  // pending: the clock is stopped
)

func (c *Console) dueState(t tickets.Ticket, now time.Time) string {
	if t.Due.IsZero() {
		return ""
	}
	switch t.State {
	case tickets.Pending:
		return duePaused
	case tickets.Open:
		switch {
		case !now.Before(t.Due):
			return dueOverdue
		case now.Add(c.ticketLead()).After(t.Due):
			return dueSoon
		}
		return dueOK
	}
	return ""
}

func (c *Console) ticketLead() time.Duration {
	if c.deps.TicketLead > 0 {
		return c.deps.TicketLead
	}
	return time.Hour
}

type ticketNoteJSON struct {
	At     time.Time `json:"at"`
	Author string    `json:"author"`
	Text   string    `json:"text"`
}

type ticketEventJSON struct {
	At     time.Time `json:"at"`
	Type   string    `json:"type"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to,omitempty"`
	By     string    `json:"by,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// ticketJSON is a ticket as the page reads it.
type ticketJSON struct {
	ID         int64             `json:"id"`
	State      string            `json:"state"`
	WaitingOn  string            `json:"waiting_on,omitempty"`
	Priority   string            `json:"priority"`
	Owner      string            `json:"owner"`
	Department string            `json:"department"`
	Due        *time.Time        `json:"due"`
	DueState   string            `json:"due_state,omitempty"` // overdue, soon, ok, paused
	Reason     string            `json:"reason"`
	Text       string            `json:"text"`
	Customer   string            `json:"customer"`
	Contact    string            `json:"contact,omitempty"`
	Convs      []string          `json:"convs"`
	Created    time.Time         `json:"created"`
	Updated    time.Time         `json:"updated"`
	Solved     *time.Time        `json:"solved,omitempty"`
	Notes      []ticketNoteJSON  `json:"notes,omitempty"`
	Events     []ticketEventJSON `json:"events,omitempty"`
}

func (c *Console) toTicketJSON(t tickets.Ticket, now time.Time) ticketJSON {
	out := ticketJSON{ID: t.ID, State: string(t.State), WaitingOn: t.WaitingOn, Priority: t.Priority.String(), Owner: t.Owner,
		Department: t.Department, Due: timePtr(t.Due), DueState: c.dueState(t, now), Reason: t.Reason, Text: t.Text,
		Customer: t.Customer, Contact: t.Contact, Convs: nonNil(t.Convs), Created: t.Created, Updated: t.Updated, Solved: timePtr(t.Solved)}
	for _, n := range t.Notes {
		out.Notes = append(out.Notes, ticketNoteJSON(n))
	}
	for _, e := range t.Events {
		out.Events = append(out.Events, ticketEventJSON{At: e.At, Type: e.Type, From: string(e.From), To: string(e.To), By: e.By, Detail: e.Detail})
	}
	return out
}

// ticketErr maps the store's errors to the console's.
func ticketErr(err error) error {
	switch {
	case errors.Is(err, tickets.ErrBad):
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	case errors.Is(err, tickets.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, tickets.ErrTransition):
		return fmt.Errorf("%w: %w", errTransition, err)
	}
	return err
}

// errTransition: the state change is not allowed from the ticket's state.
var errTransition = errors.New("not allowed from the ticket's state")

// listTickets is the Tickets view's list.
//
//	GET tickets?state=&owner=&department=&due=overdue|soon|alert
//
// alert is overdue and due soon together (the count on the view's tab).
func (c *Console) listTickets(w http.ResponseWriter, r *http.Request, s *session) {
	if c.deps.Tickets == nil {
		c.fail(w, r, errTicketsOff)
		return
	}
	v := r.URL.Query()
	var f tickets.Filter
	var err error
	if st := v.Get("state"); st != "" {
		if f.State, err = tickets.ParseState(st); err != nil {
			c.fail(w, r, ticketErr(err))
			return
		}
	}
	f.Owner, f.Department = strings.TrimSpace(v.Get("owner")), strings.TrimSpace(v.Get("department"))
	due := v.Get("due")
	now := c.deps.Now()
	switch due {
	case "":
	case dueOverdue, dueSoon, "alert":
		f.State = tickets.Open
		f.DueBefore = now.Add(c.ticketLead())
	default:
		c.fail(w, r, fmt.Errorf("%w: due %q: want overdue, soon or alert", ErrBadRequest, due))
		return
	}
	if f.Department != "" && !s.supervisor() && !slices.Contains(s.agent.Groups, f.Department) {
		c.fail(w, r, errOtherTicket)
		return
	}
	list, err := c.deps.Tickets.List(r.Context(), f)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	out := []ticketJSON{}
	counts := map[string]int{}
	for _, t := range list {
		if !c.mayWork(s, t) {
			continue
		}
		ds := c.dueState(t, now)
		if due == dueOverdue && ds != dueOverdue || due == dueSoon && ds != dueSoon {
			continue
		}
		counts[ds]++
		out = append(out, c.toTicketJSON(t, now))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tickets": out, "overdue": counts[dueOverdue], "soon": counts[dueSoon],
		"lead_ms": c.ticketLead().Milliseconds(), "now": now})
}

// ticketOf is ticket {id} if the agent may work it.
func (c *Console) ticketOf(r *http.Request, s *session) (tickets.Ticket, error) {
	if c.deps.Tickets == nil {
		return tickets.Ticket{}, errTicketsOff
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return tickets.Ticket{}, fmt.Errorf("%w: ticket id %q", ErrBadRequest, r.PathValue("id"))
	}
	t, err := c.deps.Tickets.Get(r.Context(), id)
	if errors.Is(err, tickets.ErrNotFound) && !s.supervisor() {
		return tickets.Ticket{}, errOtherTicket
	}
	if err != nil {
		return tickets.Ticket{}, ticketErr(err)
	}
	if !c.mayWork(s, t) {
		return tickets.Ticket{}, errOtherTicket
	}
	return t, nil
}

func (c *Console) getTicket(w http.ResponseWriter, r *http.Request, s *session) {
	t, err := c.ticketOf(r, s)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	now := c.deps.Now()
	writeJSON(w, http.StatusOK, map[string]any{"ticket": c.toTicketJSON(t, now), "now": now})
}

// department checks a department is one of the configuration's groups.
func (c *Console) department(d string) error {
	if d != "" && !slices.Contains(c.deps.Queue.Config().Groups, d) {
		return fmt.Errorf("%w: department %q is not one of the groups", ErrBadRequest, d)
	}
	return nil
}

// owner checks an owner is an agent of the console or a group.
func (c *Console) owner(o string) error {
	if o == "" {
		return nil
	}
	if _, ok := c.agents[o]; ok || slices.Contains(c.deps.Queue.Config().Groups, o) {
		return nil
	}
	return fmt.Errorf("%w: owner %q is neither an agent nor a group", ErrBadRequest, o)
}

type newTicketReq struct {
	ID         string `json:"id"`   // the page's id of the request: a retry creates nothing twice
	Conv       string `json:"conv"` // the conversation (thread) it comes from
	Department string `json:"department"`
	Owner      string `json:"owner"`
	Priority   string `json:"priority"`
	Due        string `json:"due"` // RFC 3339; empty: Deps.TicketDue from now
	Text       string `json:"text"`
	Note       string `json:"note"`
}

// createTicket is 转工单: an agent makes a ticket of a conversation they
// hold (a supervisor, of any conversation), linked to it, for a department.
//
//	POST tickets {id, conv, department, owner, priority, due, text, note}
func (c *Console) createTicket(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	if c.deps.Tickets == nil {
		c.fail(w, r, errTicketsOff)
		return
	}
	var req newTicketReq
	if err := decode(r, &req); err != nil {
		c.fail(w, r, err)
		return
	}
	req.Department, req.Owner = strings.TrimSpace(req.Department), strings.TrimSpace(req.Owner)
	var errs []error
	if req.Conv == "" {
		errs = append(errs, fmt.Errorf("%w: conv: which conversation", ErrBadRequest))
	}
	if req.Department == "" {
		errs = append(errs, fmt.Errorf("%w: department: which department works it", ErrBadRequest))
	}
	errs = append(errs, c.department(req.Department), c.owner(req.Owner))
	if utf8.RuneCountInString(req.Text) > ticketTextMax || utf8.RuneCountInString(req.Note) > ticketNoteMax {
		errs = append(errs, fmt.Errorf("%w: text or note too long", ErrBadRequest))
	}
	prio := priority.Normal
	if req.Priority != "" {
		p, err := priority.Parse(req.Priority)
		if err != nil || p == priority.Unset {
			errs = append(errs, fmt.Errorf("%w: priority %q", ErrBadRequest, req.Priority))
		} else {
			prio = p
		}
	}
	now := c.deps.Now()
	due := now.Add(c.ticketDue())
	if req.Due != "" {
		d, err := time.Parse(time.RFC3339, req.Due)
		if err != nil || !d.After(now) {
			errs = append(errs, fmt.Errorf("%w: due %q: want a time to come (RFC 3339)", ErrBadRequest, req.Due))
		}
		due = d
	}
	if err := errors.Join(errs...); err != nil {
		c.fail(w, r, err)
		return
	}
	if !s.supervisor() {
		if _, err := c.claimOf(ctx, s.agent.ID, req.Conv); err != nil {
			c.fail(w, r, err)
			return
		}
	}
	cv, err := c.deps.Conversations.Load(ctx, req.Conv)
	if err != nil {
		c.fail(w, r, notFound(err))
		return
	}
	owner := req.Owner
	if owner == "" {
		owner = req.Department
	}
	n := tickets.NewTicket{Priority: prio, Owner: owner, Department: req.Department, Due: due, Reason: tickets.ReasonAgent,
		Text: strings.TrimSpace(req.Text), Customer: customerOf(req.Conv), By: s.agent.ID}
	if cv.Episode > 0 {
		n.Convs = []string{conv.ArchiveID(req.Conv, strconv.Itoa(cv.Episode))}
	}
	if req.ID != "" {
		n.Source = "console:" + s.agent.ID + ":" + cut(req.ID, 64)
	}
	t, created, err := c.deps.Tickets.Create(ctx, n)
	if err != nil {
		c.fail(w, r, ticketErr(err))
		return
	}
	if created && strings.TrimSpace(req.Note) != "" {
		if t, err = c.deps.Tickets.AddNote(ctx, t.ID, s.agent.ID, strings.TrimSpace(req.Note)); err != nil {
			c.fail(w, r, ticketErr(err))
			return
		}
	}
	c.log.InfoContext(ctx, "console: ticket created", "agent", s.agent.ID, "ticket", t.ID, "conv", req.Conv, "department", req.Department)
	writeJSON(w, http.StatusOK, map[string]any{"ticket": c.toTicketJSON(t, now), "created": created, "now": now})
}

func (c *Console) ticketDue() time.Duration {
	if c.deps.TicketDue > 0 {
		return c.deps.TicketDue
	}
	return 24 * time.Hour
}

type ticketStateReq struct {
	State     string `json:"state"`      // pending, open, solved, closed
	WaitingOn string `json:"waiting_on"` // pending: a department, or "customer"
	Detail    string `json:"detail"`
}

// moveTicket changes a ticket's state: pending (on a department or the
// customer), back to open, solved, closed. Solving goes through the store
// like every change (what tells the customer hears of it there).
//
//	POST tickets/{id}/state {state, waiting_on, detail}
func (c *Console) moveTicket(w http.ResponseWriter, r *http.Request, s *session) {
	t, err := c.ticketOf(r, s)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var req ticketStateReq
	if err := decode(r, &req); err != nil {
		c.fail(w, r, err)
		return
	}
	to, err := tickets.ParseState(req.State)
	if err != nil {
		c.fail(w, r, ticketErr(err))
		return
	}
	req.WaitingOn = strings.TrimSpace(req.WaitingOn)
	if to == tickets.Pending && req.WaitingOn != tickets.WaitingOnCustomer {
		if req.WaitingOn == "" {
			c.fail(w, r, fmt.Errorf("%w: pending: waiting on which department, or on the customer", ErrBadRequest))
			return
		}
		if err := c.department(req.WaitingOn); err != nil {
			c.fail(w, r, err)
			return
		}
	}
	t, err = c.deps.Tickets.Move(r.Context(), t.ID, to, req.WaitingOn, s.agent.ID, cut(strings.TrimSpace(req.Detail), 500))
	if err != nil {
		c.fail(w, r, ticketErr(err))
		return
	}
	now := c.deps.Now()
	writeJSON(w, http.StatusOK, map[string]any{"ticket": c.toTicketJSON(t, now), "now": now})
}

type ticketAssignReq struct {
	Owner      string `json:"owner"`      // an agent id or a group
	Department string `json:"department"` // a group
}

// assignTicket sets a ticket's owner and/or department.
//
//	POST tickets/{id}/assign {owner, department}
func (c *Console) assignTicket(w http.ResponseWriter, r *http.Request, s *session) {
	t, err := c.ticketOf(r, s)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var req ticketAssignReq
	if err := decode(r, &req); err != nil {
		c.fail(w, r, err)
		return
	}
	req.Owner, req.Department = strings.TrimSpace(req.Owner), strings.TrimSpace(req.Department)
	if req.Owner == "" && req.Department == "" {
		c.fail(w, r, fmt.Errorf("%w: assign: an owner or a department", ErrBadRequest))
		return
	}
	if err := errors.Join(c.owner(req.Owner), c.department(req.Department)); err != nil {
		c.fail(w, r, err)
		return
	}
	t, err = c.deps.Tickets.Assign(r.Context(), t.ID, req.Owner, req.Department, s.agent.ID)
	if err != nil {
		c.fail(w, r, ticketErr(err))
		return
	}
	now := c.deps.Now()
	writeJSON(w, http.StatusOK, map[string]any{"ticket": c.toTicketJSON(t, now), "now": now})
}

// noteTicket adds an internal note.
//
//	POST tickets/{id}/note {text}
func (c *Console) noteTicket(w http.ResponseWriter, r *http.Request, s *session) {
	t, err := c.ticketOf(r, s)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var req struct {
		Text string `json:"text"`
	}
	if err := decode(r, &req); err != nil {
		c.fail(w, r, err)
		return
	}
	text := strings.TrimSpace(req.Text)
	if text == "" || utf8.RuneCountInString(text) > ticketNoteMax {
		c.fail(w, r, fmt.Errorf("%w: a note of 1 to %d characters", ErrBadRequest, ticketNoteMax))
		return
	}
	t, err = c.deps.Tickets.AddNote(r.Context(), t.ID, s.agent.ID, text)
	if err != nil {
		c.fail(w, r, ticketErr(err))
		return
	}
	now := c.deps.Now()
	writeJSON(w, http.StatusOK, map[string]any{"ticket": c.toTicketJSON(t, now), "now": now})
}

// ticketAgents are the console's agents who may own tickets, for the
// assign box: id and name.
func (c *Console) ticketAgents(w http.ResponseWriter, r *http.Request, s *session) {
	type agentJSON struct {
		ID     string   `json:"id"`
		Name   string   `json:"name"`
		Groups []string `json:"groups"`
	}
	out := []agentJSON{}
	for _, a := range c.agents {
		if a.Role == RoleEditor {
			continue
		}
		out = append(out, agentJSON{ID: a.ID, Name: a.Name, Groups: nonNil(a.Groups)})
	}
	slices.SortFunc(out, func(a, b agentJSON) int { return strings.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, map[string]any{"agents": out})
}
