package report

import "time"

// metrics are the sums a rollup row keeps: counts by name and histograms
// of durations (ms) by name. Adding or subtracting conversations' metrics
// is exact, in any order.
type metrics struct {
	C map[string]int64 `json:"c,omitempty"`
	H map[string]hist  `json:"h,omitempty"`
}

// add adds sign × o to m.
func (m *metrics) add(o metrics, sign int64) {
	m.merge(o, sign)
	m.clean()
}

// merge is add without dropping the zeros (clean them once after many).
func (m *metrics) merge(o metrics, sign int64) {
	if m.C == nil {
		m.C = map[string]int64{}
	}
	if m.H == nil {
		m.H = map[string]hist{}
	}
	for k, v := range o.C {
		m.C[k] += sign * v
	}
	for k, h := range o.H {
		if m.H[k] == nil {
			m.H[k] = hist{}
		}
		for b, c := range h {
			m.H[k][b] += sign * c
		}
	}
}

// clean drops zeros, so that equal sums encode equally and a row whose
// conversations all left it is empty.
func (m *metrics) clean() {
	for k, v := range m.C {
		if v == 0 {
			delete(m.C, k)
		}
	}
	for k, h := range m.H {
		for b, c := range h {
			if c == 0 {
				delete(h, b)
			}
		}
		if len(h) == 0 {
			delete(m.H, k)
		}
	}
}

func (m *metrics) empty() bool { return len(m.C) == 0 && len(m.H) == 0 }

func (m metrics) clone() metrics {
	var c metrics
	c.add(m, 1)
	return c
}

// A Dimension splits a cohort's figures by one property of its
// conversations. Keys are the dimension's values for a conversation (none:
// the conversation is in no row of it; "" is the row of those without the
// property); each key's row gets the conversation's figures, which adjust,
// when set, may change for that key (the agent's row gets the first
// response only if that agent gave it).
//
// Adding one (a wrap-up label, say) is a field in facts read from its
// event in factsOf, an entry here, and Version+1 (the rollups are then
// rebuilt from the archive at the next open).
type Dimension struct {
	Name   string
	Keys   func(f *facts, loc *time.Location) []string
	Adjust func(f *facts, key string, m *metrics)
}

// Version is the rollups' layout: a change to facts, the figures or the
// dimensions must raise it, and every archive rebuilds its rollups at the
// next open.
const Version = 4 // 2: the wrap-up label; 3: business hours, reasons, handling time, service levels; 4: the labels agents put on conversations

// Dimensions are the rollups' dimensions besides the day: "all" (the day's
// whole cohort, from which days, weeks and months are summed), the hour of
// the day the conversation started, its channel, the group of its first
// hand-off, each agent who sent it a message, the first intent the bot
// recognised, and its labels: the wrap-up label and the labels agents put
// on it ("" without any).
var Dimensions = []Dimension{
	{Name: "all", Keys: func(*facts, *time.Location) []string { return []string{""} }},
	{Name: "hour", Keys: func(f *facts, loc *time.Location) []string {
		return []string{time.UnixMilli(f.Started).In(loc).Format("15")}
	}},
	{Name: "channel", Keys: func(f *facts, _ *time.Location) []string { return []string{f.Channel} }},
	{Name: "group", Keys: func(f *facts, _ *time.Location) []string { return []string{f.Group} }},
	{Name: "intent", Keys: func(f *facts, _ *time.Location) []string { return []string{f.Intent} }},
	// label: its wrap-up label and every label agents put on it; a
	// conversation with several is in each one's row (once in the total).
	{Name: "label", Keys: func(f *facts, _ *time.Location) []string { return f.labelKeys() }},
	{Name: "agent", Keys: func(f *facts, _ *time.Location) []string {
		keys := make([]string, 0, len(f.Agents))
		for a := range f.Agents {
			keys = append(keys, a)
		}
		return keys
	}, Adjust: func(f *facts, agent string, m *metrics) {
		// The first response is the responder's; messages and transfers
		// are each agent's own.
		if f.Responder != agent && f.FirstResp >= 0 {
			delete(m.H, hFirstResp)
			delete(m.C, mFirstRespSum)
			delete(m.H, hFirstRespBH)
			delete(m.C, mFirstRespBHSum)
		}
		m.C[mAgentMessages] = int64(f.Agents[agent])
		m.C[mTransfersOut] = int64(f.TransfersOut[agent])
		// Handling time: the agent's own holds.
		delete(m.H, hHandling)
		delete(m.C, mHandlingSum)
		if ms, ok := f.Held[agent]; ok {
			m.H[hHandling] = hist{bucketOf(ms): 1}
			m.C[mHandlingSum] = ms
		}
		// Service levels: the targets the agent was responsible for.
		for t, s := range f.SLA {
			bits := s.Agents[agent]
			m.C[mSLA(t, "m")] = int64(bits & slaMeasured)
			m.C[mSLA(t, "b")] = int64((bits & slaBreached) >> 1)
		}
		m.clean()
	}},
}

func dimension(name string) (Dimension, bool) {
	for _, d := range Dimensions {
		if d.Name == name {
			return d, true
		}
	}
	return Dimension{}, false
}
