package archiver

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
)

var (
	//go:embed lua/expire.lua
	expireLua    string
	expireScript = conv.Script(expireLua)
	//go:embed lua/sweep.lua
	sweepLua    string
	sweepScript = conv.Script(sweepLua)
	//go:embed lua/forget.lua
	forgetLua    string
	forgetScript = redis.NewScript(forgetLua)
)

// expireClosed lets the keys of the threads whose close or abandonment evs
// hold expire after Retention (expire.lua: only if the thread is still
// closed in that episode). One pipeline for the batch.
func (a *Archiver) expireClosed(ctx context.Context, evs []archive.Event) error {
	pipe := a.rdb.Pipeline()
	n := 0
	for _, e := range evs {
		if e.Type != conv.Closed && e.Type != conv.Abandoned {
			continue
		}
		thread, ep, ok := conv.SplitArchiveID(e.Conv)
		if !ok {
			continue
		}
		// Eval, not Run: a pipeline cannot fall back from EVALSHA.
		expireScript.Eval(ctx, pipe, []string{conv.Key(a.cfg.Prefix, thread), conv.TxKey(a.cfg.Prefix, thread)},
			ep, a.cfg.Retention.Milliseconds())
		n++
	}
	if n == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("archiver: retention: %w", err)
	}
	return nil
}

// SweeperConfig sets a Sweeper up.
type SweeperConfig struct {
	Prefix string
	// Idle: a thread with the bot and no activity for this long is closed
	// (retention.idle).
	Idle time.Duration
	// Every: how often to look (default Idle/10, between 1 s and 1 min).
	Every time.Duration
	// Batch: threads one script call reads (default 500).
	Batch int
	Now   func() time.Time
	Log   *slog.Logger
}

// Sweeper closes the bot's threads idle past Idle, in every instance at once
// (the script checks and closes each thread in one step, so two sweepers
// never close one twice).
type Sweeper struct {
	rdb redis.UniversalClient
	cfg SweeperConfig

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewSweeper makes a Sweeper; it does no I/O.
func NewSweeper(rdb redis.UniversalClient, cfg SweeperConfig) *Sweeper {
	if cfg.Every <= 0 {
		cfg.Every = min(max(cfg.Idle/10, time.Second), time.Minute)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{rdb: rdb, cfg: cfg}
}

// Sweep closes every thread idle now, in batches; it returns how many it
// closed.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	now := s.cfg.Now()
	cutoff := now.Add(-s.cfg.Idle).UnixMilli()
	total := 0
	for {
		res, err := sweepScript.Run(ctx, s.rdb, []string{conv.ActiveKey(s.cfg.Prefix)}, s.cfg.Prefix, cutoff,
			now.UnixMilli(), s.cfg.Batch, conv.Key("", ""), conv.ByIdle).Int64Slice()
		if err != nil {
			return total, fmt.Errorf("sweep idle threads: %w", err)
		}
		total += int(res[0])
		if res[1] < int64(s.cfg.Batch) {
			return total, nil
		}
	}
}

// Start sweeps every Every until Close.
func (s *Sweeper) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		return errors.New("sweeper: started twice")
	}
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.cfg.Every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			n, err := s.Sweep(ctx)
			if err != nil && ctx.Err() == nil {
				s.cfg.Log.Warn("sweeper", "err", err)
			}
			if n > 0 {
				s.cfg.Log.Info("idle threads closed", "threads", n, "idle", s.cfg.Idle)
			}
		}
	}()
	return nil
}

// Close stops the sweeper and waits for it.
func (s *Sweeper) Close() error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	return nil
}
