// Package handoff owns the human hand-off queue on Redis: skill groups with
// an urgent lane and first-come-first-served order, agents' presence and
// capacity, claims with leases and fencing epochs, the reaper that puts
// abandoned conversations back in line, transfers, release to the bot or
// close, agents' messages in the transcript, queue position and ETA for the
// waiting customer, auto-assignment offers, satisfaction ratings, event
// streams for agent consoles, and an audit of the invariants.
//
// Every state change is one Lua script (lua/*.lua), so several gateway
// instances can share one Redis, and each script that changes a
// conversation writes its lifecycle event (package conv's types: handoff,
// offered, declined, claimed, agent_message, note, transfer, back_to_bot,
// closed, abandoned, rated, lease_lost) to the lifecycle stream in the same
// step: no change without its event, and a refused operation writes none.
// It shares the conversation hash and the transcript stream with package bot
// through package conv, which owns their schema (the only package of ours it
// imports): the caller adapts its conversation to a Ticket. It does not talk
// to customers or serve the console: the caller does, with what the queue
// returns and the events it writes on the console streams (GroupStream,
// AgentStream), which are the consoles' live feed, not the record.
package handoff

import (
	"context"
	"embed"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/conv"
)

//go:embed lua/*.lua
var luaFS embed.FS

// scripts holds every script by operation name (the file name), each made
// with conv.Script: the conversation's modes, hash fields and lifecycle
// events come from package conv (MODE, F, EV, EF), and a script that changes
// a conversation emits its lifecycle event with emit() in the same step.
var scripts = func() map[string]*redis.Script {
	m := map[string]*redis.Script{}
	ents, err := luaFS.ReadDir("lua")
	if err != nil {
		panic(err)
	}
	for _, e := range ents {
		b, err := luaFS.ReadFile("lua/" + e.Name())
		if err != nil {
			panic(err)
		}
		m[e.Name()[:len(e.Name())-len(".lua")]] = conv.Script(string(b))
	}
	return m
}()

// Queue is the hand-off queue. It is safe for concurrent use, and any number
// of Queues (one per gateway instance) may share one Redis.
type Queue struct {
	rdb   redis.UniversalClient
	cfg   Config
	hours hours
	now   func() time.Time
	log   *slog.Logger

	mu     sync.Mutex
	epochs map[string]int64 // highest epoch each conversation had at the last Audit
}

// New returns a Queue over rdb. now is the clock (time.Now in production; a
// test moves its own); log may be nil. It validates cfg and does no I/O.
func New(rdb redis.UniversalClient, cfg Config, now func() time.Time, log *slog.Logger) (*Queue, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	h, err := cfg.Hours.parse()
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Queue{rdb: rdb, cfg: cfg, hours: h, now: now, log: log, epochs: map[string]int64{}}, nil
}

// Config returns the configuration in force, defaults filled in.
func (q *Queue) Config() Config { return q.cfg }

// GroupFor returns the group a category's conversations go to.
func (q *Queue) GroupFor(category string) string {
	if g, ok := q.cfg.Categories[category]; ok {
		return g
	}
	return q.cfg.DefaultGroup
}

// Open reports whether t is within business hours.
func (q *Queue) Open(t time.Time) bool { return q.hours.openAt(t) }

// NextOpen returns the first moment at or after t within business hours (t
// itself when open), looking up to a year ahead; ok is false if there is none.
func (q *Queue) NextOpen(t time.Time) (next time.Time, ok bool) {
	return q.hours.nextOpen(t)
}

func (q *Queue) hasGroup(g string) bool {
	for _, x := range q.cfg.Groups {
		if x == g {
			return true
		}
	}
	return false
}

// Keys.
func (q *Queue) key(parts ...string) string {
	k := q.cfg.Prefix
	for i, p := range parts {
		if i > 0 {
			k += ":"
		}
		k += p
	}
	return k
}
func (q *Queue) convKey(cid string) string      { return conv.Key(q.cfg.Prefix, cid) }
func (q *Queue) txKey(cid string) string        { return conv.TxKey(q.cfg.Prefix, cid) }
func (q *Queue) agentKey(aid string) string     { return q.key("agent", aid) }
func (q *Queue) waitKey(g string) string        { return q.key("wait", g) }
func (q *Queue) leasesKey() string              { return q.key("leases") }
func (q *Queue) openKey() string                { return q.key("open") }
func (q *Queue) agentsKey() string              { return q.key("agents") }
func (q *Queue) groupKey(g, what string) string { return q.key("group", g, what) }

// GroupStream is the event stream of a group's queue, for Events.
func (q *Queue) GroupStream(group string) string { return q.key("events", group) }

// AgentStream is the event stream of one agent (offers, assignments, lost
// claims, customer messages, ratings), for Events.
func (q *Queue) AgentStream(aid string) string { return q.key("agent", aid, "events") }

func (q *Queue) ms(t time.Time) int64 { return t.UnixMilli() }

// run runs a script, mapping its error replies to sentinels.
func (q *Queue) run(ctx context.Context, name string, keys []string, args ...any) (any, error) {
	v, err := scripts[name].Run(ctx, q.rdb, keys, args...).Result()
	return v, scriptErr(err)
}

// Reply helpers: go-redis gives Lua tables as []any of int64 and string.
func asSlice(v any) []any { s, _ := v.([]any); return s }
func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}
func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}
func asStrings(v any) []string {
	s := asSlice(v)
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = asString(x)
	}
	return out
}

func wrap(op, id string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s: %w", op, id, err)
}
