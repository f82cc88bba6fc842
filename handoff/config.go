package handoff

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // business hours in any zone, also on hosts without zoneinfo

	"github.com/kefu-dev/kefu/priority"
)

// Config is the queue's configuration. Zero values take the defaults noted.
type Config struct {
	// Prefix of every key. Default "{kefu}:", the bot's: one hash tag, so a
	// Redis Cluster keeps every key in one slot and the scripts can touch them
	// together.
	Prefix string
	// Groups are the skill groups (pre_sales, after_sales, payments…).
	// Default: just DefaultGroup.
	Groups []string
	// Categories maps an intent category to its group; others go to
	// DefaultGroup.
	Categories map[string]string
	// DefaultGroup takes every category not mapped. Default: the first group,
	// or "general".
	DefaultGroup string
	// Lease is how long a claim lives without a heartbeat. Default 30 s.
	Lease time.Duration
	// Presence is how long an agent counts as online after a heartbeat.
	// Default: Lease.
	Presence time.Duration
	// OfferTimeout is how long an auto-assigned offer waits for the agent to
	// accept before it goes to the next agent. Default 30 s.
	OfferTimeout time.Duration
	// HandleWindow is how many recent handling times per group the ETA
	// averages. Default 50.
	HandleWindow int
	// DefaultHandle is the handling time assumed before a group has history.
	// Default 5 min.
	DefaultHandle time.Duration
	// EventsMax caps each event stream (MAXLEN ~). Default 10000.
	EventsMax int64
	// DedupeTTL is how long an agent message id is remembered. Default 72 h.
	DedupeTTL time.Duration
	// SurveyWindow is how long after a close a rating is accepted. Default 24 h.
	SurveyWindow time.Duration
	// ReapBatch is how many expired leases one reap handles. Default 500.
	ReapBatch int
	// OfferScan is how many waiting conversations per group one offers run
	// looks at beyond those already offered. Default 100.
	OfferScan int
	// Hours are the business hours; the zero value means always open.
	Hours Hours
	// FirstResponse is the first-response target of each priority. A
	// conversation's place in its group's queue is its deadline: the hand-off
	// plus its priority's target, so a low-priority one moves up as it waits
	// and passes a later urgent one exactly when its deadline comes first.
	// Missing levels take the defaults: urgent 1 min, high 3 min, normal
	// 10 min, low 30 min.
	FirstResponse map[priority.Level]time.Duration
	// NextResponse: once an agent holds it, a customer message waits at
	// most this long for the agent's next message. Missing levels: urgent
	// 1 min, high 2 min, normal 3 min, low 10 min.
	NextResponse map[priority.Level]time.Duration
	// Resolution: hand-off to close. Missing levels: urgent 30 min, high
	// 1 h, normal 2 h, low 8 h.
	Resolution map[priority.Level]time.Duration
	// SLABusinessHours: the targets count business hours (Hours) only;
	// false: calendar time.
	SLABusinessHours bool
	// Dispatch are auto-assignment's options beyond least-busy (Offers):
	// the zero value is the plain least-busy rule.
	Dispatch Dispatch
}

// Dispatch are the options of auto-assignment (Offers). The zero value is
// the least-busy rule: the offer goes to the online agent of the group with
// the fewest conversations and offers, then the one longest without a
// claim, then by id.
type Dispatch struct {
	// ReturningWindow: a customer whose last conversation an agent released
	// (closed or handed back) within this long is offered first to that
	// agent, when they are online (not busy or away), in the group and have
	// a free slot; otherwise the rule below. 0: off.
	ReturningWindow time.Duration
	// Weights of an agent's recent performance (SetPerformance), in chats:
	// an agent counts Σ weight × score fewer conversations when the least
	// busy is chosen, each score 0-1 (CSAT: (mean-1)/4; first response:
	// 1/(1+p50/60s); resolution: the first-contact resolution rate; 0.5
	// for a figure the agent has none of). All zero: exactly least-busy.
	CSAT, FirstResponse, Resolution float64
}

// Weighted reports whether performance counts.
func (d Dispatch) Weighted() bool { return d.CSAT > 0 || d.FirstResponse > 0 || d.Resolution > 0 }

// The default targets, used for the levels the Config leaves out.
var (
	DefaultFirstResponse = map[priority.Level]time.Duration{
		priority.Urgent: time.Minute, priority.High: 3 * time.Minute,
		priority.Normal: 10 * time.Minute, priority.Low: 30 * time.Minute,
	}
	DefaultNextResponse = map[priority.Level]time.Duration{
		priority.Urgent: time.Minute, priority.High: 2 * time.Minute,
		priority.Normal: 3 * time.Minute, priority.Low: 10 * time.Minute,
	}
	DefaultResolution = map[priority.Level]time.Duration{
		priority.Urgent: 30 * time.Minute, priority.High: time.Hour,
		priority.Normal: 2 * time.Hour, priority.Low: 8 * time.Hour,
	}
)

// Hours are business hours: agents are expected on the given days between
// Open and Close (local to Timezone), except on holidays.
type Hours struct {
	Timezone string         // IANA zone, e.g. "Asia/Shanghai"; default UTC
	Days     []time.Weekday // default: every day
	Open     string         // "09:00"; Open and Close empty: all day
	Close    string         // "21:00"; before Open means past midnight
	Holidays []string       // "2025-10-01" dates, in Timezone
}

// hours is Hours parsed.
type hours struct {
	loc         *time.Location
	days        [7]bool
	open, close int // minutes after midnight
	allDay      bool
	holidays    map[string]bool
}

func (c *Config) withDefaults() error {
	var errs []error
	if c.Prefix == "" {
		c.Prefix = "{kefu}:"
	}
	if c.DefaultGroup == "" {
		if len(c.Groups) > 0 {
			c.DefaultGroup = c.Groups[0]
		} else {
			c.DefaultGroup = "general"
		}
	}
	if !slices.Contains(c.Groups, c.DefaultGroup) {
		c.Groups = append(slices.Clone(c.Groups), c.DefaultGroup)
	}
	for _, g := range c.Groups {
		if !validID(g) {
			errs = append(errs, fmt.Errorf("group %q: want letters, digits, _ or -", g))
		}
	}
	for cat, g := range c.Categories {
		if !slices.Contains(c.Groups, g) {
			errs = append(errs, fmt.Errorf("category %q: group %q is not in groups", cat, g))
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Lease, 30*time.Second)
	def(&c.Presence, c.Lease)
	def(&c.OfferTimeout, 30*time.Second)
	def(&c.DefaultHandle, 5*time.Minute)
	def(&c.DedupeTTL, 72*time.Hour)
	def(&c.SurveyWindow, 24*time.Hour)
	if c.HandleWindow <= 0 {
		c.HandleWindow = 50
	}
	if c.EventsMax <= 0 {
		c.EventsMax = 10000
	}
	if c.ReapBatch <= 0 {
		c.ReapBatch = 500
	}
	if c.OfferScan <= 0 {
		c.OfferScan = 100
	}
	targets := func(name string, m, def map[priority.Level]time.Duration) map[priority.Level]time.Duration {
		out := make(map[priority.Level]time.Duration, 4)
		for l, d := range m {
			if l < priority.Low || l > priority.Urgent || d <= 0 {
				errs = append(errs, fmt.Errorf("%s target %s %v: want a level and a positive duration", name, l, d))
			}
			out[l] = d
		}
		for l, d := range def {
			if _, ok := out[l]; !ok {
				out[l] = d
			}
		}
		return out
	}
	c.FirstResponse = targets("first response", c.FirstResponse, DefaultFirstResponse)
	c.NextResponse = targets("next response", c.NextResponse, DefaultNextResponse)
	c.Resolution = targets("resolution", c.Resolution, DefaultResolution)
	if d := c.Dispatch; d.ReturningWindow < 0 || d.CSAT < 0 || d.FirstResponse < 0 || d.Resolution < 0 ||
		d.CSAT > 100 || d.FirstResponse > 100 || d.Resolution > 100 {
		errs = append(errs, fmt.Errorf("dispatch %+v: want a window of 0 or more and weights from 0 to 100", d))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

func (h Hours) parse() (hours, error) {
	var p hours
	var errs []error
	p.loc = time.UTC
	if h.Timezone != "" {
		loc, err := time.LoadLocation(h.Timezone)
		if err != nil {
			errs = append(errs, fmt.Errorf("timezone %q: %w", h.Timezone, err))
		} else {
			p.loc = loc
		}
	}
	if len(h.Days) == 0 {
		for i := range p.days {
			p.days[i] = true
		}
	}
	for _, d := range h.Days {
		if d < time.Sunday || d > time.Saturday {
			errs = append(errs, fmt.Errorf("day %d: not a weekday", d))
			continue
		}
		p.days[d] = true
	}
	clock := func(s string) int {
		t, err := time.Parse("15:04", s)
		if err != nil {
			errs = append(errs, fmt.Errorf("time %q: want HH:MM", s))
			return 0
		}
		return t.Hour()*60 + t.Minute()
	}
	switch {
	case h.Open == "" && h.Close == "":
		p.allDay = true
	case h.Open == "" || h.Close == "":
		errs = append(errs, errors.New("hours: give both open and close, or neither"))
	default:
		p.open, p.close = clock(h.Open), clock(h.Close)
		if p.open == p.close {
			p.allDay = true
		}
	}
	p.holidays = map[string]bool{}
	for _, d := range h.Holidays {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			errs = append(errs, fmt.Errorf("holiday %q: want YYYY-MM-DD", d))
		}
		p.holidays[d] = true
	}
	if err := errors.Join(errs...); err != nil {
		return p, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return p, nil
}

// openAt reports whether t falls in business hours. An overnight window
// (Close before Open) belongs to the day it opened.
func (p hours) openAt(t time.Time) bool {
	t = t.In(p.loc)
	dayOpen := func(d time.Time) bool {
		return p.days[d.Weekday()] && !p.holidays[d.Format(time.DateOnly)]
	}
	if p.allDay {
		return dayOpen(t)
	}
	m := t.Hour()*60 + t.Minute()
	if p.open < p.close {
		return dayOpen(t) && m >= p.open && m < p.close
	}
	if m >= p.open {
		return dayOpen(t)
	}
	return m < p.close && dayOpen(t.AddDate(0, 0, -1))
}

// validID accepts the characters ids may have in keys and comma lists.
func validID(s string) bool {
	return s != "" && len(s) <= 200 && !strings.ContainsAny(s, ", \t\r\n{}")
}
