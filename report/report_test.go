package report

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/internal/testkit/pgtest"
)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// dialects runs f on a fresh SQLite file and on a fresh PostgreSQL
// database.
func dialects(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, "sqlite://"+filepath.Join(t.TempDir(), "archive.db")) })
	t.Run("postgres", func(t *testing.T) { f(t, pgtest.Database(t)) })
}

func mustOpen(t *testing.T, dsn string, r *Reporter) *archive.DB {
	t.Helper()
	db, err := archive.Open(context.Background(), dsn, nil, archive.WithRollups(r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := r.Prepare(context.Background(), db, nil); err != nil {
		t.Fatal(err)
	}
	return db
}

// testHours are the business hours of the reporters under test: weekdays
// 09:00-18:00 in Shanghai, 2026-11-05 a holiday.
var testHours = func() *handoff.Calendar {
	c, err := handoff.NewCalendar(handoff.Hours{Timezone: "Asia/Shanghai", Open: "09:00", Close: "18:00",
		Days: []time.Weekday{1, 2, 3, 4, 5}, Holidays: []string{"2026-11-05"}})
	if err != nil {
		panic(err)
	}
	return c
}()

func mustReporter(t *testing.T) *Reporter {
	t.Helper()
	r, err := New(Config{Location: shanghai, ReopenWindow: 12 * time.Hour, Hours: testHours})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// history makes random conversations: threads of one to three episodes,
// each started with the bot, some handed off (some abandoned, some claimed
// after a wait, answered, transferred, closed, surveyed, rated, reopened),
// over about ten days around midnights in Shanghai. Event ids are stream
// ids ("ms-seq") in the order the events happened.
func history(rnd *rand.Rand, threads int) []archive.Event {
	var evs []archive.Event
	seq := 0
	base := time.Date(2026, 11, 1, 20, 0, 0, 0, shanghai).UnixMilli()
	groups := []string{"pre_sales", "after_sales", "vip"}
	agents := []string{"a1", "a2", "a3", "a4"}
	intents := []string{"", "refund", "invoice", "delivery"}
	channels := []string{"web", "wechat", "telegram"}
	for th := range threads {
		ch := channels[th%len(channels)]
		thread := conv.ThreadID(ch, fmt.Sprintf("u%d", th))
		at := base + rnd.Int64N(10*24*3600*1000)
		for ep := 1; ep <= 1+rnd.IntN(3); ep++ {
			id := conv.ArchiveID(thread, strconv.Itoa(ep))
			ev := func(typ string, kv ...string) {
				seq++
				f := map[string]string{}
				for i := 0; i+1 < len(kv); i += 2 {
					f[kv[i]] = kv[i+1]
				}
				evs = append(evs, archive.Event{ID: fmt.Sprintf("%d-%d", at, seq), Type: typ, Conv: id,
					At: time.UnixMilli(at), Fields: f})
			}
			tick := func(maxMs int64) { at += rnd.Int64N(maxMs + 1) }
			ev(conv.Started, conv.EvChannel, ch, conv.EvCustomer, thread)
			ev(conv.CustomerMessage, conv.EvText, "你好")
			tick(3000)
			ev(conv.BotReply, conv.EvText, "您好", conv.EvIntent, intents[rnd.IntN(len(intents))])
			closedByAgent := false
			if rnd.IntN(3) > 0 { // handed off
				reason := []string{"requested", "complaint", "intent", "low_confidence"}[rnd.IntN(4)]
				tick(60000)
				ev(conv.Handoff, conv.EvReason, reason, conv.EvGroup, groups[rnd.IntN(len(groups))])
				waiting := true
				if rnd.IntN(4) == 0 { // missed its first-response target while waiting
					tick(600000)
					ev(conv.SLABreached, conv.EvTarget, "first_response", conv.EvAgent, "")
				}
				if rnd.IntN(5) == 0 {
					tick(600000)
					ev(conv.Abandoned, conv.EvBy, conv.ByCustomer)
					waiting = false
					if rnd.IntN(2) == 0 { // asks again
						tick(60000)
						ev(conv.Handoff, conv.EvReason, "requested", conv.EvGroup, groups[rnd.IntN(len(groups))])
						waiting = true
					}
				}
				if waiting && rnd.IntN(6) > 0 {
					agent := agents[rnd.IntN(len(agents))]
					tick(900000)
					ev(conv.Claimed, conv.EvAgent, agent)
					if rnd.IntN(2) == 0 { // labels put on it, changed, perhaps all removed
						for i := range 1 + rnd.IntN(3) {
							tick(20000)
							ev(conv.LabelsChanged, conv.EvLabels, []string{"vip", "refund vip", "", "logistics_dispute refund"}[rnd.IntN(4)],
								conv.EvAgent, agent, conv.EvSeq, strconv.Itoa(i+1))
						}
					}
					if rnd.IntN(8) == 0 { // held, not answered in time
						tick(300000)
						ev(conv.SLABreached, conv.EvTarget, "first_response", conv.EvAgent, agent)
					}
					for i := range 1 + rnd.IntN(3) {
						tick(300000)
						if i > 0 && rnd.IntN(5) == 0 {
							ev(conv.Note, conv.EvAgent, agent, conv.EvText, "note")
						}
						if i > 0 && rnd.IntN(2) == 0 { // the customer writes; the agent's next message answers
							ev(conv.CustomerMessage, conv.EvText, "还在吗")
							if rnd.IntN(3) == 0 {
								tick(300000)
								ev(conv.SLABreached, conv.EvTarget, "next_response", conv.EvAgent, agent)
							}
							tick(200000)
						}
						ev(conv.AgentMessage, conv.EvAgent, agent, conv.EvText, "好的")
						switch rnd.IntN(8) {
						case 0: // transferred to another agent
							to := agents[rnd.IntN(len(agents))]
							tick(10000)
							ev(conv.Transfer, conv.EvFrom, agent, conv.EvTo, to)
							agent = to
						case 1: // transferred to a group, claimed there
							tick(10000)
							ev(conv.Transfer, conv.EvFrom, agent, conv.EvTo, "", conv.EvGroup, groups[rnd.IntN(len(groups))])
							agent = agents[rnd.IntN(len(agents))]
							tick(400000)
							ev(conv.Claimed, conv.EvAgent, agent)
						}
					}
					if rnd.IntN(6) == 0 {
						tick(3600000)
						ev(conv.SLABreached, conv.EvTarget, "resolution", conv.EvAgent, agent)
					}
					if rnd.IntN(5) > 0 {
						tick(600000)
						if l := []string{"", "refund", "logistics_dispute", "other"}[rnd.IntN(4)]; l != "" {
							ev(conv.Closed, conv.EvBy, agent, conv.EvLabel, l, conv.EvResolved, conv.Resolved)
						} else {
							ev(conv.Closed, conv.EvBy, agent)
						}
						closedByAgent = true
					} else if rnd.IntN(2) == 0 {
						tick(100000)
						ev(conv.BackToBot, conv.EvAgent, agent)
					}
				}
			} else if rnd.IntN(4) > 0 {
				tick(120000)
				ev(conv.CustomerMessage, conv.EvText, "谢谢")
				if rnd.IntN(2) == 0 {
					ev(conv.Closed, conv.EvBy, conv.ByCustomer)
				} else {
					tick(5 * 3600 * 1000)
					ev(conv.Closed, conv.EvBy, conv.ByIdle) // written late, at the next message
				}
			}
			if closedByAgent && rnd.IntN(3) > 0 {
				ev(conv.SurveySent)
				if rnd.IntN(3) > 0 {
					tick(100000)
					ev(conv.Rated, conv.EvScore, strconv.Itoa(1+rnd.IntN(5)))
				}
			}
			at += []int64{60000, 3 * 3600000, 20 * 3600000, 30 * 3600000, 72 * 3600000}[rnd.IntN(5)]
		}
	}
	return evs
}

// writeShuffled writes evs in random order and random batches, each batch
// perhaps twice, from `writers` goroutines at once.
func writeShuffled(t *testing.T, db *archive.DB, rnd *rand.Rand, evs []archive.Event, writers int) {
	t.Helper()
	evs = slices.Clone(evs)
	rnd.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	var batches [][]archive.Event
	for len(evs) > 0 {
		n := min(len(evs), 1+rnd.IntN(60))
		batches = append(batches, evs[:n])
		if rnd.IntN(4) == 0 {
			batches = append(batches, evs[:n]) // at least once: again
		}
		evs = evs[n:]
	}
	ch := make(chan []archive.Event)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range ch {
				var err error
				for try := 0; try < 20; try++ { // a deadlock victim tries again, as the archiver does
					if err = db.Write(context.Background(), b); err == nil {
						break
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for _, b := range batches {
		ch <- b
	}
	close(ch)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// rawConv is one conversation's figures recomputed from its raw events by
// the definitions (README), independently of factsOf.
type rawConv struct {
	started                      int64
	channel, group, intent       string
	label                        string
	labels                       []string // of the labels_changed event with the highest seq
	handed, abandoned, complaint bool
	wait, first                  int64 // -1 none
	responder                    string
	agents                       map[string]int
	transfers                    map[string]int
	closes                       int
	firstEnd, lastEnd            int64
	survey                       bool
	rating                       int
	next                         int64
	reason                       string
	qwFrom, frFrom               int64
	held                         map[string]int64
	sla                          map[string]*rawSLA
}

// rawSLA is one target's: measured, breached, and agent -> 1 measured, 3
// measured and breached.
type rawSLA struct {
	measured, breached bool
	agents             map[string]int
}

func (r *rawConv) slaOf(target string) *rawSLA {
	if r.sla[target] == nil {
		r.sla[target] = &rawSLA{agents: map[string]int{}}
	}
	return r.sla[target]
}

// rawFigures reads every event back from the archive and recomputes each
// conversation.
func rawFigures(t *testing.T, db *archive.DB) map[string]*rawConv {
	t.Helper()
	_, rd := db.SQL()
	rows, err := rd.Query(`SELECT conv, id, type, at, fields FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	byConv := map[string][]event{}
	for rows.Next() {
		var c, f string
		var e event
		if err := rows.Scan(&c, &e.id, &e.typ, &e.at, &f); err != nil {
			t.Fatal(err)
		}
		e.fields = eventFields(f)
		byConv[c] = append(byConv[c], e)
	}
	out := map[string]*rawConv{}
	for c, evs := range byConv {
		sort.Slice(evs, func(i, j int) bool {
			mi, si, _ := splitID(evs[i].id)
			mj, sj, _ := splitID(evs[j].id)
			return mi < mj || mi == mj && si < sj
		})
		r := &rawConv{wait: -1, first: -1, agents: map[string]int{}, transfers: map[string]int{},
			held: map[string]int64{}, sla: map[string]*rawSLA{}}
		of := func(typ string) []event {
			var s []event
			for _, e := range evs {
				if e.typ == typ {
					s = append(s, e)
				}
			}
			return s
		}
		// the latest hand-off before event i
		lastHandoffBefore := func(x event) int64 {
			var h int64 = -1
			for _, e := range evs {
				if streamOrder(e, x) >= 0 {
					break
				}
				if e.typ == conv.Handoff {
					h = e.at
				}
			}
			return h
		}
		r.started = of(conv.Started)[0].at
		r.channel = of(conv.Started)[0].fields[conv.EvChannel]
		for _, e := range of(conv.BotReply) {
			if r.intent == "" {
				r.intent = e.fields[conv.EvIntent]
			}
		}
		if hs := of(conv.Handoff); len(hs) > 0 {
			r.handed, r.group, r.reason = true, hs[0].fields[conv.EvGroup], hs[0].fields[conv.EvReason]
			for _, h := range hs {
				r.complaint = r.complaint || h.fields[conv.EvReason] == "complaint"
			}
		}
		r.abandoned = len(of(conv.Abandoned)) > 0
		if cs := of(conv.Claimed); len(cs) > 0 {
			r.qwFrom = lastHandoffBefore(cs[0])
			r.wait = cs[0].at - r.qwFrom
		}
		for i, m := range of(conv.AgentMessage) {
			r.agents[m.fields[conv.EvAgent]]++
			if i == 0 {
				r.frFrom = lastHandoffBefore(m)
				r.first, r.responder = m.at-r.frFrom, m.fields[conv.EvAgent]
			}
		}
		// Holds: from a claim or a transfer to an agent to the next event
		// that ends one; a hold nothing ended does not count.
		for i, e := range evs {
			who := ""
			switch {
			case e.typ == conv.Claimed:
				who = e.fields[conv.EvAgent]
			case e.typ == conv.Transfer && e.fields[conv.EvTo] != "":
				who = e.fields[conv.EvTo]
			}
			if who == "" {
				continue
			}
			for _, x := range evs[i+1:] {
				if slices.Contains([]string{conv.Handoff, conv.Claimed, conv.Transfer, conv.BackToBot, conv.LeaseLost,
					conv.Abandoned, conv.Closed}, x.typ) {
					r.held[who] += x.at - e.at
					break
				}
			}
		}
		// Service levels: the breaches as they name them; then each
		// hand-off's cycle (to a transfer to a group, the next hand-off,
		// or its end: abandoned, back to the bot, closed).
		for _, b := range of(conv.SLABreached) {
			s := r.slaOf(b.fields[conv.EvTarget])
			s.measured, s.breached = true, true
			if a := b.fields[conv.EvAgent]; a != "" {
				s.agents[a] = 3
			}
		}
		var cycles [][]event
		var cur []event
		in := false
		for _, e := range evs {
			switch {
			case e.typ == conv.Handoff || e.typ == conv.Transfer && e.fields[conv.EvTo] == "" && in:
				if in {
					cycles = append(cycles, cur)
				}
				cur, in = nil, true
			case e.typ == conv.Abandoned || e.typ == conv.BackToBot || e.typ == conv.Closed:
				if in {
					cycles = append(cycles, append(cur, e))
				}
				cur, in = nil, false
			default:
				cur = append(cur, e)
			}
		}
		if in {
			cycles = append(cycles, cur)
		}
		for _, cy := range cycles {
			firstMsg := slices.IndexFunc(cy, func(e event) bool { return e.typ == conv.AgentMessage })
			if firstMsg >= 0 {
				a := cy[firstMsg].fields[conv.EvAgent]
				s := r.slaOf("first_response")
				s.measured = true
				s.agents[a] |= 1
				for _, e := range cy[:firstMsg] {
					if e.typ == conv.SLABreached && e.fields[conv.EvTarget] == "first_response" && e.fields[conv.EvAgent] == "" {
						s.agents[a] = 3
					}
				}
				for i, e := range cy[firstMsg+1:] {
					if e.typ != conv.CustomerMessage {
						continue
					}
					rest := cy[firstMsg+1+i:]
					if j := slices.IndexFunc(rest, func(e event) bool { return e.typ == conv.AgentMessage }); j >= 0 {
						s := r.slaOf("next_response")
						s.measured = true
						s.agents[rest[j].fields[conv.EvAgent]] |= 1
					}
				}
			}
			if len(cy) > 0 && cy[len(cy)-1].typ == conv.Closed {
				last := cy[len(cy)-1]
				holder := ""
				for _, e := range cy {
					switch {
					case e.typ == conv.Claimed:
						holder = e.fields[conv.EvAgent]
					case e.typ == conv.Transfer:
						holder = e.fields[conv.EvTo]
					}
				}
				if holder == "" && last.fields[conv.EvBy] != conv.ByCustomer && last.fields[conv.EvBy] != conv.ByIdle {
					holder = last.fields[conv.EvBy]
				}
				s := r.slaOf("resolution")
				s.measured = true
				if holder != "" {
					s.agents[holder] |= 1
				}
			}
		}
		for _, m := range of(conv.Transfer) {
			r.transfers[m.fields[conv.EvFrom]]++
		}
		for _, cl := range of(conv.Closed) {
			if l := cl.fields[conv.EvLabel]; l != "" {
				r.label = l
			}
			end := cl.at
			if cl.fields[conv.EvBy] == conv.ByIdle {
				for _, e := range evs {
					if streamOrder(e, cl) >= 0 {
						break
					}
					switch e.typ {
					case conv.Closed, conv.SurveySent, conv.Rated:
					default:
						end = e.at
					}
				}
			}
			if r.closes == 0 {
				r.firstEnd = end
			}
			r.lastEnd = end
			r.closes++
		}
		var top int
		for _, e := range of(conv.LabelsChanged) {
			if n, _ := strconv.Atoi(e.fields[conv.EvSeq]); n > top {
				top, r.labels = n, strings.Fields(e.fields[conv.EvLabels])
			}
		}
		r.survey = len(of(conv.SurveySent)) > 0
		if rs := of(conv.Rated); len(rs) > 0 {
			r.rating, _ = strconv.Atoi(rs[len(rs)-1].fields[conv.EvScore])
		}
		out[c] = r
	}
	for c, r := range out {
		if n := out[neighbour(c, 1)]; n != nil {
			r.next = n.started
		}
	}
	return out
}

// want is the report recomputed from raw conversations, with exact
// nearest-rank percentiles.
func want(raw map[string]*rawConv, q Query, reopen time.Duration) Report {
	type acc struct {
		n                map[string]int64
		wait, first, res []int64
		// in business hours (testHours), and the handling times
		waitBH, firstBH, resBH, handling []int64
		reasons                          map[string]int64
	}
	bh := func(from, d int64) int64 {
		return testHours.Between(time.UnixMilli(from), time.UnixMilli(from+d)).Milliseconds()
	}
	rows := map[string]*acc{}
	total := &acc{n: map[string]int64{}, reasons: map[string]int64{}}
	get := func(k string) *acc {
		if rows[k] == nil {
			rows[k] = &acc{n: map[string]int64{}, reasons: map[string]int64{}}
		}
		return rows[k]
	}
	add := func(a *acc, r *rawConv, agent string) {
		closed := r.closes > 0
		back := func(w time.Duration) bool { return closed && r.next > 0 && r.next-r.lastEnd <= w.Milliseconds() }
		b := func(k string, ok bool) {
			if ok {
				a.n[k]++
			}
		}
		b("conv", true)
		b("bot_only", !r.handed)
		b("contained", !r.handed && closed && !back(24*time.Hour))
		b("handoffs", r.handed)
		b("abandoned", r.abandoned)
		if r.wait >= 0 {
			a.wait = append(a.wait, r.wait)
			a.waitBH = append(a.waitBH, bh(r.qwFrom, r.wait))
		}
		if r.first >= 0 && (agent == "" || agent == r.responder) {
			a.first = append(a.first, r.first)
			a.n["first_sum"] += r.first
			v := bh(r.frFrom, r.first)
			a.firstBH = append(a.firstBH, v)
			a.n["first_bh_sum"] += v
		}
		b("resolved", closed)
		if closed {
			a.res = append(a.res, r.firstEnd-r.started)
			a.resBH = append(a.resBH, bh(r.started, r.firstEnd-r.started))
		}
		if r.handed {
			a.reasons[r.reason]++
		}
		var held int64
		n := 0
		for ag, ms := range r.held {
			if agent == "" || agent == ag {
				held += ms
				n++
			}
		}
		if n > 0 {
			a.handling = append(a.handling, held)
			a.n["handling_sum"] += held
		}
		for target, s := range r.sla {
			if agent == "" {
				b(target+":m", s.measured)
				b(target+":b", s.breached)
			} else {
				b(target+":m", s.agents[agent]&1 != 0)
				b(target+":b", s.agents[agent]&2 != 0)
			}
		}
		b("reopened", back(reopen))
		handled := len(r.agents) > 0
		b("closed_handled", closed && handled)
		b("fcr", r.closes == 1 && len(r.agents) == 1 && !back(reopen))
		b("surveys", r.survey)
		b("responses", r.rating > 0)
		b("good", r.rating >= 4)
		a.n["score"] += int64(r.rating)
		b("handled", handled)
		b("complaints", handled && (r.complaint || r.rating > 0 && r.rating <= 2))
		for ag, n := range r.agents {
			if agent == "" || agent == ag {
				a.n["messages"] += int64(n)
			}
		}
		for ag, n := range r.transfers {
			if agent == "" || agent == ag {
				a.n["transfers"] += int64(n)
			}
		}
	}
	from, _ := time.ParseInLocation(time.DateOnly, q.From, shanghai)
	to, _ := time.ParseInLocation(time.DateOnly, q.To, shanghai)
	for _, r := range raw {
		st := time.UnixMilli(r.started).In(shanghai)
		d, _ := time.ParseInLocation(time.DateOnly, st.Format(time.DateOnly), shanghai)
		if d.Before(from) || d.After(to) {
			continue
		}
		add(total, r, "")
		switch q.By {
		case ByDay:
			add(get(st.Format(time.DateOnly)), r, "")
		case ByWeek:
			add(get(d.AddDate(0, 0, -((int(d.Weekday())+6)%7)).Format(time.DateOnly)), r, "")
		case ByMonth:
			add(get(st.Format("2006-01")), r, "")
		case ByHour:
			add(get(st.Format("15")), r, "")
		case ByChannel:
			add(get(r.channel), r, "")
		case ByGroup:
			add(get(r.group), r, "")
		case ByIntent:
			add(get(r.intent), r, "")
		case ByLabel:
			// Each of its labels (the wrap-up's and those put on it) once.
			keys := map[string]bool{}
			if r.label != "" {
				keys[r.label] = true
			}
			for _, l := range r.labels {
				keys[l] = true
			}
			if len(keys) == 0 {
				keys[""] = true
			}
			for k := range keys {
				add(get(k), r, "")
			}
		case ByAgent:
			for a := range r.agents {
				add(get(a), r, a)
			}
		}
	}
	fig := func(key string, a *acc) Figures {
		ratio := func(x, y int64) *float64 {
			if y == 0 {
				return nil
			}
			v := float64(x) / float64(y)
			return &v
		}
		pct := func(vs []int64, p float64) *float64 {
			if len(vs) == 0 {
				return nil
			}
			s := slices.Clone(vs)
			slices.Sort(s)
			v := float64(s[int(math.Ceil(p*float64(len(s))))-1]) / 1000
			return &v
		}
		f := Figures{Key: key, Conversations: a.n["conv"], BotOnly: a.n["bot_only"], Contained: a.n["contained"],
			ContainmentRate: ratio(a.n["contained"], a.n["conv"]), Handoffs: a.n["handoffs"],
			HandoffRate: ratio(a.n["handoffs"], a.n["conv"]), Abandoned: a.n["abandoned"],
			QueueWaitP50: pct(a.wait, .5), QueueWaitP90: pct(a.wait, .9),
			FirstResponseP50: pct(a.first, .5), FirstResponseP90: pct(a.first, .9),
			Resolved: a.n["resolved"], ResolutionP50: pct(a.res, .5), ResolutionP90: pct(a.res, .9),
			Reopened: a.n["reopened"], FCRRate: ratio(a.n["fcr"], a.n["closed_handled"]),
			SurveysSent: a.n["surveys"], CSATResponses: a.n["responses"], CSATScore: ratio(a.n["good"], a.n["responses"]),
			ComplaintRate: ratio(a.n["complaints"], a.n["handled"]),
			Handled:       a.n["handled"], AgentMessages: a.n["messages"], TransfersOut: a.n["transfers"],
			CSATResponseRate: ratio(a.n["responses"], a.n["surveys"]), FirstResponseSample: int64(len(a.first)),
			QueueWaitP50BH: pct(a.waitBH, .5), QueueWaitP90BH: pct(a.waitBH, .9),
			FirstResponseP50BH: pct(a.firstBH, .5), FirstResponseP90BH: pct(a.firstBH, .9),
			ResolutionP50BH: pct(a.resBH, .5), ResolutionP90BH: pct(a.resBH, .9),
			HandlingP50:      pct(a.handling, .5),
			SLAFirstResponse: a.n["first_response:m"], SLAFirstResponseMiss: a.n["first_response:b"],
			SLAFirstResponseMet: ratio(a.n["first_response:m"]-a.n["first_response:b"], a.n["first_response:m"]),
			SLANextResponse:     a.n["next_response:m"], SLANextResponseMiss: a.n["next_response:b"],
			SLANextResponseMet: ratio(a.n["next_response:m"]-a.n["next_response:b"], a.n["next_response:m"]),
			SLAResolution:      a.n["resolution:m"], SLAResolutionMiss: a.n["resolution:b"],
			SLAResolutionMet: ratio(a.n["resolution:m"]-a.n["resolution:b"], a.n["resolution:m"]),
			HandoffsByReason: a.reasons, HandoffRateByReason: map[string]float64{}}
		for k, n := range a.reasons {
			f.HandoffRateByReason[k] = float64(n) / float64(a.n["conv"])
		}
		if len(a.firstBH) > 0 {
			v := float64(a.n["first_bh_sum"]) / float64(len(a.firstBH)) / 1000
			f.FirstResponseMeanBH = &v
		}
		if len(a.handling) > 0 {
			v := float64(a.n["handling_sum"]) / float64(len(a.handling)) / 1000
			f.HandlingMean = &v
		}
		if len(a.first) > 0 {
			v := float64(a.n["first_sum"]) / float64(len(a.first)) / 1000
			f.FirstResponseMean = &v
		}
		if a.n["responses"] > 0 {
			v := float64(a.n["score"]) / float64(a.n["responses"])
			f.CSATMean = &v
		}
		return f
	}
	rep := Report{Total: fig("total", total)}
	for k, a := range rows {
		rep.Rows = append(rep.Rows, fig(k, a))
	}
	return rep
}

// within compares figures: percentiles within RelativeError (and the
// millisecond they are rounded to), the rest exactly.
var within = cmp.Comparer(func(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return math.Abs(*a-*b) <= RelativeError*max(math.Abs(*a), math.Abs(*b))+0.0011
})

// checkReports compares every kind of report with the raw recomputation.
func checkReports(t *testing.T, r *Reporter, db *archive.DB) {
	t.Helper()
	raw := rawFigures(t, db)
	for _, by := range Bys {
		q := Query{From: "2026-11-01", To: "2026-11-20", By: by}
		got, err := r.Report(context.Background(), db, q)
		if err != nil {
			t.Fatal(err)
		}
		w := want(raw, q, r.cfg.ReopenWindow)
		// The history exercises every figure: service levels met and
		// breached on every target, reasons, handling, business hours
		// shorter than calendar time.
		if tot := got.Total; tot.SLAFirstResponseMiss == 0 || tot.SLANextResponseMiss == 0 || tot.SLAResolutionMiss == 0 ||
			tot.SLAFirstResponse == tot.SLAFirstResponseMiss || tot.SLANextResponse == tot.SLANextResponseMiss ||
			tot.SLAResolution == tot.SLAResolutionMiss || len(tot.HandoffsByReason) != 4 || tot.HandlingMean == nil ||
			tot.ResolutionP90BH == nil || *tot.ResolutionP90BH >= *tot.ResolutionP90 {
			t.Fatalf("by %s: the history leaves figures untested: %+v", by, tot)
		}
		if d := cmp.Diff(w.Total, got.Total, within); d != "" {
			t.Errorf("by %s: total differs from the raw events (-raw +rollups):\n%s", by, d)
		}
		// Rows without conversations (days, hours) are only in the report.
		var rows []Figures
		for _, f := range got.Rows {
			if f.Conversations > 0 {
				rows = append(rows, f)
			}
		}
		sortRows := func(s []Figures) {
			slices.SortFunc(s, func(a, b Figures) int { return cmpString(a.Key, b.Key) })
		}
		sortRows(rows)
		sortRows(w.Rows)
		if d := cmp.Diff(w.Rows, rows, within); d != "" {
			t.Errorf("by %s: rows differ from the raw events (-raw +rollups):\n%s", by, d)
		}
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// dump is the rollup table.
func dump(t *testing.T, db *archive.DB) map[string]string {
	t.Helper()
	_, rd := db.SQL()
	rows, err := rd.Query(`SELECT dim, day, key, data FROM report_rollups`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var dim, day, key, data string
		if err := rows.Scan(&dim, &day, &key, &data); err != nil {
			t.Fatal(err)
		}
		out[dim+"|"+day+"|"+key] = data
	}
	return out
}

// TestRollupsEqualRawEvents: on random histories written in random order
// and batches, some twice, every figure of every kind of report equals the
// one recomputed from the raw events; a rebuild from the archive gives the
// very same rollup rows; after a purge, they still equal the raw events.
func TestRollupsEqualRawEvents(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		seeds := uint64(2)
		if !strings.HasPrefix(dsn, "sqlite://") {
			seeds = 1 // four writers at once on PostgreSQL: the slow part under -race
		}
		for seed := range seeds {
			t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
				r := mustReporter(t)
				db := mustOpen(t, fmt.Sprintf("%s", dsnFor(t, dsn, seed)), r)
				rnd := rand.New(rand.NewPCG(seed, 42))
				evs := history(rnd, 100)
				writers := 1
				if db.Dialect() == archive.Postgres {
					writers = 4 // several archivers at once
				}
				writeShuffled(t, db, rnd, evs, writers)
				checkReports(t, r, db)

				before := dump(t, db)
				if len(before) == 0 {
					t.Fatal("no rollups")
				}
				// A new reopen window rebuilds from the events; the old one
				// again must give back the same rows.
				r2, _ := New(Config{Location: shanghai, ReopenWindow: 13 * time.Hour, Hours: testHours})
				if ok, err := r2.Prepare(context.Background(), db, nil); err != nil || !ok {
					t.Fatalf("rebuild: %v %v", ok, err)
				}
				if ok, err := r.Prepare(context.Background(), db, nil); err != nil || !ok {
					t.Fatalf("rebuild: %v %v", ok, err)
				}
				if d := cmp.Diff(before, dump(t, db)); d != "" {
					t.Errorf("rebuilt rollups differ from those kept as the events came:\n%s", d)
				}

				for _, who := range []string{"web:u0", "wechat:u1", "telegram:u2"} {
					if _, err := db.Purge(context.Background(), who); err != nil {
						t.Fatal(err)
					}
				}
				checkReports(t, r, db)
			})
		}
	})
}

// dsnFor gives each seed its own database.
func dsnFor(t *testing.T, dsn string, seed uint64) string {
	if seed == 0 {
		return dsn
	}
	if len(dsn) > 9 && dsn[:9] == "sqlite://" {
		return "sqlite://" + filepath.Join(t.TempDir(), "archive.db")
	}
	return pgtest.Database(t)
}

// TestEventTwiceCountsOnce: the same batch written again, and one event
// alone again, change nothing; an event of a conversation arriving in a
// later batch, before those it follows, gives the same figures.
func TestEventTwiceCountsOnce(t *testing.T) {
	dialects(t, func(t *testing.T, dsn string) {
		r := mustReporter(t)
		db := mustOpen(t, dsn, r)
		rnd := rand.New(rand.NewPCG(7, 7))
		evs := history(rnd, 10)
		if err := db.Write(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
		once := dump(t, db)
		rep1, err := r.Report(context.Background(), db, Query{From: "2026-11-01", To: "2026-11-20", By: ByDay})
		if err != nil {
			t.Fatal(err)
		}
		if rep1.Total.Conversations == 0 {
			t.Fatal("no conversations counted")
		}
		if err := db.Write(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
		for _, e := range evs[:5] {
			if err := db.Write(context.Background(), []archive.Event{e}); err != nil {
				t.Fatal(err)
			}
		}
		if d := cmp.Diff(once, dump(t, db)); d != "" {
			t.Errorf("writing events again changed the rollups:\n%s", d)
		}
		rep2, _ := r.Report(context.Background(), db, Query{From: "2026-11-01", To: "2026-11-20", By: ByDay})
		if d := cmp.Diff(rep1, rep2); d != "" {
			t.Errorf("report changed:\n%s", d)
		}
	})
}

func TestPercentileError(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := 1 + rnd.IntN(300)
		h := hist{}
		vs := make([]int64, n)
		for i := range vs {
			vs[i] = rnd.Int64N(1 + rnd.Int64N(1e9))
			h[bucketOf(vs[i])]++
		}
		slices.Sort(vs)
		for _, p := range []float64{0.5, 0.9, 0.99} {
			exact := float64(vs[int(math.Ceil(p*float64(n)))-1])
			got, _ := h.percentile(p)
			if math.Abs(got-exact) > RelativeError*exact+1e-9 {
				t.Fatalf("p%v of %d values: %v, exact %v: off by more than %v", p, n, got, exact, RelativeError)
			}
		}
	}
	if _, ok := (hist{}).percentile(0.5); ok {
		t.Error("an empty histogram has a percentile")
	}
}

func TestBadQuery(t *testing.T) {
	r := mustReporter(t)
	for _, q := range []Query{{From: "2026-11-01", To: "2026-11-02", By: "year"},
		{From: "2026-11-03", To: "2026-11-02", By: ByDay}, {From: "11/1", To: "2026-11-02", By: ByDay}} {
		if _, err := r.Report(context.Background(), nil, q); !errors.Is(err, ErrBadQuery) {
			t.Errorf("%+v: %v, want ErrBadQuery", q, err)
		}
	}
}
