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
	"regexp"
	"strconv"
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

// ActiveKey is the ZSET of threads with the bot, thread -> its last
// activity (ms): bot's ingest script keeps it, the idle sweeper (package
// archiver) closes the threads idle past retention.idle and removes the
// threads that are no longer with the bot.
func ActiveKey(prefix string) string { return prefix + "active" }

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
	// FieldCustomerNick is the customer's name on their channel, when it
	// tells: Telegram's first and last name (or @username), WeChat's
	// nickname (or the account's remark) from its user-info API.
	FieldCustomerNick = "customer_nick"
)

// Hash fields of conv:<thread> that only handoff writes: its queue's
// bookkeeping on the conversation (others may read them).
const (
	FieldCategory      = "category"       // the intent's category that picked the group
	FieldPrio          = "prio"           // the priority: low, normal, high or urgent (package priority's names)
	FieldPrioWords     = "prio_words"     // the customer's words that raised it, space-separated
	FieldPrioBy        = "prio_by"        // who set it last: "auto" or the agent's id
	FieldDueMs         = "due_ms"         // the first-response deadline (ms): the queue's order
	FieldAwaitMs       = "await_ms"       // held: the customer's first message since the agent's last (ms); unset when answered
	FieldSLABreached   = "sla_breached"   // ",first_response,resolution,next_response@<await_ms>,": breaches emitted this hand-off
	FieldSeq           = "seq"            // arrival order in the queue (kept when requeued)
	FieldEnqueuedMs    = "enq_ms"         // when it was handed off (ms)
	FieldClaimedMs     = "claimed_ms"     // when the holder got it (ms)
	FieldWaitedMs      = "waited_ms"      // hand-off to claim (ms), at the last claim
	FieldRepliedMs     = "replied_ms"     // the first agent message since the last hand-off (ms); unset before it
	FieldOfferAgent    = "offer_agent"    // the agent it is offered to
	FieldOfferUntil    = "offer_until"    // the offer's deadline (ms)
	FieldOfferSkip     = "offer_skip"     // ",a,b,": agents whose offer lapsed or who declined
	FieldNotice        = "notice"         // the position/ETA bucket the customer was last told
	FieldLastAgent     = "last_agent"     // the agent who released it last
	FieldReleasedMs    = "released_ms"    // when (ms)
	FieldCanceledMs    = "canceled_ms"    // when the customer last left the queue (ms)
	FieldRatingComment = "rating_comment" // with FieldRating
	FieldRatingAgent   = "rating_agent"   // the agent the rating is credited to
	FieldRatedMs       = "rated_ms"       // when it was rated (ms)
	FieldRatedClose    = "rated_close"    // the FieldClosedMs of the close rated: once per close
	// Why the standing offer went to its agent, and why the holder got the
	// conversation: a reason code (returning_customer, least_busy,
	// performance, manual, transfer) then space-separated key=value details
	// ("performance csat=4.80 frt=35 res=0.92 load=1").
	FieldOfferWhy  = "offer_why"
	FieldAssignWhy = "assign_why"
)

// Hash fields of conv:<thread> that only bot writes: its policy's memory of
// the thread and the queue view's preview of the customer's last message.
// (bot also writes FieldCategory, before the hand-off, and FieldRating with
// FieldRatingComment for a rating no agent's close takes.)
const (
	FieldLow        = "low"         // messages in a row the bot could not answer
	FieldLastIntent = "last_intent" // the last intent answered or offered
	FieldEntities   = "entities"    // JSON: order and tracking numbers seen
	FieldGuesses    = "guesses"     // JSON: the bot's top intents for the last message
	FieldLastIn     = "last_in"     // the customer's last text, cut for the preview
	FieldLastInAt   = "last_in_ms"  // when it arrived (ms)
	// FieldWaitAck is "1" once a customer who writes while waiting for an
	// agent was told their messages are kept: once per hand-off ("0" at
	// the hand-off).
	FieldWaitAck = "wait_ack"
	// FieldLeave is the message the customer is leaving while nobody can
	// answer, for this hand-off: "<ticket>|ask|<due ms>" while the bot asks
	// for what is missing (order number, phone), "<ticket>|done|<due ms>"
	// once told when they will hear back; "" at each hand-off.
	FieldLeave = "leave"
)

// Hash fields of conv:<thread> that only the console writes: the labels
// (tags) agents put on the conversation. They belong to the episode
// FieldLabelsEp: a thread's next episode starts without labels.
const (
	FieldLabels    = "labels"     // the labels' ids, sorted, space-separated
	FieldLabelsEp  = "labels_ep"  // the episode they are of
	FieldLabelsSeq = "labels_seq" // changes made so far, on every episode: orders labels_changed events
)

// LabelFields lists the fields of the labels.
var LabelFields = []string{FieldLabels, FieldLabelsEp, FieldLabelsSeq}

// BotFields lists the fields only bot writes.
var BotFields = []string{FieldLow, FieldLastIntent, FieldEntities, FieldGuesses, FieldLastIn, FieldLastInAt, FieldWaitAck, FieldLeave}

// HandoffFields lists the fields only handoff writes.
var HandoffFields = []string{FieldCategory, FieldPrio, FieldPrioWords, FieldPrioBy, FieldDueMs, FieldAwaitMs,
	FieldSLABreached, FieldSeq, FieldEnqueuedMs, FieldClaimedMs, FieldWaitedMs,
	FieldRepliedMs, FieldOfferAgent, FieldOfferUntil, FieldOfferSkip, FieldNotice, FieldLastAgent, FieldReleasedMs,
	FieldCanceledMs, FieldRatingComment, FieldRatingAgent, FieldRatedMs, FieldRatedClose, FieldOfferWhy, FieldAssignWhy}

// Lifecycle event types: every state change of a conversation emits exactly
// one, in the script that makes the change.
const (
	Started         = "conversation_started" // channel, customer, lang
	CustomerMessage = "customer_message"     // text, kind, msg_id, entities, media
	BotReply        = "bot_reply"            // action, kind, text, intent, confidence, guesses
	Handoff         = "handoff"              // reason, group, urgent, priority
	Offered         = "offered"              // agent, group
	Declined        = "declined"             // agent, group
	Claimed         = "claimed"              // agent, group, waited_ms, assign, assign_detail (why this agent)
	AgentMessage    = "agent_message"        // agent, text, kind, first ("1" on the first of a hand-off), media
	Note            = "note"                 // agent, text
	Transfer        = "transfer"             // from, to (agent), group (to group), note, by (who moved it)
	BackToBot       = "back_to_bot"          // agent (released to the bot)
	Abandoned       = "abandoned"            // by: customer (canceled while waiting) or left
	Closed          = "closed"               // by: an agent id, "customer", "idle"; an agent's wrap-up: label, resolved
	SurveySent      = "survey_sent"          //
	Rated           = "rated"                // score, comment, agent
	LeaseLost       = "lease_lost"           // agent, group
	PriorityChanged = "priority_changed"     // from, to, by (auto or the agent), words
	SLABreached     = "sla_breached"         // target (first_response, next_response, resolution), priority, group, agent, due_ms
	// CustomerProfile: the web channel learned or changed who the customer
	// is (a signed identity): customer_id, name, phone, level, signed_in_as
	// (on an anonymous visitor's thread: the identified user's thread id).
	CustomerProfile = "customer_profile"
	// LabelsChanged: an agent added or removed labels (tags) of the
	// conversation: labels (the whole set after the change, sorted,
	// space-separated), added, removed, agent, seq (FieldLabelsSeq: the
	// highest seq's set is the conversation's, in any order of arrival).
	LabelsChanged = "labels_changed"
)

// EventTypes lists every event type.
var EventTypes = []string{Started, CustomerMessage, BotReply, Handoff, Offered, Declined, Claimed,
	AgentMessage, Note, Transfer, BackToBot, Abandoned, Closed, SurveySent, Rated, LeaseLost, CustomerProfile,
	PriorityChanged, SLABreached, LabelsChanged}

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
	EvWords      = "words" // the words that raised a priority, space-separated
	EvDueMs      = "due_ms"
	EvTarget     = "target" // an SLA target: first_response, next_response, resolution
	// The agent's wrap-up on closed: what the conversation was about (an
	// FAQ intent id or a configured wrap-up label id) and whether it was
	// resolved (Resolved or Unresolved). Both absent: no wrap-up.
	EvLabel    = "label"
	EvResolved = "resolved"
	// labels_changed's fields.
	EvLabels  = "labels"
	EvAdded   = "added"
	EvRemoved = "removed"
	EvSeq     = "seq"
	// EvMedia is the key of a stored file (package media) a message carries:
	// on customer_message (kind image) and agent_message.
	EvMedia = "media"
	// Why the agent got the conversation, on claimed (and offered): a
	// reason code (returning_customer, least_busy, performance, manual)
	// and its details as space-separated key=value pairs (csat, frt in
	// seconds, res 0-1, load, since in ms): "csat=4.80 frt=35 res=0.92 load=1".
	EvAssign       = "assign"
	EvAssignDetail = "assign_detail"
)

// Values of EvResolved.
const (
	Resolved   = "1"
	Unresolved = "0"
)

// Who closed or abandoned a conversation (EvBy), besides an agent id.
const (
	ByCustomer = "customer"
	ByIdle     = "idle"
	ByLeft     = "left" // the customer unsubscribed or blocked the bot
)

// Script returns a Redis script made from src, in which these names stand
// for this package's constants:
//
//	MODE.bot, MODE.waiting, MODE.agent, MODE.closed
//	F.<hash field>   e.g. F.mode, F.ep, F.agent  (the Field* constants' values)
//	EV.<event>       e.g. EV.claimed, EV.conversation_started
//	EF.<entry field> e.g. EF.waited_ms
//	emit(p, thread, type, now, ...)  XADDs the event to p..'lifecycle' with
//	    type, conv, ep (read from the hash), at and the extra field/value
//	    pairs, and returns the entry id.
//
// The names are replaced by their quoted values when the script is made, so
// they cost nothing per call (tables built on every call cost 5-10 µs), and
// a name the constants lack panics then: scripts are embedded, so a typo
// fails the package's first test rather than writing nil in production.
// emit is a local function put before src: it adds no round trip.
func Script(src string) *redis.Script { return redis.NewScript(Compile(src)) }

// Compile is the Lua text Script makes from src.
func Compile(src string) string {
	return Prelude + nameRe.ReplaceAllStringFunc(src, func(m string) string {
		table, name, _ := strings.Cut(m, ".")
		v, ok := names[table][name]
		if !ok {
			panic(fmt.Sprintf("conv: %s has no %q (in a script made with conv.Script)", table, name))
		}
		return strconv.Quote(v)
	})
}

// nameRe finds the names Compile replaces (not inside a longer identifier).
var nameRe = regexp.MustCompile(`\b(MODE|F|EV|EF)\.[A-Za-z_][A-Za-z0-9_]*`)

// names are the tables of Script: table -> name -> value.
var names = map[string]map[string]string{}

// QueueScore is a waiting conversation's score in its group's queue (the
// Lua qscore of Prelude): its first-response deadline in ms, then its
// arrival order (seq) among equal deadlines. Lowest is served first, so a
// conversation of low priority moves up as its deadline nears and is never
// starved. Exact in a float64 until the year 2255.
func QueueScore(dueMs, seq int64) float64 { return float64(dueMs*1000 + seq%1000) }

// Prelude is the Lua text Script puts before a script.
var Prelude = buildPrelude()

func buildPrelude() string {
	table := func(name string, vals []string) {
		t := map[string]string{}
		for _, v := range vals {
			if _, dup := t[v]; dup {
				panic("conv: " + name + " lists " + v + " twice")
			}
			t[v] = v
		}
		names[name] = t
	}
	table("MODE", []string{ModeBot, ModeWaiting, ModeAgent, ModeClosed})
	table("F", append([]string{FieldChannel, FieldUser, FieldMode, FieldEpisode, FieldCreated, FieldUpdated, FieldLang,
		FieldReason, FieldUrgent, FieldSurvey, FieldGroup, FieldAgent, FieldEpoch, FieldRating, FieldClosedMs,
		FieldCustomerID, FieldCustomerName, FieldCustomerPhone, FieldCustomerLevel, FieldSignedInAs, FieldCustomerNick},
		append(append(append([]string(nil), HandoffFields...), BotFields...), LabelFields...)...))
	table("EV", append([]string(nil), EventTypes...))
	table("EF", []string{EvType, EvConv, EvEpisode, EvAt, EvChannel, EvCustomer, EvLang, EvText, EvKind, EvMsgID,
		EvEntities, EvAction, EvIntent, EvConfidence, EvGuesses, EvReason, EvGroup, EvUrgent, EvPriority, EvAgent,
		EvWaitedMs, EvFirst, EvFrom, EvTo, EvNote, EvBy, EvScore, EvComment, EvCustomerID, EvName, EvPhone, EvLevel,
		EvSignedInAs, EvWords, EvDueMs, EvTarget, EvLabel, EvResolved, EvLabels, EvAdded, EvRemoved, EvSeq,
		EvMedia, EvAssign, EvAssignDetail})
	return fmt.Sprintf(`-- qscore: a wait queue's score: the first-response deadline (ms), then
-- arrival order among equal deadlines (see QueueScore).
local function qscore(due, seq)
  return string.format('%%.0f', tonumber(due) * 1000 + tonumber(seq) %% 1000)
end
local function emit(p, thread, typ, now, ...)
  local ep = redis.call('HGET', p .. %q .. thread, %q) or '0'
  return redis.call('XADD', p .. %q, '*', %q, typ, %q, thread, %q, ep, %q, now, ...)
end
`, Key("", ""), FieldEpisode, LifecycleKey(""), EvType, EvConv, EvEpisode, EvAt)
}
