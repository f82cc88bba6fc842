package handoff

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkClaim: claims per second with many agents claiming "next" at once
// from one group (each claim is followed by its release, so capacity never
// runs out; the figure reported is claims/s).
func BenchmarkClaim(b *testing.B) {
	for _, agents := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("agents=%d", agents), func(b *testing.B) {
			ctx := context.Background()
			rdb := MustRedis(b, agents)
			cfg := testConfig()
			cfg.Lease = time.Hour
			q, _ := MustQueueOn(b, rdb, cfg)
			for i := range agents {
				mustOnline(b, q, Agent{ID: fmt.Sprintf("a%d", i), Groups: []string{"pre_sales"}, Max: 1})
			}
			// Fill the queue beforehand, pipelined through the script.
			for i := 0; i < b.N+agents; i++ {
				mustEnqueue(b, q, Ticket{Conv: fmt.Sprintf("b%d", i)})
			}
			var next atomic.Int64
			var claims atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for i := range agents {
				wg.Add(1)
				go func() {
					defer wg.Done()
					aid := fmt.Sprintf("a%d", i)
					for next.Add(1) <= int64(b.N) {
						c, err := q.Claim(ctx, aid, "")
						if err != nil {
							b.Error(err)
							return
						}
						claims.Add(1)
						if err := q.Release(ctx, c, Closed); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(claims.Load())/time.Since(start).Seconds(), "claims/s")
		})
	}
}

// BenchmarkEnqueueToClaim: the time from a customer's Enqueue call to an
// agent's successful claim, the way consoles work: 16 agents follow the
// group's event stream (blocking XREAD) and, on "enqueued", all try to claim
// that conversation by name; the winner records the latency (p50/p99).
func BenchmarkEnqueueToClaim(b *testing.B) {
	const agents = 16
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rdb := MustRedis(b, agents+2)
	cfg := testConfig()
	cfg.Lease = time.Hour
	q, _ := MustQueueOn(b, rdb, cfg)
	for i := range agents {
		mustOnline(b, q, Agent{ID: fmt.Sprintf("a%d", i), Groups: []string{"pre_sales"}, Max: 1 << 20})
	}
	var mu sync.Mutex
	enq := map[string]time.Time{}
	lat := make([]time.Duration, 0, b.N)
	var wg sync.WaitGroup
	for i := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			aid := fmt.Sprintf("a%d", i)
			last := "$"
			for ctx.Err() == nil {
				evs, err := q.Events(ctx, q.GroupStream("pre_sales"), last, 100, 50*time.Millisecond)
				if err != nil {
					if ctx.Err() == nil {
						b.Error(err)
					}
					return
				}
				for _, e := range evs {
					last = e.ID
					if e.Type != "enqueued" {
						continue
					}
					c, err := q.Claim(ctx, aid, e.Conv)
					if errors.Is(err, ErrTaken) {
						continue
					}
					if err != nil {
						if ctx.Err() == nil {
							b.Error(err)
						}
						return
					}
					now := time.Now()
					mu.Lock()
					lat = append(lat, now.Sub(enq[c.Conv]))
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond) // every follower is reading
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cid := fmt.Sprintf("e%d", i)
		mu.Lock()
		enq[cid] = time.Now()
		mu.Unlock()
		mustEnqueue(b, q, Ticket{Conv: cid})
		time.Sleep(time.Millisecond) // customers arrive one by one, not in a flood
	}
	for range 5000 {
		mu.Lock()
		n := len(lat)
		mu.Unlock()
		if n >= b.N {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cancel()
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}
