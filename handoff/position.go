package handoff

import (
	"context"
	"fmt"
	"time"
)

// Position is where a conversation stands, for the customer waiting.
type Position struct {
	Conv   string
	State  string // StateWaiting, StateHeld or StateNone
	Group  string
	Urgent bool
	// Rank is the 1-based place in the group's queue, urgent lane first
	// (0 when not waiting).
	Rank int
	// Online is the number of agents online (not away) in the group; 0
	// means nobody is there to answer now.
	Online int
	// Free is the number of free chat slots among them.
	Free int
	// ETA is the estimated wait, from the group's recent handling times and
	// online capacity; -1 when no agent is online.
	ETA time.Duration
	// New is set by Enqueue when that call queued the conversation.
	New bool
}

// Position reports where a conversation stands and its estimated wait.
// The estimate: with S chat slots online, F of them free, and an average
// handling time H over the group's last Config.HandleWindow chats (or
// Config.DefaultHandle before there is history), the k-th in line (k from 0)
// waits 0 when k < F, else (k-F+1)·H/S.
func (q *Queue) Position(ctx context.Context, cid string) (Position, error) {
	p, _, err := q.position(ctx, cid)
	return p, err
}

func (q *Queue) position(ctx context.Context, cid string) (Position, string, error) {
	v, err := q.run(ctx, "position", []string{q.convKey(cid), q.leasesKey()},
		q.cfg.Prefix, cid, q.ms(q.now().Add(-q.cfg.Presence)))
	if err != nil {
		return Position{}, "", wrap("position", cid, err)
	}
	r := asSlice(v)
	p := Position{Conv: cid, State: asString(r[0]), Group: asString(r[1]), Online: int(asInt(r[3])),
		Urgent: asInt(r[9]) == 1}
	rank, slots, busy := asInt(r[2]), asInt(r[4]), asInt(r[5])
	sum, n := asInt(r[6]), asInt(r[7])
	if p.State != StateWaiting {
		return p, asString(r[8]), nil
	}
	p.Rank = int(rank) + 1
	p.Free = int(max(slots-busy, 0))
	avg := q.cfg.DefaultHandle
	if n > 0 {
		avg = time.Duration(sum/n) * time.Millisecond
	}
	switch {
	case p.Online == 0 || slots == 0:
		p.ETA = -1
	case rank < int64(p.Free):
		p.ETA = 0
	default:
		p.ETA = time.Duration(rank-int64(p.Free)+1) * avg / time.Duration(slots)
	}
	return p, asString(r[8]), nil
}

// Notice reports where a waiting conversation stands and whether that
// changed meaningfully since the customer was last told: a new rank bucket
// (1, 2, 3, 4, 5, ≤10, ≤20, ≤50, more), a new ETA bucket (under a minute, 1,
// 2, 3, 5, 10, 15, 20, 30, 45, 60, 90, 120 minutes, longer, unknown), or
// agents coming or going to none. When changed, the new state is recorded as
// told, atomically, so of several instances asking only one hears "changed".
// Not waiting: changed is false.
func (q *Queue) Notice(ctx context.Context, cid string) (Position, bool, error) {
	p, told, err := q.position(ctx, cid)
	if err != nil || p.State != StateWaiting {
		return p, false, err
	}
	b := bucket(p)
	if b == told {
		return p, false, nil
	}
	v, err := q.run(ctx, "notice", []string{q.convKey(cid)}, b)
	if err != nil {
		return p, false, wrap("notice", cid, err)
	}
	return p, asInt(v) == 1, nil
}

// Notices runs Notice over every waiting conversation of every group and
// returns the positions that changed meaningfully: the caller tells those
// customers. Safe in every instance at once (each change is reported once).
func (q *Queue) Notices(ctx context.Context) ([]Position, error) {
	var out []Position
	for _, g := range q.cfg.Groups {
		cids, err := q.rdb.ZRange(ctx, q.waitKey(g), 0, -1).Result()
		if err != nil {
			return out, fmt.Errorf("notices %s: %w", g, err)
		}
		for _, cid := range cids {
			p, changed, err := q.Notice(ctx, cid)
			if err != nil {
				return out, err
			}
			if changed {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

var etaSteps = []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 15 * time.Minute, 20 * time.Minute, 30 * time.Minute, 45 * time.Minute,
	time.Hour, 90 * time.Minute, 2 * time.Hour}

// bucket is what the customer was told, coarsely: rank and ETA buckets.
func bucket(p Position) string {
	r := p.Rank
	switch {
	case r <= 5:
	case r <= 10:
		r = 10
	case r <= 20:
		r = 20
	case r <= 50:
		r = 50
	default:
		r = 100
	}
	e := -1
	if p.ETA >= 0 {
		e = len(etaSteps)
		for i, s := range etaSteps {
			if p.ETA < s {
				e = i
				break
			}
		}
	}
	return fmt.Sprintf("%d|%d", r, e)
}
