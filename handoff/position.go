package handoff

import (
	"context"
	"fmt"
	"time"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/priority"
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
	p, _, err := q.position(ctx, cid, 0)
	return p, err
}

// noticeFiguresAge: how old the group's agent figures (online, slots, busy)
// behind a hand-off's notice may be. At a peak many hand-offs reach one
// group each second; reading every online agent for each was about half of
// Redis's work in `kefu bench peak`. An ETA a second out of date is still
// the right ETA bucket. Position reads them afresh.
const noticeFiguresAge = time.Second

// position runs position.lua; maxAge > 0 lets it use the group's agent
// figures read that recently.
func (q *Queue) position(ctx context.Context, cid string, maxAge time.Duration) (Position, string, error) {
	v, err := q.run(ctx, "position", []string{q.convKey(cid), q.leasesKey()},
		q.cfg.Prefix, cid, q.ms(q.now().Add(-q.cfg.Presence)), maxAge.Milliseconds(), fieldNotice, agentOnline)
	if err != nil {
		return Position{}, "", wrap("position", cid, err)
	}
	r := asSlice(v)
	p := Position{Conv: cid, State: asString(r[0]), Group: asString(r[1]), Urgent: asInt(r[9]) == 1}
	if p.State != StateWaiting {
		p.Online = int(asInt(r[3]))
		return p, asString(r[8]), nil
	}
	q.estimate(&p, asInt(r[2]), groupLoad{online: asInt(r[3]), slots: asInt(r[4]), busy: asInt(r[5]),
		sum: asInt(r[6]), n: asInt(r[7])})
	return p, asString(r[8]), nil
}

// groupLoad is what the ETA needs of a group: its online agents, their chat
// slots and the chats they hold, and the recent handling times (sum and
// count, in ms).
type groupLoad struct{ online, slots, busy, sum, n int64 }

// estimate fills in a waiting conversation's rank (from its 0-based place
// in line), the group's figures and the ETA.
func (q *Queue) estimate(p *Position, rank int64, g groupLoad) {
	p.Rank = int(rank) + 1
	p.Online = int(g.online)
	p.Free = int(max(g.slots-g.busy, 0))
	avg := q.cfg.DefaultHandle
	if g.n > 0 {
		avg = time.Duration(g.sum/g.n) * time.Millisecond
	}
	switch {
	case p.Online == 0 || g.slots == 0:
		p.ETA = -1
	case rank < int64(p.Free):
		p.ETA = 0
	default:
		p.ETA = time.Duration(rank-int64(p.Free)+1) * avg / time.Duration(g.slots)
	}
}

// Notice reports where a waiting conversation stands and whether that
// changed meaningfully since the customer was last told: a new rank bucket
// (1, 2, 3, 4, 5, ≤10, ≤20, ≤50, more), a new ETA bucket (under a minute, 1,
// 2, 3, 5, 10, 15, 20, 30, 45, 60, 90, 120 minutes, longer, unknown), or
// agents coming or going to none. When changed, the new state is recorded as
// told, atomically, so of several instances asking only one hears "changed".
// Not waiting: changed is false.
func (q *Queue) Notice(ctx context.Context, cid string) (Position, bool, error) {
	p, told, err := q.position(ctx, cid, noticeFiguresAge)
	if err != nil || p.State != StateWaiting {
		return p, false, err
	}
	b := bucket(p)
	if b == told {
		return p, false, nil
	}
	v, err := q.run(ctx, "notice", []string{q.convKey(cid)}, b, fieldNotice)
	if err != nil {
		return p, false, wrap("notice", cid, err)
	}
	return p, asInt(v) == 1, nil
}

// Notices finds, in every group, the waiting conversations whose position
// changed meaningfully since their customer was last told (as Notice
// decides), records them as told and returns them: the caller tells those
// customers. One script per group (notices.lua), whatever the queue's
// length. Safe in every instance at once (each change is reported once).
func (q *Queue) Notices(ctx context.Context) ([]Position, error) {
	now := q.now()
	args := []any{q.convKey(""), q.ms(now.Add(-q.cfg.Presence)), q.cfg.DefaultHandle.Milliseconds(),
		fieldNotice, agentOnline, priority.Urgent.String(), rankMore, len(rankSteps)}
	for _, r := range rankSteps {
		args = append(args, r)
	}
	args = append(args, q.agentKey(""), ":convs", "max", "status")
	for _, e := range etaSteps {
		args = append(args, e.Milliseconds())
	}
	var out []Position
	for _, g := range q.cfg.Groups {
		v, err := q.run(ctx, "notices",
			[]string{q.waitKey(g), q.groupKey(g, "online"), q.groupKey(g, "handled")}, args...)
		if err != nil {
			return out, fmt.Errorf("notices %s: %w", g, err)
		}
		r := asSlice(v)
		load := groupLoad{online: asInt(r[0]), slots: asInt(r[1]), busy: asInt(r[2]), sum: asInt(r[3]), n: asInt(r[4])}
		ch := asSlice(r[5])
		for i := 0; i+2 < len(ch); i += 3 {
			p := Position{Conv: asString(ch[i]), State: StateWaiting, Group: g, Urgent: asInt(ch[i+2]) == 1}
			q.estimate(&p, asInt(ch[i+1]), load)
			out = append(out, p)
		}
	}
	return out, nil
}

// fieldNotice is the conversation-hash field holding the bucket last told.
const fieldNotice = conv.FieldNotice

// agentOnline is the status of an agent who takes conversations (the
// others: away, offline).
const agentOnline = "online"

var etaSteps = []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 15 * time.Minute, 20 * time.Minute, 30 * time.Minute, 45 * time.Minute,
	time.Hour, 90 * time.Minute, 2 * time.Hour}

// rankSteps: a rank is told as the first step at or above it, and as
// rankMore beyond the last.
var rankSteps = []int{1, 2, 3, 4, 5, 10, 20, 50}

const rankMore = 100

// bucket is what the customer was told, coarsely: rank and ETA buckets.
// notices.lua computes the same string.
func bucket(p Position) string {
	r := rankMore
	for _, s := range rankSteps {
		if p.Rank <= s {
			r = s
			break
		}
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
