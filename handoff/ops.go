package handoff

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/priority"
)

// Ticket is a conversation handed to people: what the caller (the bot)
// knows about it.
type Ticket struct {
	Conv     string // conversation id (the bot's channel:user)
	Channel  string // web, wechat, telegram
	User     string // the customer on that channel
	Category string // the intent's category: picks the group
	Group    string // an explicit group; overrides Category
	Reason   string // why it was handed off (requested, low_confidence, complaint…)
	// Priority orders the queue (by its first-response deadline). Unset:
	// Urgent when Urgent is set, else Normal.
	Priority priority.Level
	Urgent   bool     // shorthand for Priority urgent (the caller's older form)
	Words    []string // the customer's words that raised the priority, shown to agents
}

// level is the ticket's priority, Unset resolved.
func (t Ticket) level() priority.Level {
	switch {
	case t.Priority != priority.Unset:
		return t.Priority
	case t.Urgent:
		return priority.Urgent
	}
	return priority.Normal
}

// Conversation states, as Position reports them.
const (
	StateWaiting = "waiting" // in a group's queue
	StateHeld    = "held"    // an agent has it
	StateNone    = "none"    // neither: with the bot, or closed
)

// Claim is an agent's hold on a conversation. Every write the agent makes
// carries it; the queue refuses it once the epoch is stale.
type Claim struct {
	Conv  string
	Agent string
	Group string
	Epoch int64
}

// Agent is an agent signing in.
type Agent struct {
	ID     string   // unique, no commas or spaces
	Name   string   // display name
	Groups []string // skill groups; each must be configured
	Max    int      // maximum concurrent chats (at least 1)
}

// Target is where a transfer goes: a group (the conversation waits there,
// keeping its place in line) or a named agent (who holds it at once).
type Target struct {
	Group string
	Agent string
}

// End is how an agent releases a conversation.
type End string

// The ways to release: the conversation's mode afterwards.
const (
	ToBot  End = conv.ModeBot    // back to the bot
	Closed End = conv.ModeClosed // done: the customer gets the survey
)

// Enqueue puts a conversation in its group's queue, ordered by its
// first-response deadline (now + its priority's target; equal deadlines first
// come first served) and returns where it stands. It is
// idempotent: a conversation already waiting keeps its place and group, one
// an agent holds stays with them (State StateHeld).
//
// The returned position is also recorded as told to the customer, so that
// Notice reports only later meaningful changes. When Online is 0 no agent is
// there: tell the customer so (and whether it is outside business hours,
// see Open); the conversation stays queued for the first agent online.
// Queued now, it emits handoff (a repeat emits nothing).
func (q *Queue) Enqueue(ctx context.Context, t Ticket) (Position, error) {
	if t.Conv == "" {
		return Position{}, fmt.Errorf("enqueue: %w", ErrBadID)
	}
	g := t.Group
	if g == "" {
		g = q.GroupFor(t.Category)
	}
	if !q.hasGroup(g) {
		return Position{}, fmt.Errorf("enqueue %s: group %q: %w", t.Conv, g, ErrUnknownGroup)
	}
	lvl, now := t.level(), q.now()
	v, err := q.run(ctx, "enqueue",
		[]string{q.convKey(t.Conv), q.key("seq"), q.openKey(), q.leasesKey()},
		q.cfg.Prefix, t.Conv, g, lvl.String(), q.ms(now), t.Channel, t.User, t.Reason, t.Category, q.cfg.EventsMax,
		q.ms(q.due(now, lvl)), strings.Join(t.Words, " "))
	if err != nil {
		return Position{}, wrap("enqueue", t.Conv, err)
	}
	state := asString(asSlice(v)[0])
	p, _, err := q.Notice(ctx, t.Conv)
	if err != nil {
		return Position{}, err
	}
	p.New = state == "new"
	if p.New {
		q.log.InfoContext(ctx, "enqueued", "conv", t.Conv, "channel", t.Channel, "user", t.User,
			"group", g, "priority", lvl.String(), "rank", p.Rank)
	}
	return p, nil
}

// Cancel takes a waiting conversation out of the queue, back to the bot (the
// customer changed their mind, or left). ErrNotWaiting if it is not in a
// queue. It emits abandoned, by conv.ByLeft when the transcript's last entry
// is the customer's leaving (KindLeave, written by the bot before it calls
// Cancel), else by conv.ByCustomer.
func (q *Queue) Cancel(ctx context.Context, cid string) error {
	_, err := q.run(ctx, "cancel", []string{q.convKey(cid), q.openKey(), q.txKey(cid)},
		q.cfg.Prefix, cid, q.ms(q.now()), q.cfg.EventsMax, KindLeave, conv.ByCustomer, conv.ByLeft)
	return wrap("cancel", cid, err)
}

// KindLeave is the transcript kind of a customer's leaving the channel
// (unsubscribed, blocked the bot): bot.KindLeave, which bot writes as the
// inbound entry's kind. Cancel reads it to tell leaving from canceling.
const KindLeave = "leave"

// Claim gives agent aid a conversation: the named one (cid), or with cid
// empty the next in the agent's groups (earliest first-response deadline
// first; a conversation offered to another agent is passed over while the
// offer stands). Exactly one of any number of concurrent claimers wins.
// Errors: ErrEmpty, ErrTaken, ErrCapacity, ErrSkill, ErrOffline,
// ErrUnknownAgent. A claim emits claimed, with the time waited since the
// hand-off.
func (q *Queue) Claim(ctx context.Context, aid, cid string) (Claim, error) {
	v, err := q.run(ctx, "claim",
		[]string{q.agentKey(aid), q.key("agent", aid, "convs"), q.key("agent", aid, "groups"), q.leasesKey()},
		q.cfg.Prefix, aid, cid, q.ms(q.now()), q.cfg.Lease.Milliseconds(), q.cfg.EventsMax)
	if err != nil {
		return Claim{}, wrap("claim", aid, err)
	}
	r := asSlice(v)
	return Claim{Conv: asString(r[0]), Agent: aid, Epoch: asInt(r[1]), Group: asString(r[2])}, nil
}

// Heartbeat says agent aid's console is alive: it refreshes the agent's
// presence and extends the leases of the claims still held at their epoch.
// lost lists the conversations of held that the agent no longer has (the
// console must stop writing to them and say so).
func (q *Queue) Heartbeat(ctx context.Context, aid string, held []Claim) (lost []string, err error) {
	args := make([]any, 0, 4+2*len(held))
	args = append(args, q.cfg.Prefix, aid, q.ms(q.now()), q.cfg.Lease.Milliseconds())
	for _, c := range held {
		args = append(args, c.Conv, c.Epoch)
	}
	v, err := q.run(ctx, "heartbeat",
		[]string{q.agentKey(aid), q.key("agent", aid, "groups"), q.leasesKey()}, args...)
	if err != nil {
		return nil, wrap("heartbeat", aid, err)
	}
	return asStrings(v), nil
}

// Append writes an agent's message to the customer into the transcript
// (dir=out, kind=agent), once per msgID (the console's own id for the
// message: a retry returns the first entry with dup true). A write from a
// stale claim is refused with ErrLeaseLost or ErrNotHolder. The caller
// sends the text to the customer's channel after a successful append. It
// emits agent_message, first "1" on the first since the last hand-off.
func (q *Queue) Append(ctx context.Context, c Claim, msgID, text string) (entry string, dup bool, err error) {
	return q.appendEntry(ctx, "append", c, msgID, text, "", "")
}

// AppendImage is Append of an agent's image: media is its key in the media
// store, text its caption ("" none).
func (q *Queue) AppendImage(ctx context.Context, c Claim, msgID, text, media string) (entry string, dup bool, err error) {
	return q.appendEntry(ctx, "append", c, msgID, text, "", media)
}

// Note writes the holder's private note into the transcript (dir=note,
// kind=note; never sent to the customer), once per msgID as Append does,
// and emits note. A note from a stale claim is refused as Append's are.
func (q *Queue) Note(ctx context.Context, c Claim, msgID, text string) (entry string, dup bool, err error) {
	return q.appendEntry(ctx, "note", c, msgID, text, noteEntry, "")
}

// noteEntry tells append.lua to write a private note.
const noteEntry = "note"

func (q *Queue) appendEntry(ctx context.Context, op string, c Claim, msgID, text, what, media string) (string, bool, error) {
	if msgID == "" {
		return "", false, fmt.Errorf("%s %s: message id: %w", op, c.Conv, ErrBadID)
	}
	v, err := q.run(ctx, "append",
		[]string{q.convKey(c.Conv), q.leasesKey(), q.txKey(c.Conv), q.key("seen", "agent", msgID)},
		c.Conv, c.Agent, c.Epoch, q.ms(q.now()), text, msgID, int64(q.cfg.DedupeTTL/time.Second),
		q.cfg.Prefix, what, media)
	if err != nil {
		return "", false, wrap(op, c.Conv, err)
	}
	r := asSlice(v)
	return asString(r[0]), asInt(r[1]) == 1, nil
}

// Transfer hands a held conversation on, with a private note (dir=note in
// the transcript, never sent to the customer): to a group, where it waits
// keeping its original place in line, or to a named agent who holds it at
// once (respecting their capacity). It returns the new claim (Agent empty
// for a group). The old claim is dead afterwards. It emits transfer.
func (q *Queue) Transfer(ctx context.Context, c Claim, to Target, note string) (Claim, error) {
	return q.transfer(ctx, "transfer", c.Conv, c.Agent, c.Epoch, c.Agent, to, note)
}

// Reassign is a supervisor's transfer: the conversation may be waiting or
// held by anyone; by names the supervisor for the note.
func (q *Queue) Reassign(ctx context.Context, cid, by string, to Target, note string) (Claim, error) {
	return q.transfer(ctx, "reassign", cid, "", 0, by, to, note)
}

func (q *Queue) transfer(ctx context.Context, op, cid, holder string, epoch int64, by string, to Target, note string) (Claim, error) {
	if (to.Group == "") == (to.Agent == "") {
		return Claim{}, fmt.Errorf("%s %s: give a group or an agent: %w", op, cid, ErrBadID)
	}
	if to.Group != "" && !q.hasGroup(to.Group) {
		return Claim{}, fmt.Errorf("%s %s: group %q: %w", op, cid, to.Group, ErrUnknownGroup)
	}
	v, err := q.run(ctx, "transfer", []string{q.convKey(cid), q.leasesKey(), q.txKey(cid)},
		q.cfg.Prefix, cid, holder, epoch, q.ms(q.now()), q.cfg.Lease.Milliseconds(),
		to.Group, to.Agent, note, by, q.cfg.EventsMax)
	if err != nil {
		return Claim{}, wrap(op, cid, err)
	}
	r := asSlice(v)
	out := Claim{Conv: cid, Agent: to.Agent, Epoch: asInt(r[0]), Group: asString(r[1])}
	q.log.InfoContext(ctx, op, "conv", cid, "agent", by, "group", out.Group, "to_agent", to.Agent)
	return out, nil
}

// Release ends the holder's part: back to the bot (ToBot) or Closed (the
// caller then sends the survey; Rate records the answer). The handling time
// joins the group's window for the ETA. It emits back_to_bot or closed (by
// the holder).
func (q *Queue) Release(ctx context.Context, c Claim, end End) error {
	return q.release(ctx, c, end, WrapUp{})
}

// WrapUp is what an agent says of a conversation they close: what it was
// about (Label: an FAQ intent id or a configured wrap-up label id) and
// whether it was resolved.
type WrapUp struct {
	Label    string
	Resolved bool
}

// CloseWithWrapUp closes the holder's conversation as Release(c, Closed)
// does, with the agent's wrap-up on its closed event (conv.EvLabel,
// conv.EvResolved). An empty label is no wrap-up.
func (q *Queue) CloseWithWrapUp(ctx context.Context, c Claim, w WrapUp) error {
	return q.release(ctx, c, Closed, w)
}

func (q *Queue) release(ctx context.Context, c Claim, end End, w WrapUp) error {
	if end != ToBot && end != Closed {
		return fmt.Errorf("release %s: end %q: %w", c.Conv, end, ErrBadID)
	}
	resolved := conv.Unresolved
	if w.Resolved {
		resolved = conv.Resolved
	}
	_, err := q.run(ctx, "release", []string{q.convKey(c.Conv), q.leasesKey(), q.openKey()},
		q.cfg.Prefix, c.Conv, c.Agent, c.Epoch, q.ms(q.now()), string(end), q.cfg.HandleWindow, q.cfg.EventsMax,
		w.Label, resolved, q.cfg.Dispatch.ReturningWindow.Milliseconds())
	if err != nil {
		return wrap("release", c.Conv, err)
	}
	q.log.InfoContext(ctx, "released", "conv", c.Conv, "agent", c.Agent, "group", c.Group, "end", string(end))
	return nil
}

// Rate records the customer's satisfaction rating (1–5, optional comment)
// for the last close, on the conversation and credited to the agent who
// closed it (returned). Once per close, within Config.SurveyWindow. It
// emits rated.
func (q *Queue) Rate(ctx context.Context, cid string, score int, comment string) (agent string, err error) {
	if score < 1 || score > 5 {
		return "", fmt.Errorf("rate %s: %d: %w", cid, score, ErrBadRating)
	}
	v, err := q.run(ctx, "rate", []string{q.convKey(cid)},
		q.cfg.Prefix, cid, score, comment, q.ms(q.now()), q.cfg.SurveyWindow.Milliseconds(), q.cfg.EventsMax)
	if err != nil {
		return "", wrap("rate", cid, err)
	}
	return asString(v), nil
}

// CustomerMessage tells the consoles that transcript entry arrived from the
// customer: an event on the holder's agent stream, or on the group's stream
// while the conversation waits. stream is the stream written ("" when the
// conversation is neither waiting nor held).
func (q *Queue) CustomerMessage(ctx context.Context, cid, entry string) (stream string, err error) {
	v, err := q.run(ctx, "inbound", []string{q.convKey(cid), q.leasesKey()},
		q.cfg.Prefix, cid, entry, q.ms(q.now()), q.cfg.EventsMax)
	return asString(v), wrap("customer message", cid, err)
}

// Reap puts every conversation whose lease has expired back in its group's
// queue, in its original place (its agent is fenced out: their claim's epoch
// is stale), and forgets agents whose presence lapsed. It returns the
// conversations requeued, each with a lease_lost event. Safe to run in
// every instance at once.
func (q *Queue) Reap(ctx context.Context) ([]string, error) {
	var all []string
	for {
		now := q.now()
		args := []any{q.cfg.Prefix, q.ms(now), q.cfg.ReapBatch, q.cfg.EventsMax, q.ms(now.Add(-q.cfg.Presence))}
		for _, g := range q.cfg.Groups {
			args = append(args, g)
		}
		v, err := q.run(ctx, "reap", []string{q.leasesKey()}, args...)
		if err != nil {
			return all, fmt.Errorf("reap: %w", err)
		}
		got := asStrings(v)
		all = append(all, got...)
		if len(got) < q.cfg.ReapBatch {
			break
		}
	}
	for _, cid := range all {
		q.log.WarnContext(ctx, "lease expired: requeued", "conv", cid)
	}
	return all, nil
}

// AgentOnline signs an agent in (or updates their groups and capacity):
// status online and present in each group.
func (q *Queue) AgentOnline(ctx context.Context, a Agent) error {
	if !validID(a.ID) {
		return fmt.Errorf("agent online %q: %w", a.ID, ErrBadID)
	}
	if a.Max < 1 {
		a.Max = 1
	}
	args := []any{q.cfg.Prefix, a.ID, a.Max, q.ms(q.now()), a.Name}
	for _, g := range a.Groups {
		if !q.hasGroup(g) {
			return fmt.Errorf("agent online %s: group %q: %w", a.ID, g, ErrUnknownGroup)
		}
		args = append(args, g)
	}
	_, err := q.run(ctx, "online",
		[]string{q.agentKey(a.ID), q.key("agent", a.ID, "groups"), q.agentsKey()}, args...)
	return wrap("agent online", a.ID, err)
}

// SetAway marks a signed-in agent away (no offers, not counted as online for
// the ETA; they keep their conversations and may still claim) or back.
func (q *Queue) SetAway(ctx context.Context, aid string, away bool) error {
	st := agentOnline
	if away {
		st = "away"
	}
	_, err := q.run(ctx, "status", []string{q.agentKey(aid)}, st, q.ms(q.now()))
	return wrap("set away", aid, err)
}

// Agent statuses an agent sets themself (SetStatus); a signed-out agent is
// "offline".
const (
	StatusOnline = agentOnline // takes offers and new conversations
	StatusBusy   = "busy"      // keeps their conversations, gets no new ones (no offers); not counted for the ETA
	StatusAway   = "away"      // not at the desk: no offers, not counted for the ETA; keeps their conversations
)

// SetStatus sets a signed-in agent's status: StatusOnline, StatusBusy or
// StatusAway. Auto-assignment offers conversations to online agents only.
// The status outlives a reload of the console (AgentOnline keeps busy and
// away); signing out ends it.
func (q *Queue) SetStatus(ctx context.Context, aid, status string) error {
	switch status {
	case StatusOnline, StatusBusy, StatusAway:
	default:
		return fmt.Errorf("set status %s: %q: %w", aid, status, ErrBadStatus)
	}
	_, err := q.run(ctx, "status", []string{q.agentKey(aid)}, status, q.ms(q.now()))
	return wrap("set status", aid, err)
}

// AgentStatus is an agent's status: StatusOnline, StatusBusy, StatusAway,
// "offline", or "" for an agent never signed in.
func (q *Queue) AgentStatus(ctx context.Context, aid string) (string, error) {
	st, err := q.rdb.HGet(ctx, q.agentKey(aid), "status").Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("agent status %s: %w", aid, err)
	}
	return st, nil
}

// AgentOffline signs an agent out: they leave their groups, their offers are
// withdrawn and the conversations they held go back in line at once (in
// their places). It returns those conversations. Each offer withdrawn
// emits declined, each conversation requeued lease_lost.
func (q *Queue) AgentOffline(ctx context.Context, aid string) ([]string, error) {
	_, err := q.run(ctx, "offline",
		[]string{q.agentKey(aid), q.key("agent", aid, "groups"), q.key("agent", aid, "convs"),
			q.key("agent", aid, "offers"), q.leasesKey()},
		q.cfg.Prefix, aid, q.ms(q.now()))
	if err != nil {
		return nil, wrap("agent offline", aid, err)
	}
	return q.Reap(ctx)
}

// Offers runs auto-assignment once for every group: offers that were not
// accepted within Config.OfferTimeout are withdrawn (the next run offers the
// conversation to the next agent), and waiting conversations without an
// offer are offered to the least-busy online agent of their group with a
// free slot. The agent accepts with Claim(aid, cid) or turns it down with
// Decline. Run it periodically (the Reaper does when AutoAssign is set);
// safe in every instance at once. Each offer made emits offered; each
// withdrawn because it lapsed, declined.
func (q *Queue) Offers(ctx context.Context) (offered, expired int, err error) {
	now := q.now()
	for _, g := range q.cfg.Groups {
		v, err := q.run(ctx, "offers",
			[]string{q.waitKey(g), q.groupKey(g, "offers"), q.groupKey(g, "online")},
			q.cfg.Prefix, g, q.ms(now), q.cfg.OfferTimeout.Milliseconds(), q.ms(now.Add(-q.cfg.Presence)),
			q.cfg.OfferScan, q.cfg.EventsMax, agentOnline, q.cfg.Dispatch.ReturningWindow.Milliseconds(),
			q.cfg.Dispatch.CSAT, q.cfg.Dispatch.FirstResponse, q.cfg.Dispatch.Resolution)
		if err != nil {
			return offered, expired, wrap("offers", g, err)
		}
		r := asSlice(v)
		offered += int(asInt(r[0]))
		expired += int(asInt(r[1]))
	}
	return offered, expired, nil
}

// Decline turns down the conversation offered to agent aid; it goes to the
// next agent on the next Offers run, and emits declined. ErrNoOffer if it
// is not offered to aid.
func (q *Queue) Decline(ctx context.Context, aid, cid string) error {
	_, err := q.run(ctx, "decline", []string{q.convKey(cid)}, q.cfg.Prefix, cid, aid, q.ms(q.now()), q.cfg.EventsMax)
	return wrap("decline", cid, err)
}

func parseMs(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}
