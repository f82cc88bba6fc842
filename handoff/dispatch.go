package handoff

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/conv"
)

// Why an agent got a conversation: the code of conv.FieldAssignWhy and of
// the claimed (and offered) event's conv.EvAssign.
const (
	AssignReturning   = "returning_customer" // offered to the agent who served the customer last (Dispatch.ReturningWindow)
	AssignLeastBusy   = "least_busy"         // offered to the least-busy agent
	AssignPerformance = "performance"        // offered to an agent whose performance outweighed a lighter load
	AssignManual      = "manual"             // the agent took it from the queue
	AssignTransfer    = "transfer"           // transferred or reassigned to the agent by name
)

// Assignment is why the holder got a conversation: a code (Assign*) and its
// details (csat, frt in seconds, res 0-1, load, since in ms, by).
type Assignment struct {
	Reason string            `json:"reason"`
	Detail map[string]string `json:"detail,omitempty"`
}

// ParseAssignment reads conv.FieldAssignWhy ("code k=v k=v").
func ParseAssignment(s string) Assignment {
	f := strings.Fields(s)
	if len(f) == 0 {
		return Assignment{}
	}
	a := Assignment{Reason: f[0]}
	for _, kv := range f[1:] {
		if k, v, ok := strings.Cut(kv, "="); ok {
			if a.Detail == nil {
				a.Detail = map[string]string{}
			}
			a.Detail[k] = v
		}
	}
	return a
}

// Assignment returns why the holder of cid got it; the zero Assignment when
// nobody holds it (or it was claimed before reasons were recorded).
func (q *Queue) Assignment(ctx context.Context, cid string) (Assignment, error) {
	v, err := q.rdb.HMGet(ctx, q.convKey(cid), conv.FieldMode, conv.FieldAssignWhy).Result()
	if err != nil {
		return Assignment{}, fmt.Errorf("assignment %s: %w", cid, err)
	}
	if asString(v[0]) != conv.ModeAgent {
		return Assignment{}, nil
	}
	return ParseAssignment(asString(v[1])), nil
}

// Performance is an agent's recent figures, for weighted auto-assignment
// (Dispatch's weights). A nil figure is one the agent has none of.
type Performance struct {
	Agent         string
	CSAT          *float64       // mean rating, 1-5
	FirstResponse *time.Duration // median first response
	Resolution    *float64       // first-contact resolution rate, 0-1
}

// Scores are the figures on 0-1, higher better: CSAT (mean-1)/4, first
// response 1/(1+p50/1 min), resolution the rate; 0.5 for a missing one.
func (p Performance) Scores() (csat, frt, res float64) {
	csat, frt, res = 0.5, 0.5, 0.5
	if p.CSAT != nil {
		csat = clamp01((*p.CSAT - 1) / 4)
	}
	if p.FirstResponse != nil {
		frt = 1 / (1 + max(p.FirstResponse.Seconds(), 0)/60)
	}
	if p.Resolution != nil {
		res = clamp01(*p.Resolution)
	}
	return csat, frt, res
}

func clamp01(x float64) float64 {
	if math.IsNaN(x) {
		return 0.5
	}
	return math.Min(1, math.Max(0, x))
}

// perfKey is the hash of agents' performance: aid -> "csat_score frt_score
// res_score csat frt_s res" (the figures "-" when missing), read by
// offers.lua.
func (q *Queue) perfKey() string { return q.key("dispatch", "perf") }

// SetPerformance replaces the agents' performance that weighted
// auto-assignment reads, kept for ttl (a refresh that stops running lets
// it lapse: then every agent counts 0.5 on each figure, which changes no
// order). Idempotent: any instance may run the refresh, at any time; it is
// not on the message path (Offers reads the hash once per group and run).
func (q *Queue) SetPerformance(ctx context.Context, ps []Performance, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("set performance: ttl %v: %w", ttl, ErrBadID)
	}
	vals := make([]any, 0, 2*len(ps))
	for _, p := range ps {
		if !validID(p.Agent) {
			return fmt.Errorf("set performance %q: %w", p.Agent, ErrBadID)
		}
		c, f, r := p.Scores()
		fig := func(v *float64, format string) string {
			if v == nil || math.IsNaN(*v) {
				return "-"
			}
			return fmt.Sprintf(format, *v)
		}
		frt := "-"
		if p.FirstResponse != nil {
			frt = strconv.FormatInt(int64(math.Round(p.FirstResponse.Seconds())), 10)
		}
		vals = append(vals, p.Agent, fmt.Sprintf("%.4f %.4f %.4f %s %s %s", c, f, r,
			fig(p.CSAT, "%.2f"), frt, fig(p.Resolution, "%.2f")))
	}
	_, err := q.rdb.TxPipelined(ctx, func(t redis.Pipeliner) error {
		t.Del(ctx, q.perfKey())
		if len(vals) > 0 {
			t.HSet(ctx, q.perfKey(), vals...)
			t.PExpire(ctx, q.perfKey(), ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set performance: %w", err)
	}
	return nil
}

// PerformanceOf returns what SetPerformance stored for aid ("" fields when
// none): the scores and the figures, as offers.lua reads them.
func (q *Queue) PerformanceOf(ctx context.Context, aid string) (string, error) {
	v, err := q.rdb.HGet(ctx, q.perfKey(), aid).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return v, err
}
