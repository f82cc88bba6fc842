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
			}
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
			}
			waitingSince = 0
		case conv.AgentMessage:
			a := fl(conv.EvAgent)
			if f.Agents == nil {
				f.Agents = map[string]int{}
			}
			f.Agents[a]++
			if f.FirstResp < 0 && cycleStart > 0 {
				f.FirstResp = e.at - cycleStart
				f.Responder = a
			}
		case conv.Transfer:
			if from := fl(conv.EvFrom); from != "" {
				if f.TransfersOut == nil {
					f.TransfersOut = map[string]int{}
				}
				f.TransfersOut[from]++
			}
		case conv.Abandoned:
			f.Abandoned = true
			waitingSince = 0
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

	hQueueWait  = "queue_wait"
	hFirstResp  = "first_response"
	hResolution = "resolution"
)

// ContainmentWindow: a conversation the bot closed alone is contained only
// if the customer did not start another within this long after it ended.
const ContainmentWindow = 24 * time.Hour

// figures is a conversation's contribution to its cohort's rollups.
func (f *facts) figures(reopen time.Duration) metrics {
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
