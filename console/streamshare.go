package console

import (
	"context"
	"encoding/json"
	"sync"
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
	mu   sync.Mutex // held while reading
	done bool
	at   time.Time
	evs  []sharedEvent
	err  error
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
	if !ok || (r.done && now.Sub(r.at) >= shareFor) {
		r = &groupRead{}
		g.m[key] = r
	}
	if len(g.m) > 1024 { // forget reads too old to share
		for k, x := range g.m {
			if x != r && x.done && now.Sub(x.at) >= shareFor {
				delete(g.m, k)
			}
		}
	}
	g.mu.Unlock()

	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.done {
		evs, err := q.Events(ctx, stream, after, 100, 0)
		r.done, r.at, r.err = true, time.Now(), err
		for _, e := range evs {
			b, _ := json.Marshal(eventJSON{Stream: "group", ID: e.ID, Type: e.Type, Conv: e.Conv, Group: e.Group,
				Agent: e.Agent, Epoch: e.Epoch, At: timePtr(e.At), Fields: e.Fields})
			r.evs = append(r.evs, sharedEvent{ev: e, data: b})
		}
		if err != nil {
			r.at = time.Time{} // never shared
		}
	}
	return r.evs, r.err
}
