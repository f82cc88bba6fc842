package handoff

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/priority"
)

// due is the first-response deadline of a hand-off at t with priority l.
func (q *Queue) due(t time.Time, l priority.Level) time.Time {
	return q.deadline(t, q.cfg.FirstResponse[l])
}

// Target is the first-response target of a priority.
func (q *Queue) Target(l priority.Level) time.Duration { return q.cfg.FirstResponse[l] }

// PriorityChange is what SetPriority or RaisePriority did.
type PriorityChange struct {
	Changed  bool
	From, To priority.Level
}

// SetPriority sets a waiting or held conversation's priority (an agent's or
// a supervisor's choice, by is their id) and moves it in its queue to its new
// deadline: hand-off time + the level's first-response target. Automatic
// re-reading (RaisePriority) does not override it afterwards. It emits
// priority_changed; setting the level it has changes nothing and emits
// nothing. ErrNotOpen when the conversation is neither waiting nor held.
func (q *Queue) SetPriority(ctx context.Context, cid string, l priority.Level, by string) (PriorityChange, error) {
	if by == "" || by == byAuto {
		return PriorityChange{}, fmt.Errorf("set priority %s: %w: by must name the agent", cid, ErrBadID)
	}
	return q.priority(ctx, cid, l, by, nil, "set")
}

// RaisePriority raises a conversation's priority after a customer message
// was read again (words: what raised it); it never lowers one, and never
// overrides an agent's choice. It emits priority_changed when it raised.
func (q *Queue) RaisePriority(ctx context.Context, cid string, l priority.Level, words []string) (PriorityChange, error) {
	return q.priority(ctx, cid, l, byAuto, words, "raise")
}

// byAuto marks a priority set by kefu itself rather than by an agent.
const byAuto = "auto"

func (q *Queue) priority(ctx context.Context, cid string, l priority.Level, by string, words []string, mode string) (PriorityChange, error) {
	if l < priority.Low || l > priority.Urgent {
		return PriorityChange{}, fmt.Errorf("priority %s: level %v: %w", cid, l, ErrConfig)
	}
	// The deadline counts from the hand-off (read first; the script checks
	// it is still that hand-off, else this reads again).
	var v any
	for try := 0; ; try++ {
		enq, err := q.rdb.HGet(ctx, q.convKey(cid), conv.FieldEnqueuedMs).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return PriorityChange{}, wrap("priority", cid, err)
		}
		due := q.due(q.now(), l)
		if enq != "" {
			due = q.due(parseMs(enq), l)
		}
		v, err = q.run(ctx, "priority", []string{q.convKey(cid)},
			q.cfg.Prefix, cid, l.String(), q.ms(q.now()), by, strings.Join(words, " "), q.ms(due), mode, enq)
		if err != nil && strings.Contains(err.Error(), "RETRY") && try < 3 {
			continue
		}
		if err != nil {
			return PriorityChange{}, wrap("priority", cid, err)
		}
		break
	}
	r := asSlice(v)
	from, _ := priority.Parse(asString(r[1]))
	to, _ := priority.Parse(asString(r[2]))
	return PriorityChange{Changed: asInt(r[0]) == 1, From: from, To: to}, nil
}

// LevelOf reads a priority field as stored ("" and the older "1": normal;
// the older "0": urgent).
func LevelOf(s string) priority.Level {
	switch s {
	case "0":
		return priority.Urgent
	case "", "1":
		return priority.Normal
	}
	l, err := priority.Parse(s)
	if err != nil || l == priority.Unset {
		return priority.Normal
	}
	return l
}

// fields splits stored words; nil when there are none.
func fields(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}
