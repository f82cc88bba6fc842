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

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/priority"
)

// The console records, per agent, the claims it handed out (conversation ->
// epoch and group): every write uses the recorded claim, never an epoch sent
// by the page, so an agent can only write with a claim the queue gave them,
// and a claim that went stale is refused by the queue itself (lease_lost).

func (c *Console) claimsKey(aid string) string { return c.cfg.KeyPrefix + "claims:" + aid }

func (c *Console) remember(ctx context.Context, cl handoff.Claim) error {
	k := c.claimsKey(cl.Agent)
	_, err := c.deps.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k, cl.Conv, strconv.FormatInt(cl.Epoch, 10)+"|"+cl.Group)
		p.Expire(ctx, k, c.cfg.SessionTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("remember claim %s: %w", cl.Conv, err)
	}
	return nil
}

func (c *Console) forget(ctx context.Context, aid, cid string) {
	if err := c.deps.Redis.HDel(ctx, c.claimsKey(aid), cid).Err(); err != nil {
		c.log.WarnContext(ctx, "console: forget claim", "agent", aid, "conv", cid, "err", err)
	}
}

func parseClaim(aid, cid, v string) handoff.Claim {
	e, g, _ := strings.Cut(v, "|")
	n, _ := strconv.ParseInt(e, 10, 64)
	return handoff.Claim{Conv: cid, Agent: aid, Group: g, Epoch: n}
}

// claimOf is the claim recorded for agent aid on cid; ErrNotHolder when the
// agent never held it through the console.
func (c *Console) claimOf(ctx context.Context, aid, cid string) (handoff.Claim, error) {
	v, err := c.deps.Redis.HGet(ctx, c.claimsKey(aid), cid).Result()
	if errors.Is(err, redis.Nil) {
		return handoff.Claim{}, fmt.Errorf("%s: %w", cid, ErrNotHolder)
	}
	if err != nil {
		return handoff.Claim{}, fmt.Errorf("claim of %s: %w", cid, err)
	}
	return parseClaim(aid, cid, v), nil
}

// sync reads what the queue says agent aid holds, records claims the
// console did not know (a transfer to the agent, a supervisor's
// reassignment), and returns those plus the recorded claims no longer held
// (lost: reaped, transferred away, taken over) until the agent dismisses
// them.
func (c *Console) sync(ctx context.Context, aid string) (held []handoff.Held, lost []handoff.Claim, err error) {
	held, err = c.deps.Queue.Held(ctx, aid)
	if err != nil {
		return nil, nil, err
	}
	rec, err := c.deps.Redis.HGetAll(ctx, c.claimsKey(aid)).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("claims of %s: %w", aid, err)
	}
	have := map[string]bool{}
	for _, h := range held {
		have[h.Conv] = true
		if v, ok := rec[h.Conv]; !ok || parseClaim(aid, h.Conv, v).Epoch != h.Epoch {
			if err := c.remember(ctx, h.Claim); err != nil {
				return nil, nil, err
			}
		}
	}
	for cid, v := range rec {
		if !have[cid] {
			lost = append(lost, parseClaim(aid, cid, v))
		}
	}
	slices.SortFunc(lost, func(a, b handoff.Claim) int { return strings.Compare(a.Conv, b.Conv) })
	return held, lost, nil
}

// heldJSON is one of the agent's conversations.
type heldJSON struct {
	Conv    string `json:"conv"`
	Group   string `json:"group"`
	Epoch   int64  `json:"epoch"`
	Channel string `json:"channel,omitempty"`
	User    string `json:"user,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Urgent  bool   `json:"urgent"`
	prioJSON
	SLA        []slaJSON  `json:"sla,omitempty"` // the targets still to meet, earliest first
	Claimed    *time.Time `json:"claimed,omitempty"`
	LeaseUntil *time.Time `json:"lease_until,omitempty"`
	Lost       bool       `json:"lost"`
	// Who the customer is, when known (as in the queue view).
	CustomerName string `json:"customer_name,omitempty"`
	CustomerID   string `json:"customer_id,omitempty"`
	CustomerNick string `json:"customer_nick,omitempty"` // their name on the channel
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func convsJSON(held []handoff.Held, lost []handoff.Claim) []heldJSON {
	out := []heldJSON{}
	for _, h := range held {
		out = append(out, heldJSON{Conv: h.Conv, Group: h.Group, Epoch: h.Epoch, Channel: h.Channel, User: h.User,
			Reason: h.Reason, Urgent: h.Urgent, prioJSON: prioOf(h.Priority, h.Words, h.Due), SLA: slaOf(h.SLA),
			Claimed: timePtr(h.Claimed), LeaseUntil: timePtr(h.LeaseUntil)})
	}
	for _, l := range lost {
		out = append(out, heldJSON{Conv: l.Conv, Group: l.Group, Epoch: l.Epoch, Lost: true})
	}
	return out
}

func (c *Console) myConvs(w http.ResponseWriter, r *http.Request, s *session) {
	held, lost, err := c.sync(r.Context(), s.agent.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	out := convsJSON(held, lost)
	c.withCustomers(r.Context(), out)
	writeJSON(w, http.StatusOK, map[string]any{"convs": out})
}

// withCustomers fills in who each conversation's customer is, in one round
// trip (an agent holds a few conversations); without it the page shows
// channel ids.
func (c *Console) withCustomers(ctx context.Context, cs []heldJSON) {
	cmds := make([]*redis.SliceCmd, len(cs))
	_, err := c.deps.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, x := range cs {
			cmds[i] = p.HMGet(ctx, conv.Key(c.deps.Queue.Config().Prefix, x.Conv), conv.FieldCustomerName, conv.FieldCustomerID, conv.FieldCustomerNick)
		}
		return nil
	})
	if err != nil {
		c.log.WarnContext(ctx, "console: customers of the list", "err", err)
		return
	}
	for i := range cs {
		v := cmds[i].Val()
		if len(v) == 3 {
			cs[i].CustomerName, _ = v[0].(string)
			cs[i].CustomerID, _ = v[1].(string)
			cs[i].CustomerNick, _ = v[2].(string)
		}
	}
}

// heartbeat keeps the agent present and extends the leases of every claim
// still held; it reports the ones lost.
func (c *Console) heartbeat(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	held, lost, err := c.sync(ctx, s.agent.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	claims := make([]handoff.Claim, 0, len(held)+len(lost))
	for _, h := range held {
		claims = append(claims, h.Claim)
	}
	claims = append(claims, lost...)
	gone, err := c.deps.Queue.Heartbeat(ctx, s.agent.ID, claims)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, cid := range gone {
		if !slices.ContainsFunc(lost, func(l handoff.Claim) bool { return l.Conv == cid }) {
			c.log.WarnContext(ctx, "console: claim lost", "agent", s.agent.ID, "conv", cid)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"lost": nonNil(gone), "held": len(held)})
}

// waitingJSON is a conversation in a queue.
type waitingJSON struct {
	Conv     string `json:"conv"`
	Group    string `json:"group"`
	Rank     int    `json:"rank"`
	Channel  string `json:"channel"`
	User     string `json:"user"`
	Reason   string `json:"reason"`
	Category string `json:"category,omitempty"`
	Urgent   bool   `json:"urgent"`
	prioJSON
	Since     time.Time  `json:"since"`
	WaitedMS  int64      `json:"waited_ms"`
	OfferedTo string     `json:"offered_to,omitempty"`
	Preview   string     `json:"preview"`           // the customer's last message, cut to bot.PreviewLen characters
	LastAt    *time.Time `json:"last_at,omitempty"` // when it arrived
	// Who the customer is, when known (a shop's signed-in user): the page
	// shows the name, else the shop's user id, else the channel's user.
	CustomerName string `json:"customer_name,omitempty"`
	CustomerID   string `json:"customer_id,omitempty"`
	CustomerNick string `json:"customer_nick,omitempty"` // their name on the channel (Telegram, WeChat)
}

// queue is the queue view: per visible group, the head of the queue
// (Config.QueueView conversations, each with the customer's last message)
// and the queue's length. Its Redis work is bounded by the head's size (the
// preview is a field of the conversation hash, never read from the
// transcript) and shared by the agents of this instance (queueGroups).
func (c *Console) queue(w http.ResponseWriter, r *http.Request, s *session) {
	gs, err := c.queueGroups(r.Context(), c.visibleGroups(s))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	b := make([]byte, 0, 64<<10)
	b = append(b, `{"groups":[`...)
	for i, g := range gs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, g...)
	}
	b = append(b, "]}\n"...)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

type claimReq struct {
	Conv string `json:"conv"` // empty: the next in the agent's groups
}

func (c *Console) claim(w http.ResponseWriter, r *http.Request, s *session) {
	var req claimReq
	if err := decode(r, &req); err != nil {
		c.fail(w, r, err)
		return
	}
	ctx := r.Context()
	cl, err := c.deps.Queue.Claim(ctx, s.agent.ID, req.Conv)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.remember(ctx, cl); err != nil {
		c.fail(w, r, err)
		return
	}
	c.log.InfoContext(ctx, "console: claimed", "agent", s.agent.ID, "conv", cl.Conv, "group", cl.Group)
	c.tell(ctx, s.agent.ID, cl.Conv, bot.TellJoined, s.agent.Name)
	writeJSON(w, http.StatusOK, map[string]any{"conv": cl.Conv, "group": cl.Group, "epoch": cl.Epoch})
}

// convJSON is a conversation with everything the bot knew.
type convJSON struct {
	ID      string `json:"id"`
	Channel string `json:"channel"`
	User    string `json:"user"`
	Mode    string `json:"mode"`
	Reason  string `json:"reason"`
	Urgent  bool   `json:"urgent"`
	prioJSON
	Group      string           `json:"group"`
	Agent      string           `json:"agent"`
	LastIntent string           `json:"last_intent"`
	Lang       string           `json:"lang"`
	Entities   []intents.Entity `json:"entities"`
	Guesses    []guessJSON      `json:"guesses"`
	Created    *time.Time       `json:"created,omitempty"`
	Updated    *time.Time       `json:"updated,omitempty"`
	// CustomerNick is the customer's name on their channel (Telegram,
	// WeChat), when known.
	CustomerNick string `json:"customer_nick,omitempty"`
}

// Customer is who a conversation's customer is, as their channel knows it
// (a shop's signed-in user, vouched for by the shop); "" is unknown.
type Customer struct {
	ID         string `json:"id,omitempty"` // the shop's user id
	Name       string `json:"name,omitempty"`
	Phone      string `json:"phone,omitempty"`
	Level      string `json:"level,omitempty"`        // member level
	SignedInAs string `json:"signed_in_as,omitempty"` // an anonymous visitor's: the identified conversation
}

// guessJSON is one of the bot's top guesses at hand-off.
type guessJSON struct {
	Intent   string  `json:"intent"`
	Score    float64 `json:"score"`
	Question string  `json:"question,omitempty"` // the FAQ question that matched best
}

// entryJSON is a transcript line. Dir is "in" (customer), "out" (bot or
// agent: see Kind and Agent) or "note" (a private transfer note).
type entryJSON struct {
	ID      string       `json:"id"`
	Dir     string       `json:"dir"`
	Kind    string       `json:"kind,omitempty"`
	Agent   string       `json:"agent,omitempty"`
	Intent  string       `json:"intent,omitempty"`
	Text    string       `json:"text"`
	Choice  string       `json:"choice,omitempty"`
	Choices []bot.Choice `json:"choices,omitempty"`
	At      *time.Time   `json:"at,omitempty"`
	// Image is a short-lived signed link to the image the entry carries.
	Image string `json:"image,omitempty"`
}

func guessesOf(gs []bot.Guess) []guessJSON {
	out := make([]guessJSON, 0, len(gs))
	for _, g := range gs {
		out = append(out, guessJSON{Intent: g.Intent, Score: g.Score, Question: g.Question})
	}
	return out
}

func toConvJSON(cv bot.Conversation) convJSON {
	return convJSON{ID: cv.ID, Channel: cv.Channel, User: cv.User, Mode: cv.Mode, Reason: cv.Reason,
		Urgent: cv.Urgent, prioJSON: prioOf(cv.Priority, cv.PrioWords, cv.Due), Group: cv.Group, Agent: cv.Agent, LastIntent: cv.LastIntent, Lang: cv.Lang,
		Entities: nonNil(cv.Entities), Guesses: guessesOf(cv.Guesses), Created: timePtr(cv.Created), Updated: timePtr(cv.Updated)}
}

// conversation returns a held conversation (any, for a supervisor) and its
// transcript after the entry id ?after= (all without).
func (c *Console) conversation(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	cid := r.PathValue("id")
	cv, err := c.deps.Conversations.Load(ctx, cid)
	if err != nil {
		// Its Redis keys expired (retention): the archive has it.
		if errors.Is(err, redis.Nil) && c.fromArchive(w, r, s, cid) {
			return
		}
		if errors.Is(err, redis.Nil) && !s.supervisor() {
			err = ErrNotHolder // do not tell agents which conversations exist
		}
		c.fail(w, r, notFound(err))
		return
	}
	mine := cv.Agent == s.agent.ID && cv.Mode == bot.ModeAgent
	if !mine && !s.supervisor() {
		c.fail(w, r, fmt.Errorf("%s: %w", cid, ErrNotHolder))
		return
	}
	after := r.URL.Query().Get("after")
	if after != "" && !validStreamID(after) {
		c.fail(w, r, fmt.Errorf("%w: after %q", ErrBadRequest, after))
		return
	}
	es, err := c.deps.Conversations.Transcript(ctx, cid, after)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	tx := make([]entryJSON, len(es))
	for i, e := range es {
		tx[i] = entryJSON{ID: e.ID, Dir: e.Dir, Kind: e.Kind, Agent: e.Agent, Intent: e.Intent, Text: e.Text,
			Choice: e.Choice, Choices: e.Choices, At: timePtr(e.At), Image: c.link(e.Media)}
	}
	cj := toConvJSON(cv)
	cj.CustomerNick, _ = c.deps.Redis.HGet(ctx, conv.Key(c.deps.Queue.Config().Prefix, cid), conv.FieldCustomerNick).Result()
	out := map[string]any{"conv": cj, "mine": mine, "transcript": tx, "reach": c.reach(ctx, cv)}
	if ls, err := c.labelsOf(ctx, cid); err != nil {
		c.log.WarnContext(ctx, "console: labels", "conv", cid, "err", err) // the conversation shows without them
	} else {
		out["labels"] = ls
	}
	if s.supervisor() {
		// Why the holder got it (auto-assignment's reason), for supervisors.
		if a, err := c.deps.Queue.Assignment(ctx, cid); err != nil {
			c.log.WarnContext(ctx, "console: assignment", "conv", cid, "err", err)
		} else if a.Reason != "" {
			out["assignment"] = a
		}
	}
	if c.deps.Customer != nil {
		cu, err := c.deps.Customer(ctx, cid)
		if err != nil {
			c.log.WarnContext(ctx, "console: customer", "conv", cid, "err", err) // the conversation shows without it
		} else if cu != (Customer{}) {
			out["customer"] = cu
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// What the conversation view says of a customer who cannot see a message
// now (its "reach"; "" when they can, or nobody can tell).
const (
	ReachOffline      = "offline"       // web: no chat page open; they see it when they come back
	ReachWindowClosed = "window_closed" // WeChat: their last message is older than WeChatWindow; it cannot be sent
)

// WeChatWindow is how long after a customer's last message a WeChat
// official account may write to them (customer-service messages).
const WeChatWindow = 48 * time.Hour

// reach says whether the customer can be reached now.
func (c *Console) reach(ctx context.Context, cv bot.Conversation) string {
	if cv.Channel == "wechat" {
		ms, err := c.deps.Redis.HGet(ctx, conv.Key(c.deps.Queue.Config().Prefix, cv.ID), conv.FieldLastInAt).Int64()
		if err == nil && c.deps.Now().Sub(time.UnixMilli(ms)) > WeChatWindow {
			return ReachWindowClosed
		}
		return ""
	}
	if c.deps.Connected == nil {
		return ""
	}
	ok, known, err := c.deps.Connected(ctx, cv.Channel, cv.User)
	if err != nil {
		c.log.WarnContext(ctx, "console: customer connected", "conv", cv.ID, "err", err)
		return ""
	}
	if known && !ok {
		return ReachOffline
	}
	return ""
}

// validStreamID accepts a Redis stream id ("1700000000000-0").
func validStreamID(s string) bool {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(a, 10, 64)
	_, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil
}

type replyReq struct {
	Text string `json:"text"`
	// ID is the page's own id for the message: a retry with the same id is
	// written once (and not delivered again).
	ID string `json:"id"`
}

// replyJSON is the answer to a reply. Delivered false with DeliveryError
// means the message is in the transcript but the customer's channel refused
// it (blocked the bot, WeChat's 48-hour window closed…).
type replyJSON struct {
	Entry         string `json:"entry"`
	Dup           bool   `json:"dup"`
	Delivered     bool   `json:"delivered"`
	DeliveryError string `json:"delivery_error,omitempty"`
}

// decodeText reads a reply's or a note's request: its text within
// MaxReplyLen, and its id (the client's, for retries, or a new one).
func (c *Console) decodeText(r *http.Request) (replyReq, error) {
	var req replyReq
	if err := decode(r, &req); err != nil {
		return req, err
	}
	if strings.TrimSpace(req.Text) == "" || utf8.RuneCountInString(req.Text) > c.cfg.MaxReplyLen {
		return req, fmt.Errorf("%w: text must have 1 to %d characters", ErrBadRequest, c.cfg.MaxReplyLen)
	}
	if req.ID == "" {
		id, err := randomToken()
		if err != nil {
			return req, err
		}
		req.ID = id
	}
	if len(req.ID) > 100 || strings.ContainsAny(req.ID, " \t\r\n") {
		return req, fmt.Errorf("%w: message id", ErrBadRequest)
	}
	return req, nil
}

func (c *Console) reply(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	cid := r.PathValue("id")
	req, err := c.decodeText(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	cl, err := c.claimOf(ctx, s.agent.ID, cid)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	cv, err := c.deps.Conversations.Load(ctx, cid)
	if err != nil {
		c.fail(w, r, notFound(err))
		return
	}
	entry, dup, err := c.deps.Queue.Append(ctx, cl, s.agent.ID+":"+req.ID, req.Text)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	out := replyJSON{Entry: entry, Dup: dup}
	if !dup {
		err := c.deps.Deliver(ctx, bot.Outbound{Channel: cv.Channel, User: cv.User, Conv: cid, Kind: bot.OutAgent,
			Agent: s.agent.ID, Text: req.Text})
		out.Delivered = err == nil
		if err != nil {
			out.DeliveryError = c.deliveryFailed(ctx, s.agent.ID, cid, entry, "reply", err)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// note writes a private note into the conversation (never sent to the
// customer), at any time while the agent holds it.
func (c *Console) note(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	cid := r.PathValue("id")
	req, err := c.decodeText(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	cl, err := c.claimOf(ctx, s.agent.ID, cid)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	entry, dup, err := c.deps.Queue.Note(ctx, cl, s.agent.ID+":note:"+req.ID, req.Text)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entry": entry, "dup": dup})
}

// deliveryFailed logs a message the customer's channel refused and tells
// the agent's consoles with a delivery_failed event; it returns what the
// agent is shown.
func (c *Console) deliveryFailed(ctx context.Context, aid, cid, entry, what string, err error) string {
	msg := cut(err.Error(), 300)
	c.log.WarnContext(ctx, "console: delivery failed", "agent", aid, "conv", cid, "what", what, "err", err)
	c.emit(ctx, aid, map[string]any{"type": "delivery_failed", "conv": cid, "entry": entry, "what": what,
		"error": msg, "at": c.deps.Now().UnixMilli()})
	return msg
}

type transferReq struct {
	Group string `json:"group"`
	Agent string `json:"agent"`
	Note  string `json:"note"`
}

// decodeTransfer reads a transfer request's body and its target.
func decodeTransfer(r *http.Request) (transferReq, handoff.Target, error) {
	var req transferReq
	if err := decode(r, &req); err != nil {
		return req, handoff.Target{}, err
	}
	to, err := req.target()
	return req, to, err
}

func (r transferReq) target() (handoff.Target, error) {
	if (r.Group == "") == (r.Agent == "") {
		return handoff.Target{}, fmt.Errorf("%w: give a group or an agent", ErrBadRequest)
	}
	if utf8.RuneCountInString(r.Note) > 2000 {
		return handoff.Target{}, fmt.Errorf("%w: note too long", ErrBadRequest)
	}
	return handoff.Target{Group: r.Group, Agent: r.Agent}, nil
}

// transfer hands the conversation to a group or an agent with a private note.
func (c *Console) transfer(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	cid := r.PathValue("id")
	req, to, err := decodeTransfer(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	cl, err := c.claimOf(ctx, s.agent.ID, cid)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	nc, err := c.deps.Queue.Transfer(ctx, cl, to, req.Note)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.forget(ctx, s.agent.ID, cid)
	if nc.Agent != "" {
		if err := c.remember(ctx, nc); err != nil {
			c.log.WarnContext(ctx, "console: record transferred claim", "agent", nc.Agent, "conv", cid, "err", err)
		}
	}
	c.toldTransfer(ctx, s.agent.ID, cid, nc.Agent)
	writeJSON(w, http.StatusOK, map[string]any{"conv": cid, "group": nc.Group, "agent": nc.Agent})
}

// reassign is a supervisor's transfer of any open conversation.
func (c *Console) reassign(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	cid := r.PathValue("id")
	req, to, err := decodeTransfer(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	nc, err := c.deps.Queue.Reassign(ctx, cid, s.agent.ID, to, req.Note)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if nc.Agent != "" {
		if err := c.remember(ctx, nc); err != nil {
			c.log.WarnContext(ctx, "console: record reassigned claim", "agent", nc.Agent, "conv", cid, "err", err)
		}
	}
	c.toldTransfer(ctx, s.agent.ID, cid, nc.Agent)
	writeJSON(w, http.StatusOK, map[string]any{"conv": cid, "group": nc.Group, "agent": nc.Agent})
}

// prioJSON is a conversation's priority as the console shows it: the level,
// the customer's words that raised it, and its first-response deadline.
type prioJSON struct {
	Priority string     `json:"priority,omitempty"` // low, normal, high, urgent
	Words    []string   `json:"priority_words,omitempty"`
	Due      *time.Time `json:"due,omitempty"`
}

// slaJSON is a service-level target still to meet.
type slaJSON struct {
	Target string    `json:"target"` // first_response, next_response, resolution
	Due    time.Time `json:"due"`
}

func slaOf(ds []handoff.Deadline) []slaJSON {
	var out []slaJSON
	for _, d := range ds {
		out = append(out, slaJSON{Target: d.Target, Due: d.Due})
	}
	return out
}

func prioOf(l priority.Level, words []string, due time.Time) prioJSON {
	return prioJSON{Priority: l.String(), Words: words, Due: timePtr(due)}
}

// mayChange says whether the agent of s may change conversation cid's
// priority or labels: its holder, an agent of the group it waits in, or a
// supervisor.
func (c *Console) mayChange(ctx context.Context, s *session, cid string) error {
	cv, err := c.deps.Conversations.Load(ctx, cid)
	if err != nil {
		if errors.Is(err, redis.Nil) {
			err = ErrNotHolder
		}
		return notFound(err)
	}
	mine := cv.Agent == s.agent.ID && cv.Mode == bot.ModeAgent
	ofMyGroup := cv.Mode == bot.ModeWaiting && slices.Contains(s.agent.Groups, cv.Group)
	if !mine && !ofMyGroup && !s.supervisor() {
		return fmt.Errorf("%s: %w", cid, ErrNotHolder)
	}
	return nil
}

// setPriority changes a conversation's priority: its holder, an agent of
// the group it waits in, or a supervisor. Body {"priority": "high"}.
func (c *Console) setPriority(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	cid := r.PathValue("id")
	var req struct {
		Priority string `json:"priority"`
	}
	if err := decode(r, &req); err != nil {
		c.fail(w, r, err)
		return
	}
	l, err := priority.Parse(req.Priority)
	if err != nil || l == priority.Unset {
		c.fail(w, r, fmt.Errorf("%w: priority %q: use low, normal, high or urgent", ErrBadRequest, req.Priority))
		return
	}
	if err := c.mayChange(ctx, s, cid); err != nil {
		c.fail(w, r, err)
		return
	}
	ch, err := c.deps.Queue.SetPriority(ctx, cid, l, s.agent.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"conv": cid, "priority": ch.To.String(), "from": ch.From.String(), "changed": ch.Changed})
}

// closeConv ends the conversation, with the agent's wrap-up when the body
// has one ({"label", "resolved"}), and sends the satisfaction survey.
func (c *Console) closeConv(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	var req wrapUpReq
	if err := decode(r, &req); err != nil {
		c.fail(w, r, err)
		return
	}
	if req.Label != "" && !c.wrapUpLabel(req.Label) {
		c.fail(w, r, fmt.Errorf("%w: wrap-up label %q is neither a configured label nor an intent of the FAQ", ErrBadRequest, req.Label))
		return
	}
	cid := r.PathValue("id")
	cl, err := c.claimOf(ctx, s.agent.ID, cid)
	if err == nil {
		err = c.deps.Queue.CloseWithWrapUp(ctx, cl, handoff.WrapUp{Label: req.Label, Resolved: req.Resolved})
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.forget(ctx, s.agent.ID, cid)
	out := map[string]any{"conv": cid, "survey": "none"}
	if c.deps.Surveyor != nil {
		msg, err := c.deps.Surveyor.Survey(ctx, cid)
		if err == nil {
			err = c.deps.Deliver(ctx, msg)
		}
		if err != nil {
			out["survey"] = "failed"
			out["survey_error"] = c.deliveryFailed(ctx, s.agent.ID, cid, "", "survey", err)
		} else {
			out["survey"] = "sent"
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// toBot hands the conversation back to the bot.
func (c *Console) toBot(w http.ResponseWriter, r *http.Request, s *session) {
	if cid, ok := c.release(w, r, s, handoff.ToBot); ok {
		c.tell(r.Context(), s.agent.ID, cid, bot.TellBackToBot, "")
		writeJSON(w, http.StatusOK, map[string]any{"conv": cid})
	}
}

// tell records and delivers a notice to the customer (Deps.Teller); a
// failure is the agent's to see (delivery_failed), the change stands.
func (c *Console) tell(ctx context.Context, aid, cid, what, name string) {
	if c.deps.Teller == nil {
		return
	}
	out, err := c.deps.Teller.Tell(ctx, cid, what, name)
	if err == nil {
		err = c.deps.Deliver(ctx, out)
	}
	if err != nil {
		c.deliveryFailed(ctx, aid, cid, "", "notice", err)
	}
}

// toldTransfer tells the customer of a transfer, and who took it when it
// went to an agent.
func (c *Console) toldTransfer(ctx context.Context, aid, cid, to string) {
	c.tell(ctx, aid, cid, bot.TellTransferred, "")
	if a, ok := c.agents[to]; ok {
		c.tell(ctx, aid, cid, bot.TellJoined, a.Name)
	}
}

// release ends the agent's claim on the conversation in the path (closed, or
// back to the bot) and forgets it; on failure it has answered the request.
func (c *Console) release(w http.ResponseWriter, r *http.Request, s *session, how handoff.End) (string, bool) {
	ctx := r.Context()
	cid := r.PathValue("id")
	cl, err := c.claimOf(ctx, s.agent.ID, cid)
	if err == nil {
		err = c.deps.Queue.Release(ctx, cl, how)
	}
	if err != nil {
		c.fail(w, r, err)
		return cid, false
	}
	c.forget(ctx, s.agent.ID, cid)
	return cid, true
}

// dismiss forgets a lost claim (the page stops showing it).
func (c *Console) dismiss(w http.ResponseWriter, r *http.Request, s *session) {
	c.forget(r.Context(), s.agent.ID, r.PathValue("id"))
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// heldByJSON is a conversation an agent holds and why they got it.
type heldByJSON struct {
	Conv       string              `json:"conv"`
	Assignment *handoff.Assignment `json:"assignment,omitempty"`
}

func heldBy(hs []handoff.HeldBy) []heldByJSON {
	out := []heldByJSON{}
	for _, h := range hs {
		j := heldByJSON{Conv: h.Conv}
		if h.Assignment.Reason != "" {
			j.Assignment = &h.Assignment
		}
		out = append(out, j)
	}
	return out
}

// overview is the supervisors' figures.
func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *session) {
	ov, err := c.deps.Queue.Overview(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	type groupJSON struct {
		Group       string `json:"group"`
		Waiting     int    `json:"waiting"`
		Urgent      int    `json:"urgent"`
		OldestMS    int64  `json:"oldest_ms"`
		Online      int    `json:"online"`
		Slots       int    `json:"slots"`
		Busy        int    `json:"busy"`
		AvgHandleMS int64  `json:"avg_handle_ms"`
	}
	type agentJSON struct {
		ID        string     `json:"id"`
		Name      string     `json:"name"`
		Status    string     `json:"status"`
		Present   bool       `json:"present"`
		Groups    []string   `json:"groups"`
		Max       int        `json:"max"`
		Held      int        `json:"held"`
		Offers    int        `json:"offers"`
		Seen      *time.Time `json:"seen,omitempty"`
		Ratings   int        `json:"ratings"`
		RatingAvg float64    `json:"rating_avg"`
		// Convs are the conversations the agent holds, each with why it
		// came to them (dispatch).
		Convs []heldByJSON `json:"convs"`
	}
	gs, as := []groupJSON{}, []agentJSON{}
	for _, g := range ov.Groups {
		gs = append(gs, groupJSON{Group: g.Group, Waiting: g.Waiting, Urgent: g.Urgent, OldestMS: g.Oldest.Milliseconds(),
			Online: g.Online, Slots: g.Slots, Busy: g.Busy, AvgHandleMS: g.AvgHandle.Milliseconds()})
	}
	for _, a := range ov.Agents {
		as = append(as, agentJSON{ID: a.ID, Name: a.Name, Status: a.Status, Present: a.Present, Groups: nonNil(a.Groups),
			Max: a.Max, Held: a.Held, Offers: a.Offers, Seen: timePtr(a.Seen), Ratings: a.Ratings, RatingAvg: a.RatingAvg,
			Convs: heldBy(a.Convs)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": gs, "agents": as})
}
