package handoff

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Calendar counts time within business hours (Hours: days, open and close,
// holidays, zone), by the same rules the queue's business-hours SLA
// deadlines use. Reports use it for their business-hours figures.
type Calendar struct {
	p    hours
	desc string
}

// NewCalendar parses h (ErrConfig on a bad zone, time or date).
func NewCalendar(h Hours) (*Calendar, error) {
	p, err := h.parse()
	if err != nil {
		return nil, err
	}
	days := make([]string, 0, 7)
	for d := time.Sunday; d <= time.Saturday; d++ {
		if p.days[d] {
			days = append(days, d.String()[:3])
		}
	}
	hol := slices.Sorted(func(yield func(string) bool) {
		for d := range p.holidays {
			if !yield(d) {
				return
			}
		}
	})
	open, closing := fmt.Sprintf("%02d:%02d", p.open/60, p.open%60), fmt.Sprintf("%02d:%02d", p.close/60, p.close%60)
	if p.allDay {
		open, closing = "", ""
	}
	return &Calendar{p: p, desc: fmt.Sprintf("%s %s %s-%s hol=%s", p.loc, strings.Join(days, ","), open, closing,
		strings.Join(hol, ","))}, nil
}

// AlwaysOpen reports whether every moment is within business hours (no
// hours, days or holidays configured): business time is calendar time.
func (c *Calendar) AlwaysOpen() bool {
	if !c.p.allDay || len(c.p.holidays) > 0 {
		return false
	}
	for _, open := range c.p.days {
		if !open {
			return false
		}
	}
	return true
}

// String names the business hours (the same string for the same hours).
func (c *Calendar) String() string { return c.desc }

// Open reports whether t is within business hours.
func (c *Calendar) Open(t time.Time) bool { return c.p.openAt(t) }

// Between is how much of [a, b) falls within business hours (0 when b is
// not after a).
func (c *Calendar) Between(a, b time.Time) time.Duration {
	var d time.Duration
	t := a
	for t.Before(b) {
		if !c.p.openAt(t) {
			next, ok := c.p.nextOpen(t)
			if !ok || !next.Before(b) {
				break
			}
			t = next
		}
		end := c.p.windowEnd(t)
		if !end.After(t) { // cannot happen with a parsed window; never loop
			break
		}
		if end.After(b) {
			end = b
		}
		d += end.Sub(t)
		t = end
	}
	return d
}
