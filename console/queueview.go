package console

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/handoff"
)

// heads shares each group's queue head among the agents signed in to this
// instance. Every agent's page reloads its queue view after every event of
// its groups, so at a peak 200 agents would read the same head 200 times per
// event. An entry is reused while its group's event stream has no newer
// event: every change to a queue (enqueue, claim, requeue, transfer, cancel,
// offer, decline, a waiting customer's message) writes one in the same
// script as the change. headMaxAge bounds the reuse anyway. One request per
// group refreshes an entry; the others wait for it and share the result.
type heads struct {
	mu     sync.Mutex
	groups map[string]*headEntry
}

type headEntry struct {
	mu    sync.Mutex // held while refreshing
	last  string     // the group stream's last event id when read ("" none)
	read  time.Time
	ok    bool
	ws    []handoff.Waiting // read-only once stored
	total int
	// The group's part of the view, encoded at jsonAt; good until jsonUntil
	// (a second later, waited_ms's precision, or when an offer lapses).
	json              []byte
	jsonAt, jsonUntil time.Time
}

// headMaxAge is how long an entry may be reused without a new event.
// Encoded, an entry is reused for a second at most (renderGroup).
const headMaxAge = 2 * time.Second

func (h *heads) entry(g string) *headEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.groups == nil {
		h.groups = map[string]*headEntry{}
	}
	e, ok := h.groups[g]
	if !ok {
		e = &headEntry{}
		h.groups[g] = e
	}
	return e
}

// queueGroups returns each group's part of the queue view, encoded: the
// head of its queue (Config.QueueView conversations with the customer's
// last message) and its length. One round trip reads the groups' last event
// ids; a group whose entry is stale costs one script.
func (c *Console) queueGroups(ctx context.Context, groups []string) ([][]byte, error) {
	last := make([]*redis.XMessageSliceCmd, len(groups))
	_, err := c.deps.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, g := range groups {
			last[i] = p.XRevRangeN(ctx, c.deps.Queue.GroupStream(g), "+", "-", 1)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue view: %w", err)
	}
	out := make([][]byte, len(groups))
	for i, g := range groups {
		id := ""
		if xs := last[i].Val(); len(xs) == 1 {
			id = xs[0].ID
		}
		e := c.heads.entry(g)
		e.mu.Lock()
		now := c.deps.Now()
		if !e.ok || e.last != id || now.Sub(e.read) >= headMaxAge || now.Before(e.read) {
			ws, total, err := c.deps.Queue.Head(ctx, g, c.cfg.QueueView, bot.FieldLastIn, bot.FieldLastInAt,
				conv.FieldCustomerName, conv.FieldCustomerID, conv.FieldCustomerNick)
			if err != nil {
				e.mu.Unlock()
				return nil, err
			}
			e.ws, e.total, e.last, e.read, e.ok, e.json = ws, total, id, now, true, nil
		}
		if e.json == nil || !now.Before(e.jsonUntil) || now.Before(e.jsonAt) {
			e.json, e.jsonAt, e.jsonUntil = renderGroup(g, e.ws, e.total, now)
		}
		out[i] = e.json
		e.mu.Unlock()
	}
	return out, nil
}

// renderGroup encodes one group of the queue view at now, and says until
// when that encoding holds.
func renderGroup(g string, ws []handoff.Waiting, total int, now time.Time) ([]byte, time.Time, time.Time) {
	type groupJSON struct {
		Group   string        `json:"group"`
		Total   int           `json:"total"` // waiting in all; the list has the first ones
		Waiting []waitingJSON `json:"waiting"`
	}
	until := now.Add(time.Second)
	gj := groupJSON{Group: g, Total: total, Waiting: make([]waitingJSON, 0, len(ws))}
	for _, x := range ws {
		wj := waitingJSON{Conv: x.Conv, Group: x.Group, Rank: x.Rank, Channel: x.Channel, User: x.User,
			Reason: x.Reason, Category: x.Category, Urgent: x.Urgent, prioJSON: prioOf(x.Priority, x.Words, x.Due),
			Since: x.Since, Preview: x.Extra[0],
			CustomerName: x.Extra[2], CustomerID: x.Extra[3], CustomerNick: x.Extra[4]}
		if !x.Since.IsZero() {
			wj.WaitedMS = now.Sub(x.Since).Milliseconds()
		}
		if x.OfferUntil.After(now) {
			wj.OfferedTo = x.OfferedTo
			if x.OfferUntil.Before(until) {
				until = x.OfferUntil
			}
		}
		if ms, err := strconv.ParseInt(x.Extra[1], 10, 64); err == nil {
			wj.LastAt = timePtr(time.UnixMilli(ms))
		}
		gj.Waiting = append(gj.Waiting, wj)
	}
	b, _ := json.Marshal(gj)
	return b, now, until
}
