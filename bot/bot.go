// Package bot owns conversations: the channel-neutral Message and Outbound,
// the Channel interface each channel implements, the conversation state and
// transcript on Redis, and the Engine that applies the policy (answer,
// clarify, hand off, stay silent while a person has the conversation) on top
// of the matcher's decision. The policy is a function (decide) of the
// conversation's state and the message; the Store commits its result with
// its lifecycle events in one script. The schema of those keys (fields,
// modes, events) is conv's. It does not speak any channel's protocol
// (channels/* do) and does not run the agents' queue (handoff does).
package bot

import (
	"context"
	"time"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/priority"
)

// Message is one inbound customer message, whatever the channel.
type Message struct {
	Channel string    // web, wechat, telegram
	User    string    // the customer's identity on that channel
	ID      string    // the channel's message id: the dedupe key
	Text    string    // what the customer wrote
	Choice  string    // an intent id the customer picked from a clarify prompt, if any
	Kind    string    // KindText (""), KindStart, KindHuman, KindMedia, KindImage, KindLeave, KindRating
	Lang    string    // a language hint from the channel (Telegram language_code), optional
	At      time.Time // when the channel received it
	// Media is the key of a stored file (package media) the message
	// carries: the image of a KindImage message (Text is its caption, if
	// any).
	Media string `json:"media,omitempty"`
	// Nick is the customer's name on the channel when the message tells it
	// (Telegram's from.first_name/last_name/username), optional: kept on
	// the conversation (conv.FieldCustomerNick) for the agents.
	Nick string `json:",omitempty"`
	// Addr is the client's network address (web only), for the limits per
	// address (Engine.HandoffAllowed). Never stored (a message the recoverer
	// takes over has none: its hand-off is not limited by address).
	Addr string `json:"-"`
}

// Inbound message kinds. A channel maps its own events onto these.
const (
	KindText   = ""       // a text message (the default)
	KindStart  = "start"  // the customer opened the chat (/start, subscribe, page open): welcome
	KindHuman  = "human"  // an explicit request for a person (/human, a 转人工 button or menu)
	KindMedia  = "media"  // a photo, sticker, voice, file…: Text describes it for the agent
	KindImage  = "image"  // an image kept in the media store: Media is its key, Text its caption
	KindLeave  = "leave"  // the customer left (unsubscribe): close any open conversation
	KindRating = "rating" // a satisfaction survey answer: Text is "1".."5", optionally a space and a comment
)

// Outbound kinds.
const (
	OutAnswer   = "answer"   // an FAQ answer
	OutClarify  = "clarify"  // a question with Choices
	OutHandoff  = "handoff"  // the hand-off notice
	OutFallback = "fallback" // not understood
	OutWelcome  = "welcome"
	OutNotice   = "notice" // queue position, closed hours, media not understood, thanks for rating
	OutAgent    = "agent"  // written by an agent
	OutSurvey   = "survey" // the satisfaction survey after close: Choices "1".."5"
)

// Choice is a quick reply offered to the customer.
type Choice struct {
	ID    string `json:"id"`    // intent id, or ChoiceHuman
	Label string `json:"label"` // what the button says
}

// ChoiceHuman is the quick reply that asks for a person.
const ChoiceHuman = "@human"

// Outbound is one message to the customer.
type Outbound struct {
	Channel string   `json:"channel"`
	User    string   `json:"user"`
	Conv    string   `json:"conv"`
	Kind    string   `json:"kind"`            // one of the Out* kinds
	Agent   string   `json:"agent,omitempty"` // the agent who wrote it (OutAgent)
	Intent  string   `json:"intent,omitempty"`
	Text    string   `json:"text"`
	Choices []Choice `json:"choices,omitempty"`
	// Media is the key of a stored image the message carries (an agent's
	// image; Text is then its caption, if any).
	Media string `json:"media,omitempty"`
}

// Channel delivers outbound messages on one channel. Declared here, where it
// is used; implemented by channels/*.
type Channel interface {
	Name() string
	Send(ctx context.Context, out Outbound) error
}

// Guess is one of the bot's candidate intents, for the agent to see.
type Guess struct {
	Intent   string  `json:"intent"`
	Score    float64 `json:"score"`
	Question string  `json:"question,omitempty"`
}

// Conversation modes: conv's (conv.Mode*), named here for bot's callers.
const (
	ModeBot     = conv.ModeBot     // the bot answers
	ModeWaiting = conv.ModeWaiting // handed off, waiting for an agent: the bot is silent
	ModeAgent   = conv.ModeAgent   // an agent has it: the bot is silent
	ModeClosed  = conv.ModeClosed  // ended; the next message starts a new episode with the bot
)

// Conversation is the state of one customer's thread (ID is its
// conv.ThreadID), kept in Redis so that any gateway instance can handle its
// next message.
type Conversation struct {
	ID         string
	Channel    string
	User       string
	Mode       string
	LowTurns   int    // consecutive messages the bot could not answer
	LastIntent string // the last intent answered or offered
	Lang       string
	Reason     string // why it was handed off
	Urgent     bool
	Group      string           // the agents' group it waits in or is with (set by the hand-off queue)
	Agent      string           // the agent who has it (set by the hand-off queue)
	Survey     bool             // a satisfaction survey was sent and not yet answered
	Entities   []intents.Entity // order and tracking numbers seen so far
	Guesses    []Guess          // the bot's top intents for the last message it matched
	Category   string           // the FAQ category of LastIntent (picks the agents' group)
	Episode    int              // the thread's current episode (conv.FieldEpisode): 1, 2, …
	// WaitAcked: the customer was told, since the last hand-off, that what
	// they write while waiting is kept (conv.FieldWaitAck).
	WaitAcked bool
	// Priority of the hand-off and the customer's words that raised it
	// (decided at the hand-off; the queue keeps them).
	Priority  priority.Level
	PrioWords []string
	Due       time.Time // the first-response deadline (the queue's; read, never written, by the bot)
	// What the priority policy reads of the customer's history: the shop's
	// member level, their last rating, when their last conversation closed.
	Member     string
	LastRating int
	ClosedAt   time.Time
	// Phone is the phone number the shop signed (web identity).
	Phone string
	// leave is the message being left while nobody can answer (FieldLeave).
	leave leaveState
	// LastEntry is the transcript id of the inbound message being handled
	// (set by Claim and Ingest; not stored).
	LastEntry string
	// loadedMode is Mode as read from Redis: Save writes the mode only when
	// it changed, so it never undoes the queue's change made meanwhile.
	loadedMode string
	// claim is the delivery's hold on the inbound message (set by Claim):
	// Record and Save finish the message with it.
	claim   claim
	Created time.Time
	Updated time.Time
}
