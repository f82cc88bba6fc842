// Package archiver moves the lifecycle stream (conv.LifecycleKey) into the
// archive: every instance runs one Archiver, all of them in the Redis
// consumer group "archive", each reading batches, writing them to the
// archive (idempotent on the stream entry id) and acknowledging them after.
// At least once: an instance that dies mid-batch leaves its entries pending,
// and another claims them once they have been idle for ClaimIdle. It trims
// the stream of what every consumer group has acknowledged, and never of an
// entry still unarchived.
//
// It also keeps Redis bounded (retention): the Sweeper closes the bot's
// threads idle past retention.idle, and once a close is archived the
// archiver lets the thread's conversation and transcript keys expire after
// retention.redis.
//
// It owns the parked stream (ParkedKey) and the consumer group; the
// lifecycle stream's shape and the conversation's keys are package conv's,
// the tables package archive's.
package archiver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
)

// Group is the consumer group every instance's archiver reads in.
const Group = "archive"

// ParkedKey is the stream of lifecycle entries the archiver could not
// archive (no type, conversation or episode, a time or a field that does
// not parse): each is copied there with its id (field "id") and the reason
// (field "error"), then acknowledged, so that it does not block the ones
// behind it. Capped at about ParkedMax entries: an operator reads it
// (XRANGE) after the log said something was parked.
func ParkedKey(prefix string) string { return conv.LifecycleKey(prefix) + ":parked" }

// ParkedMax bounds the parked stream (MAXLEN ~).
const ParkedMax = 10000

// Writer stores a batch of events, all or nothing, idempotent on the event
// id (*archive.DB).
type Writer interface {
	Write(ctx context.Context, batch []archive.Event) error
}

var _ Writer = (*archive.DB)(nil)

// Config sets an Archiver up. Zero values take the defaults.
type Config struct {
	Prefix string // the deployment's key prefix ("{kefu}:")
	// Group is the consumer group this archiver reads in: Group (the
	// archive's) by default. Another reader of the lifecycle stream (the
	// notifier) is an Archiver with a Writer and a Group of its own; the
	// stream is trimmed only below what every group still needs.
	Group    string
	Consumer string // this instance's name in the group; default host-pid-random
	// Batch is how many entries one read takes (default 256); Block how
	// long a read waits for new ones (default 500 ms: entries are delivered
	// as they come whatever it is, but go-redis does not interrupt a
	// blocking read, so Close waits up to Block).
	Batch int
	Block time.Duration
	// ClaimIdle: entries another consumer read and has not acknowledged for
	// this long are claimed (that consumer is taken for dead). Default 1
	// minute, well above a batch's write time.
	ClaimIdle time.Duration
	// Maintain: how often the stream is trimmed, the lag measured and
	// entries of dead consumers claimed (default 5 s).
	Maintain time.Duration
	// ForgetIdle: a consumer that holds nothing and has not read for this
	// long belonged to an instance that is gone (each process has a
	// consumer of its own): it is removed from the group, so that the list
	// does not grow with every restart. A live one removed is made again by
	// its next read. Default 1 hour.
	ForgetIdle time.Duration
	// MinBackoff and MaxBackoff bound the wait between tries while the
	// database refuses a batch (defaults 100 ms and 30 s).
	MinBackoff, MaxBackoff time.Duration
	// Retention: once a close (or an abandonment) is archived, the thread's
	// conversation hash and transcript expire after this long, if the thread
	// is still closed in that episode. 0: they never expire.
	Retention time.Duration
	Log       *slog.Logger
}

// Archiver is one instance's consumer of the lifecycle stream.
type Archiver struct {
	rdb redis.UniversalClient
	w   Writer
	cfg Config
	key string
	log *slog.Logger

	lag      prometheus.Gauge
	archived prometheus.Counter
	parked   prometheus.Counter

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}

	// testHookBeforeAck, when a test sets it, runs after a batch is written
	// and before it is acknowledged; an error stops the archiver there, as
	// if its process died.
	testHookBeforeAck func(ids []string) error
}

// New makes an Archiver; it does no I/O.
func New(rdb redis.UniversalClient, w Writer, cfg Config) *Archiver {
	if cfg.Consumer == "" {
		cfg.Consumer = consumerName()
	}
	if cfg.Group == "" {
		cfg.Group = Group
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.Block <= 0 {
		cfg.Block = 500 * time.Millisecond
	}
	if cfg.ClaimIdle <= 0 {
		cfg.ClaimIdle = time.Minute
	}
	if cfg.Maintain <= 0 {
		cfg.Maintain = 5 * time.Second
	}
	if cfg.ForgetIdle <= 0 {
		cfg.ForgetIdle = time.Hour
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Archiver{rdb: rdb, w: w, cfg: cfg, key: conv.LifecycleKey(cfg.Prefix), log: cfg.Log,
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kefu_archive_lag",
			Help: "Lifecycle events not yet archived (undelivered plus delivered and unacknowledged), as this instance last measured."}),
		archived: prometheus.NewCounter(prometheus.CounterOpts{Name: "kefu_archive_events_total",
			Help: "Lifecycle events this instance archived (a replayed event counts again)."}),
		parked: prometheus.NewCounter(prometheus.CounterOpts{Name: "kefu_archive_parked_total",
			Help: "Lifecycle entries this instance could not archive and parked in the parked stream."}),
	}
}

// Collectors are the archiver's Prometheus series, for the server's
// registry.
func (a *Archiver) Collectors() []prometheus.Collector {
	return []prometheus.Collector{a.lag, a.archived, a.parked}
}

func consumerName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Consumer is this archiver's name in the group.
func (a *Archiver) Consumer() string { return a.cfg.Consumer }

// Setup creates the consumer group (and the stream) when missing. The group
// starts at the stream's first entry: events written before any archiver
// ran are archived too.
func (a *Archiver) Setup(ctx context.Context) error {
	err := a.rdb.XGroupCreateMkStream(ctx, a.key, a.cfg.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("archiver: create group: %w", err)
	}
	return nil
}

// Start creates the group and runs the archiver until Close.
func (a *Archiver) Start(ctx context.Context) error {
	if err := a.Setup(ctx); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done != nil {
		return errors.New("archiver: started twice")
	}
	ctx, a.cancel = context.WithCancel(context.WithoutCancel(ctx))
	a.done = make(chan struct{})
	go func() {
		defer close(a.done)
		a.run(ctx)
	}()
	return nil
}

// Close stops the archiver and waits for it; a batch being written is
// abandoned unacknowledged (another instance, or this one's next start,
// claims it).
func (a *Archiver) Close() error {
	a.mu.Lock()
	cancel, done := a.cancel, a.done
	a.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	return nil
}

// run reads, archives and acknowledges until ctx ends, and maintains the
// stream every Maintain.
func (a *Archiver) run(ctx context.Context) {
	var lastMaintain time.Time
	fails := 0
	for ctx.Err() == nil {
		if time.Since(lastMaintain) >= a.cfg.Maintain {
			lastMaintain = time.Now()
			if err := a.Maintain(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("archiver: maintain", "err", err)
			}
		}
		_, err := a.Round(ctx)
		switch {
		case err == nil:
			fails = 0
			continue
		case ctx.Err() != nil:
			return
		case errors.Is(err, errStopped):
			return
		}
		fails++
		wait := backoff(a.cfg.MinBackoff, a.cfg.MaxBackoff, fails)
		a.log.Warn("archiver: round failed, retrying", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// errStopped: a test hook stopped the archiver as if it died.
var errStopped = errors.New("archiver: stopped by a test hook")

// backoff is the wait before try n+1: doubling from lo, at most hi.
func backoff(lo, hi time.Duration, n int) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// Round reads one batch (new entries, waiting up to Block) and archives it:
// written, then acknowledged. A batch the database refuses is tried again
// with back-off until it is written or ctx ends; entries that cannot be
// archived are parked. It returns how many entries it took.
func (a *Archiver) Round(ctx context.Context) (int, error) {
	res, err := a.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: a.cfg.Group, Consumer: a.cfg.Consumer,
		Streams: []string{a.key, ">"}, Count: int64(a.cfg.Batch), Block: a.cfg.Block}).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		if isNoGroup(err) { // the stream was deleted (FLUSHALL, a purge of everything)
			return 0, a.Setup(ctx)
		}
		return 0, fmt.Errorf("archiver: read: %w", err)
	}
	var msgs []redis.XMessage
	for _, s := range res {
		msgs = append(msgs, s.Messages...)
	}
	return len(msgs), a.archive(ctx, msgs)
}

// Claim takes over entries another consumer has held unacknowledged for
// ClaimIdle (it died) and archives them. It returns how many it took.
func (a *Archiver) Claim(ctx context.Context) (int, error) {
	total := 0
	start := "0-0"
	for {
		msgs, next, err := a.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: a.key, Group: a.cfg.Group,
			Consumer: a.cfg.Consumer, MinIdle: a.cfg.ClaimIdle, Start: start, Count: int64(a.cfg.Batch)}).Result()
		if err != nil {
			if isNoGroup(err) {
				return total, nil
			}
			return total, fmt.Errorf("archiver: claim: %w", err)
		}
		// Entries deleted while pending (XDEL) come back without fields:
		// acknowledge them, there is nothing to archive.
		var live []redis.XMessage
		var gone []string
		for _, m := range msgs {
			if m.Values == nil {
				gone = append(gone, m.ID)
				continue
			}
			live = append(live, m)
		}
		if len(gone) > 0 {
			if err := a.rdb.XAck(ctx, a.key, a.cfg.Group, gone...).Err(); err != nil {
				return total, fmt.Errorf("archiver: ack: %w", err)
			}
		}
		if len(live) > 0 {
			a.log.Info("archiver: claimed entries of a consumer that stopped", "entries", len(live))
			if err := a.archive(ctx, live); err != nil {
				return total, err
			}
		}
		total += len(msgs)
		if next == "0-0" || next == "" {
			return total, nil
		}
		start = next
	}
}

// archive writes msgs (retrying while the database refuses them), parks
// the ones that cannot be archived, applies retention, then acknowledges
// them all.
func (a *Archiver) archive(ctx context.Context, msgs []redis.XMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	evs := make([]archive.Event, 0, len(msgs))
	ids := make([]string, 0, len(msgs))
	byID := make(map[string]redis.XMessage, len(msgs))
	var bad []parkedEntry
	for _, m := range msgs {
		ids = append(ids, m.ID)
		byID[m.ID] = m
		e, err := toEvent(m)
		if err != nil {
			bad = append(bad, parkedEntry{m, err})
			continue
		}
		evs = append(evs, e)
	}
	for fails := 0; ; {
		refused, err := a.write(ctx, evs)
		if err == nil {
			for id, err := range refused {
				bad = append(bad, parkedEntry{byID[id], err})
			}
			evs = slices.DeleteFunc(evs, func(e archive.Event) bool { return refused[e.ID] != nil })
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fails++
		wait := backoff(a.cfg.MinBackoff, a.cfg.MaxBackoff, fails)
		a.log.Warn("archiver: the archive refused a batch, retrying", "entries", len(evs), "err", err, "retry_in", wait)
		// Maintain does not run meanwhile: the lag shows the outage.
		if lag, err := a.Lag(ctx); err == nil {
			a.lag.Set(float64(lag))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	for _, p := range bad {
		a.log.Error("archiver: entry parked, not archived", "msg_id", p.m.ID, "err", p.err)
	}
	if a.cfg.Retention > 0 {
		if err := a.expireClosed(ctx, evs); err != nil {
			return err
		}
	}
	if a.testHookBeforeAck != nil {
		if err := a.testHookBeforeAck(ids); err != nil {
			return errStopped
		}
	}
	pipe := a.rdb.TxPipeline()
	for _, p := range bad {
		vals := make(map[string]any, len(p.m.Values)+2)
		for k, v := range p.m.Values {
			vals[k] = v
		}
		vals["id"] = p.m.ID
		vals["error"] = p.err.Error()
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: ParkedKey(a.cfg.Prefix), MaxLen: ParkedMax, Approx: true, Values: vals})
	}
	pipe.XAck(ctx, a.key, a.cfg.Group, ids...)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("archiver: ack: %w", err)
	}
	a.archived.Add(float64(len(msgs) - len(bad)))
	a.parked.Add(float64(len(bad)))
	return nil
}

type parkedEntry struct {
	m   redis.XMessage
	err error
}

// write stores evs. When the archive refuses the batch for a bad event, the
// events go one by one and the refused ones come back, by id, to be parked;
// any other error is returned (the database is down: try again).
func (a *Archiver) write(ctx context.Context, evs []archive.Event) (refused map[string]error, err error) {
	err = a.w.Write(ctx, evs)
	if !errors.Is(err, archive.ErrBadEvent) {
		return nil, err
	}
	refused = map[string]error{}
	for _, e := range evs {
		err := a.w.Write(ctx, []archive.Event{e})
		switch {
		case errors.Is(err, archive.ErrBadEvent):
			refused[e.ID] = err
		case err != nil:
			return nil, err
		}
	}
	return refused, nil
}

// toEvent maps a lifecycle entry (conv.Script's emit: type, conv, ep, at
// and the event's fields) to an archive event.
func toEvent(m redis.XMessage) (archive.Event, error) {
	get := func(k string) string { s, _ := m.Values[k].(string); return s }
	typ, thread, ep, at := get(conv.EvType), get(conv.EvConv), get(conv.EvEpisode), get(conv.EvAt)
	if typ == "" || thread == "" || ep == "" {
		return archive.Event{}, fmt.Errorf("%w: type %q, conv %q, ep %q: none may be empty", archive.ErrBadEvent, typ, thread, ep)
	}
	ms, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return archive.Event{}, fmt.Errorf("%w: at %q is not milliseconds", archive.ErrBadEvent, at)
	}
	fields := make(map[string]string, len(m.Values))
	for k, v := range m.Values {
		switch k {
		case conv.EvType, conv.EvConv, conv.EvEpisode, conv.EvAt:
			continue
		}
		s, ok := v.(string)
		if !ok {
			return archive.Event{}, fmt.Errorf("%w: field %s is not a string", archive.ErrBadEvent, k)
		}
		fields[k] = s
	}
	return archive.Event{ID: m.ID, Type: typ, Conv: conv.ArchiveID(thread, ep), At: time.UnixMilli(ms).UTC(), Fields: fields}, nil
}

func isNoGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOGROUP") }

// Maintain claims the entries of dead consumers, trims the stream,
// measures the lag and forgets consumers gone for good.
func (a *Archiver) Maintain(ctx context.Context) error {
	_, cerr := a.Claim(ctx)
	_, terr := a.Trim(ctx)
	lag, lerr := a.Lag(ctx)
	if lerr == nil {
		a.lag.Set(float64(lag))
	}
	return errors.Join(cerr, terr, lerr, a.forget(ctx))
}

func (a *Archiver) forget(ctx context.Context) error {
	cs, err := a.rdb.XInfoConsumers(ctx, a.key, a.cfg.Group).Result()
	if err != nil {
		if isNoGroup(err) || strings.Contains(err.Error(), "no such key") {
			return nil
		}
		return fmt.Errorf("archiver: consumers: %w", err)
	}
	for _, c := range cs {
		if c.Name == a.cfg.Consumer || c.Pending > 0 || c.Idle < a.cfg.ForgetIdle {
			continue
		}
		// DELCONSUMER drops the consumer's pending entries: re-check in
		// the same step that it has none.
		if err := forgetScript.Run(ctx, a.rdb, []string{a.key}, a.cfg.Group, c.Name).Err(); err != nil {
			return fmt.Errorf("archiver: forget consumer %s: %w", c.Name, err)
		}
	}
	return nil
}

// Trim deletes the stream's entries that every consumer group has
// acknowledged: those older than each group's oldest pending entry and
// not after its last delivered one. It returns how many it deleted.
func (a *Archiver) Trim(ctx context.Context) (int64, error) {
	floor, ok, err := a.floor(ctx)
	if err != nil || !ok {
		return 0, err
	}
	n, err := a.rdb.XTrimMinID(ctx, a.key, floor).Result()
	if err != nil {
		return 0, fmt.Errorf("archiver: trim: %w", err)
	}
	return n, nil
}

// floor is the oldest entry some group may still need. The groups' last
// delivered ids are read before their pending entries: an entry delivered
// in between is pending when read, or after the last delivered id read
// first, so it is never below the floor.
func (a *Archiver) floor(ctx context.Context) (string, bool, error) {
	groups, err := a.rdb.XInfoGroups(ctx, a.key).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return "", false, nil
		}
		return "", false, fmt.Errorf("archiver: trim: %w", err)
	}
	if len(groups) == 0 {
		return "", false, nil
	}
	var floor streamID
	first := true
	lower := func(id streamID) {
		if first || id.less(floor) {
			floor, first = id, false
		}
	}
	for _, g := range groups {
		last, err := parseID(g.LastDeliveredID)
		if err != nil {
			return "", false, fmt.Errorf("archiver: trim: group %s: %w", g.Name, err)
		}
		lower(last.next())
	}
	for _, g := range groups {
		p, err := a.rdb.XPending(ctx, a.key, g.Name).Result()
		if err != nil {
			return "", false, fmt.Errorf("archiver: trim: pending of %s: %w", g.Name, err)
		}
		if p.Count == 0 {
			continue
		}
		lo, err := parseID(p.Lower)
		if err != nil {
			return "", false, fmt.Errorf("archiver: trim: group %s: %w", g.Name, err)
		}
		lower(lo)
	}
	return floor.String(), true, nil
}

// Lag is the number of entries not yet archived: those not delivered to
// the group yet plus those delivered and not acknowledged.
func (a *Archiver) Lag(ctx context.Context) (int64, error) {
	groups, err := a.rdb.XInfoGroups(ctx, a.key).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return 0, nil
		}
		return 0, fmt.Errorf("archiver: lag: %w", err)
	}
	for _, g := range groups {
		if g.Name != a.cfg.Group {
			continue
		}
		lag := g.Lag
		// Redis cannot tell (entries deleted past the group), or does not
		// say (the embedded miniredis): count them.
		if lag < 0 || g.EntriesRead <= 0 && g.LastDeliveredID != "0-0" {
			n, err := a.undelivered(ctx, g.LastDeliveredID)
			if err != nil {
				return 0, err
			}
			lag = n
		}
		return lag + g.Pending, nil
	}
	return a.rdb.XLen(ctx, a.key).Result()
}

// undelivered counts the entries after last, in pages.
func (a *Archiver) undelivered(ctx context.Context, last string) (int64, error) {
	var n int64
	for {
		msgs, err := a.rdb.XRangeN(ctx, a.key, "("+last, "+", 1000).Result()
		if err != nil {
			return 0, fmt.Errorf("archiver: lag: %w", err)
		}
		n += int64(len(msgs))
		if len(msgs) < 1000 {
			return n, nil
		}
		last = msgs[len(msgs)-1].ID
	}
}

// streamID is a Redis stream entry id.
type streamID struct{ ms, seq uint64 }

func parseID(s string) (streamID, error) {
	a, b, ok := strings.Cut(s, "-")
	ms, err1 := strconv.ParseUint(a, 10, 64)
	var seq uint64
	var err2 error
	if ok {
		seq, err2 = strconv.ParseUint(b, 10, 64)
	}
	if err1 != nil || err2 != nil {
		return streamID{}, fmt.Errorf("bad stream id %q", s)
	}
	return streamID{ms, seq}, nil
}

func (id streamID) less(o streamID) bool {
	return id.ms < o.ms || id.ms == o.ms && id.seq < o.seq
}

func (id streamID) next() streamID {
	if id.seq == ^uint64(0) {
		return streamID{id.ms + 1, 0}
	}
	return streamID{id.ms, id.seq + 1}
}

func (id streamID) String() string { return fmt.Sprintf("%d-%d", id.ms, id.seq) }
