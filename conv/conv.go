// Package conv owns the conversation's schema: its Redis keys (the
// conversation hash and its transcript stream), the hash fields, the modes,
// and the lifecycle events that every change of a conversation emits, with
// their types and field names. bot and handoff change conversations through
// Lua scripts made with Script, which gives each script these names (MODE,
// F, EV, EF) and emit(), so that no script spells a mode, a field or an
// event as a literal of its own; the archiver reads the lifecycle stream;
// the archive stores the events. It imports nothing of kefu.
//
// A customer has one thread per channel (ThreadID): one conversation hash
// and one transcript stream, reused when they write again. Each time the
// thread starts anew (first message, or after a close) its episode number,
// the hash field ep, grows by one: the archive keeps each episode as one
// conversation (ArchiveID).
package conv

import (
	"fmt"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ThreadID is the id of a customer's thread on a channel: the Redis
// conversation and transcript keys are named by it, and it is the customer's
// id in the archive.
func ThreadID(channel, user string) string { return channel + ":" + user }

// ArchiveID is the archive's id of one episode of a thread ("web:v1#3").
func ArchiveID(thread, ep string) string { return thread + "#" + ep }

// SplitArchiveID is ArchiveID reversed; ok is false for an id without an
// episode.
func SplitArchiveID(id string) (thread, ep string, ok bool) {
	i := strings.LastIndexByte(id, '#')
	if i < 0 {
		return id, "", false
	}
	return id[:i], id[i+1:], true
}

// Keys, under the deployment's prefix ("{kefu}:").
func Key(prefix, thread string) string   { return prefix + "conv:" + thread }
func TxKey(prefix, thread string) string { return prefix + "tx:" + thread }

// LifecycleKey is the lifecycle stream: one entry per event, written by the
// script that makes the change, read by the archiver's consumer group and
// trimmed by it once archived.
func LifecycleKey(prefix string) string { return prefix + "lifecycle" }

// Conversation modes (hash field mode).
const (
	ModeBot     = "bot"     // the bot answers
	ModeWaiting = "waiting" // handed off, waiting for an agent: the bot is silent
	ModeAgent   = "agent"   // an agent has it: the bot is silent
	ModeClosed  = "closed"  // ended; the next message starts a new episode with the bot
)

// Hash fields of conv:<thread>. Written by bot (its scripts) unless marked
// handoff.
const (
	FieldChannel  = "channel"
	FieldUser     = "user"
	FieldMode     = "mode"
	FieldEpisode  = "ep"      // the current episode (1, 2, …)
	FieldCreated  = "created" // ms, the thread's first message
	FieldUpdated  = "updated" // ms
	FieldLang     = "lang"
	FieldReason   = "reason" // why it was handed off
	FieldUrgent   = "urgent" // "1" or "0"
	FieldSurvey   = "survey" // "1": a survey was sent and not answered
	FieldGroup    = "group"  // handoff
	FieldAgent    = "agent"  // handoff: the agent who holds it
	FieldEpoch    = "epoch"  // handoff: the holder's fencing token
	FieldRating   = "rating" // the last episode's rating (1-5)
	FieldClosedMs = "closed_ms"
	// Who a web customer is, written by channels/web when the shop vouches
	// for its signed-in user (an HMAC-signed identity): the shop's user id,
	// name, phone and member level, and, on an anonymous visitor's thread,
	// the identified web user ("u:<id>") the visitor signed in as.
	FieldCustomerID    = "customer_id"
	FieldCustomerName  = "customer_name"
	FieldCustomerPhone = "customer_phone"
	FieldCustomerLevel = "customer_level"
	FieldSignedInAs    = "signed_in_as"
)

// Lifecycle event types: every state change of a conversation emits exactly
// one, in the script that makes the change.
const (
	Started         = "conversation_started" // channel, customer, lang
	CustomerMessage = "customer_message"     // text, kind, msg_id, entities
	BotReply        = "bot_reply"            // action, kind, text, intent, confidence, guesses
	Handoff         = "handoff"              // reason, group, urgent, priority
	Offered         = "offered"              // agent, group
	Declined        = "declined"             // agent, group
	Claimed         = "claimed"              // agent, group, waited_ms
	AgentMessage    = "agent_message"        // agent, text, kind, first ("1" on the first of a hand-off)
	Note            = "note"                 // agent, text
	Transfer        = "transfer"             // from, to (agent), group (to group), note
	BackToBot       = "back_to_bot"          // agent (released to the bot)
	Abandoned       = "abandoned"            // by: customer (canceled while waiting) or left
	Closed          = "closed"               // by: an agent id, "customer", "idle"
	SurveySent      = "survey_sent"          //
	Rated           = "rated"                // score, comment, agent
	LeaseLost       = "lease_lost"           // agent, group
	// CustomerProfile: the web channel learned or changed who the customer
	// is (a signed identity): customer_id, name, phone, level, signed_in_as
	// (on an anonymous visitor's thread: the identified user's thread id).
	CustomerProfile = "customer_profile"
)

// EventTypes lists every event type.
var EventTypes = []string{Started, CustomerMessage, BotReply, Handoff, Offered, Declined, Claimed,
	AgentMessage, Note, Transfer, BackToBot, Abandoned, Closed, SurveySent, Rated, LeaseLost, CustomerProfile}

// Fields of a lifecycle stream entry. Every entry has type, conv (the
// thread), ep (its episode) and at (ms); the others depend on the type.
const (
	EvType       = "type"
	EvConv       = "conv"
	EvEpisode    = "ep"
	EvAt         = "at"
	EvChannel    = "channel"
	EvCustomer   = "customer" // the thread id
	EvLang       = "lang"
	EvText       = "text"
	EvKind       = "kind"
	EvMsgID      = "msg_id"
	EvEntities   = "entities" // order, tracking and phone numbers, separated by spaces
	EvAction     = "action"   // bot_reply: answer, clarify, fallback, notice, welcome, handoff
	EvIntent     = "intent"
	EvConfidence = "confidence"
	EvGuesses    = "guesses" // JSON [{"intent","score"}], the top three
	EvReason     = "reason"
	EvGroup      = "group"
	EvUrgent     = "urgent"
	EvPriority   = "priority"
	EvAgent      = "agent"
	EvWaitedMs   = "waited_ms"
	EvFirst      = "first"
	EvFrom       = "from"
	EvTo         = "to"
	EvNote       = "note"
	EvBy         = "by"
	EvScore      = "score"
	EvComment    = "comment"
	EvCustomerID = "customer_id" // customer_profile: the shop's user id
	EvName       = "name"
	EvPhone      = "phone"
	EvLevel      = "level"
	EvSignedInAs = "signed_in_as"
)

// Who closed or abandoned a conversation (EvBy), besides an agent id.
const (
	ByCustomer = "customer"
	ByIdle     = "idle"
	ByLeft     = "left" // the customer unsubscribed or blocked the bot
)

// Script returns a Redis script whose source is src after a prelude that
// defines, from this package's constants:
//
//	MODE.bot, MODE.waiting, MODE.agent, MODE.closed
//	F.<hash field>   e.g. F.mode, F.ep, F.agent  (the Field* constants' values)
//	EV.<event>       e.g. EV.claimed, EV.conversation_started
//	EF.<entry field> e.g. EF.waited_ms
//	emit(p, thread, type, now, ...)  XADDs the event to p..'lifecycle' with
//	    type, conv, ep (read from the hash), at and the extra field/value
//	    pairs, and returns the entry id.
//
// The prelude is a few local declarations: it adds no round trip.
func Script(src string) *redis.Script { return redis.NewScript(Prelude + src) }

// Prelude is the Lua text Script puts before a script.
var Prelude = buildPrelude()

func buildPrelude() string {
	var b strings.Builder
	table := func(name string, vals []string) {
		sort.Strings(vals)
		fmt.Fprintf(&b, "local %s = {", name)
		for i, v := range vals {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "[%q] = %q", v, v)
		}
		b.WriteString("}\n")
	}
	table("MODE", []string{ModeBot, ModeWaiting, ModeAgent, ModeClosed})
	table("F", []string{FieldChannel, FieldUser, FieldMode, FieldEpisode, FieldCreated, FieldUpdated, FieldLang,
		FieldReason, FieldUrgent, FieldSurvey, FieldGroup, FieldAgent, FieldEpoch, FieldRating, FieldClosedMs,
		FieldCustomerID, FieldCustomerName, FieldCustomerPhone, FieldCustomerLevel, FieldSignedInAs})
	table("EV", append([]string(nil), EventTypes...))
	table("EF", []string{EvType, EvConv, EvEpisode, EvAt, EvChannel, EvCustomer, EvLang, EvText, EvKind, EvMsgID,
		EvEntities, EvAction, EvIntent, EvConfidence, EvGuesses, EvReason, EvGroup, EvUrgent, EvPriority, EvAgent,
		EvWaitedMs, EvFirst, EvFrom, EvTo, EvNote, EvBy, EvScore, EvComment, EvCustomerID, EvName, EvPhone, EvLevel,
		EvSignedInAs})
	// A table read with a name it lacks is a bug in the script: fail loudly
	// rather than write nil.
	b.WriteString(`local function strict(t, name) return setmetatable(t, {__index = function(_, k) error('conv: no ` +
		`' .. name .. ' ' .. tostring(k)) end}) end
strict(MODE, 'mode'); strict(F, 'field'); strict(EV, 'event'); strict(EF, 'event field')
`)
	fmt.Fprintf(&b, `local function emit(p, thread, typ, now, ...)
  local ep = redis.call('HGET', p .. %q .. thread, %q) or '0'
  return redis.call('XADD', p .. %q, '*', %q, typ, %q, thread, %q, ep, %q, now, ...)
end
`, Key("", ""), FieldEpisode, LifecycleKey(""), EvType, EvConv, EvEpisode, EvAt)
	return b.String()
}
