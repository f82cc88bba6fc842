package handoff

import (
	"context"
	"fmt"
	"time"

	"github.com/kefu-dev/kefu/conv"
)

// The service-level targets, as sla_breached's target and Deadline.Target
// name them.
const (
	TargetFirstResponse = "first_response" // hand-off to the first agent message
	TargetNextResponse  = "next_response"  // held: a customer message to the agent's next message
	TargetResolution    = "resolution"     // hand-off to close
)

// Deadline is a service-level target a conversation must still meet.
type Deadline struct {
	Target string
	Due    time.Time
}

// deadline is start + d, in business hours when the SLA counts them
// (Config.SLABusinessHours), else in calendar time.
func (q *Queue) deadline(start time.Time, d time.Duration) time.Time {
	if !q.cfg.SLABusinessHours {
		return start.Add(d)
	}
	return q.hours.addOpen(start, d)
}

// addOpen is t plus d of business hours.
func (p hours) addOpen(t time.Time, d time.Duration) time.Time {
	for i := 0; d > 0 && i < 800; i++ {
		if !p.openAt(t) {
			next, ok := p.nextOpen(t)
			if !ok {
				return t.Add(d) // never open again: calendar time
			}
			t = next
		}
		end := p.windowEnd(t)
		if left := end.Sub(t); left >= d {
			return t.Add(d)
		} else {
			d -= left
			t = end
		}
	}
	return t.Add(d)
}

// nextOpen is the first moment at or after t within business hours.
func (p hours) nextOpen(t time.Time) (time.Time, bool) {
	if p.openAt(t) {
		return t, true
	}
	lt := t.In(p.loc)
	for i := 0; i <= 366; i++ {
		c := time.Date(lt.Year(), lt.Month(), lt.Day()+i, p.open/60, p.open%60, 0, 0, p.loc)
		if !c.Before(t) && p.openAt(c) {
			return c, true
		}
	}
	return time.Time{}, false
}

// windowEnd is when the business-hours window open at t closes (the end of
// the day for an all-day window).
func (p hours) windowEnd(t time.Time) time.Time {
	lt := t.In(p.loc)
	// Wall-clock times (time.Date), not durations after midnight: a day
	// with a daylight-saving change is 23 or 25 hours long.
	at := func(days, minutes int) time.Time {
		return time.Date(lt.Year(), lt.Month(), lt.Day()+days, minutes/60, minutes%60, 0, 0, p.loc)
	}
	switch m := lt.Hour()*60 + lt.Minute(); {
	case p.allDay:
		return at(1, 0)
	case p.open < p.close:
		return at(0, p.close)
	case m >= p.open: // overnight, opened today
		return at(1, p.close)
	default: // overnight, opened yesterday
		return at(0, p.close)
	}
}

// slaFields are what Deadlines reads of a conversation.
var slaFields = []string{conv.FieldMode, conv.FieldPrio, conv.FieldEnqueuedMs, conv.FieldRepliedMs,
	conv.FieldAwaitMs, conv.FieldSLABreached}

// deadlines are the targets a conversation (its slaFields values) still has
// to meet, earliest first, with enq_ms and await_ms as read.
func (q *Queue) deadlines(h []string) (ds []Deadline, enq, await string) {
	mode, lvl, enq, replied, await := h[0], LevelOf(h[1]), h[2], h[3], h[4]
	if mode != conv.ModeWaiting && mode != conv.ModeAgent || enq == "" {
		return nil, enq, await
	}
	start := parseMs(enq)
	if replied == "" {
		ds = append(ds, Deadline{TargetFirstResponse, q.deadline(start, q.cfg.FirstResponse[lvl])})
	} else if await != "" && mode == conv.ModeAgent {
		ds = append(ds, Deadline{TargetNextResponse, q.deadline(parseMs(await), q.cfg.NextResponse[lvl])})
	}
	ds = append(ds, Deadline{TargetResolution, q.deadline(start, q.cfg.Resolution[lvl])})
	if len(ds) == 2 && ds[1].Due.Before(ds[0].Due) {
		ds[0], ds[1] = ds[1], ds[0]
	}
	return ds, enq, await
}

// Deadlines are the service-level targets a waiting or held conversation
// still has to meet, earliest first (none when it is neither).
func (q *Queue) Deadlines(ctx context.Context, cid string) ([]Deadline, error) {
	hs, err := q.hmget(ctx, []string{cid}, slaFields)
	if err != nil {
		return nil, fmt.Errorf("deadlines %s: %w", cid, err)
	}
	ds, _, _ := q.deadlines(hs[0])
	return ds, nil
}

// SLASweep records every service-level breach of the open conversations
// (waiting or held) that passed a deadline, each exactly once however many
// instances sweep at once (breach.lua checks and marks atomically), and
// returns how many it recorded. Its cost is one HMGET per open
// conversation (pipelined) plus one script per breach.
func (q *Queue) SLASweep(ctx context.Context) (int, error) {
	now := q.now()
	n := 0
	var cursor uint64
	for {
		cids, next, err := q.rdb.SScan(ctx, q.openKey(), cursor, "", 500).Result()
		if err != nil {
			return n, fmt.Errorf("sla sweep: %w", err)
		}
		hs, err := q.hmget(ctx, cids, slaFields)
		if err != nil {
			return n, fmt.Errorf("sla sweep: %w", err)
		}
		for i, cid := range cids {
			ds, enq, await := q.deadlines(hs[i])
			for _, d := range ds {
				if !now.After(d.Due) {
					continue // due, not yet missed
				}
				v, err := q.run(ctx, "breach", []string{q.convKey(cid)}, q.cfg.Prefix, cid, d.Target,
					q.ms(d.Due), q.ms(now), q.cfg.EventsMax, enq, await)
				if err != nil {
					return n, wrap("sla breach", cid, err)
				}
				if asInt(v) == 1 {
					n++
					q.log.InfoContext(ctx, "sla breached", "conv", cid, "target", d.Target, "due", d.Due)
				}
			}
		}
		if cursor = next; cursor == 0 {
			return n, nil
		}
	}
}
