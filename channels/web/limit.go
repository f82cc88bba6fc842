package web

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter keeps a token bucket per customer on this instance. Behind a load
// balancer without sticky sessions a customer's limit is per instance.
type limiter struct {
	rps   rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(rps float64, burst int) *limiter {
	if rps <= 0 {
		rps = 2
	}
	if burst < 1 {
		burst = 5
	}
	return &limiter{rps: rate.Limit(rps), burst: burst, m: map[string]*bucket{}}
}

// allow takes one token for user at now.
func (l *limiter) allow(user string, now time.Time) bool {
	l.mu.Lock()
	b := l.m[user]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.rps, l.burst)}
		l.m[user] = b
	}
	b.seen = now
	l.mu.Unlock()
	return b.lim.AllowN(now, 1)
}

// sweep forgets customers idle for longer than a full bucket takes to refill.
func (l *limiter) sweep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			l.mu.Lock()
			for u, b := range l.m {
				if now.Sub(b.seen) > every {
					delete(l.m, u)
				}
			}
			l.mu.Unlock()
		}
	}
}
