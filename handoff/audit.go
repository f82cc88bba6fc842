package handoff

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/kefu-dev/kefu/conv"
)

// Report is the result of an Audit.
type Report struct {
	Open     int      // conversations waiting or held
	Waiting  int      // in a queue
	Held     int      // held by an agent
	Offered  int      // waiting with a standing offer
	Problems []string // broken invariants; empty when all hold
}

// Err is nil when no invariant is broken, else every problem joined.
func (r Report) Err() error {
	errs := make([]error, len(r.Problems))
	for i, p := range r.Problems {
		errs[i] = errors.New(p)
	}
	return errors.Join(errs...)
}

// Audit checks the invariants on one consistent snapshot (one read-only
// script): every open conversation is in exactly one place (one group's
// queue, or held by exactly one agent with a lease), and nothing is in a place
// without being open; the conversation's fields agree with its place (mode,
// group, holder, score = lane·1e13 + seq); no agent holds more than their
// maximum; offers point both ways; and, across calls on this Queue, no
// conversation's epoch ever went down. It is for tests and supervisors; it
// reads every open conversation, so do not run it in a hot loop.
func (q *Queue) Audit(ctx context.Context) (Report, error) {
	args := []any{q.cfg.Prefix}
	for _, g := range q.cfg.Groups {
		args = append(args, g)
	}
	v, err := scripts["audit"].RunRO(ctx, q.rdb, []string{q.openKey(), q.leasesKey(), q.agentsKey()}, args...).Result()
	if err != nil {
		return Report{}, fmt.Errorf("audit: %w", err)
	}
	r := asSlice(v)
	var rep Report
	bad := func(format string, a ...any) { rep.Problems = append(rep.Problems, fmt.Sprintf(format, a...)) }

	open := map[string]bool{}
	for _, c := range asStrings(r[0]) {
		open[c] = true
	}
	rep.Open = len(open)
	waits := map[string][]string{} // cid -> groups
	scores := map[string]string{}
	for _, w := range asSlice(r[1]) {
		gw := asSlice(w)
		g, items := asString(gw[0]), asStrings(gw[1])
		for i := 0; i+1 < len(items); i += 2 {
			waits[items[i]] = append(waits[items[i]], g)
			scores[items[i]] = items[i+1]
		}
	}
	leases := map[string]bool{}
	items := asStrings(r[2])
	for i := 0; i+1 < len(items); i += 2 {
		leases[items[i]] = true
	}
	holders := map[string][]string{}
	offers := map[string][]string{} // cid -> agents whose offers set has it
	for _, a := range asSlice(r[3]) {
		f := asSlice(a)
		aid, maxc, held, offered := asString(f[0]), asInt(f[1]), asStrings(f[3]), asStrings(f[4])
		if int64(len(held)) > maxc {
			bad("agent %s holds %d conversations, max %d", aid, len(held), maxc)
		}
		for _, c := range held {
			holders[c] = append(holders[c], aid)
		}
		for _, c := range offered {
			offers[c] = append(offers[c], aid)
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, row := range asSlice(r[4]) {
		f := asStrings(row)
		cid, mode, group, agent, offerAgent := f[0], f[1], f[2], f[3], f[7]
		epoch, _ := strconv.ParseInt(f[4], 10, 64)
		if last, ok := q.epochs[cid]; ok && epoch < last {
			bad("conv %s: epoch went down from %d to %d", cid, last, epoch)
		}
		q.epochs[cid] = max(q.epochs[cid], epoch)

		w, h := waits[cid], holders[cid]
		places := len(w) + len(h)
		switch {
		case places > 1:
			bad("conv %s in %d places: queues %v, agents %v", cid, places, w, h)
		case places == 0 && open[cid]:
			bad("conv %s open but neither waiting nor held", cid)
		case places == 1 && !open[cid]:
			bad("conv %s waiting or held but not open", cid)
		}
		if len(h) > 0 && !leases[cid] {
			bad("conv %s held by %v without a lease", cid, h)
		}
		if len(h) == 0 && leases[cid] {
			bad("conv %s has a lease but no holder", cid)
		}
		if len(w) == 1 {
			rep.Waiting++
			if mode != conv.ModeWaiting || group != w[0] || agent != "" {
				bad("conv %s waits in %s but mode=%q group=%q agent=%q", cid, w[0], mode, group, agent)
			}
			due, _ := strconv.ParseInt(f[5], 10, 64)
			seq, _ := strconv.ParseInt(f[6], 10, 64)
			if want := strconv.FormatFloat(conv.QueueScore(due, seq), 'f', -1, 64); scores[cid] != want {
				bad("conv %s score %s, want %s (due %d seq %d)", cid, scores[cid], want, due, seq)
			}
		}
		if len(h) == 1 {
			rep.Held++
			if mode != conv.ModeAgent || agent != h[0] {
				bad("conv %s held by %s but mode=%q agent=%q", cid, h[0], mode, agent)
			}
		}
		if o := offers[cid]; len(o) > 0 || offerAgent != "" {
			switch {
			case len(o) != 1 || o[0] != offerAgent:
				bad("conv %s offered to %q but in the offers of %v", cid, offerAgent, o)
			case len(w) != 1:
				bad("conv %s offered to %s but not waiting", cid, offerAgent)
			default:
				rep.Offered++
			}
		}
	}
	slices.Sort(rep.Problems)
	return rep, nil
}
