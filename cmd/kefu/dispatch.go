package main

import (
	"context"
	"fmt"
	"time"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/report"
)

// agentPerformance is each agent's figures from a report by agent: CSAT the
// mean rating, first response its median, resolution the first-contact
// resolution rate.
func agentPerformance(rep *report.Report) []handoff.Performance {
	var out []handoff.Performance
	for _, r := range rep.Rows {
		if r.Key == "" {
			continue
		}
		p := handoff.Performance{Agent: r.Key, CSAT: r.CSATMean, Resolution: r.FCRRate}
		if r.FirstResponseP50 != nil {
			d := time.Duration(*r.FirstResponseP50 * float64(time.Second))
			p.FirstResponse = &d
		}
		out = append(out, p)
	}
	return out
}

// refreshPerformance recomputes the agents' recent performance from the
// archive's rollups (the last period, whole days in the reports' zone) and
// replaces what weighted auto-assignment reads, kept for three refresh
// periods. Idempotent: every instance may run it.
func refreshPerformance(ctx context.Context, q *handoff.Queue, rep *report.Reporter, db *archive.DB,
	now time.Time, period, every time.Duration) (int, error) {
	end := now.In(rep.Location())
	from := end.Add(-period)
	res, err := rep.Report(ctx, db, report.Query{From: from.Format(time.DateOnly), To: end.Format(time.DateOnly), By: report.ByAgent})
	if err != nil {
		return 0, fmt.Errorf("agents' performance: %w", err)
	}
	ps := agentPerformance(res)
	if err := q.SetPerformance(ctx, ps, 3*every); err != nil {
		return 0, err
	}
	return len(ps), nil
}

// startDispatch starts the periodic refresh of the agents' performance when
// a dispatch weight is set: off the message path, each refresh one report
// read from the rollups and one Redis transaction.
func (s *server) startDispatch(ctx context.Context) {
	d := s.cfg.Handoff.Dispatch
	if !d.Weights.Weighted() || s.archive == nil || s.reports == nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	s.stopDispatch = func() { cancel(); <-done }
	go func() {
		defer close(done)
		t := time.NewTicker(d.Refresh)
		defer t.Stop()
		for {
			n, err := refreshPerformance(ctx, s.queue, s.reports, s.archive, s.now(), d.Period, d.Refresh)
			switch {
			case err != nil && ctx.Err() == nil:
				s.log.Warn("dispatch: agents' performance not refreshed", "err", err)
			case err == nil:
				s.log.Debug("dispatch: agents' performance refreshed", "agents", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}
