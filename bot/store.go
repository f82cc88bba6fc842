package bot

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/intents"
)

//go:embed lua/ingest.lua
var ingestLua string

var ingestScript = redis.NewScript(ingestLua)

// Store keeps conversations and transcripts in Redis. Every key shares one
// hash tag so a Redis Cluster keeps them in one slot for the scripts.
type Store struct {
	rdb       redis.UniversalClient
	prefix    string        // "{kefu}:" by default
	dedupeTTL time.Duration // how long a channel message id is remembered
	now       func() time.Time
}

// NewStore returns a Store over rdb. It does no I/O.
func NewStore(rdb redis.UniversalClient, prefix string) *Store {
	if prefix == "" {
		prefix = "{kefu}:"
	}
	return &Store{rdb: rdb, prefix: prefix, dedupeTTL: 72 * time.Hour, now: time.Now}
}

// ConvID is the conversation id of a customer on a channel: one conversation
// per customer, reopened after it closes, so history is never split.
func ConvID(channel, user string) string { return channel + ":" + user }

func (s *Store) convKey(id string) string { return s.prefix + "conv:" + id }
func (s *Store) txKey(id string) string   { return s.prefix + "tx:" + id }
func (s *Store) seenKey(ch, mid string) string {
	return s.prefix + "seen:" + ch + ":" + mid
}

// Ingest records an inbound message before anything answers it: dedupe by
// channel message id, create or reopen the conversation, append to the
// transcript. dup is true (and nothing written) for a repeated delivery.
func (s *Store) Ingest(ctx context.Context, m Message) (conv Conversation, dup bool, err error) {
	if m.ID == "" {
		return conv, false, fmt.Errorf("ingest: message has no id")
	}
	id := ConvID(m.Channel, m.User)
	now := s.now()
	res, err := ingestScript.Run(ctx, s.rdb,
		[]string{s.seenKey(m.Channel, m.ID), s.convKey(id), s.txKey(id)},
		int(s.dedupeTTL/time.Second), now.UnixMilli(), m.Channel, m.User, m.ID, m.Text, m.Choice, m.Kind,
	).Slice()
	if err != nil {
		return conv, false, fmt.Errorf("ingest %s: %w", id, err)
	}
	if n, _ := res[0].(int64); n == 0 {
		return conv, true, nil
	}
	flat, _ := res[2].([]any)
	h := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		h[k] = v
	}
	conv = parseConv(id, h)
	conv.LastEntry, _ = res[1].(string)
	return conv, false, nil
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
	c := Conversation{ID: id, Channel: h["channel"], User: h["user"], Mode: h["mode"], loadedMode: h["mode"],
		LastIntent: h["last_intent"], Lang: h["lang"], Reason: h["reason"], Urgent: h["urgent"] == "1"}
	c.LowTurns, _ = strconv.Atoi(h["low"])
	c.Survey = h["survey"] == "1"
	c.Group, c.Agent = h["group"], h["agent"]
	if v, err := strconv.ParseInt(h["created"], 10, 64); err == nil {
		c.Created = time.UnixMilli(v)
	}
	if v, err := strconv.ParseInt(h["updated"], 10, 64); err == nil {
		c.Updated = time.UnixMilli(v)
	}
	if e := h["entities"]; e != "" {
		_ = json.Unmarshal([]byte(e), &c.Entities)
	}
	if g := h["guesses"]; g != "" {
		_ = json.Unmarshal([]byte(g), &c.Guesses)
	}
	c.Category = h["category"]
	return c
}

// Record saves the bot-owned fields of a conversation and appends the reply
// to its transcript, in one round trip (MULTI/EXEC).
func (s *Store) Record(ctx context.Context, c Conversation, out Outbound) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		s.save(ctx, p, c)
		s.appendOut(ctx, p, out)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record %s: %w", c.ID, err)
	}
	return nil
}

// Save writes the bot-owned fields of a conversation.
func (s *Store) Save(ctx context.Context, c Conversation) error {
	if err := s.save(ctx, s.rdb, c).Err(); err != nil {
		return fmt.Errorf("save %s: %w", c.ID, err)
	}
	return nil
}

// AppendOut adds an outbound message to the transcript.
func (s *Store) AppendOut(ctx context.Context, out Outbound) error {
	if err := s.appendOut(ctx, s.rdb, out).Err(); err != nil {
		return fmt.Errorf("append %s: %w", out.Conv, err)
	}
	return nil
}

func (s *Store) save(ctx context.Context, r redis.Cmdable, c Conversation) *redis.IntCmd {
	ents, _ := json.Marshal(c.Entities)
	guesses, _ := json.Marshal(c.Guesses)
	urgent := "0"
	if c.Urgent {
		urgent = "1"
	}
	fields := []any{"low", c.LowTurns, "last_intent", c.LastIntent,
		"lang", c.Lang, "reason", c.Reason, "urgent", urgent, "entities", string(ents),
		"guesses", string(guesses), "category", c.Category,
		"updated", s.now().UnixMilli()}
	// The mode is written only when the bot changed it: once handed off the
	// queue owns it, and a stale copy must not undo a claim made meanwhile.
	if c.Mode != c.loadedMode {
		fields = append(fields, "mode", c.Mode)
	}
	return r.HSet(ctx, s.convKey(c.ID), fields...)
}

func (s *Store) appendOut(ctx context.Context, r redis.Cmdable, out Outbound) *redis.StringCmd {
	choices, _ := json.Marshal(out.Choices)
	return r.XAdd(ctx, &redis.XAddArgs{Stream: s.txKey(out.Conv), Values: []any{
		"dir", "out", "kind", out.Kind, "intent", out.Intent, "text", out.Text, "agent", out.Agent,
		"choices", string(choices), "at", s.now().UnixMilli(),
	}})
}

// SetSurvey marks the survey as sent (or answered) on the conversation.
func (s *Store) SetSurvey(ctx context.Context, conv string, pending bool) error {
	v := "0"
	if pending {
		v = "1"
	}
	if err := s.rdb.HSet(ctx, s.convKey(conv), "survey", v).Err(); err != nil {
		return fmt.Errorf("survey %s: %w", conv, err)
	}
	return nil
}

// SetRating stores a satisfaction rating on the conversation (used when no
// hand-off queue takes it) and clears the pending survey.
func (s *Store) SetRating(ctx context.Context, conv string, score int, comment string) error {
	err := s.rdb.HSet(ctx, s.convKey(conv), "rating", score, "rating_comment", comment, "survey", "0").Err()
	if err != nil {
		return fmt.Errorf("rate %s: %w", conv, err)
	}
	return nil
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
	At      time.Time
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
		e := Entry{ID: x.ID, Dir: str("dir"), MsgID: str("msg_id"), Kind: str("kind"), Intent: str("intent"), Text: str("text"), Choice: str("choice"), Agent: str("agent")}
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
