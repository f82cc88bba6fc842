package handoff

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// ReaperConfig configures a Reaper.
type ReaperConfig struct {
	// Every is the period. Default: a third of the lease.
	Every time.Duration
	// AutoAssign runs Offers each period.
	AutoAssign bool
	// Notify, when set, receives each period the waiting conversations whose
	// position changed meaningfully (Notices): tell those customers.
	Notify func(context.Context, []Position)
	// Requeued, when set, receives the conversations put back in line.
	Requeued func(context.Context, []string)
	// SLA runs SLASweep each period: breaches of the service-level targets
	// become sla_breached events.
	SLA bool
}

// Reaper runs the queue's housekeeping periodically: Reap, Offers when
// auto-assigning, SLASweep and Notices when asked to. Every instance may run one: each
// step is atomic in Redis.
type Reaper struct {
	q    *Queue
	cfg  ReaperConfig
	log  *slog.Logger
	mu   sync.Mutex
	stop context.CancelFunc
	done chan struct{}
}

// NewReaper returns a Reaper for q. It does no I/O and starts nothing.
func NewReaper(q *Queue, cfg ReaperConfig) *Reaper {
	if cfg.Every <= 0 {
		cfg.Every = q.cfg.Lease / 3
	}
	return &Reaper{q: q, cfg: cfg, log: q.log}
}

// Start runs the loop in a goroutine until ctx ends or Close.
func (r *Reaper) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		return errors.New("reaper: already started")
	}
	ctx, r.stop = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go r.loop(ctx)
	return nil
}

// Close stops the loop and waits for it.
func (r *Reaper) Close() error {
	r.mu.Lock()
	stop, done := r.stop, r.done
	r.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	<-done
	return nil
}

func (r *Reaper) loop(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.cfg.Every)
	defer t.Stop()
	for {
		r.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick runs one round now (the loop calls it each period).
func (r *Reaper) Tick(ctx context.Context) {
	got, err := r.q.Reap(ctx)
	if err != nil && ctx.Err() == nil {
		r.log.ErrorContext(ctx, "reap", "err", err)
	}
	if len(got) > 0 && r.cfg.Requeued != nil {
		r.cfg.Requeued(ctx, got)
	}
	if r.cfg.AutoAssign {
		if _, _, err := r.q.Offers(ctx); err != nil && ctx.Err() == nil {
			r.log.ErrorContext(ctx, "offers", "err", err)
		}
	}
	if r.cfg.SLA {
		if _, err := r.q.SLASweep(ctx); err != nil && ctx.Err() == nil {
			r.log.ErrorContext(ctx, "sla sweep", "err", err)
		}
	}
	if r.cfg.Notify != nil {
		ps, err := r.q.Notices(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.ErrorContext(ctx, "notices", "err", err)
		}
		if len(ps) > 0 {
			r.cfg.Notify(ctx, ps)
		}
	}
}
