package console

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/bot"
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
}

// headMaxAge is how long an entry may be reused without a new event.
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

// groupHead is one group of the queue view.
type groupHead struct {
	group string
	ws    []handoff.Waiting
	total int
}

// queueHeads returns the head of each group's queue (Config.QueueView
// conversations with the customer's last message) and its length: one
// round trip for the groups' last event ids, then one script per group whose
// entry is stale.
func (c *Console) queueHeads(ctx context.Context, groups []string) ([]groupHead, error) {
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
	out := make([]groupHead, len(groups))
	for i, g := range groups {
		id := ""
		if xs := last[i].Val(); len(xs) == 1 {
			id = xs[0].ID
		}
		e := c.heads.entry(g)
		e.mu.Lock()
		if !e.ok || e.last != id || c.deps.Now().Sub(e.read) >= headMaxAge {
			ws, total, err := c.deps.Queue.Head(ctx, g, c.cfg.QueueView, bot.FieldLastIn, bot.FieldLastInAt)
			if err != nil {
				e.mu.Unlock()
				return nil, err
			}
			e.ws, e.total, e.last, e.read, e.ok = ws, total, id, c.deps.Now(), true
		}
		out[i] = groupHead{group: g, ws: e.ws, total: e.total}
		e.mu.Unlock()
	}
	return out, nil
}
