package tickets

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/internal/testkit/pgtest"
)

// BenchmarkNotifierIdlePoll is one poll of the solve notifier (every
// instance makes one every 5 s) over an archive holding 10,000 solves of
// the last week, all told already: the cost of telling nobody.
//
//	go test -run '^$' -bench NotifierIdlePoll ./tickets/
func BenchmarkNotifierIdlePoll(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		b.Run(db, func(b *testing.B) {
			dsn := "sqlite://" + filepath.Join(b.TempDir(), "archive.db")
			if db == "postgres" {
				dsn = pgtest.Database(b)
			}
			ctx := context.Background()
			clock := testkit.NewClock(t0)
			d := open(b, dsn)
			s := New(d, clock.Now)
			n := &Notifier{Store: s, Tell: func(context.Context, Ticket) (string, error) { return "web", nil }}
			for i := range 10000 {
				tk, _, err := s.Create(ctx, NewTicket{Reason: ReasonLeaveMessage, Customer: fmt.Sprintf("web:b%d", i)})
				if err != nil {
					b.Fatal(err)
				}
				s.Solve(ctx, tk.ID, "alice", "")
				clock.Advance(30 * time.Second)
				if i%100 == 99 {
					n.Tick(ctx)
				}
			}
			n.Tick(ctx)
			b.ResetTimer()
			for range b.N {
				if k, err := n.Tick(ctx); err != nil || k != 0 {
					b.Fatal(k, err)
				}
			}
		})
	}
}
