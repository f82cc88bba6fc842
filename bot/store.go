package bot

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/intents"
)

var (
	//go:embed lua/ingest.lua
	ingestLua string
	//go:embed lua/finish.lua
	finishLua string
	//go:embed lua/release.lua
	releaseLua string
	//go:embed lua/survey.lua
	surveyLua string
	//go:embed lua/say.lua
	sayLua string

	// The scripts get the conversation's schema (MODE, F, EV, EF, emit)
	// from conv.
	ingestScript  = conv.Script(ingestLua)
	finishScript  = conv.Script(finishLua)
	releaseScript = conv.Script(releaseLua)
	surveyScript  = conv.Script(surveyLua)
	sayScript     = conv.Script(sayLua)
)

// Store keeps conversations and transcripts in Redis. Every key shares one
// hash tag so a Redis Cluster keeps them in one slot for the scripts.
//
// Each inbound message has a dedupe marker, seen:<channel>:<msg id>, a HASH
// kept for 72 hours:
//
//	state  pending (being handled) or done (answered; a retry is a duplicate)
//	entry  the transcript id of the inbound message (written once)
//	until  pending: the end of the lease (ms) of the delivery handling it
//	epoch  pending: which delivery owns it (1, then +1 on each takeover)
//	stage  pending: the replies already recorded (JSON), for a takeover
//	msg    pending: the message itself (JSON), for the recoverer
//
// Claim writes it pending with a lease; the write of the reply marks it done
// in the same script (and only if the claim is still the writer's). A
// delivery that fails releases its claim so the channel's retry handles the
// message at once; one that vanished (a crash) is taken over by a retry
// after its lease, or, with no retry, by the Recoverer of any instance: a
// pending message is in the in-flight set, inflight, a ZSET of
// <channel>:<msg id> scored by the end of its lease, written in the claim's
// script and left in the script that marks the message done. The lease is
// checked against the injected clock of the instance that claims:
// instances' clocks are assumed to agree within a small part of the lease.
//
// The in-flight set has no TTL: it holds only messages being handled (a
// member leaves when its message is done, or when the recoverer finds its
// marker gone), so its size is bounded by the messages in flight.
//
// The conversation's schema (keys, hash fields, modes, lifecycle events) is
// conv's; the Store's scripts write each change with its lifecycle event.
// A thread's episode (conv.FieldEpisode) starts in the claim's script: on
// the first message, after a close, or when a bot episode was idle for the
// Store's idle time. The active set (conv.ActiveKey), thread -> last
// customer message (ms), lets a sweeper find idle threads; it has no TTL:
// a thread leaves it when the bot closes it (or the sweeper does), so its
// size is bounded by the threads not yet closed.
type Store struct {
	rdb       redis.UniversalClient
	prefix    string        // "{kefu}:" by default
	dedupeTTL time.Duration // how long a channel message id is remembered
	lease     time.Duration // how long a delivery owns a message it has not finished
	idle      time.Duration // a bot episode quiet this long is over
	now       func() time.Time
}

// StoreOption changes a Store's defaults (NewStore).
type StoreOption func(*Store)

// WithLease sets how long a delivery owns an inbound message it has not
// finished before a retry may take it over (default DefaultLease).
func WithLease(d time.Duration) StoreOption {
	return func(s *Store) {
		if d > 0 {
			s.lease = d
		}
	}
}

// WithIdle sets how long a conversation with the bot may stay quiet before
// the customer's next message starts a new episode, the old one closed by
// idle (default DefaultIdle; config retention.idle).
func WithIdle(d time.Duration) StoreOption {
	return func(s *Store) {
		if d > 0 {
			s.idle = d
		}
	}
}

// DefaultIdle is the idle time of a bot episode by default.
const DefaultIdle = 24 * time.Hour

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) StoreOption {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// DefaultLease is how long a delivery owns a message by default: longer than
// handling takes, shorter than WeChat's retries (5 s apart, three in all) so
// that the last retry can take over from an instance that died.
const DefaultLease = 8 * time.Second

// NewStore returns a Store over rdb. It does no I/O.
func NewStore(rdb redis.UniversalClient, prefix string, opts ...StoreOption) *Store {
	if prefix == "" {
		prefix = "{kefu}:"
	}
	s := &Store{rdb: rdb, prefix: prefix, dedupeTTL: 72 * time.Hour, lease: DefaultLease, idle: DefaultIdle, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// The customer's last message, kept on the conversation hash for the
// console's queue view (a preview that reads one hash, never the
// transcript). Written by ingest.lua in the same step as the transcript
// entry; messages without text leave it as it was.
const (
	FieldLastIn   = conv.FieldLastIn   // its text, cut to PreviewLen characters
	FieldLastInAt = conv.FieldLastInAt // when it arrived (ms)
	PreviewLen    = 200
)

// Preview is text cut to PreviewLen characters ("…" marks the cut).
func Preview(text string) string {
	if utf8.RuneCountInString(text) <= PreviewLen {
		return text
	}
	return string([]rune(text)[:PreviewLen]) + "…"
}

// ConvID is the conversation id of a customer on a channel: their thread
// (conv.ThreadID), one per customer, whose episodes follow each other.
func ConvID(channel, user string) string { return conv.ThreadID(channel, user) }

func (s *Store) convKey(id string) string      { return conv.Key(s.prefix, id) }
func (s *Store) txKey(id string) string        { return conv.TxKey(s.prefix, id) }
func (s *Store) activeKey() string             { return conv.ActiveKey(s.prefix) }
func (s *Store) seenKey(ch, mid string) string { return s.markerKey(inflightMember(ch, mid)) }

// markerKey is the dedupe marker of the in-flight set's member.
func (s *Store) markerKey(member string) string { return s.prefix + "seen:" + member }
func (s *Store) inflightKey() string            { return s.prefix + "inflight" }

// inflightMember names a message in the in-flight set; its marker is
// seen:<member>.
func inflightMember(ch, mid string) string { return ch + ":" + mid }

// claim is a delivery's hold on the inbound message it handles.
type claim struct {
	key    string     // seen:<channel>:<msg id>
	member string     // <channel>:<msg id> in the in-flight set
	epoch  int64      // fences out a delivery that was taken over
	stage  []Outbound // replies an earlier delivery recorded without finishing
}

// Claim records an inbound message before anything answers it and makes the
// caller its owner: dedupe by channel message id, create or reopen the
// conversation, append to the transcript (once, whoever claims). It returns
// ErrDuplicate when the message was handled already, ErrInFlight (which is
// also ErrDuplicate) when another delivery is handling it and its lease has
// not run out; nothing is written then. Record or Save with the returned
// conversation finishes the message.
func (s *Store) Claim(ctx context.Context, m Message) (Conversation, error) {
	return s.claim(ctx, m, false)
}

// claim is Claim; with takeOver (the recoverer) it claims only a pending
// message whose lease ran out, and a message that is not pending any more
// (done, or its marker gone) is ErrDuplicate and leaves the in-flight set.
func (s *Store) claim(ctx context.Context, m Message, takeOver bool) (Conversation, error) {
	var c Conversation
	if m.ID == "" {
		return c, fmt.Errorf("ingest: message has no id")
	}
	id := ConvID(m.Channel, m.User)
	now := s.now()
	seen, member := s.seenKey(m.Channel, m.ID), inflightMember(m.Channel, m.ID)
	msg, err := json.Marshal(m)
	if err != nil {
		return c, fmt.Errorf("ingest %s: %w", id, err)
	}
	only := "0"
	if takeOver {
		only = "1"
	}
	res, err := ingestScript.Run(ctx, s.rdb,
		[]string{seen, s.convKey(id), s.txKey(id), s.inflightKey(), s.activeKey()},
		int(s.dedupeTTL/time.Second), now.UnixMilli(), m.Channel, m.User, m.ID, m.Text, m.Choice, m.Kind,
		s.lease.Milliseconds(), string(msg), only, member, Preview(m.Text),
		s.prefix, id, s.idle.Milliseconds(), opens(m), m.Lang, conv.ByIdle, m.Media, m.Nick,
	).Slice()
	if err != nil {
		return c, fmt.Errorf("ingest %s: %w", id, err)
	}
	switch n, _ := res[0].(int64); n {
	case 0:
		return c, fmt.Errorf("ingest %s %s: %w", id, m.ID, ErrDuplicate)
	case 2:
		return c, fmt.Errorf("ingest %s %s: %w", id, m.ID, ErrInFlight)
	}
	flat, _ := res[2].([]any)
	h := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		h[k] = v
	}
	c = parseConv(id, h)
	c.LastEntry, _ = res[1].(string)
	c.claim.key, c.claim.member = seen, member
	c.claim.epoch, _ = res[3].(int64)
	if st, _ := res[4].(string); st != "" {
		_ = json.Unmarshal([]byte(st), &c.claim.stage)
	}
	return c, nil
}

// opens says whether a message may start a new episode (ingest.lua): not a
// customer leaving, not a rating; a bare 1-5 only when no survey is pending.
func opens(m Message) string {
	switch {
	case m.Kind == KindLeave || m.Kind == KindRating:
		return "0"
	case m.Kind == KindText && isRating(m.Text):
		return "r"
	}
	return "1"
}

// Ingest is Claim for callers that only need to know whether the message is
// new: dup is true (and nothing written) for a repeated delivery, whether
// the first one finished or is still being handled.
func (s *Store) Ingest(ctx context.Context, m Message) (c Conversation, dup bool, err error) {
	c, err = s.Claim(ctx, m)
	if errors.Is(err, ErrDuplicate) {
		return c, true, nil
	}
	return c, false, err
}

// Finish states (finish.lua).
const (
	finishDone  = "done"
	finishStage = "stage"
)

// commit writes a decision in one script: the conversation's bot-owned
// fields (when d.save) and d.set, the events, the replies with their
// bot_reply events, and the claim's new state: done, or (finishStage) the
// replies recorded so far with the claim kept. It refuses with ErrInFlight
// when the claim is no longer the caller's (taken over after its lease).
func (s *Store) commit(ctx context.Context, d decision, state string, stage []Outbound) error {
	c := d.conv
	var fields []any
	if d.save {
		fields = s.fields(c)
	}
	for _, f := range d.set {
		fields = append(fields, f)
	}
	var stageJSON []byte
	if state == finishStage {
		stageJSON, _ = json.Marshal(stage)
	}
	closed := "0"
	if d.closed {
		closed = "1"
	}
	// A conversation loaded, not claimed, has no claim to check or finish.
	key, epoch := c.claim.key, any(c.claim.epoch)
	if key == "" {
		key, epoch = s.convKey(c.ID), ""
	}
	args := make([]any, 0, 10+len(fields)+7*len(d.replies)+4*len(d.events))
	args = append(args, epoch, s.now().UnixMilli(), state, string(stageJSON), c.claim.member,
		s.prefix, c.ID, closed, len(fields))
	args = append(args, fields...)
	args = append(args, len(d.replies))
	for _, r := range d.replies {
		choices, _ := json.Marshal(r.Choices)
		args = append(args, r.Kind, r.Intent, r.Text, r.Agent, string(choices), r.confidence, r.guesses)
	}
	for _, ev := range d.events {
		args = append(args, ev.typ, len(ev.fields))
		for _, f := range ev.fields {
			args = append(args, f)
		}
	}
	n, err := finishScript.Run(ctx, s.rdb, []string{key, s.convKey(c.ID), s.txKey(c.ID), s.inflightKey(), s.activeKey()}, args...).Int()
	if err != nil {
		return fmt.Errorf("record %s: %w", c.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("record %s: %w", c.ID, ErrInFlight)
	}
	return nil
}

// release ends the claim's lease at once (best effort: the lease ends anyway).
func (s *Store) release(ctx context.Context, c Conversation) error {
	if c.claim.key == "" {
		return nil
	}
	if err := releaseScript.Run(ctx, s.rdb, []string{c.claim.key}, c.claim.epoch).Err(); err != nil {
		return fmt.Errorf("release %s: %w", c.ID, err)
	}
	return nil
}

// Load reads a conversation.
func (s *Store) Load(ctx context.Context, id string) (Conversation, error) {
	h, err := s.rdb.HGetAll(ctx, s.convKey(id)).Result()
	if err != nil {
		return Conversation{}, fmt.Errorf("load %s: %w", id, err)
	}
	if len(h) == 0 {
		return Conversation{}, fmt.Errorf("load %s: %w", id, redis.Nil)
	}
	return parseConv(id, h), nil
}

// parseConv builds a Conversation from its hash fields.
func parseConv(id string, h map[string]string) Conversation {
	c := Conversation{ID: id, Channel: h[conv.FieldChannel], User: h[conv.FieldUser], Mode: h[conv.FieldMode],
		loadedMode: h[conv.FieldMode], LastIntent: h[conv.FieldLastIntent], Lang: h[conv.FieldLang],
		Reason: h[conv.FieldReason], Urgent: h[conv.FieldUrgent] == "1"}
	c.LowTurns, _ = strconv.Atoi(h[conv.FieldLow])
	c.Episode, _ = strconv.Atoi(h[conv.FieldEpisode])
	c.Survey = h[conv.FieldSurvey] == "1"
	c.Group, c.Agent = h[conv.FieldGroup], h[conv.FieldAgent]
	if v, err := strconv.ParseInt(h[conv.FieldCreated], 10, 64); err == nil {
		c.Created = time.UnixMilli(v)
	}
	if v, err := strconv.ParseInt(h[conv.FieldUpdated], 10, 64); err == nil {
		c.Updated = time.UnixMilli(v)
	}
	if e := h[conv.FieldEntities]; e != "" {
		_ = json.Unmarshal([]byte(e), &c.Entities)
	}
	if g := h[conv.FieldGuesses]; g != "" {
		_ = json.Unmarshal([]byte(g), &c.Guesses)
	}
	c.Category = h[conv.FieldCategory]
	c.WaitAcked = h[conv.FieldWaitAck] == "1"
	c.Member = h[conv.FieldCustomerLevel]
	c.Phone = h[conv.FieldCustomerPhone]
	c.leave = parseLeave(h[conv.FieldLeave])
	if h[conv.FieldPrio] != "" { // the queue's fields, for the console
		c.Priority = handoff.LevelOf(h[conv.FieldPrio])
		c.PrioWords = strings.Fields(h[conv.FieldPrioWords])
		if v, err := strconv.ParseInt(h[conv.FieldDueMs], 10, 64); err == nil {
			c.Due = time.UnixMilli(v)
		}
	}
	c.LastRating, _ = strconv.Atoi(h[conv.FieldRating])
	if v, err := strconv.ParseInt(h[conv.FieldClosedMs], 10, 64); err == nil {
		c.ClosedAt = time.UnixMilli(v)
	}
	return c
}

// Record saves the bot-owned fields of a conversation and appends the reply
// to its transcript with its bot_reply event, in one script. For a
// conversation returned by Claim it also marks the inbound message done, and
// refuses (ErrInFlight, nothing written) when another delivery took the
// message over meanwhile.
func (s *Store) Record(ctx context.Context, c Conversation, out Outbound) error {
	d := decision{conv: c, save: true}
	d.say(out)
	return s.commit(ctx, d, finishDone, nil)
}

// AppendOut adds a reply that answers no inbound message (a queue position
// notice) to the transcript, with its bot_reply event.
func (s *Store) AppendOut(ctx context.Context, out Outbound) error {
	choices, _ := json.Marshal(out.Choices)
	err := sayScript.Run(ctx, s.rdb, []string{s.txKey(out.Conv)}, s.prefix, out.Conv, s.now().UnixMilli(),
		out.Kind, out.Intent, out.Text, out.Agent, string(choices)).Err()
	if err != nil {
		return fmt.Errorf("append %s: %w", out.Conv, err)
	}
	return nil
}

// survey appends the survey to the transcript, marks it pending and emits
// survey_sent, in one script.
func (s *Store) survey(ctx context.Context, out Outbound) error {
	choices, _ := json.Marshal(out.Choices)
	err := surveyScript.Run(ctx, s.rdb, []string{s.convKey(out.Conv), s.txKey(out.Conv)}, s.prefix, out.Conv,
		s.now().UnixMilli(), out.Kind, out.Text, string(choices)).Err()
	if err != nil {
		return fmt.Errorf("survey %s: %w", out.Conv, err)
	}
	return nil
}

// fields are the bot-owned fields of a conversation, as HSET arguments.
func (s *Store) fields(c Conversation) []any {
	ents, _ := json.Marshal(c.Entities)
	guesses, _ := json.Marshal(c.Guesses)
	urgent := "0"
	if c.Urgent {
		urgent = "1"
	}
	fields := []any{conv.FieldLow, c.LowTurns, conv.FieldLastIntent, c.LastIntent,
		conv.FieldLang, c.Lang, conv.FieldReason, c.Reason, conv.FieldUrgent, urgent,
		conv.FieldEntities, string(ents), conv.FieldGuesses, string(guesses), conv.FieldCategory, c.Category,
		conv.FieldUpdated, s.now().UnixMilli()}
	// The mode is written only when the bot changed it: once handed off the
	// queue owns it, and a stale copy must not undo a claim made meanwhile.
	if c.Mode != c.loadedMode {
		fields = append(fields, conv.FieldMode, c.Mode)
	}
	return fields
}

// Entry is one transcript line.
type Entry struct {
	ID      string // stream id: orders entries and lets a reader resume
	Dir     string // in or out
	MsgID   string // the channel's message id (inbound)
	Kind    string // outbound kind, or the inbound Kind
	Agent   string // the agent who wrote it
	Intent  string
	Text    string
	Choice  string
	Choices []Choice
	Media   string // the key of a stored image the entry carries (package media)
	At      time.Time
	// Re is, on a reply recorded by the engine, the stream id of the inbound
	// entry it answers.
	Re string
}

// Transcript returns the entries after the stream id after ("" for all).
func (s *Store) Transcript(ctx context.Context, conv, after string) ([]Entry, error) {
	start := "-"
	if after != "" {
		start = "(" + after
	}
	xs, err := s.rdb.XRange(ctx, s.txKey(conv), start, "+").Result()
	if err != nil {
		return nil, fmt.Errorf("transcript %s: %w", conv, err)
	}
	out := make([]Entry, 0, len(xs))
	for _, x := range xs {
		str := func(k string) string { v, _ := x.Values[k].(string); return v }
		e := Entry{ID: x.ID, Dir: str("dir"), MsgID: str("msg_id"), Kind: str("kind"), Intent: str("intent"), Text: str("text"), Choice: str("choice"), Agent: str("agent"), Re: str("re"), Media: str("media")}
		if c := str("choices"); c != "" && c != "null" {
			_ = json.Unmarshal([]byte(c), &e.Choices)
		}
		if v, err := strconv.ParseInt(str("at"), 10, 64); err == nil {
			e.At = time.UnixMilli(v)
		}
		out = append(out, e)
	}
	return out, nil
}

// mergeEntities adds new entities, keeping each value once.
func mergeEntities(have, add []intents.Entity) []intents.Entity {
	for _, e := range add {
		dup := false
		for _, h := range have {
			if h == e {
				dup = true
				break
			}
		}
		if !dup {
			have = append(have, e)
		}
	}
	return have
}

// repliesScan bounds the transcript read for the replies to one message:
// they follow its inbound entry closely (only the customer's own messages
// sent meanwhile and agents' lines interleave).
const repliesScan = 64

// Replies returns the replies the engine recorded for an inbound message
// (channel, user, msg id), for a retry of a message that is done: what the
// first delivery answered. Replies recorded before replies named the entry
// they answer are not found (none is returned).
func (s *Store) Replies(ctx context.Context, channel, user, msgID string) ([]Outbound, error) {
	thread := ConvID(channel, user)
	seen := s.seenKey(channel, msgID)
	entry, err := s.rdb.HGet(ctx, seen, "entry").Result()
	if err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE") {
		entry, err = s.rdb.Get(ctx, seen).Result() // a marker from before claims
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("replies %s %s: %w", thread, msgID, err)
	}
	xs, err := s.rdb.XRangeN(ctx, s.txKey(thread), entry, "+", repliesScan).Result()
	if err != nil {
		return nil, fmt.Errorf("replies %s %s: %w", thread, msgID, err)
	}
	var outs []Outbound
	for _, x := range xs {
		str := func(k string) string { v, _ := x.Values[k].(string); return v }
		if str("dir") != "out" || str("re") != entry {
			continue
		}
		o := Outbound{Channel: channel, User: user, Conv: thread, Kind: str("kind"), Agent: str("agent"),
			Intent: str("intent"), Text: str("text")}
		if c := str("choices"); c != "" && c != "null" {
			_ = json.Unmarshal([]byte(c), &o.Choices)
		}
		outs = append(outs, o)
	}
	return outs, nil
}

// orphans returns up to n in-flight messages whose lease has run out (the
// oldest first): their delivery vanished or failed. A member whose marker
// is gone (its dedupe TTL ran out) leaves the set.
func (s *Store) orphans(ctx context.Context, n int) ([]Message, error) {
	members, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.inflightKey(), ByScore: true,
		Start: "-inf", Stop: strconv.FormatInt(s.now().UnixMilli(), 10), Count: int64(n)}).Result()
	if err != nil {
		return nil, fmt.Errorf("orphans: %w", err)
	}
	if len(members) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.StringCmd, len(members))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, mb := range members {
			cmds[i] = p.HGet(ctx, s.markerKey(mb), "msg")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("orphans: %w", err)
	}
	var ms []Message
	var stale []any
	for i, c := range cmds {
		b, err := c.Bytes()
		switch {
		case errors.Is(err, redis.Nil), err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE"):
			// The marker is gone, or is one written before claims existed.
			stale = append(stale, members[i])
			continue
		case err != nil:
			continue // a failed read says nothing: the next tick tries again
		}
		var m Message
		if json.Unmarshal(b, &m) != nil || m.ID == "" {
			stale = append(stale, members[i]) // unreadable: nothing to hand again
			continue
		}
		ms = append(ms, m)
	}
	if len(stale) > 0 {
		// Gone or unreadable: nothing to hand again. (A message finished
		// meanwhile has left the set already; ZREM of it is harmless.)
		if err := s.rdb.ZRem(ctx, s.inflightKey(), stale...).Err(); err != nil {
			return ms, fmt.Errorf("orphans: %w", err)
		}
	}
	return ms, nil
}
