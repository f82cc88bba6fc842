package handoff

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/priority"
)

// Waiting is a conversation in a group's queue, for the console's list.
type Waiting struct {
	Conv      string
	Group     string
	Rank      int // 1-based: earliest first-response deadline first
	Channel   string
	User      string
	Reason    string
	Category  string
	Urgent    bool           // Priority is urgent
	Priority  priority.Level // what orders the queue, with Due
	Words     []string       // the customer's words that raised the priority
	PrioBy    string         // who set the priority: "auto" or an agent
	Due       time.Time      // the first-response deadline
	Since     time.Time      // when it was queued
	Waited    time.Duration  // how long it has waited
	OfferedTo string         // the agent it is offered to, if any
	// OfferUntil is when that offer lapses.
	OfferUntil time.Time
	// Extra are the values of the extra conversation-hash fields Head was
	// asked for, in order ("" when missing).
	Extra []string
}

// Waiting lists a group's whole queue in order. The console lists only the
// head (Head): this is for tests and tools.
func (q *Queue) Waiting(ctx context.Context, group string) ([]Waiting, error) {
	ws, _, err := q.Head(ctx, group, -1)
	return ws, err
}

// waitingFields are the conversation-hash fields Head reads for Waiting.
var waitingFields = []string{conv.FieldChannel, conv.FieldUser, conv.FieldReason, conv.FieldCategory,
	conv.FieldEnqueuedMs, conv.FieldOfferAgent, conv.FieldOfferUntil, conv.FieldPrio, conv.FieldPrioWords,
	conv.FieldPrioBy, conv.FieldDueMs}

// Head lists the first limit conversations of a group's queue in order (all
// when limit < 0) and returns the queue's length: one script that reads each
// listed conversation's hash once, so its cost is bounded by limit whatever
// the queue's length. extra names more conversation-hash fields to return in
// Waiting.Extra (the owner of those fields, the caller, names them).
func (q *Queue) Head(ctx context.Context, group string, limit int, extra ...string) ([]Waiting, int, error) {
	if !q.hasGroup(group) {
		return nil, 0, fmt.Errorf("waiting %s: %w", group, ErrUnknownGroup)
	}
	args := make([]any, 0, 2+len(waitingFields)+len(extra))
	args = append(args, q.convKey(""), max(limit, -1))
	for _, f := range waitingFields {
		args = append(args, f)
	}
	for _, f := range extra {
		args = append(args, f)
	}
	v, err := q.run(ctx, "waiting", []string{q.waitKey(group)}, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("waiting %s: %w", group, err)
	}
	r := asSlice(v)
	total := int(asInt(r[0]))
	now := q.now()
	out := make([]Waiting, 0, len(r)-1)
	for i, x := range r[1:] {
		row := asSlice(x)
		h := asStrings(row[2])
		w := Waiting{Conv: asString(row[0]), Group: group, Rank: i + 1, Channel: h[0], User: h[1], Reason: h[2],
			Category: h[3], Priority: LevelOf(h[7]), Words: fields(h[8]), PrioBy: h[9], Due: parseMs(h[10]),
			Since: parseMs(h[4])}
		w.Urgent = w.Priority == priority.Urgent
		if !w.Since.IsZero() {
			w.Waited = now.Sub(w.Since)
		}
		if until := parseMs(h[6]); h[5] != "" && until.After(now) {
			w.OfferedTo, w.OfferUntil = h[5], until
		}
		if len(extra) > 0 {
			w.Extra = h[len(waitingFields):]
		}
		out = append(out, w)
	}
	return out, total, nil
}

// Held is a conversation an agent holds.
type Held struct {
	Claim
	Channel  string
	User     string
	Reason   string
	Urgent   bool
	Priority priority.Level
	Words    []string
	Due      time.Time // the first-response deadline
	// SLA are the service-level targets it still has to meet, earliest
	// first (first or next response, resolution).
	SLA        []Deadline
	Claimed    time.Time
	LeaseUntil time.Time
}

// Held lists the conversations agent aid holds (their claims, to resume a
// console after a reload).
func (q *Queue) Held(ctx context.Context, aid string) ([]Held, error) {
	cids, err := q.rdb.SMembers(ctx, q.key("agent", aid, "convs")).Result()
	if err != nil {
		return nil, fmt.Errorf("held %s: %w", aid, err)
	}
	slices.Sort(cids)
	hs, err := q.hmget(ctx, cids, []string{conv.FieldAgent, conv.FieldEpoch, conv.FieldGroup,
		conv.FieldChannel, conv.FieldUser, conv.FieldReason, conv.FieldPrio, conv.FieldClaimedMs, conv.FieldPrioWords,
		conv.FieldDueMs, conv.FieldMode, conv.FieldEnqueuedMs, conv.FieldRepliedMs, conv.FieldAwaitMs})
	if err != nil {
		return nil, fmt.Errorf("held %s: %w", aid, err)
	}
	leases := make([]*redis.FloatCmd, len(cids))
	_, err = q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, cid := range cids {
			leases[i] = p.ZScore(ctx, q.leasesKey(), cid)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("held %s: %w", aid, err)
	}
	var out []Held
	for i, cid := range cids {
		h := hs[i]
		if h[0] != aid {
			continue // released between the two reads
		}
		e, _ := strconv.ParseInt(h[1], 10, 64)
		x := Held{Claim: Claim{Conv: cid, Agent: aid, Group: h[2], Epoch: e}, Channel: h[3], User: h[4],
			Reason: h[5], Priority: LevelOf(h[6]), Words: fields(h[8]), Due: parseMs(h[9]), Claimed: parseMs(h[7])}
		x.Urgent = x.Priority == priority.Urgent
		x.SLA, _, _ = q.deadlines([]string{h[10], h[6], h[11], h[12], h[13]})
		if exp, err := leases[i].Result(); err == nil {
			x.LeaseUntil = time.UnixMilli(int64(exp))
		}
		out = append(out, x)
	}
	return out, nil
}

// GroupStats is one group in the supervisor's view.
type GroupStats struct {
	Group     string
	Waiting   int
	Urgent    int           // waiting with priority urgent
	Overdue   int           // waiting past their first-response deadline
	Oldest    time.Duration // the longest wait
	Online    int           // agents online (not away)
	Slots     int           // their max chats
	Busy      int           // chats they hold
	AvgHandle time.Duration // over the recent window; 0 without history
}

// AgentStats is one agent in the supervisor's view.
type AgentStats struct {
	ID        string
	Name      string
	Status    string // online, away, offline
	Present   bool   // heartbeat within Config.Presence
	Groups    []string
	Max       int
	Held      int
	Offers    int
	Seen      time.Time
	Ratings   int
	RatingAvg float64
	// Convs are the conversations the agent holds and why each came to
	// them (the supervisors' view of dispatch), by conversation id.
	Convs []HeldBy
}

// HeldBy is a conversation an agent holds and why they got it.
type HeldBy struct {
	Conv       string
	Assignment Assignment
}

// Overview is the supervisor's view of every group and agent.
type Overview struct {
	Groups []GroupStats
	Agents []AgentStats
}

// Overview reads every group's queue and every agent.
func (q *Queue) Overview(ctx context.Context) (Overview, error) {
	var ov Overview
	now := q.now()
	aids, err := q.rdb.SMembers(ctx, q.agentsKey()).Result()
	if err != nil {
		return ov, fmt.Errorf("overview: %w", err)
	}
	slices.Sort(aids)
	type agentCmds struct {
		h      *redis.SliceCmd
		groups *redis.StringSliceCmd
		held   *redis.StringSliceCmd
		offers *redis.IntCmd
	}
	ac := make([]agentCmds, len(aids))
	type groupCmds struct {
		waiting *redis.ZSliceCmd
		handled *redis.StringSliceCmd
	}
	gc := make([]groupCmds, len(q.cfg.Groups))
	_, err = q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, aid := range aids {
			ac[i] = agentCmds{
				h:      p.HMGet(ctx, q.agentKey(aid), "name", "status", "max", "seen", "ratings_n", "ratings_sum"),
				groups: p.SMembers(ctx, q.key("agent", aid, "groups")),
				held:   p.SMembers(ctx, q.key("agent", aid, "convs")),
				offers: p.SCard(ctx, q.key("agent", aid, "offers")),
			}
		}
		for i, g := range q.cfg.Groups {
			gc[i] = groupCmds{
				waiting: p.ZRangeWithScores(ctx, q.waitKey(g), 0, -1),
				handled: p.LRange(ctx, q.groupKey(g, "handled"), 0, -1),
			}
		}
		return nil
	})
	if err != nil {
		return ov, fmt.Errorf("overview: %w", err)
	}
	// Why each held conversation came to its agent: one pipeline.
	var held []string
	for i := range aids {
		held = append(held, ac[i].held.Val()...)
	}
	why, err := q.hmget(ctx, held, []string{conv.FieldAgent, conv.FieldAssignWhy})
	if err != nil {
		return ov, fmt.Errorf("overview: %w", err)
	}
	whyOf := make(map[string][]string, len(held))
	for j, cid := range held {
		whyOf[cid] = why[j]
	}
	for i, aid := range aids {
		h := ac[i].h.Val()
		str := func(j int) string { s, _ := h[j].(string); return s }
		a := AgentStats{ID: aid, Name: str(0), Status: str(1), Seen: parseMs(str(3)),
			Groups: ac[i].groups.Val(), Held: len(ac[i].held.Val()), Offers: int(ac[i].offers.Val())}
		for _, cid := range ac[i].held.Val() {
			if w := whyOf[cid]; w[0] == aid {
				a.Convs = append(a.Convs, HeldBy{Conv: cid, Assignment: ParseAssignment(w[1])})
			}
		}
		slices.SortFunc(a.Convs, func(x, y HeldBy) int { return strings.Compare(x.Conv, y.Conv) })
		slices.Sort(a.Groups)
		a.Max, _ = strconv.Atoi(str(2))
		a.Ratings, _ = strconv.Atoi(str(4))
		if sum, _ := strconv.Atoi(str(5)); a.Ratings > 0 {
			a.RatingAvg = float64(sum) / float64(a.Ratings)
		}
		a.Present = a.Status != "offline" && now.Sub(a.Seen) < q.cfg.Presence
		ov.Agents = append(ov.Agents, a)
	}
	for i, g := range q.cfg.Groups {
		s := GroupStats{Group: g}
		ws := gc[i].waiting.Val()
		s.Waiting = len(ws)
		if len(ws) > 0 {
			// The oldest is not the head (the queue is by deadline).
			cids := make([]string, len(ws))
			for j, z := range ws {
				cids[j], _ = z.Member.(string)
			}
			hs, err := q.hmget(ctx, cids, []string{conv.FieldEnqueuedMs, conv.FieldPrio, conv.FieldDueMs})
			if err != nil {
				return ov, fmt.Errorf("overview: %w", err)
			}
			for _, h := range hs {
				if t := parseMs(h[0]); !t.IsZero() && now.Sub(t) > s.Oldest {
					s.Oldest = now.Sub(t)
				}
				if LevelOf(h[1]) == priority.Urgent {
					s.Urgent++
				}
				if d := parseMs(h[2]); !d.IsZero() && !d.After(now) {
					s.Overdue++
				}
			}
		}
		var sum, n int64
		for _, v := range gc[i].handled.Val() {
			d, _ := strconv.ParseInt(v, 10, 64)
			sum, n = sum+d, n+1
		}
		if n > 0 {
			s.AvgHandle = time.Duration(sum/n) * time.Millisecond
		}
		for _, a := range ov.Agents {
			if a.Present && a.Status == "online" && slices.Contains(a.Groups, g) {
				s.Online++
				s.Slots += a.Max
				s.Busy += min(a.Held, a.Max)
			}
		}
		ov.Groups = append(ov.Groups, s)
	}
	return ov, nil
}

// Event is one entry of an event stream.
type Event struct {
	ID     string // stream id: resume after it
	Type   string // enqueued, claimed, requeued, transferred, released, closed, canceled, offered, declined; agent streams: offer, offer_expired, assigned, transferred, lost, message, rated
	Conv   string
	Group  string
	Agent  string
	Epoch  int64
	At     time.Time
	Fields map[string]string // every field, including the ones above
}

// Events reads up to count events after id after ("" or "0": from the
// start; "$": only new ones) from stream (GroupStream or AgentStream),
// waiting up to block for the first when there are none (0: do not wait).
// A console that reconnects passes the last id it saw.
func (q *Queue) Events(ctx context.Context, stream, after string, count int64, block time.Duration) ([]Event, error) {
	if after == "" {
		after = "0"
	}
	if count <= 0 {
		count = 100
	}
	var msgs []redis.XMessage
	if block > 0 {
		res, err := q.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{stream, after}, Count: count, Block: block}).Result()
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("events %s: %w", stream, err)
		}
		for _, s := range res {
			msgs = append(msgs, s.Messages...)
		}
	} else {
		if after == "$" {
			return nil, nil
		}
		start := "(" + after
		if after == "0" {
			start = "-"
		}
		var err error
		msgs, err = q.rdb.XRangeN(ctx, stream, start, "+", count).Result()
		if err != nil {
			return nil, fmt.Errorf("events %s: %w", stream, err)
		}
	}
	out := make([]Event, len(msgs))
	for i, m := range msgs {
		f := make(map[string]string, len(m.Values))
		for k, v := range m.Values {
			f[k], _ = v.(string)
		}
		e := Event{ID: m.ID, Type: f["type"], Conv: f["conv"], Group: f["group"], Agent: f["agent"], At: parseMs(f["at"]), Fields: f}
		e.Epoch, _ = strconv.ParseInt(f["epoch"], 10, 64)
		out[i] = e
	}
	return out, nil
}

// hmget reads the same fields of many conversations in one pipeline.
func (q *Queue) hmget(ctx context.Context, cids []string, fields []string) ([][]string, error) {
	cmds := make([]*redis.SliceCmd, len(cids))
	if len(cids) > 0 {
		_, err := q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, cid := range cids {
				cmds[i] = p.HMGet(ctx, q.convKey(cid), fields...)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([][]string, len(cids))
	for i, c := range cmds {
		row := make([]string, len(fields))
		for j, v := range c.Val() {
			row[j], _ = v.(string)
		}
		out[i] = row
	}
	return out, nil
}
