package handoff

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/conv"
)

// soakRun is the shared record of a model test: what the queue accepted, to
// check against Redis at the end.
type soakRun struct {
	mu      sync.Mutex
	entries map[string][]soakEntry // conv -> accepted agent messages
	claims  map[string]bool        // "conv|agent|epoch" ever granted
	notes   map[string]int         // conv -> transfers (one note each)
	enq     map[string]bool        // conversations ever enqueued
	stats   map[string]*atomic.Int64
}

type soakEntry struct {
	msgID, entry, agent string
	epoch               int64
}

func (s *soakRun) count(name string) {
	s.mu.Lock()
	c, ok := s.stats[name]
	if !ok {
		c = &atomic.Int64{}
		s.stats[name] = c
	}
	s.mu.Unlock()
	c.Add(1)
}

func (s *soakRun) granted(c Claim) {
	s.mu.Lock()
	s.claims[fmt.Sprintf("%s|%s|%d", c.Conv, c.Agent, c.Epoch)] = true
	s.mu.Unlock()
}

// expected: errors the model allows for an operation (anything else fails the test).
var soakExpected = []error{ErrEmpty, ErrTaken, ErrCapacity, ErrSkill, ErrLeaseLost, ErrNotHolder,
	ErrNotWaiting, ErrOffline, ErrSameAgent, ErrNoSurvey, ErrAlreadyRated, ErrNoOffer}

func expectedErr(err error) bool {
	for _, e := range soakExpected {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// TestModelSoak: hundreds of conversations, several groups, dozens of agents
// with different capacities, several reapers, random claim / heartbeat /
// append / transfer / release / crash / sign-out, customers enqueuing,
// cancelling and rating, on a test clock that runs ahead. The audit runs
// throughout; at the end every conversation is accounted for and the
// transcripts hold exactly the accepted agent messages, once each, in
// non-decreasing epoch order (a fenced-out agent never wrote after a newer
// holder). KEFU_SOAK=1 runs it long.
func TestModelSoak(t *testing.T) {
	convs, agents, reapers, dur := 300, 24, 3, 3*time.Second
	if os.Getenv("KEFU_SOAK") != "" {
		convs, agents, reapers, dur = 3000, 64, 4, 60*time.Second
		if d, err := time.ParseDuration(os.Getenv("KEFU_SOAK_DURATION")); err == nil {
			dur = d
		}
	}
	ctx := context.Background()
	rdb := MustRedis(t, agents+reapers+8)
	cfg := testConfig()
	cfg.Lease = 30 * time.Second
	cfg.OfferTimeout = 20 * time.Second
	q, clk := MustQueueOn(t, rdb, cfg)
	groups := cfg.Groups
	run := &soakRun{entries: map[string][]soakEntry{}, claims: map[string]bool{}, notes: map[string]int{},
		enq: map[string]bool{}, stats: map[string]*atomic.Int64{}}
	fail := func(format string, a ...any) {
		t.Helper()
		t.Errorf(format, a...)
	}

	aids := make([]string, agents)
	for i := range agents {
		aids[i] = fmt.Sprintf("ag%02d", i)
		gs := []string{groups[i%len(groups)]}
		if i%3 == 0 {
			gs = append(gs, groups[(i+1)%len(groups)])
		}
		mustOnline(t, q, Agent{ID: aids[i], Groups: gs, Max: 1 + i%5})
	}
	cid := func(r *rand.Rand) string { return fmt.Sprintf("soak:%d", r.IntN(convs)) }

	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	// The clock runs ahead: one test second per 2 ms of real time.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stopped() {
			clk.Advance(time.Second)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	// Reapers, each also running auto-assignment offers.
	for i := range reapers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopped() {
				got, err := q.Reap(ctx)
				if err != nil {
					fail("reaper %d: %v", i, err)
					return
				}
				for range got {
					run.count("reaped")
				}
				if _, _, err := q.Offers(ctx); err != nil {
					fail("offers: %v", err)
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	// Customers.
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 99))
			for !stopped() {
				c := cid(r)
				switch n := r.IntN(100); {
				case n < 70:
					g := groups[r.IntN(len(groups))]
					p, err := q.Enqueue(ctx, Ticket{Conv: c, Group: g, Urgent: r.IntN(10) == 0, Reason: "requested"})
					if err != nil {
						fail("enqueue: %v", err)
						return
					}
					run.mu.Lock()
					run.enq[c] = true
					run.mu.Unlock()
					if p.New {
						run.count("enqueued")
					}
				case n < 80:
					if err := q.Cancel(ctx, c); err == nil {
						run.count("canceled")
					} else if !expectedErr(err) {
						fail("cancel: %v", err)
					}
				case n < 90:
					if _, err := q.Rate(ctx, c, 1+r.IntN(5), "ok"); err == nil {
						run.count("rated")
					} else if !expectedErr(err) {
						fail("rate: %v", err)
					}
				default:
					if _, err := q.CustomerMessage(ctx, c, "0-1"); err != nil {
						fail("customer message: %v", err)
					}
				}
				time.Sleep(200 * time.Microsecond)
			}
		}()
	}
	// Agents.
	for i, aid := range aids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			var held, dead []Claim
			msgs := 0
			pick := func() int { return r.IntN(len(held)) }
			drop := func(k int) { held = append(held[:k], held[k+1:]...) }
			for !stopped() {
				n := r.IntN(100)
				switch {
				case n < 22 || (n < 27 && len(held) == 0):
					want := ""
					if n >= 20 {
						want = cid(r)
					}
					c, err := q.Claim(ctx, aid, want)
					if err == nil {
						held = append(held, c)
						run.granted(c)
						run.count("claimed")
					} else if !expectedErr(err) {
						fail("claim: %v", err)
					}
				case n < 50 && len(held) > 0:
					k := pick()
					msgs++
					mid := fmt.Sprintf("%s-%d", aid, msgs)
					entry, dup, err := q.Append(ctx, held[k], mid, "您好 "+mid)
					if err != nil {
						if !expectedErr(err) {
							fail("append: %v", err)
						}
						run.count("append_refused")
						drop(k)
						continue
					}
					if dup {
						fail("append %s: dup on first write", mid)
					}
					run.mu.Lock()
					run.entries[held[k].Conv] = append(run.entries[held[k].Conv], soakEntry{mid, entry, aid, held[k].Epoch})
					run.mu.Unlock()
					run.count("appended")
					if r.IntN(10) == 0 { // the console retries
						e2, dup, err := q.Append(ctx, held[k], mid, "您好 "+mid)
						if err != nil || !dup || e2 != entry {
							fail("append retry %s: %s dup %v %v; want %s dup", mid, e2, dup, err, entry)
						}
					}
				case n < 68:
					lost, err := q.Heartbeat(ctx, aid, held)
					if err != nil {
						if !expectedErr(err) {
							fail("heartbeat: %v", err)
						}
						continue
					}
					for _, l := range lost {
						for k := range held {
							if held[k].Conv == l {
								dead = append(dead, held[k])
								drop(k)
								run.count("lost")
								break
							}
						}
					}
				case n < 74 && len(held) > 0:
					k := pick()
					var to Target
					if r.IntN(2) == 0 {
						to.Group = groups[r.IntN(len(groups))]
					} else {
						to.Agent = aids[r.IntN(len(aids))]
					}
					nc, err := q.Transfer(ctx, held[k], to, "note from "+aid)
					if err != nil {
						if !expectedErr(err) {
							fail("transfer: %v", err)
						}
						if errors.Is(err, ErrLeaseLost) || errors.Is(err, ErrNotHolder) {
							drop(k)
						}
						continue
					}
					run.mu.Lock()
					run.notes[nc.Conv]++
					run.mu.Unlock()
					if nc.Agent != "" {
						run.granted(nc)
					}
					dead = append(dead, held[k])
					drop(k)
					run.count("transferred")
				case n < 84 && len(held) > 0:
					k := pick()
					end := ToBot
					if r.IntN(2) == 0 {
						end = Closed
					}
					if err := q.Release(ctx, held[k], end); err != nil {
						if !expectedErr(err) {
							fail("release: %v", err)
						}
						run.count("release_refused")
					} else {
						run.count("released")
					}
					dead = append(dead, held[k])
					drop(k)
				case n < 86 && len(held) > 0:
					// Crash: the console forgets everything and stops heartbeating.
					dead = append(dead, held...)
					held = nil
					run.count("crashed")
				case n < 90 && len(dead) > 0:
					// A stale console writes with an old claim.
					c := dead[r.IntN(len(dead))]
					msgs++
					mid := fmt.Sprintf("%s-%d", aid, msgs)
					entry, _, err := q.Append(ctx, c, mid, "stale "+mid)
					if err == nil {
						// Allowed only while that claim really still stood.
						run.mu.Lock()
						run.entries[c.Conv] = append(run.entries[c.Conv], soakEntry{mid, entry, aid, c.Epoch})
						run.mu.Unlock()
						run.count("stale_append_accepted")
					} else if !expectedErr(err) {
						fail("stale append: %v", err)
					} else {
						run.count("stale_append_refused")
					}
				case n < 91:
					got, err := q.AgentOffline(ctx, aid)
					if err != nil {
						fail("offline: %v", err)
					}
					for range got {
						run.count("offline_requeued")
					}
					dead = append(dead, held...)
					held = nil
					gs := []string{groups[i%len(groups)]}
					if err := q.AgentOnline(ctx, Agent{ID: aid, Groups: gs, Max: 1 + i%5}); err != nil {
						fail("online: %v", err)
					}
					run.count("signed_out")
				case n < 94:
					// Console reload: learn what the queue says we hold.
					hs, err := q.Held(ctx, aid)
					if err != nil {
						fail("held: %v", err)
						continue
					}
					held = held[:0]
					for _, h := range hs {
						held = append(held, h.Claim)
					}
				}
				if len(dead) > 50 {
					dead = dead[25:]
				}
			}
		}()
	}
	// Audit throughout.
	deadline := time.Now().Add(dur)
	audits := 0
	for time.Now().Before(deadline) && !t.Failed() {
		time.Sleep(50 * time.Millisecond)
		rep, err := q.Audit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.Err(); err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("audit during run:\n%v", err)
		}
		audits++
	}
	close(stop)
	wg.Wait()

	// Every lease ends; everything still held goes back in line.
	clk.Advance(cfg.Lease + time.Second)
	finalReap, err := q.Reap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep := MustAudit(t, q)
	if rep.Held != 0 || rep.Open != rep.Waiting {
		t.Errorf("after the final reap: %+v, want nothing held", rep)
	}
	// Every conversation accounted for: waiting in exactly its queue, or with
	// the bot, or closed.
	run.mu.Lock()
	defer run.mu.Unlock()
	waiting := 0
	for c := range run.enq {
		h := rdb.HGetAll(ctx, q.convKey(c)).Val()
		inOpen := rdb.SIsMember(ctx, q.openKey(), c).Val()
		switch h["mode"] {
		case "waiting":
			if !inOpen || rdb.ZScore(ctx, q.waitKey(h["group"]), c).Err() != nil {
				t.Errorf("%s waiting but not in queue %s", c, h["group"])
			}
			waiting++
		case "bot", "closed":
			if inOpen {
				t.Errorf("%s is %s but still open", c, h["mode"])
			}
		default:
			t.Errorf("%s in mode %q", c, h["mode"])
		}
	}
	if waiting != rep.Waiting {
		t.Errorf("%d conversations waiting by their hash, audit says %d", waiting, rep.Waiting)
	}
	// Drain: one agent able to take everything claims it all.
	mustOnline(t, q, Agent{ID: "drain", Groups: groups, Max: convs + 1})
	drained := 0
	for {
		_, err := q.Claim(ctx, "drain", "")
		if errors.Is(err, ErrEmpty) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		drained++
	}
	if drained != waiting {
		t.Errorf("drained %d, want %d", drained, waiting)
	}
	// The record: one event per accepted change, each one the conversation
	// could make in the state the earlier ones left it in.
	n := func(k string) int64 {
		if run.stats[k] == nil {
			return 0
		}
		return run.stats[k].Load()
	}
	checkLifecycle(t, rdb, q, map[string]int64{
		conv.Handoff:      n("enqueued"),
		conv.Claimed:      n("claimed") + int64(drained),
		conv.AgentMessage: n("appended") + n("stale_append_accepted"),
		conv.Transfer:     n("transferred"),
		conv.Abandoned:    n("canceled"),
		conv.Rated:        n("rated"),
		conv.LeaseLost:    n("reaped") + n("offline_requeued") + int64(len(finalReap)),
	}, n("released"))
	// Transcripts: exactly the accepted messages, once each, epochs never
	// going down, every (agent, epoch) one the queue granted.
	missing, extra := 0, 0
	for c := range run.enq {
		xs, err := rdb.XRange(ctx, q.txKey(c), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]soakEntry{}
		for _, e := range run.entries[c] {
			want[e.msgID] = e
		}
		seen := map[string]bool{}
		var lastEpoch int64
		notes := 0
		for _, x := range xs {
			v := func(k string) string { s, _ := x.Values[k].(string); return s }
			if v("dir") == "note" {
				notes++
				continue
			}
			mid := v("msg_id")
			epoch, _ := strconv.ParseInt(v("epoch"), 10, 64)
			if epoch < lastEpoch {
				t.Errorf("%s: entry %s epoch %d after epoch %d: a stale write got in", c, x.ID, epoch, lastEpoch)
			}
			lastEpoch = epoch
			if !run.claims[fmt.Sprintf("%s|%s|%d", c, v("agent"), epoch)] {
				t.Errorf("%s: entry %s by %s at epoch %d, never granted", c, x.ID, v("agent"), epoch)
			}
			if seen[mid] {
				t.Errorf("%s: message %s twice", c, mid)
			}
			seen[mid] = true
			if e, ok := want[mid]; !ok || e.entry != x.ID {
				extra++
			}
		}
		for mid := range want {
			if !seen[mid] {
				missing++
			}
		}
		if notes != run.notes[c] {
			t.Errorf("%s: %d notes, want %d", c, notes, run.notes[c])
		}
	}
	if missing+extra > 0 {
		t.Errorf("transcripts: %d accepted messages missing, %d unexpected", missing, extra)
	}
	var names []string
	for k := range run.stats {
		names = append(names, k)
	}
	sort.Strings(names)
	line := fmt.Sprintf("soak %v: %d convs, %d agents, %d reapers, %d audits, test clock %v;", dur, convs, agents,
		reapers, audits, clk.Now().Sub(newClock().Now()).Round(time.Second))
	for _, k := range names {
		line += fmt.Sprintf(" %s=%d", k, run.stats[k].Load())
	}
	t.Log(line)
	for _, must := range []string{"claimed", "appended", "reaped", "transferred", "released"} {
		if n(must) == 0 {
			t.Errorf("the run never exercised %s", must)
		}
	}
	// A refused write from a claim the agent still believed in happens by
	// chance (its lease ran out unnoticed); in a 3-second run it may not.
	// Deliberately stale writes always run, so require a refusal of either
	// kind here, and the by-chance kind in the long run.
	if n("append_refused")+n("stale_append_refused") == 0 {
		t.Error("the run never refused a stale write")
	}
	if os.Getenv("KEFU_SOAK") != "" && n("append_refused") == 0 {
		t.Error("the long run never exercised append_refused")
	}
}

// checkLifecycle replays the lifecycle stream conversation by conversation:
// every event must be a change the conversation could make in the state the
// earlier events left it in (claimed only while waiting, an agent's message
// only from its holder, first only on the first since the hand-off…), the
// counts of each type must be the operations the queue accepted (want), and
// back_to_bot plus closed the releases.
func checkLifecycle(t *testing.T, rdb *redis.Client, q *Queue, want map[string]int64, released int64) {
	t.Helper()
	type state struct {
		mode, holder, offer string // mode: "" (bot or closed), waiting, held
		replied             bool
	}
	convs := map[string]*state{}
	got := map[string]int64{}
	bad := 0
	fail := func(id string, f map[string]string, format string, a ...any) {
		if bad++; bad <= 10 {
			t.Errorf("lifecycle %s %v: %s", id, f, fmt.Sprintf(format, a...))
		}
	}
	start := "-"
	for {
		xs, err := rdb.XRangeN(context.Background(), conv.LifecycleKey(q.cfg.Prefix), start, "+", 5000).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range xs {
			f := map[string]string{}
			for k, v := range x.Values {
				f[k], _ = v.(string)
			}
			st := convs[f[conv.EvConv]]
			if st == nil {
				st = &state{}
				convs[f[conv.EvConv]] = st
			}
			typ, agent := f[conv.EvType], f[conv.EvAgent]
			got[typ]++
			switch typ {
			case conv.Handoff:
				if st.mode != "" {
					fail(x.ID, f, "handed off while %s", st.mode)
				}
				*st = state{mode: "waiting"}
			case conv.Offered:
				if st.mode != "waiting" || st.offer != "" {
					fail(x.ID, f, "offered while %s, offered to %q", st.mode, st.offer)
				}
				st.offer = agent
			case conv.Declined:
				if st.mode != "waiting" || st.offer != agent {
					fail(x.ID, f, "declined while %s, offered to %q", st.mode, st.offer)
				}
				st.offer = ""
			case conv.Claimed:
				if st.mode != "waiting" {
					fail(x.ID, f, "claimed while %s", st.mode)
				}
				st.mode, st.holder, st.offer = "held", agent, ""
			case conv.AgentMessage:
				if st.mode != "held" || st.holder != agent {
					fail(x.ID, f, "agent message while %s by %q", st.mode, st.holder)
				}
				if first := f[conv.EvFirst] == "1"; first == st.replied {
					fail(x.ID, f, "first=%v after replied=%v", first, st.replied)
				}
				st.replied = true
			case conv.Transfer:
				from := f[conv.EvFrom]
				if !(st.mode == "held" && st.holder == from || st.mode == "waiting" && from == "") {
					fail(x.ID, f, "transfer from %q while %s by %q", from, st.mode, st.holder)
				}
				if to := f[conv.EvTo]; to != "" {
					st.mode, st.holder = "held", to
				} else {
					st.mode, st.holder, st.replied = "waiting", "", false
				}
				st.offer = ""
			case conv.BackToBot, conv.Closed:
				by := agent
				if typ == conv.Closed {
					by = f[conv.EvBy]
				}
				if st.mode != "held" || st.holder != by {
					fail(x.ID, f, "released by %q while %s by %q", by, st.mode, st.holder)
				}
				*st = state{}
				got["released"]++
			case conv.Abandoned:
				if st.mode != "waiting" || f[conv.EvBy] != conv.ByCustomer {
					fail(x.ID, f, "abandoned while %s", st.mode)
				}
				*st = state{}
			case conv.LeaseLost:
				if st.mode != "held" || st.holder != agent {
					fail(x.ID, f, "lease lost while %s by %q", st.mode, st.holder)
				}
				st.mode, st.holder = "waiting", ""
			case conv.Rated:
			default:
				fail(x.ID, f, "unexpected type")
			}
			start = "(" + x.ID
		}
		if len(xs) < 5000 {
			break
		}
	}
	for typ, n := range want {
		if got[typ] != n {
			t.Errorf("%d %s events, want %d", got[typ], typ, n)
		}
	}
	if got["released"] != released {
		t.Errorf("%d back_to_bot and closed events, want %d releases", got["released"], released)
	}
	t.Logf("lifecycle: %d conversations, events %v", len(convs), got)
}
