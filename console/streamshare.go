package console

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kefu-dev/kefu/handoff"
)

// groupReads shares the reads of a group's event stream among the live
// streams of this instance. Every agent of a group follows the same stream
// and, caught up, asks for the same thing: the events after the same id. A
// read is reused by the others for a short while (shareFor), so at a peak
// 200 agents make a few reads per poll instead of 200, and each event is
// encoded once. The cost: an event may reach an agent up to shareFor later.
type groupReads struct {
	mu sync.Mutex
	m  map[string]*groupRead // by stream and after-id
}

// groupRead is one read of a group stream after an id.
type groupRead struct {
	// until is when the read stops being shared (unix ns; 0 while it is
	// being made). Read without mu, by the lookup.
	until atomic.Int64
	mu    sync.Mutex // held while reading; guards what follows
	done  bool       // a read succeeded: evs are shared
	evs   []sharedEvent
}

// stale reports whether the read is made and too old to share, or failed.
func (r *groupRead) stale(now time.Time) bool {
	u := r.until.Load()
	return u != 0 && now.UnixNano() >= u
}

// sharedEvent is an event and its JSON for the live stream.
type sharedEvent struct {
	ev   handoff.Event
	data []byte
}

// read returns the events of stream after id after, encoded as group events:
// a read made less than shareFor ago by another stream, or a new one.
func (g *groupReads) read(ctx context.Context, q *handoff.Queue, stream, after string, shareFor time.Duration) ([]sharedEvent, error) {
	now := time.Now()
	key := stream + "\x00" + after
	g.mu.Lock()
	if g.m == nil {
		g.m = map[string]*groupRead{}
	}
	r, ok := g.m[key]
	if !ok || r.stale(now) {
		r = &groupRead{}
		g.m[key] = r
	}
	if len(g.m) > 1024 { // forget reads too old to share
		for k, x := range g.m {
			if x.stale(now) {
				delete(g.m, k)
			}
		}
	}
	g.mu.Unlock()

	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.done {
		evs, err := q.Events(ctx, stream, after, 100, 0)
		if err != nil {
			// Not shared: the error may be this stream's own (its page went
			// away mid-read); a stream waiting here reads for itself.
			r.until.Store(1)
			return nil, err
		}
		r.done = true
		for _, e := range evs {
			b, _ := json.Marshal(eventJSON{Stream: "group", ID: e.ID, Type: e.Type, Conv: e.Conv, Group: e.Group,
				Agent: e.Agent, Epoch: e.Epoch, At: timePtr(e.At), Fields: e.Fields})
			r.evs = append(r.evs, sharedEvent{ev: e, data: b})
		}
		r.until.Store(time.Now().Add(shareFor).UnixNano())
	}
	return r.evs, nil
}
