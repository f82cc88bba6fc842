package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// consoleStream is the console's own event stream for one agent
// (delivery_failed), next to the queue's agent stream.
func (c *Console) consoleStream(aid string) string {
	return c.cfg.KeyPrefix + "agent:" + aid + ":events"
}

// emit writes an event to the agent's console stream.
func (c *Console) emit(ctx context.Context, aid string, fields map[string]any) {
	err := c.deps.Redis.XAdd(ctx, &redis.XAddArgs{Stream: c.consoleStream(aid), MaxLen: 1000, Approx: true,
		Values: fields}).Err()
	if err != nil {
		c.log.WarnContext(ctx, "console: emit event", "agent", aid, "err", err)
	}
}

// eventJSON is one live event. Stream is "group" (a queue: enqueued,
// claimed, requeued, transferred, released, closed, canceled, offered,
// declined, message while waiting), "agent" (the queue's events for this
// agent: assigned, transferred, lost, message, offer, offer_expired, rated)
// or "console" (delivery_failed).
type eventJSON struct {
	Stream string            `json:"stream"`
	ID     string            `json:"id"`
	Type   string            `json:"type"`
	Conv   string            `json:"conv,omitempty"`
	Group  string            `json:"group,omitempty"`
	Agent  string            `json:"agent,omitempty"`
	Epoch  int64             `json:"epoch,omitempty"`
	At     *time.Time        `json:"at,omitempty"`
	Fields map[string]string `json:"fields"`
}

// streams are the event streams a session follows, by cursor key: "a" the
// queue's agent stream, "c" the console's, "g:<group>" each visible group.
func (c *Console) streams(s *session) map[string]string {
	m := map[string]string{
		"a": c.deps.Queue.AgentStream(s.agent.ID),
		"c": c.consoleStream(s.agent.ID),
	}
	for _, g := range c.visibleGroups(s) {
		m["g:"+g] = c.deps.Queue.GroupStream(g)
	}
	return m
}

// parseCursor reads an event id: the last stream id seen per stream, as a
// query string ("a=1700-0&c=0-0&g%3Apre_sales=1700-3").
func parseCursor(s string) map[string]string {
	cur := map[string]string{}
	v, err := url.ParseQuery(s)
	if err != nil {
		return cur
	}
	for k := range v {
		if id := v.Get(k); validStreamID(id) {
			cur[k] = id
		}
	}
	return cur
}

func encodeCursor(cur map[string]string) string {
	v := url.Values{}
	for k, id := range cur {
		v.Set(k, id)
	}
	return v.Encode()
}

// cursorWriter encodes a live stream's cursor as encodeCursor does, for a
// fixed set of keys (sorted, escaped once): it runs for every event sent.
type cursorWriter struct {
	keys    []string // sorted
	escaped []string // url.QueryEscape of each key
}

func newCursorWriter(keys []string) cursorWriter {
	w := cursorWriter{keys: keys}
	for _, k := range keys {
		w.escaped = append(w.escaped, url.QueryEscape(k))
	}
	return w
}

// appendTo appends the cursor (stream ids need no escaping: digits and -).
func (w cursorWriter) appendTo(b []byte, cur map[string]string) []byte {
	for i, k := range w.keys {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, w.escaped[i]...)
		b = append(b, '=')
		b = append(b, cur[k]...)
	}
	return b
}

// compareIDs orders stream ids.
func compareIDs(a, b string) int {
	pa, sa, _ := strings.Cut(a, "-")
	pb, sb, _ := strings.Cut(b, "-")
	ma, _ := strconv.ParseUint(pa, 10, 64)
	mb, _ := strconv.ParseUint(pb, 10, 64)
	if ma != mb {
		if ma < mb {
			return -1
		}
		return 1
	}
	x, _ := strconv.ParseUint(sa, 10, 64)
	y, _ := strconv.ParseUint(sb, 10, 64)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// events is the live stream (Server-Sent Events). Each event's id is a
// cursor over every stream the agent follows; a reconnect sends it back
// (Last-Event-ID, or ?after= for clients that cannot set headers) and
// resumes exactly after it. Without one it starts from now. The first event
// is always "ready" (reload the lists then); "signed_out" ends the stream
// when the session is gone.
// streamWriteTimeout: an event stream whose client reads nothing for this
// long (its TCP window full) is closed; the page reconnects and resumes.
const streamWriteTimeout = 30 * time.Second

func (c *Console) events(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	streams := c.streams(s)
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("after")
	}
	cur := parseCursor(last)
	for k, st := range streams {
		if cur[k] != "" {
			continue
		}
		xs, err := c.deps.Redis.XRevRangeN(ctx, st, "+", "-", 1).Result()
		if err != nil {
			c.fail(w, r, fmt.Errorf("events: %w", err))
			return
		}
		cur[k] = "0-0"
		if len(xs) == 1 {
			cur[k] = xs[0].ID
		}
	}
	for k := range cur {
		if _, ok := streams[k]; !ok {
			delete(cur, k)
		}
	}
	rc := http.NewResponseController(w)
	// A live stream outlives the server's timeouts (net/http lifts the read
	// deadline once a request's body is read). It is bounded its own way:
	// every write has streamWriteTimeout, the session is re-checked every
	// 10 polls, and Close ends it.
	_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(id string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if id != "" {
			if _, err := fmt.Fprintf(w, "id: %s\n", id); err != nil {
				return err
			}
		}
		_, err = fmt.Fprintf(w, "data: %s\n\n", b)
		return err
	}
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	if err := write(encodeCursor(cur), map[string]string{"type": "ready"}); err != nil || rc.Flush() != nil {
		return
	}
	keys := make([]string, 0, len(streams))
	for k := range streams {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	cw := newCursorWriter(keys)
	var buf []byte
	tick := time.NewTicker(c.cfg.Poll)
	defer tick.Stop()
	lastWrite := time.Now()
	for polls := 1; ; polls++ {
		type keyed struct {
			key  string
			id   string
			data []byte // the event's JSON
		}
		var batch []keyed
		for _, k := range keys {
			if strings.HasPrefix(k, "g:") {
				// The group's stream: shared with the other agents here.
				evs, err := c.groupReads.read(ctx, c.deps.Queue, streams[k], cur[k], c.cfg.Poll/2)
				if err != nil {
					if ctx.Err() == nil {
						c.log.WarnContext(ctx, "console: events", "agent", s.agent.ID, "err", err)
					}
					return
				}
				for _, e := range evs {
					batch = append(batch, keyed{k, e.ev.ID, e.data})
				}
				continue
			}
			evs, err := c.deps.Queue.Events(ctx, streams[k], cur[k], 100, 0)
			if err != nil {
				if ctx.Err() == nil {
					c.log.WarnContext(ctx, "console: events", "agent", s.agent.ID, "err", err)
				}
				return
			}
			kind := "agent"
			if k == "c" {
				kind = "console"
			}
			for _, e := range evs {
				b, err := json.Marshal(eventJSON{Stream: kind, ID: e.ID, Type: e.Type, Conv: e.Conv,
					Group: e.Group, Agent: e.Agent, Epoch: e.Epoch, At: timePtr(e.At), Fields: e.Fields})
				if err != nil {
					return
				}
				batch = append(batch, keyed{k, e.ID, b})
			}
		}
		slices.SortStableFunc(batch, func(a, b keyed) int { return compareIDs(a.id, b.id) })
		for _, x := range batch {
			cur[x.key] = x.id
			buf = append(buf[:0], "id: "...)
			buf = cw.appendTo(buf, cur)
			buf = append(buf, "\ndata: "...)
			buf = append(buf, x.data...)
			buf = append(buf, "\n\n"...)
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if len(batch) > 0 {
			if rc.Flush() != nil {
				return
			}
			lastWrite = time.Now()
		}
		if time.Since(lastWrite) > 15*time.Second {
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
				return
			}
			lastWrite = time.Now()
		}
		if polls%10 == 0 { // is the session still there?
			if n, err := c.deps.Redis.Exists(ctx, s.key).Result(); err == nil && n == 0 {
				_ = write("", map[string]string{"type": "signed_out"})
				_ = rc.Flush()
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-tick.C:
		}
	}
}
