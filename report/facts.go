package report

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kefu-dev/kefu/conv"
)

// facts is what the reports need of one archived conversation, derived from
// its events alone (plus Next, its thread's next episode's start): the same
// events in any order and any number of times give the same facts.
type facts struct {
	Started   int64  `json:"s"` // ms: its conversation_started, else its earliest event
	Channel   string `json:"ch,omitempty"`
	Intent    string `json:"in,omitempty"` // the first intent the bot recognised
	Group     string `json:"g,omitempty"`  // the group of its first hand-off
	HandedOff bool   `json:"h,omitempty"`
	Complaint bool   `json:"cp,omitempty"` // a hand-off with reason complaint
	Abandoned bool   `json:"ab,omitempty"`
	QueueWait int64  `json:"qw"` // ms from the hand-off to the first claim; -1: never claimed
	FirstResp int64  `json:"fr"` // ms from the hand-off to the first agent message; -1: none
	Responder string `json:"rs,omitempty"`
	// Agents: agent -> messages they sent; TransfersOut: agent -> times
	// they moved it away.
	Agents       map[string]int `json:"ag,omitempty"`
	TransfersOut map[string]int `json:"tr,omitempty"`
	Closes       int            `json:"cl,omitempty"`
	// FirstEnd and LastEnd: its first and last close (an idle close: the
	// last activity before it, since the idle close is written when noticed,
	// as late as the customer's next message).
	FirstEnd int64 `json:"fe,omitempty"`
	LastEnd  int64 `json:"le,omitempty"`
	Survey   bool  `json:"sv,omitempty"`
	Rating   int   `json:"rt,omitempty"` // the last rating, 1-5; 0: none
	Next     int64 `json:"nx,omitempty"` // ms: the thread's next episode's start; 0: none (yet)
	// Label is the agent's wrap-up of its last close that had one (an FAQ
	// intent id or a configured label); "" none.
	Label string `json:"lb,omitempty"`
	// Labels are the labels (tags) agents put on it: the set of its
	// labels_changed event of the highest seq (LabelsSeq).
	Labels    []string `json:"ls,omitempty"`
	LabelsSeq int64    `json:"lq,omitempty"`
	// Reason is its first hand-off's reason ("" never handed off).
	Reason string `json:"rn,omitempty"`
	// QWFrom and FRFrom: the hand-offs (ms) its queue wait and first
	// response are counted from (for the business-hours figures).
	QWFrom int64 `json:"qf,omitempty"`
	FRFrom int64 `json:"ff,omitempty"`
	// Held: agent -> ms they held it, summed over their holds that ended (a
	// claim or a transfer to them, to their close, release, transfer away,
	// lost lease or a new hand-off).
	Held map[string]int64 `json:"hl,omitempty"`
	// SLA: service-level target (first_response, next_response,
	// resolution) -> how it went.
	SLA map[string]*slaFacts `json:"sl,omitempty"`
}

// labelKeys are a conversation's keys by label: its wrap-up label and the
// labels agents put on it, each once; [""] with none.
func (f *facts) labelKeys() []string {
	keys := make([]string, 0, 1+len(f.Labels))
	if f.Label != "" {
		keys = append(keys, f.Label)
	}
	for _, l := range f.Labels {
		if !slices.Contains(keys, l) {
			keys = append(keys, l)
		}
	}
	if len(keys) == 0 {
		return []string{""}
	}
	return keys
}

// slaFacts is how a conversation did on one service-level target: measured
// (the target's clock ran and stopped, or it was breached), breached (an
// sla_breached event of the target), and per agent responsible for it the
// same two (slaMeasured | slaBreached bits).
type slaFacts struct {
	Measured bool           `json:"m,omitempty"`
	Breached bool           `json:"b,omitempty"`
	Agents   map[string]int `json:"a,omitempty"`
}

const (
	slaMeasured = 1
	slaBreached = 2
)

// The service-level targets (sla_breached's target; handoff's names).
const (
	TargetFirstResponse = "first_response"
	TargetNextResponse  = "next_response"
	TargetResolution    = "resolution"
)

// Targets lists the service-level targets in the reports' order.
var Targets = []string{TargetFirstResponse, TargetNextResponse, TargetResolution}

func (f *facts) sla(target string, breached bool, agent string) {
	if f.SLA == nil {
		f.SLA = map[string]*slaFacts{}
	}
	s := f.SLA[target]
	if s == nil {
		s = &slaFacts{}
		f.SLA[target] = s
	}
	s.Measured = true
	s.Breached = s.Breached || breached
	if agent != "" {
		if s.Agents == nil {
			s.Agents = map[string]int{}
		}
		s.Agents[agent] |= slaMeasured
		if breached {
			s.Agents[agent] |= slaBreached
		}
	}
}

// event is an archived event as the report reads it.
type event struct {
	id     string
	typ    string
	at     int64
	fields map[string]string
}

// streamOrder orders events as the stream did (entry ids "ms-seq"), events
// whose id is not one after, by time.
func streamOrder(a, b event) int {
	am, as, aok := splitID(a.id)
	bm, bs, bok := splitID(b.id)
	switch {
	case aok && bok:
		if c := cmp.Compare(am, bm); c != 0 {
			return c
		}
		return cmp.Compare(as, bs)
	case aok != bok:
		if aok {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(a.at, b.at); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

func splitID(id string) (ms, seq int64, ok bool) {
	a, b, found := strings.Cut(id, "-")
	if !found {
		return 0, 0, false
	}
	ms, err1 := strconv.ParseInt(a, 10, 64)
	seq, err2 := strconv.ParseInt(b, 10, 64)
	return ms, seq, err1 == nil && err2 == nil
}

// factsOf derives a conversation's facts from its events (any order).
func factsOf(evs []event) facts {
	slices.SortFunc(evs, streamOrder)
	f := facts{QueueWait: -1, FirstResp: -1}
	var earliest, lastActive, waitingSince, cycleStart int64
	started := false
	// The hold: who holds it since when. The service-level clocks: in a
	// hand-off's cycle (waiting or held), whether an agent replied in it,
	// whether a customer message awaits the agent's next, and whether the
	// first response was breached with nobody holding it.
	var holder string
	var holdSince int64
	var inCycle, replied, awaiting, unnamedFirstBreach bool
	endHold := func(at int64) {
		if holder != "" {
			if f.Held == nil {
				f.Held = map[string]int64{}
			}
			f.Held[holder] += max(at-holdSince, 0)
			holder = ""
		}
	}
	newCycle := func() {
		inCycle, replied, awaiting, unnamedFirstBreach = true, false, false, false
	}
	for _, e := range evs {
		if earliest == 0 || e.at < earliest {
			earliest = e.at
		}
		fl := func(k string) string { return e.fields[k] }
		switch e.typ {
		case conv.Started:
			if !started || e.at < f.Started {
				f.Started = e.at
			}
			started = true
			if c := fl(conv.EvChannel); c != "" {
				f.Channel = c
			}
		case conv.BotReply:
			if f.Intent == "" {
				f.Intent = fl(conv.EvIntent)
			}
		case conv.Handoff:
			if !f.HandedOff {
				f.HandedOff = true
				f.Group = fl(conv.EvGroup)
				f.Reason = fl(conv.EvReason)
			}
			endHold(e.at)
			newCycle()
			if fl(conv.EvReason) == "complaint" {
				f.Complaint = true
			}
			waitingSince = e.at
			if f.FirstResp < 0 {
				cycleStart = e.at
			}
		case conv.Claimed:
			if f.QueueWait < 0 && waitingSince > 0 {
				f.QueueWait = e.at - waitingSince
				f.QWFrom = waitingSince
			}
			waitingSince = 0
			endHold(e.at)
			holder, holdSince = fl(conv.EvAgent), e.at
		case conv.AgentMessage:
			a := fl(conv.EvAgent)
			if f.Agents == nil {
				f.Agents = map[string]int{}
			}
			f.Agents[a]++
			if f.FirstResp < 0 && cycleStart > 0 {
				f.FirstResp = e.at - cycleStart
				f.FRFrom = cycleStart
				f.Responder = a
			}
			switch {
			case inCycle && !replied:
				f.sla(TargetFirstResponse, false, a)
				if unnamedFirstBreach {
					f.sla(TargetFirstResponse, true, a)
				}
				replied = true
			case inCycle && awaiting:
				f.sla(TargetNextResponse, false, a)
			}
			awaiting = false
		case conv.CustomerMessage:
			if inCycle && replied && holder != "" {
				awaiting = true
			}
		case conv.Transfer:
			if from := fl(conv.EvFrom); from != "" {
				if f.TransfersOut == nil {
					f.TransfersOut = map[string]int{}
				}
				f.TransfersOut[from]++
			}
			endHold(e.at)
			if to := fl(conv.EvTo); to != "" {
				holder, holdSince = to, e.at
			} else if inCycle { // to a group: waits again, and its next agent message is a first
				newCycle()
			}
		case conv.BackToBot, conv.LeaseLost:
			endHold(e.at)
			if e.typ == conv.BackToBot {
				inCycle = false
			}
		case conv.SLABreached:
			t, a := fl(conv.EvTarget), fl(conv.EvAgent)
			if t == TargetFirstResponse && a == "" {
				unnamedFirstBreach = true
			}
			f.sla(t, true, a)
		case conv.Abandoned:
			f.Abandoned = true
			waitingSince = 0
			endHold(e.at)
			inCycle = false
		case conv.Closed:
			end := e.at
			if fl(conv.EvBy) == conv.ByIdle && lastActive > 0 {
				end = lastActive
			}
			if f.Closes == 0 || end < f.FirstEnd {
				f.FirstEnd = end
			}
			f.LastEnd = max(f.LastEnd, end)
			f.Closes++
			if inCycle {
				who := holder
				if by := fl(conv.EvBy); who == "" && by != conv.ByCustomer && by != conv.ByIdle && by != conv.ByLeft {
					who = by
				}
				f.sla(TargetResolution, false, who)
			}
			endHold(end)
			inCycle = false
			if l := fl(conv.EvLabel); l != "" {
				f.Label = l // in stream order: the last close's wins
			}
		case conv.LabelsChanged:
			if q, err := strconv.ParseInt(fl(conv.EvSeq), 10, 64); err == nil && q > f.LabelsSeq {
				f.LabelsSeq = q
				f.Labels = strings.Fields(fl(conv.EvLabels))
			}
		case conv.SurveySent:
			f.Survey = true
		case conv.Rated:
			if s, err := strconv.Atoi(fl(conv.EvScore)); err == nil && s >= 1 && s <= 5 {
				f.Rating = s
			}
		}
		switch e.typ {
		case conv.Closed, conv.SurveySent, conv.Rated, conv.LeaseLost, conv.CustomerProfile, conv.LabelsChanged:
		default:
			lastActive = max(lastActive, e.at)
		}
	}
	if !started {
		f.Started = earliest
	}
	return f
}

// eventFields decodes an event's fields column.
func eventFields(s string) map[string]string {
	m := map[string]string{}
	_ = json.Unmarshal([]byte(s), &m)
	return m
}

// handled: an agent sent at least one message.
func (f *facts) handled() bool { return len(f.Agents) > 0 }

// Metric names: counts and histograms a rollup row keeps.
const (
	mConversations = "conversations"
	mBotOnly       = "bot_only"
	mContained     = "contained"
	mHandoffs      = "handoffs"
	mAbandoned     = "abandoned"
	mFirstRespSum  = "first_response_ms" // sum, for the mean
	mResolved      = "resolved"
	mReopened      = "reopened"
	mClosedHandled = "closed_handled" // fcr's denominator
	mFCR           = "fcr"
	mSurveys       = "surveys_sent"
	mResponses     = "csat_responses"
	mGood          = "csat_good" // ratings 4-5
	mScoreSum      = "csat_sum"
	mHandled       = "handled"
	mComplaints    = "complaints"
	mAgentMessages = "agent_messages"
	mTransfersOut  = "transfers_out"

	mFirstRespBHSum = "first_response_bh_ms"
	mHandlingSum    = "handling_ms"

	hQueueWait  = "queue_wait"
	hFirstResp  = "first_response"
	hResolution = "resolution"
	// In business hours (kept only when the hours are not always open).
	hQueueWaitBH  = "queue_wait_bh"
	hFirstRespBH  = "first_response_bh"
	hResolutionBH = "resolution_bh"
	hHandling     = "handling" // per conversation: the time people held it
)

// mReason is the count of conversations whose first hand-off had reason r.
func mReason(r string) string { return "reason:" + r }

// mSLA is the count of conversations measured ("m") or breached ("b") on
// a service-level target.
func mSLA(target, what string) string { return "sla:" + target + ":" + what }

// BusinessHours counts time within the business hours (handoff.Calendar).
type BusinessHours interface {
	// Between is how much of [a, b) is within business hours.
	Between(a, b time.Time) time.Duration
	// AlwaysOpen: business time is calendar time.
	AlwaysOpen() bool
	// String names the hours (the rollups are rebuilt when it changes).
	String() string
}

// ContainmentWindow: a conversation the bot closed alone is contained only
// if the customer did not start another within this long after it ended.
const ContainmentWindow = 24 * time.Hour

// figures is a conversation's contribution to its cohort's rollups.
func (f *facts) figures(reopen time.Duration, bh BusinessHours) metrics {
	m := metrics{C: map[string]int64{}, H: map[string]hist{}}
	inc := func(k string, ok bool) {
		if ok {
			m.C[k]++
		}
	}
	obs := func(k string, ms int64) {
		if m.H[k] == nil {
			m.H[k] = hist{}
		}
		m.H[k][bucketOf(ms)]++
	}
	closed := f.Closes > 0
	back := func(within time.Duration) bool {
		return closed && f.Next > 0 && f.Next-f.LastEnd <= within.Milliseconds()
	}
	reopened := back(reopen)
	inc(mConversations, true)
	inc(mBotOnly, !f.HandedOff)
	inc(mContained, !f.HandedOff && closed && !back(ContainmentWindow))
	inc(mHandoffs, f.HandedOff)
	inc(mAbandoned, f.Abandoned)
	if f.QueueWait >= 0 {
		obs(hQueueWait, f.QueueWait)
	}
	if f.FirstResp >= 0 {
		obs(hFirstResp, f.FirstResp)
		m.C[mFirstRespSum] += f.FirstResp
	}
	if bh != nil {
		in := func(from, d int64) int64 {
			return bh.Between(time.UnixMilli(from), time.UnixMilli(from+d)).Milliseconds()
		}
		if f.QueueWait >= 0 {
			obs(hQueueWaitBH, in(f.QWFrom, f.QueueWait))
		}
		if f.FirstResp >= 0 {
			v := in(f.FRFrom, f.FirstResp)
			obs(hFirstRespBH, v)
			m.C[mFirstRespBHSum] += v
		}
		if f.Closes > 0 {
			obs(hResolutionBH, in(f.Started, f.FirstEnd-f.Started))
		}
	}
	if f.HandedOff {
		m.C[mReason(f.Reason)]++
	}
	if len(f.Held) > 0 {
		var held int64
		for _, ms := range f.Held {
			held += ms
		}
		obs(hHandling, held)
		m.C[mHandlingSum] += held
	}
	for t, s := range f.SLA {
		inc(mSLA(t, "m"), s.Measured)
		inc(mSLA(t, "b"), s.Breached)
	}
	inc(mResolved, closed)
	if closed {
		obs(hResolution, f.FirstEnd-f.Started)
	}
	inc(mReopened, reopened)
	inc(mClosedHandled, closed && f.handled())
	inc(mFCR, f.Closes == 1 && len(f.Agents) == 1 && !reopened)
	inc(mSurveys, f.Survey)
	inc(mResponses, f.Rating > 0)
	inc(mGood, f.Rating >= 4)
	m.C[mScoreSum] += int64(f.Rating)
	inc(mHandled, f.handled())
	inc(mComplaints, f.handled() && (f.Complaint || (f.Rating > 0 && f.Rating <= 2)))
	for _, n := range f.Agents {
		m.C[mAgentMessages] += int64(n)
	}
	for _, n := range f.TransfersOut {
		m.C[mTransfersOut] += int64(n)
	}
	m.clean()
	return m
}
