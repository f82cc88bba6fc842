package bot

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// RecovererConfig configures a Recoverer.
type RecovererConfig struct {
	// Every is the period. Default: half the store's lease.
	Every time.Duration
	// Batch is the most messages taken over per period. Default 100.
	Batch int
	// MaxTries: a message this many deliveries could not finish is finished
	// with the Busy notice. Default 5.
	MaxTries int
	// Deliver sends a reply on the customer's channel (the server's
	// deliver). Required.
	Deliver func(context.Context, Outbound) error
	// Log receives what failed. Default: discarded.
	Log *slog.Logger
}

// Recoverer finishes messages orphaned by a delivery that vanished: an
// instance that died (or froze) after claiming a message and before
// recording its reply, with no retry from the channel to take it over. Each
// period it takes over the in-flight messages whose lease has run out,
// handles each through the engine, as a retry would, and delivers the
// replies through the customer's channel (asynq's recoverer does the same
// for tasks). Every instance may run one: the take-over is atomic in Redis
// (ingest.lua), so one delivery at a time owns a message and its reply is
// recorded once; another recoverer or a retry meanwhile gets ErrInFlight.
//
// The time is the store's clock: a test moves it and calls Tick.
type Recoverer struct {
	e    *Engine
	cfg  RecovererConfig
	log  *slog.Logger
	mu   sync.Mutex
	stop context.CancelFunc
	done chan struct{}
}

// NewRecoverer returns a Recoverer over e. It does no I/O and starts nothing.
func NewRecoverer(e *Engine, cfg RecovererConfig) *Recoverer {
	if cfg.Every <= 0 {
		cfg.Every = e.Store.lease / 2
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.MaxTries <= 0 {
		cfg.MaxTries = 5
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recoverer{e: e, cfg: cfg, log: log}
}

// Start runs the loop in a goroutine until ctx ends or Close.
func (r *Recoverer) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		return errors.New("recoverer: already started")
	}
	ctx, r.stop = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go r.loop(ctx)
	return nil
}

// Close stops the loop and waits for it.
func (r *Recoverer) Close() error {
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

func (r *Recoverer) loop(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.cfg.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := r.Tick(ctx); err != nil && ctx.Err() == nil {
			r.log.ErrorContext(ctx, "recover", "err", err)
		}
	}
}

// Tick runs one round now (the loop calls it each period) and returns how
// many messages this instance finished. A message another delivery holds or
// finished meanwhile is left to it.
func (r *Recoverer) Tick(ctx context.Context) (int, error) {
	ms, err := r.e.Store.orphans(ctx, r.cfg.Batch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range ms {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		log := r.log.With("channel", m.Channel, "user", m.User, "msg_id", m.ID)
		outs, err := r.e.recoverMessage(ctx, m, r.cfg.MaxTries)
		if errors.Is(err, ErrDuplicate) { // also ErrInFlight: not ours
			continue
		}
		if err != nil {
			log.WarnContext(ctx, "orphaned message not finished; tried again after the lease", "err", err)
			continue
		}
		n++
		log.InfoContext(ctx, "orphaned message finished", "replies", len(outs))
		for _, out := range outs {
			if err := r.cfg.Deliver(ctx, out); err != nil {
				log.WarnContext(ctx, "orphaned message: reply not delivered", "conv", out.Conv, "err", err)
			}
		}
	}
	return n, nil
}
